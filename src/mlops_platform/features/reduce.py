"""Per-customer reductions of the raw tables, streamed, into arrays indexed by customer position.

The customers of a snapshot (signed up before D) are numbered 0..N-1 in id order. Every raw
row is mapped to its customer's position with one vectorised lookup (a table when the ids are
compact, as surrogate keys are; a binary search otherwise) and reduced with ``np.bincount``
into arrays of length N, chunk by chunk, so memory is N values per feature plus one chunk, and
no hash table or join is built per row. Rows that must not count (an unknown customer, one who
signed up on or after D, a null or out-of-window date) go to a spill slot N that is dropped at
the end, so no column is ever compacted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_platform.data.raw import raw_dataset
from mlops_platform.features.windows import Scan, Windows
from mlops_platform.storage import ObjectStore

_EPOCH = dt.date(1970, 1, 1)
_MICROS_PER_DAY = 86_400_000_000
_CHUNK_ROWS = 1 << 20
# A lookup table is used when the id range is at most this many times the number of customers.
_LUT_SPREAD = 8
_LUT_MAX = 1 << 26
_EVENT_COUNTS = (("sessions", "session"), ("impressions", "offer_impression"), ("clicks", "click"))


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (the value of an arrow date32)."""
    return (day - _EPOCH).days


def micros(day: dt.date) -> int:
    """Microseconds since the epoch at midnight of ``day`` (an arrow timestamp[us])."""
    return day_number(day) * _MICROS_PER_DAY


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (numpy views of it need no copy)."""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def numbers(column: pa.Array | pa.ChunkedArray, dtype: type = np.float64) -> np.ndarray:
    """A numeric (or date, timestamp) column as numpy, nulls as 0."""
    column = _array(column)
    if pa.types.is_date32(column.type):
        column = column.cast(pa.int32())
    elif pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())
    if column.null_count:
        column = pc.fill_null(column, 0)
    return np.asarray(column.to_numpy(), dtype=dtype)


def valid(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where ``column`` is not null."""
    if column.null_count == 0:
        return np.ones(len(column), dtype=bool)
    return np.asarray(_array(column).is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def flags(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean arrow array as numpy, nulls as False."""
    return np.asarray(pc.fill_null(_array(mask), False).to_numpy(zero_copy_only=False), dtype=bool)


class CustomerIndex:
    """Positions 0..N-1 of sorted, unique customer ids; ``positions`` maps other ids to N."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.size = len(self.ids)
        self._low = int(self.ids[0]) if self.size else 0
        span = int(self.ids[-1]) - self._low + 1 if self.size else 0
        self._table: np.ndarray | None = None
        if 0 < span <= min(_LUT_MAX, max(_LUT_SPREAD * self.size, 1 << 16)):
            # One slot more than the range: every id outside it is clipped onto that slot (N).
            self._table = np.full(span + 1, self.size, dtype=np.int64)
            self._table[self.ids - self._low] = np.arange(self.size)

    def positions(self, column: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """The position of each id in ``column``; N (the spill slot) for a null or unknown id."""
        values = numbers(column, np.int64)
        if self._table is not None:
            # (id - low) mod 2^64 is below the span exactly when low <= id < low + span.
            offset = (values - self._low).view(np.uint64)
            np.minimum(offset, len(self._table) - 1, out=offset)
            found = self._table[offset]
        elif self.size:
            at = np.minimum(np.searchsorted(self.ids, values), self.size - 1)
            found = np.where(self.ids[at] == values, at, self.size)
        else:
            return np.zeros(len(values), dtype=np.int64)
        if column.null_count:
            found[~valid(column)] = self.size
        return found


def chunks(store: ObjectStore, scan: Scan) -> Iterator[pa.Table]:
    """The rows of one read of the scan plan, about a million at a time (nothing if no partition).

    Small partitions are joined into one chunk, so the work on arrays of N customers is paid a few
    times per table rather than once per file.
    """
    dataset = raw_dataset(store, scan.table, scan.start, scan.end)
    if dataset is None:
        return
    pending: list[pa.RecordBatch] = []
    rows = 0
    scanner = dataset.to_batches(
        columns=list(scan.columns), batch_size=_CHUNK_ROWS, batch_readahead=2, fragment_readahead=2
    )
    for batch in scanner:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= _CHUNK_ROWS:
            yield pa.Table.from_batches(pending).combine_chunks()
            pending, rows = [], 0
    if rows:
        yield pa.Table.from_batches(pending).combine_chunks()


class Sums:
    """Named per-customer accumulators: N slots and the spill slot."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: dict[str, np.ndarray] = {}

    def add(self, name: str, positions: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add ``weights`` (1 per row if None) to the customers at ``positions``."""
        total = np.bincount(positions, weights=weights, minlength=self.size + 1)
        if name in self._values:
            self._values[name] += total
        else:
            self._values[name] = total.astype(np.float64, copy=False)

    def __getitem__(self, name: str) -> np.ndarray:
        """The N per-customer totals of ``name`` (zeros if nothing was added)."""
        values = self._values.get(name)
        return np.zeros(self.size) if values is None else values[: self.size]


def spill(positions: np.ndarray, keep: np.ndarray, size: int) -> np.ndarray:
    """``positions`` with the rows outside ``keep`` moved to the spill slot."""
    return positions if keep.all() else np.where(keep, positions, size)


def usage_sums(store: ObjectStore, scan: Scan, index: CustomerIndex, w: Windows) -> Sums:
    """Short-window sums, long-window sum and sum of squares of data MB, active-day counts."""
    sums = Sums(index.size)
    first, short, long = day_number(w.usage_recent), day_number(w.short), day_number(w.long)
    for chunk in chunks(store, scan):
        date = chunk.column("date")
        days = numbers(date, np.int32)
        keep = valid(date) & (days >= first) & (days < day_number(w.day))
        pos = spill(index.positions(chunk.column("customer_id")), keep, index.size)
        mb, voice, sms = (numbers(chunk.column(c)) for c in ("data_mb", "voice_min", "sms"))
        in_short, in_long = days >= short, days >= long
        sums.add("mb_short", pos, np.where(in_short, mb, 0.0))
        sums.add("voice_short", pos, np.where(in_short, voice, 0.0))
        sums.add("sms_short", pos, np.where(in_short, sms, 0.0))
        mb_long = mb if in_long.all() else np.where(in_long, mb, 0.0)
        sums.add("mb_long", pos, mb_long)
        sums.add("mb_long_sq", pos, mb_long * mb_long)
        sums.add("active", pos, (days >= day_number(w.activity)) & ((mb > 0) | (voice > 0) | (sms > 0)))
    return sums


def mark_older(store: ObjectStore, scans: list[Scan], index: CustomerIndex, active: np.ndarray) -> np.ndarray:
    """``active`` plus the customers with a non-zero usage row or an event in ``scans``.

    Only rows of customers not yet active are looked at, so most usage values are never touched.
    """
    marked = np.append(active, True)  # the spill slot never needs a look
    for scan in scans:
        for chunk in chunks(store, scan):
            pos = index.positions(chunk.column("customer_id"))
            rows = np.flatnonzero(~marked[pos])
            if scan.table == "usage" and len(rows):
                values = [numbers(chunk.column(c))[rows] > 0 for c in ("data_mb", "voice_min", "sms")]
                rows = rows[values[0] | values[1] | values[2]]
            marked[pos[rows]] = True
    return marked[: index.size]


def event_sums(store: ObjectStore, scan: Scan, index: CustomerIndex, w: Windows) -> Sums:
    """Sessions, offer impressions and clicks in the events window; events in the activity window."""
    sums = Sums(index.size)
    for chunk in chunks(store, scan):
        ts = chunk.column("ts")
        stamp = numbers(ts, np.int64)
        keep = valid(ts) & (stamp >= micros(w.events)) & (stamp < micros(w.day))
        pos = spill(index.positions(chunk.column("customer_id")), keep, index.size)
        for name, kind in _EVENT_COUNTS:
            sums.add(name, pos, flags(pc.equal(chunk.column("event_type"), kind)))
        sums.add("active", pos, stamp >= micros(w.activity))
    return sums
