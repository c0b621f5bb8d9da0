"""Labels of the snapshot population: ``labels/customer/date=D/``.

Every label of D uses only the horizon that starts on D (raw days D .. D+h-1), never a day the
snapshot of D reads, and the population is the snapshot's: its customer ids when the snapshot of
D is committed, else the same population recomputed. A date whose horizon has not fully passed
(the newest committed transactions or usage partition is before D + longest horizon - 1, or a
day of the horizon is missing) is refused.
"""

from __future__ import annotations

import datetime as dt
import logging

import pyarrow as pa

from mlops_platform.config import LabelSettings, PlatformSettings
from mlops_platform.data.raw import raw_dates
from mlops_platform.errors import DataValidationError
from mlops_platform.features.checks import check_table
from mlops_platform.features.definitions import LABEL_KEYS, LABEL_SCHEMA, LABELS
from mlops_platform.features.engine import connect, date_sql, fetch, register_raw, ts_sql
from mlops_platform.features.snapshot import compute_snapshot, read_snapshot, snapshot_partition
from mlops_platform.storage import Manifest, ObjectStore, date_partition

_logger = logging.getLogger(__name__)

DATASET = "labels/customer"
# Raw tables the labels read ("usage" only when the lake has it).
INPUT_TABLES = ("transactions", "usage")


def labels_partition(day: dt.date) -> str:
    """The folder of the labels of ``day``."""
    return date_partition(DATASET, day)


def _horizon_end(settings: LabelSettings, day: dt.date, days: int | None = None) -> dt.date:
    """The first day after a horizon of ``days`` (default: the longest) that starts on ``day``."""
    return day + dt.timedelta(days=days if days is not None else settings.longest_horizon_days)


def require_horizon(store: ObjectStore, settings: LabelSettings, day: dt.date) -> None:
    """Refuse ``day`` unless every day of its longest horizon is committed in the label inputs.

    Raises:
        DataValidationError: naming the table, the newest committed day and the day needed.
    """
    end = _horizon_end(settings, day)
    last = end - dt.timedelta(days=1)
    for table in INPUT_TABLES:
        dates = raw_dates(store, table)
        if table != "transactions" and not dates:
            continue
        newest = dates[-1] if dates else None
        if newest is None or newest < last:
            raise DataValidationError(
                f"{DATASET} date={day}: the {settings.longest_horizon_days}-day horizon has not passed: "
                f"it needs raw/{table} up to {last}, committed up to {newest or 'nothing'}"
            )
        present = set(dates)
        gaps = [day + dt.timedelta(days=i) for i in range((end - day).days)]
        gaps = [d for d in gaps if d not in present]
        if gaps:
            raise DataValidationError(
                f"{DATASET} date={day}: raw/{table} misses {len(gaps)} day(s) of the horizon, "
                f"first {gaps[0]} (rule: complete horizon)"
            )


def population(store: ObjectStore, settings: PlatformSettings, day: dt.date) -> pa.Table:
    """The customer ids of the snapshot of ``day`` (read if committed, else recomputed)."""
    if store.has_partition(snapshot_partition(day)):
        return read_snapshot(store, day, ["customer_id"])
    _logger.info("no snapshot of %s committed; recomputing its population", day)
    return compute_snapshot(store, settings.features, day).select(["customer_id"])


def labels_sql(settings: LabelSettings, day: dt.date) -> str:
    """The query of the labels of ``day`` over the views population, usage and transactions."""
    churn_end = _horizon_end(settings, day, settings.churn_horizon_days)
    conversion_end = _horizon_end(settings, day, settings.conversion_horizon_days)
    revenue_end = _horizon_end(settings, day, settings.revenue_horizon_days)
    return f"""
    WITH u AS (
        SELECT customer_id, COUNT(*) AS n_use FROM usage
        WHERE date >= {date_sql(day)} AND date < {date_sql(churn_end)}
            AND (data_mb > 0 OR voice_min > 0 OR sms > 0)
        GROUP BY customer_id
    ),
    t AS (
        SELECT customer_id,
            COUNT(CASE WHEN ts < {ts_sql(churn_end)} THEN 1 END) AS n_churn,
            COUNT(CASE WHEN ts < {ts_sql(conversion_end)} THEN 1 END) AS n_conversion,
            SUM(CASE WHEN ts < {ts_sql(revenue_end)} THEN amount_idr END) AS revenue
        FROM transactions
        WHERE ts >= {ts_sql(day)} AND ts < {ts_sql(_horizon_end(settings, day))}
        GROUP BY customer_id
    )
    SELECT p.customer_id, {date_sql(day)} AS label_date,
        CASE WHEN COALESCE(u.n_use, 0) + COALESCE(t.n_churn, 0) = 0 THEN 1 ELSE 0 END AS churned_30d,
        CASE WHEN COALESCE(t.n_conversion, 0) > 0 THEN 1 ELSE 0 END AS converted_7d,
        COALESCE(t.revenue, 0.0) AS revenue_30d
    FROM population AS p
    LEFT JOIN u ON u.customer_id = p.customer_id
    LEFT JOIN t ON t.customer_id = p.customer_id
    ORDER BY p.customer_id"""


def compute_labels(store: ObjectStore, settings: PlatformSettings, day: dt.date) -> pa.Table:
    """The labels of ``day`` (not checked, not written), sorted by customer_id."""
    labels = settings.labels
    ids = population(store, settings, day)
    con = connect()
    try:
        con.register("population", ids)
        register_raw(con, store, "usage", day, _horizon_end(labels, day, labels.churn_horizon_days))
        register_raw(con, store, "transactions", day, _horizon_end(labels, day))
        return fetch(con, labels_sql(labels, day), LABEL_SCHEMA)
    finally:
        con.close()


def build_labels(
    store: ObjectStore, settings: PlatformSettings, day: dt.date, *, writer: str | None = None
) -> Manifest:
    """Compute, check and commit the labels of ``day``; a rerun replaces them with the same rows.

    Raises:
        DataValidationError: the horizon has not passed, or the labels break their rules.
    """
    require_horizon(store, settings.labels, day)
    table = compute_labels(store, settings, day)
    check_table(table, LABEL_KEYS + LABELS, DATASET, key="customer_id")
    return store.write_partition(labels_partition(day), table, writer)


def read_labels(store: ObjectStore, day: dt.date) -> pa.Table:
    """The committed labels of ``day``."""
    return store.read_partition(labels_partition(day))
