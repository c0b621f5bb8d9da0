"""The telco tables the recommender learns from, as one value: transactions, customers, catalogue, snapshots.

They are read from the lake by :mod:`mlops_platform.pipelines.recommender_data`; everything here
works on the tables in memory.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import pandas as pd

from mlops_platform.models.recommender import interactions as ia

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
