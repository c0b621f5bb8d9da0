"""The daily customer feature snapshot: ``features/customer/date=D/``.

Point in time: the snapshot of D reads only raw partitions dated D-N .. D-1 (N the longest
feature window), so rows dated D or later can never change it. Its population is every customer
who signed up before D and had any activity in the activity window: a usage row with data, voice
or SMS above zero, a transaction or an event.

The build is one DuckDB query over lazy datasets of exactly the partitions and columns it needs
(see ``snapshot_sql``): no table is materialised in Python, DuckDB streams the scans and keeps
one small state per customer, so time grows with the rows read and memory stays flat.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import pyarrow as pa

from mlops_platform.config import FeatureSettings, PlatformSettings
from mlops_platform.data.raw import raw_dates, read_products
from mlops_platform.errors import DataValidationError
from mlops_platform.features.checks import check_table
from mlops_platform.features.definitions import FEATURES, SNAPSHOT_KEYS, SNAPSHOT_SCHEMA
from mlops_platform.features.engine import connect, fetch, register_raw
from mlops_platform.features.snapshot_sql import scan_plan, snapshot_sql
from mlops_platform.storage import Manifest, ObjectStore, date_partition

_logger = logging.getLogger(__name__)

DATASET = "features/customer"
# Raw fact tables the snapshot reads (transactions required; usage and events optional).
INPUT_TABLES = ("transactions", "usage", "events")


def snapshot_partition(day: dt.date) -> str:
    """The folder of the snapshot of ``day``."""
    return date_partition(DATASET, day)


def require_input_day(store: ObjectStore, day: dt.date) -> None:
    """Refuse ``day`` unless the raw input day ``day - 1`` is committed.

    Transactions are required; usage and events only when the lake has them (a committed
    partition on or before ``day - 1``).

    Raises:
        DataValidationError: naming the missing tables and the day.
    """
    last = day - dt.timedelta(days=1)
    missing = []
    for table in INPUT_TABLES:
        dates = raw_dates(store, table)
        needed = table == "transactions" or (bool(dates) and dates[0] <= last)
        if needed and last not in dates:
            missing.append(table)
    if missing:
        raise DataValidationError(
            f"features/customer date={day}: raw input day {last} has no committed partition of "
            f"{', '.join(f'raw/{t}' for t in missing)}; load (or wait for) the raw data of {last} first"
        )


def window_days(store: ObjectStore, settings: FeatureSettings, day: dt.date) -> list[dt.date]:
    """The days with a committed raw fact partition that the snapshot of ``day`` reads."""
    days: set[dt.date] = set()
    for scan in scan_plan(settings, day):
        days.update(d for d in raw_dates(store, scan.table) if scan.start <= d < scan.end)
    return sorted(days)


def validate_raw_days(store: ObjectStore, settings: PlatformSettings, days: list[dt.date]) -> None:
    """Validate the raw ``days`` with ``data.validate.ensure_valid`` (skipped if it is not there).

    Raises:
        DataValidationError: from the validator, naming table, column and rule.
    """
    try:
        from mlops_platform.data.validate import ensure_valid
    except ImportError as exc:
        if exc.name not in (None, "mlops_platform.data.validate"):
            raise
        _logger.warning("raw validation unavailable (%s); building without it", exc)
        return
    ensure_valid(store, settings, days)


def compute_snapshot(store: ObjectStore, settings: FeatureSettings, day: dt.date) -> pa.Table:
    """The feature snapshot of ``day`` (not validated, not written), sorted by customer_id.

    Raises:
        DataValidationError: no customers before ``day`` or no product catalogue on ``day - 1``.
    """
    con = connect()
    try:
        if not register_raw(con, store, "customers", None, day):
            raise DataValidationError(f"raw/customers: no committed partition before {day}")
        con.register("products", read_products(store, day - dt.timedelta(days=1)))
        for scan in scan_plan(settings, day):
            register_raw(con, store, scan.table, scan.start, scan.end, view=scan.view)
        return fetch(con, snapshot_sql(settings, day), SNAPSHOT_SCHEMA)
    finally:
        con.close()


def check_snapshot(table: pa.Table, day: dt.date) -> None:
    """Raise DataValidationError unless ``table`` is a well-formed snapshot of ``day``."""
    check_table(table, SNAPSHOT_KEYS + FEATURES, DATASET, key="customer_id")
    dates = set(table.column("snapshot_date").unique().to_pylist())
    if dates - {day}:
        raise DataValidationError(
            f"{DATASET}.snapshot_date: values {sorted(dates - {day})} differ from {day} (rule: partition date)"
        )


def build_snapshot(
    store: ObjectStore,
    settings: PlatformSettings,
    day: dt.date,
    *,
    validate_raw: bool = True,
    writer: str | None = None,
) -> Manifest:
    """Build, check and commit the snapshot of ``day``; a rerun replaces it with the same rows.

    Args:
        store: the lake.
        settings: the platform settings (feature windows, validation thresholds).
        day: the snapshot date D; raw days D-N .. D-1 are read.
        validate_raw: validate the raw days in the window first (``data.validate``).
        writer: recorded in the manifest (default: user@host:pid).

    Returns:
        The manifest of the committed partition.
    """
    require_input_day(store, day)
    if validate_raw:
        validate_raw_days(store, settings, window_days(store, settings.features, day))
    table = compute_snapshot(store, settings.features, day)
    check_snapshot(table, day)
    return store.write_partition(snapshot_partition(day), table, writer)


def read_snapshot(store: ObjectStore, day: dt.date, columns: Sequence[str] | None = None) -> pa.Table:
    """The committed snapshot of ``day``.

    Raises:
        StorageError: the snapshot of ``day`` has not been built.
    """
    return store.read_partition(snapshot_partition(day), columns)
