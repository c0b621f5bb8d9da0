"""The query of the feature snapshot and the raw reads it needs (its scan plan).

Each raw fact table is split at the start of its feature windows: the recent partitions (the
last 28 days of usage, the last 7 of events, the 90 of transactions) are reduced per customer
with conditional aggregates in one pass; the older partitions of the activity window are read
only for the population rule (customer ids; usage values to skip all-zero rows). So every
partition is read once, with only the columns its part of the query needs, and the expensive
per-customer aggregation runs only over the rows that feed a feature.

Usage holds one row per customer and day (its contract); days without a row count as 0 MB. The
population variance over the long window combines the variance of the days present (DuckDB's
Welford ``var_pop``) with the missing zero days, exact and never negative:

    L * var = n * var_present + S^2 * (L - n) / (n * L)

with ``S`` the sum and ``n`` the count of the days present and ``L`` the window length.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from mlops_platform.config import FeatureSettings
from mlops_platform.features.engine import date_sql, ts_sql

USAGE_VALUES = "(data_mb > 0 OR voice_min > 0 OR sms > 0)"


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

    @property
    def usage_recent(self) -> dt.date:
        """First day of the usage feature windows (earlier usage only decides the population)."""
        return min(self.short, self.long)

    @property
    def transactions_start(self) -> dt.date:
        """First day of transactions read (all of them feed features)."""
        return min(self.activity, self.rfm, self.arpu)


@dataclass(frozen=True)
class Scan:
    """One read of the snapshot: partitions ``start <= date < end`` of ``table`` as view ``view``."""

    view: str
    table: str
    columns: tuple[str, ...]
    start: dt.date
    end: dt.date


def scan_plan(settings: FeatureSettings, day: dt.date) -> list[Scan]:
    """Every raw read of the snapshot of ``day``; together they cover days D-N .. D-1 only."""
    w = Windows.of(settings, day)
    older_usage_end = max(w.activity, w.usage_recent)
    older_events_end = max(w.activity, w.events)
    return [
        Scan("usage", "usage", ("customer_id", "date", "data_mb", "voice_min", "sms"), w.usage_recent, day),
        Scan(
            "usage_older",
            "usage",
            ("customer_id", "data_mb", "voice_min", "sms"),
            w.activity,
            older_usage_end,
        ),
        Scan("events", "events", ("customer_id", "ts", "event_type"), w.events, day),
        Scan("events_older", "events", ("customer_id",), w.activity, older_events_end),
        Scan(
            "transactions",
            "transactions",
            ("customer_id", "product_id", "ts", "amount_idr"),
            w.transactions_start,
            day,
        ),
    ]


def _usage_sql(w: Windows) -> str:
    short, long = f"date >= {date_sql(w.short)}", f"date >= {date_sql(w.long)}"
    mb = "CAST(data_mb AS DOUBLE)"
    return f"""
    SELECT customer_id,
        SUM({mb}) FILTER ({short}) AS mb_short,
        SUM(CAST(voice_min AS DOUBLE)) FILTER ({short}) AS voice_short,
        SUM(sms) FILTER ({short}) AS sms_short,
        SUM({mb}) FILTER ({long}) AS mb_long,
        COUNT(data_mb) FILTER ({long}) AS n_long,
        VAR_POP({mb}) FILTER ({long}) AS var_long,
        COUNT(*) FILTER (date >= {date_sql(w.activity)} AND {USAGE_VALUES}) AS n_active
    FROM usage
    WHERE date >= {date_sql(w.usage_recent)} AND date < {date_sql(w.day)}
    GROUP BY customer_id"""


def _transactions_sql(w: Windows) -> str:
    rfm = f"ts >= {ts_sql(w.rfm)}"
    return f"""
    SELECT customer_id, product_id,
        COUNT(*) FILTER ({rfm}) AS n_rfm,
        SUM(amount_idr) FILTER ({rfm}) AS spend_rfm,
        SUM(amount_idr) FILTER (ts >= {ts_sql(w.arpu)}) AS spend_arpu,
        MAX(ts) FILTER ({rfm}) AS last_ts,
        COUNT(*) FILTER (ts >= {ts_sql(w.activity)}) AS n_active
    FROM transactions
    WHERE ts >= {ts_sql(w.transactions_start)} AND ts < {ts_sql(w.day)}
    GROUP BY customer_id, product_id"""


def _events_sql(w: Windows) -> str:
    def count(event_type: str) -> str:
        return f"COUNT(*) FILTER (event_type = '{event_type}')"

    return f"""
    SELECT customer_id,
        {count("session")} AS sessions,
        {count("offer_impression")} AS impressions,
        {count("click")} AS clicks,
        COUNT(*) FILTER (ts >= {ts_sql(w.activity)}) AS n_active
    FROM events
    WHERE ts >= {ts_sql(w.events)} AND ts < {ts_sql(w.day)}
    GROUP BY customer_id"""


def _favourite_sql() -> str:
    # Most spend wins; on a tie the first category by name (ranked Z..A, so A has the highest rank).
    return """
    SELECT customer_id, ARG_MAX(category, {'spend': spend, 'rank': rank}) AS favourite_category
    FROM (
        SELECT tp.customer_id, p.category, p.rank, COALESCE(SUM(tp.spend_rfm), 0) AS spend
        FROM tp JOIN (
            SELECT product_id, category, DENSE_RANK() OVER (ORDER BY category DESC) AS rank
            FROM products WHERE category IS NOT NULL
        ) AS p ON tp.product_id = p.product_id
        WHERE tp.n_rfm > 0
        GROUP BY tp.customer_id, p.category, p.rank
    )
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
    missing_days = f"mb_long * mb_long * ({long} - n_long) / (n_long * {long})"
    variance = f"GREATEST((n_long * var_long + {missing_days}) / {long}, 0)"
    trend = f"CASE WHEN mb_long > 0 THEN (COALESCE(mb_short, 0) / {short}) / {mean_long} END"
    stability = f"CASE WHEN mb_long > 0 THEN SQRT({variance}) / {mean_long} END"
    return trend, stability


def _joined_sql(day: dt.date) -> str:
    return f"""
    SELECT c.customer_id, c.segment, c.signup_date,
        u.mb_short, u.voice_short, u.sms_short, u.mb_long, u.n_long, u.var_long,
        t.frequency, t.monetary, COALESCE(t.arpu, 0.0) AS arpu, t.last_ts, t.distinct_products,
        fav.favourite_category, e.sessions, e.impressions, e.clicks,
        COALESCE(u.n_active, 0) + COALESCE(t.n_active, 0) + COALESCE(e.n_active, 0)
            + CASE WHEN o.customer_id IS NULL THEN 0 ELSE 1 END AS activity
    FROM (SELECT customer_id, signup_date, segment FROM customers WHERE signup_date < {date_sql(day)}) AS c
    LEFT JOIN u ON u.customer_id = c.customer_id
    LEFT JOIN t ON t.customer_id = c.customer_id
    LEFT JOIN e ON e.customer_id = c.customer_id
    LEFT JOIN fav ON fav.customer_id = c.customer_id
    LEFT JOIN older AS o ON o.customer_id = c.customer_id"""


def snapshot_sql(settings: FeatureSettings, day: dt.date) -> str:
    """The query of the snapshot of ``day`` over the views of :func:`scan_plan`, customers, products."""
    w = Windows.of(settings, day)
    d = date_sql(day)
    trend, stability = _usage_derived_sql(settings)
    return f"""
    WITH u AS ({_usage_sql(w)}),
    older AS (
        SELECT DISTINCT customer_id FROM (
            SELECT customer_id FROM usage_older WHERE {USAGE_VALUES}
            UNION ALL SELECT customer_id FROM events_older
        )
    ),
    tp AS ({_transactions_sql(w)}),
    t AS (
        SELECT customer_id, SUM(n_rfm) AS frequency, SUM(spend_rfm) AS monetary,
            SUM(spend_arpu) AS arpu, MAX(last_ts) AS last_ts, SUM(n_active) AS n_active,
            COUNT(CASE WHEN n_rfm > 0 AND product_id IS NOT NULL THEN 1 END) AS distinct_products
        FROM tp GROUP BY customer_id
    ),
    fav AS ({_favourite_sql()}),
    e AS ({_events_sql(w)}),
    joined AS ({_joined_sql(day)})
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
