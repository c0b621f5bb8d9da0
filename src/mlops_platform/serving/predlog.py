"""The prediction log: every answer, appended off the request path to ``predictions/<model>/``.

A request appends one tuple per answer to an in-memory buffer (a list append under a lock); a
thread writes the buffer every ``flush_seconds`` as atomic partitions
``predictions/<model>/date=D/batch=<start>-<pid>-<n>`` (D the UTC day of the answer, a new batch
name per flush, so no flush replaces another). Rows whose write fails go back to the buffer and
are retried; :meth:`PredictionLog.close` (graceful shutdown) writes what is left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa

from mlops_platform.serving.metrics import ServingMetrics
from mlops_platform.storage import ObjectStore, date_partition

_logger = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("customer_id", pa.int64()),
        ("row_hash", pa.string()),
        ("version", pa.string()),
        ("score", pa.float64()),
        ("detail", pa.string()),
        ("latency_ms", pa.float64()),
        ("time", pa.timestamp("us", tz="UTC")),
    ]
)
Row = tuple[str, int | None, str | None, str, float | None, str | None, float, dt.datetime]


def dataset(model: str) -> str:
    return f"predictions/{model}"


def row_hash(row: dict[str, Any]) -> str:
    """A short, stable hash of a request row (keys sorted), logged instead of the row."""
    return hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def new_request_id() -> str:
    return uuid.uuid4().hex


class PredictionLog:
    """Buffers answers and writes them to the lake in batches.

    Args:
        store: the lake.
        metrics: counts rows written and pending.
        flush_seconds: the interval between writes.
    """

    def __init__(self, store: ObjectStore, metrics: ServingMetrics, flush_seconds: float = 5.0) -> None:
        self.store, self.metrics, self.flush_seconds = store, metrics, flush_seconds
        self._rows: dict[str, list[Row]] = defaultdict(list)
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._prefix = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
        self._batches = 0
        self.written = 0

    def append(self, model: str, rows: Sequence[Row]) -> None:
        """Add answers of ``model`` (called on the request path: no I/O)."""
        with self._lock:
            self._rows[model].extend(rows)
        self.metrics.pending.inc(len(rows))

    def start(self) -> PredictionLog:
        self._thread = threading.Thread(target=self._loop, name="mlops-serve-predlog", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def flush(self) -> int:
        """Write every buffered row; returns how many were written (failed rows stay buffered)."""
        with self._flushing:
            with self._lock:
                taken, self._rows = self._rows, defaultdict(list)
            written = 0
            for model, rows in taken.items():
                for day, part in _by_day(rows).items():
                    written += self._write(model, day, part)
            return written

    def _write(self, model: str, day: dt.date, rows: list[Row]) -> int:
        self._batches += 1
        partition = f"{date_partition(dataset(model), day)}/batch={self._prefix}-{self._batches:06d}"
        table = pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA)
        try:
            self.store.write_partition(partition, table, writer=f"mlops serve {self._prefix}")
        except Exception:  # noqa: BLE001 - keep the rows and retry at the next flush
            _logger.exception(
                "prediction log: writing %s failed; %d rows kept for the next flush", partition, len(rows)
            )
            with self._lock:
                self._rows[model][:0] = rows
            return 0
        self.written += len(rows)
        self.metrics.logged.inc(len(rows))
        self.metrics.pending.dec(len(rows))
        return len(rows)

    def close(self) -> int:
        """Stop the flush thread and write what is left; returns the rows written by this last flush."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        return self.flush()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(len(rows) for rows in self._rows.values())


def _by_day(rows: list[Row]) -> dict[dt.date, list[Row]]:
    days: dict[dt.date, list[Row]] = defaultdict(list)
    for row in rows:
        days[row[-1].date()].append(row)
    return days


def read_log(store: ObjectStore, model: str, day: dt.date) -> pa.Table:
    """Every committed batch of ``model``'s log on ``day`` (an empty table when there is none)."""
    base = date_partition(dataset(model), day)
    batches = [f"{base}/{name}" for name in sorted(store.list_dirs(base)) if name.startswith("batch=")]
    batches = [b for b in batches if store.has_partition(b)]
    return store.read_partitions(batches) if batches else SCHEMA.empty_table()
