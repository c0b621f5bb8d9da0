"""The daily customer feature snapshot: ``features/customer/date=D/``.

Point in time: the snapshot of D reads only raw partitions dated D-N .. D-1 (N the longest
feature window), so rows dated D or later can never change it. Its population is every customer
who signed up before D and had any activity in the activity window: a usage row with data, voice
or SMS above zero, a transaction or an event.

The build is one DuckDB query: each raw table is scanned once (only the partitions of its window,
only the columns it needs) and reduced per customer with conditional aggregates, so the cost
grows with the rows read and memory stays flat. Usage assumes one row per customer and day (the
usage contract); days without a row count as 0 MB. The population variance over the long window
combines the variance of the days present (DuckDB's Welford ``var_pop``) with the missing zero
days, which is exact and never goes negative:

    n_days * var = n * var_present + S^2 * (n_days - n) / (n * n_days)

with ``S`` the sum and ``n`` the count of the days present.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from mlops_platform.config import FeatureSettings, PlatformSettings
from mlops_platform.data.raw import raw_dates, read_products
from mlops_platform.errors import DataValidationError
from mlops_platform.features.checks import check_table
from mlops_platform.features.definitions import FEATURES, SNAPSHOT_KEYS, SNAPSHOT_SCHEMA
from mlops_platform.features.engine import connect, date_sql, fetch, register_raw, ts_sql
from mlops_platform.storage import Manifest, ObjectStore, date_partition

_logger = logging.getLogger(__name__)

DATASET = "features/customer"
# Raw fact tables the snapshot reads, with the columns it reads from each.
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "usage": ("customer_id", "date", "data_mb", "voice_min", "sms"),
    "transactions": ("customer_id", "product_id", "ts", "amount_idr"),
    "events": ("customer_id", "ts", "event_type"),
}


@dataclass(frozen=True)
class Windows:
    """The first day of each feature window of snapshot date ``day`` (every window ends at day-1)."""

    day: dt.date
    activity: dt.date
    rfm: dt.date
    arpu: dt.date
    short: dt.date
    long: dt.date
    events: dt.date

    @classmethod
    def of(cls, settings: FeatureSettings, day: dt.date) -> Windows:
        def back(days: int) -> dt.date:
            return day - dt.timedelta(days=days)

        return cls(
            day=day,
            activity=back(settings.activity_window_days),
            rfm=back(settings.rfm_window_days),
            arpu=back(settings.arpu_window_days),
            short=back(settings.usage_short_days),
            long=back(settings.usage_long_days),
            events=back(settings.events_window_days),
        )

    def start(self, table: str) -> dt.date:
        """The first day of raw ``table`` the snapshot reads."""
        firsts = {
            "usage": (self.activity, self.short, self.long),
            "transactions": (self.activity, self.rfm, self.arpu),
            "events": (self.activity, self.events),
        }[table]
        return min(firsts)


def input_ranges(settings: FeatureSettings, day: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """Per raw fact table, the partitions ``[start, end)`` the snapshot of ``day`` reads."""
    windows = Windows.of(settings, day)
    return {table: (windows.start(table), day) for table in INPUT_COLUMNS}


def _usage_sql(w: Windows) -> str:
    mb = "CAST(data_mb AS DOUBLE)"
    return f"""
    SELECT customer_id,
        SUM(CASE WHEN date >= {date_sql(w.short)} THEN {mb} END) AS mb_short,
        SUM(CASE WHEN date >= {date_sql(w.short)} THEN CAST(voice_min AS DOUBLE) END) AS voice_short,
        SUM(CASE WHEN date >= {date_sql(w.short)} THEN sms END) AS sms_short,
        SUM(CASE WHEN date >= {date_sql(w.long)} THEN {mb} END) AS mb_long,
        COUNT(CASE WHEN date >= {date_sql(w.long)} THEN data_mb END) AS n_long,
        VAR_POP(CASE WHEN date >= {date_sql(w.long)} THEN {mb} END) AS var_long,
        COUNT(CASE WHEN date >= {date_sql(w.activity)}
            AND (data_mb > 0 OR voice_min > 0 OR sms > 0) THEN 1 END) AS n_active
    FROM usage
    WHERE date >= {date_sql(w.start("usage"))} AND date < {date_sql(w.day)}
    GROUP BY customer_id"""


def _transactions_sql(w: Windows) -> str:
    rfm = f"ts >= {ts_sql(w.rfm)}"
    return f"""
    SELECT customer_id, product_id,
        COUNT(CASE WHEN {rfm} THEN 1 END) AS n_rfm,
        SUM(CASE WHEN {rfm} THEN amount_idr END) AS spend_rfm,
        SUM(CASE WHEN ts >= {ts_sql(w.arpu)} THEN amount_idr END) AS spend_arpu,
        MAX(CASE WHEN {rfm} THEN ts END) AS last_ts,
        COUNT(CASE WHEN ts >= {ts_sql(w.activity)} THEN 1 END) AS n_active
    FROM transactions
    WHERE ts >= {ts_sql(w.start("transactions"))} AND ts < {ts_sql(w.day)}
    GROUP BY customer_id, product_id"""


def _events_sql(w: Windows) -> str:
    def count(event_type: str) -> str:
        return f"COUNT(CASE WHEN ts >= {ts_sql(w.events)} AND event_type = '{event_type}' THEN 1 END)"

    return f"""
    SELECT customer_id,
        {count("session")} AS sessions,
        {count("offer_impression")} AS impressions,
        {count("click")} AS clicks,
        COUNT(CASE WHEN ts >= {ts_sql(w.activity)} THEN 1 END) AS n_active
    FROM events
    WHERE ts >= {ts_sql(w.start("events"))} AND ts < {ts_sql(w.day)}
    GROUP BY customer_id"""


def _arpu_bucket_sql(edges: Sequence[float]) -> str:
    low, medium, high = (float(e) for e in edges)
    return (
        f"CASE WHEN arpu < {low!r} THEN 'low' WHEN arpu < {medium!r} THEN 'medium' "
        f"WHEN arpu < {high!r} THEN 'high' ELSE 'premium' END"
    )


def _usage_derived_sql(settings: FeatureSettings) -> tuple[str, str]:
    """SQL of usage_trend and usage_stability over the columns of ``_usage_sql``."""
    short, long = settings.usage_short_days, settings.usage_long_days
    mean_long = f"(mb_long / {long})"
    # (n * var_present + S^2 (L - n) / (n L)) / L: the variance with the missing days as 0.
    variance = f"GREATEST((n_long * var_long + mb_long * mb_long * ({long} - n_long) / (n_long * {long})) / {long}, 0)"
    trend = f"CASE WHEN mb_long > 0 THEN (COALESCE(mb_short, 0) / {short}) / {mean_long} END"
    stability = f"CASE WHEN mb_long > 0 THEN SQRT({variance}) / {mean_long} END"
    return trend, stability


def snapshot_sql(settings: FeatureSettings, day: dt.date) -> str:
    """The query of the snapshot of ``day`` over the views customers, products, usage, ...."""
    w = Windows.of(settings, day)
    d = date_sql(day)
    trend, stability = _usage_derived_sql(settings)
    return f"""
    WITH cust AS (
        SELECT customer_id, signup_date, segment FROM customers WHERE signup_date < {d}
    ),
    u AS ({_usage_sql(w)}),
    tp AS ({_transactions_sql(w)}),
    t AS (
        SELECT customer_id, SUM(n_rfm) AS frequency, SUM(spend_rfm) AS monetary,
            SUM(spend_arpu) AS arpu, MAX(last_ts) AS last_ts, SUM(n_active) AS n_active,
            COUNT(CASE WHEN n_rfm > 0 AND product_id IS NOT NULL THEN 1 END) AS distinct_products
        FROM tp GROUP BY customer_id
    ),
    fav AS (
        SELECT customer_id, FIRST(category ORDER BY spend DESC, category ASC) AS favourite_category
        FROM (
            SELECT tp.customer_id, p.category, COALESCE(SUM(tp.spend_rfm), 0) AS spend
            FROM tp JOIN products AS p ON tp.product_id = p.product_id
            WHERE tp.n_rfm > 0 AND p.category IS NOT NULL
            GROUP BY tp.customer_id, p.category
        ) GROUP BY customer_id
    ),
    e AS ({_events_sql(w)}),
    joined AS (
        SELECT c.customer_id, c.segment, c.signup_date,
            u.mb_short, u.voice_short, u.sms_short, u.mb_long, u.n_long, u.var_long,
            t.frequency, t.monetary, COALESCE(t.arpu, 0.0) AS arpu, t.last_ts, t.distinct_products,
            fav.favourite_category, e.sessions, e.impressions, e.clicks,
            COALESCE(u.n_active, 0) + COALESCE(t.n_active, 0) + COALESCE(e.n_active, 0) AS activity
        FROM cust AS c
        LEFT JOIN u ON u.customer_id = c.customer_id
        LEFT JOIN t ON t.customer_id = c.customer_id
        LEFT JOIN e ON e.customer_id = c.customer_id
        LEFT JOIN fav ON fav.customer_id = c.customer_id
    )
    SELECT customer_id, {d} AS snapshot_date, segment,
        {d} - signup_date AS tenure_days,
        {d} - CAST(last_ts AS DATE) AS recency_days,
        COALESCE(frequency, 0) AS frequency_90d,
        COALESCE(monetary, 0.0) AS monetary_90d,
        arpu AS arpu_30d,
        {_arpu_bucket_sql(settings.arpu_bucket_edges)} AS arpu_bucket,
        COALESCE(mb_short, 0.0) AS usage_7d_data_mb,
        COALESCE(voice_short, 0.0) AS usage_7d_voice_min,
        COALESCE(sms_short, 0) AS usage_7d_sms,
        {trend} AS usage_trend,
        {stability} AS usage_stability,
        COALESCE(distinct_products, 0) AS distinct_products_90d,
        favourite_category,
        COALESCE(sessions, 0) AS sessions_7d,
        COALESCE(impressions, 0) AS impressions_7d,
        COALESCE(clicks, 0) AS clicks_7d,
        CASE WHEN impressions > 0 THEN LEAST(CAST(clicks AS DOUBLE) / impressions, 1.0) END AS ctr_7d
    FROM joined
    WHERE activity > 0
    ORDER BY customer_id"""


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
    for table in INPUT_COLUMNS:
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
    for table, (start, end) in input_ranges(settings, day).items():
        days.update(d for d in raw_dates(store, table) if start <= d < end)
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
        for table, (start, end) in input_ranges(settings, day).items():
            register_raw(con, store, table, start, end)
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
