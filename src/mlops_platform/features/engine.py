"""DuckDB over the lake (used by the labels): one connection per build, raw tables as lazy datasets.

DuckDB scans the pyarrow datasets that :class:`~mlops_platform.storage.ObjectStore` returns, with
projection and filter push-down, on ``file://`` and ``s3://`` alike; only the partitions a
query needs are registered, so nothing outside its date range is ever opened.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

import duckdb
import pyarrow as pa

from mlops_platform.data.raw import raw_dataset
from mlops_platform.data.schemas import contract
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

# DuckDB's own buffers; arrow scan buffers come on top, so the process stays well under 4 GiB.
DEFAULT_MEMORY_LIMIT = "2GB"


def cpu_count() -> int:
    """CPUs this process may use (respects affinity masks and cgroup-pinned containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def connect(memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection sized for this machine."""
    con = duckdb.connect(config={"threads": cpu_count(), "memory_limit": memory_limit})
    # Aggregates need no row order; letting DuckDB drop it saves memory and time.
    con.execute("SET preserve_insertion_order = false")
    return con


def register_raw(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    table: str,
    start: dt.date | None,
    end: dt.date,
    view: str | None = None,
) -> bool:
    """Register the committed partitions of ``table`` with ``start <= date < end`` as ``view``.

    A table without partitions in the range is registered as an empty table of its contract,
    so the queries need no special case for optional tables (usage, events).

    Returns:
        True if at least one partition was found.
    """
    dataset = raw_dataset(store, table, start, end)
    name = view or table
    if dataset is None:
        _logger.info("%s: no partitions in [%s, %s); using an empty table", table, start, end)
        con.register(name, contract(table).schema.empty_table())
        return False
    con.register(name, dataset)
    return True


def date_sql(day: dt.date) -> str:
    """A DuckDB DATE literal."""
    return f"DATE '{day.isoformat()}'"


def ts_sql(day: dt.date) -> str:
    """A DuckDB TIMESTAMP literal at midnight of ``day``."""
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def fetch(con: duckdb.DuckDBPyConnection, sql: str, schema: pa.Schema) -> pa.Table:
    """Run ``sql`` and return its result cast to ``schema`` (columns in schema order)."""
    table = con.sql(sql).to_arrow_table()
    return table.select(schema.names).cast(schema)
