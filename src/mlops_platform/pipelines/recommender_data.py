"""Reading the telco tables the recommender learns from out of the lake, as of a cut-off.

Transactions before the cut-off, the customers who signed up before it, the catalogue in force
on it, and the feature snapshots of the cut-off days a fit needs (built when missing, like the
training sets of the other models).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

import pandas as pd

from mlops_platform.data.raw import read_customers, read_products, read_raw
from mlops_platform.errors import InputError
from mlops_platform.features.snapshot import read_snapshot, snapshot_partition
from mlops_platform.models.recommender.tables import PROFILE_COLUMNS, TRANSACTION_COLUMNS, TelcoTables
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)


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
