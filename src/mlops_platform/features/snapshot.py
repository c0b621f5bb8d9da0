"""The daily customer feature snapshot: ``features/customer/date=D/``.

Point in time: the snapshot of D reads only raw partitions dated D-N .. D-1 (N the longest
feature window), so rows dated D or later can never change it. Its population is every customer
who signed up before D and had any activity in the activity window: a usage row with data, voice
or SMS above zero, a transaction or an event.

The build streams exactly the partitions and columns of the scan plan (``windows``) and reduces
every row into per-customer arrays (``reduce``, ``purchases``): one pass over each partition, no
per-row hash table or join, memory of N values per feature plus one batch. Usage holds one row per
customer and day (its contract); days without a row count as 0 MB, so the long-window variance is
``sum(x^2) / L - (sum(x) / L)^2`` over the L days of the window, in float64.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_platform.config import FeatureSettings, PlatformSettings
from mlops_platform.data.raw import raw_dates, read_customers, read_products
from mlops_platform.errors import DataValidationError
from mlops_platform.features.checks import check_table, require_rows
from mlops_platform.features.definitions import ARPU_BUCKETS, FEATURES, SNAPSHOT_KEYS, SNAPSHOT_SCHEMA
from mlops_platform.features.purchases import (
    NO_PURCHASE,
    Purchases,
    distinct_products,
    favourite_categories,
    purchase_sums,
)
from mlops_platform.features.reduce import (
    CustomerIndex,
    Sums,
    day_number,
    event_sums,
    mark_older,
    numbers,
    usage_sums,
)
from mlops_platform.features.windows import Windows, scan_plan
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


def _customers(store: ObjectStore, day: dt.date) -> pa.Table:
    """Customers who signed up before ``day``, sorted by id (their order is their position)."""
    table = read_customers(store, day).select(["customer_id", "signup_date", "segment"])
    if table.num_rows == 0:
        raise DataValidationError(f"raw/customers: no customer signed up before {day}")
    table = table.sort_by("customer_id")
    if pc.count_distinct(table.column("customer_id")).as_py() != table.num_rows or table.column(0).null_count:
        raise DataValidationError("raw/customers.customer_id: null or duplicate ids (rule: unique key)")
    return table


def _usage_columns(usage: Sums, settings: FeatureSettings) -> dict[str, np.ndarray]:
    """usage_7d_*, usage_trend and usage_stability (NaN where the long-window mean is 0)."""
    long_days, short_days = settings.usage_long_days, settings.usage_short_days
    mean_long = usage["mb_long"] / long_days
    variance = np.maximum(usage["mb_long_sq"] / long_days - mean_long * mean_long, 0.0)
    used = mean_long > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(used, (usage["mb_short"] / short_days) / mean_long, np.nan)
        stability = np.where(used, np.sqrt(variance) / mean_long, np.nan)
    return {
        "usage_7d_data_mb": usage["mb_short"],
        "usage_7d_voice_min": usage["voice_short"],
        "usage_7d_sms": usage["sms_short"],
        "usage_trend": trend,
        "usage_stability": stability,
    }


def _purchase_columns(
    purchases: Purchases, catalogue: pa.Table, day: dt.date, settings: FeatureSettings
) -> dict[str, np.ndarray | pa.Array]:
    """recency, frequency, monetary, ARPU and its bucket, distinct products, favourite category."""
    size = len(purchases.last_purchase)
    bought = purchases.last_purchase != NO_PURCHASE
    last_day = np.floor_divide(purchases.last_purchase, 86_400_000_000)
    arpu = purchases.sums["arpu"]
    buckets = np.searchsorted(np.asarray(settings.arpu_bucket_edges, dtype=float), arpu, side="right")
    return {
        "recency_days": np.where(bought, day_number(day) - last_day, np.nan),
        "frequency_90d": purchases.sums["frequency"],
        "monetary_90d": purchases.sums["monetary"],
        "arpu_30d": arpu,
        "arpu_bucket": pc.take(pa.array(ARPU_BUCKETS), pa.array(buckets)),
        "distinct_products_90d": distinct_products(purchases, size),
        "favourite_category": favourite_categories(purchases, catalogue, size),
    }


def _event_columns(events: Sums) -> dict[str, np.ndarray]:
    """sessions, impressions, clicks and the click-through rate (NaN without impressions)."""
    impressions, clicks = events["impressions"], events["clicks"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = np.where(impressions > 0, np.minimum(clicks / impressions, 1.0), np.nan)
    return {"sessions_7d": events["sessions"], "impressions_7d": impressions, "clicks_7d": clicks, "ctr_7d": ctr}


def _column(values: np.ndarray | pa.Array, rows: np.ndarray, dtype: pa.DataType) -> pa.Array:
    """The ``rows`` of one per-customer column as arrow ``dtype`` (NaN becomes null)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return pc.take(values, pa.array(rows)).cast(dtype)
    picked = values[rows]
    if pa.types.is_integer(dtype):
        missing = np.isnan(picked) if picked.dtype.kind == "f" else None
        filled = np.where(missing, 0, picked) if missing is not None else picked
        return pa.array(np.rint(filled).astype(np.int64), mask=missing).cast(dtype)
    return pa.array(picked.astype(np.float64), mask=np.isnan(picked)).cast(dtype)


def compute_snapshot(store: ObjectStore, settings: FeatureSettings, day: dt.date) -> pa.Table:
    """The feature snapshot of ``day`` (not validated, not written), sorted by customer_id.

    Raises:
        DataValidationError: no customers before ``day`` or no product catalogue on ``day - 1``.
    """
    customers = _customers(store, day)
    catalogue = read_products(store, day - dt.timedelta(days=1)).select(["product_id", "category"])
    index = CustomerIndex(numbers(customers.column("customer_id"), np.int64))
    windows, plan = Windows.of(settings, day), {scan.view: scan for scan in scan_plan(settings, day)}
    usage = usage_sums(store, plan["usage"], index, windows)
    events = event_sums(store, plan["events"], index, windows)
    purchases = purchase_sums(store, plan["transactions"], index, windows)
    recent = (usage["active"] > 0) | (events["active"] > 0) | (purchases.sums["active"] > 0)
    active = mark_older(store, [plan["usage_older"], plan["events_older"]], index, recent)
    rows = np.flatnonzero(active)
    signup = numbers(customers.column("signup_date"), np.int64)
    values: dict[str, np.ndarray | pa.Array] = {
        "segment": customers.column("segment").combine_chunks(),
        "tenure_days": (day_number(day) - signup).astype(float),
        **_purchase_columns(purchases, catalogue, day, settings),
        **_usage_columns(usage, settings),
        **_event_columns(events),
    }
    columns = {name: _column(values[name], rows, SNAPSHOT_SCHEMA.field(name).type) for name in values}
    columns["customer_id"] = pa.array(index.ids[rows])
    columns["snapshot_date"] = pa.array(np.full(len(rows), day_number(day), dtype=np.int32)).cast(pa.date32())
    return pa.table([columns[name] for name in SNAPSHOT_SCHEMA.names], schema=SNAPSHOT_SCHEMA)


def check_snapshot(table: pa.Table, day: dt.date) -> None:
    """Raise DataValidationError unless ``table`` is a well-formed snapshot of ``day``: declared
    columns and types, finite values within range, unique customers, at least one row."""
    check_table(table, SNAPSHOT_KEYS + FEATURES, DATASET, key="customer_id")
    require_rows(table, DATASET, f"date={day.isoformat()}")
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
