"""The telco tables the recommender learns from, read from the lake as of a cut-off.

Transactions before the cut-off, the customers who signed up before it, the catalogue in force
on it, and the feature snapshots of the cut-off days a fit needs (built when missing, like the
training sets of the other models).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from mlops_platform.data.raw import read_customers, read_products, read_raw
from mlops_platform.errors import InputError
from mlops_platform.features.snapshot import read_snapshot, snapshot_partition
from mlops_platform.recommender import interactions as ia
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

TRANSACTION_COLUMNS = ("customer_id", "product_id", "ts", "quantity")
# The snapshot columns the recommender reads: its user features and what drift checks compare.
PROFILE_COLUMNS = (
    "customer_id",
    "segment",
    "arpu_30d",
    "arpu_bucket",
    "usage_7d_data_mb",
    "usage_7d_voice_min",
    "tenure_days",
)


@dataclass(frozen=True)
class TelcoTables:
    """Everything a fit reads, all of it before ``until``.

    Attributes:
        until: the newest cut-off the tables serve (no transaction on or after it).
        transactions: ``customer_id, product_id, ts, quantity``.
        customers: ``customer_id, signup_date, segment`` of those who signed up before ``until``.
        products: the catalogue in force on ``until``.
        snapshots: the feature snapshot of each cut-off day, profile columns only.
    """

    until: dt.date
    transactions: pd.DataFrame
    customers: pd.DataFrame
    products: pd.DataFrame
    snapshots: dict[dt.date, pd.DataFrame]

    @functools.cached_property
    def snapshot_frame(self) -> pd.DataFrame:
        """All snapshots stacked, with ``snapshot_date`` (the shape :func:`telco_stages` reads); built once."""
        parts = [frame.assign(snapshot_date=pd.Timestamp(day)) for day, frame in sorted(self.snapshots.items())]
        return pd.concat(parts, ignore_index=True)

    def transactions_before(self, day: dt.date) -> pd.DataFrame:
        return self.transactions.loc[self.transactions["ts"] < pd.Timestamp(day)]

    def customers_before(self, day: dt.date) -> pd.DataFrame:
        return self.customers.loc[pd.to_datetime(self.customers["signup_date"]) < pd.Timestamp(day)]

    def purchases(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """``user_id, item_id`` bought in ``[start, end)``: the labels of a window."""
        events = ia.telco_events(self.transactions)
        inside = (events["ts"] >= pd.Timestamp(start)) & (events["ts"] < pd.Timestamp(end))
        return events.loc[inside, ["user_id", "item_id"]].drop_duplicates().reset_index(drop=True)


def _profile(store: ObjectStore, day: dt.date) -> pd.DataFrame:
    table = read_snapshot(store, day)
    return table.select([c for c in PROFILE_COLUMNS if c in table.column_names]).to_pandas()


def read_tables(
    store: ObjectStore,
    until: dt.date,
    cut_offs: Iterable[dt.date],
    build_snapshot: Callable[[dt.date], object] | None = None,
) -> TelcoTables:
    """The telco tables before ``until`` and the snapshots of ``cut_offs``.

    Args:
        store: the lake.
        until: no transaction on or after this day is read.
        cut_offs: the days whose feature snapshots a fit needs.
        build_snapshot: builds a missing snapshot (None: a missing one is an error).

    Raises:
        InputError: no transactions before ``until``, or a snapshot is missing and cannot be built.
    """
    transactions = read_raw(store, "transactions", None, until, columns=list(TRANSACTION_COLUMNS)).to_pandas()
    if transactions.empty:
        raise InputError(f"recommender: no raw transactions before {until} in {store.url('raw/transactions')}")
    transactions["ts"] = pd.to_datetime(transactions["ts"])
    customers = read_customers(store, until).select(["customer_id", "signup_date", "segment"]).to_pandas()
    products = read_products(store, until).to_pandas()
    snapshots = {}
    for day in sorted(set(cut_offs)):
        if not store.has_partition(snapshot_partition(day)):
            if build_snapshot is None:
                raise InputError(f"recommender: no feature snapshot for {day}: run `mlops features build --date {day}`")
            _logger.info("building the missing feature snapshot of %s", day)
            build_snapshot(day)
        snapshots[day] = _profile(store, day)
    return TelcoTables(until, transactions, customers, products, snapshots)


def first_transaction_day(store: ObjectStore) -> dt.date | None:
    """The oldest raw transactions partition (None for an empty lake)."""
    days = store.list_dates("raw/transactions")
    return days[0] if days else None
