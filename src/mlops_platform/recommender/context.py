"""What the ranker knows besides the candidate scores: item attributes and each user's history.

:class:`ItemTable` holds the catalogue as arrays aligned with the item rows of an
:class:`~mlops_platform.recommender.interactions.IdMap`; :class:`History` summarises each
user's events before a cut-off: spend share and recency per category, days since the last
purchase, the validity of the last pack, and how often each item was bought.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mlops_platform.recommender.interactions import DAY, IdMap

OPTIONAL_ITEM_COLUMNS = ("price", "validity_days", "data_mb", "voice_min")


@dataclass(frozen=True)
class ItemTable:
    """Item attributes aligned with item rows; NaN where the business has no such attribute."""

    ids: IdMap
    category: np.ndarray  # category code per item row
    categories: np.ndarray  # category labels, by code
    name: np.ndarray
    numbers: dict[str, np.ndarray]

    @classmethod
    def build(cls, items: pd.DataFrame, ids: IdMap) -> ItemTable:
        """Align ``items`` (``item_id, category`` and optional attributes) with ``ids``."""
        frame = items.drop_duplicates("item_id", keep="last")
        pos = ids.index(frame["item_id"].to_numpy())
        frame = frame.loc[pos >= 0]
        pos = pos[pos >= 0]
        labels = np.full(len(ids), "unknown", dtype=object)
        labels[pos] = frame["category"].fillna("unknown").astype(str).to_numpy()
        categories, codes = np.unique(labels.astype(str), return_inverse=True)
        names = np.array([str(i) for i in ids.ids], dtype=object)
        if "name" in frame and frame["name"].notna().any():
            names[pos] = frame["name"].fillna("").astype(str).to_numpy()
        numbers = {}
        for column in OPTIONAL_ITEM_COLUMNS:
            values = np.full(len(ids), np.nan, dtype=np.float64)
            if column in frame:
                values[pos] = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
            numbers[column] = values
        return cls(ids, codes.astype(np.int64), categories, names, numbers)


@dataclass(frozen=True)
class History:
    """Per user (rows of ``users``): what they bought before their cut-off and when."""

    users: IdMap
    category_share: np.ndarray  # users x categories, share of the user's purchases
    days_since_category: np.ndarray  # users x categories, NaN where never bought
    days_since_last: np.ndarray  # users, NaN without history
    last_validity: np.ndarray  # users, validity days of the last item bought (NaN if none/unknown)
    item_counts: sp.csr_matrix  # users x items, purchases (quantity) of each item
    item_age: sp.csr_matrix  # users x items, 1 + days since the user last bought the item (0: never)

    @classmethod
    def build(cls, events: pd.DataFrame, users: IdMap, items: ItemTable, as_of: np.ndarray) -> History:
        """Summarise ``events`` (already before the cut-off) per user.

        Args:
            as_of: the cut-off per user row (datetime64), days are counted back from it.
        """
        n_users, n_items, n_cats = len(users), len(items.ids), len(items.categories)
        rows, cols = users.index(events["user_id"].to_numpy()), items.ids.index(events["item_id"].to_numpy())
        keep = (rows >= 0) & (cols >= 0)
        rows, cols = rows[keep], cols[keep]
        qty = events["quantity"].to_numpy(np.float64)[keep]
        ts = pd.to_datetime(events["ts"]).to_numpy()[keep]
        age = ((as_of[rows] - ts) / DAY).astype(np.float64) if len(rows) else np.zeros(0)
        counts = sp.csr_matrix((qty, (rows, cols)), shape=(n_users, n_items))
        counts.sum_duplicates()
        cats = items.category[cols]
        per_cat = np.zeros((n_users, n_cats))
        np.add.at(per_cat, (rows, cats), qty)
        totals = per_cat.sum(axis=1, keepdims=True)
        share = np.divide(per_cat, totals, out=np.zeros_like(per_cat), where=totals > 0)
        since_cat = np.full((n_users, n_cats), np.inf)
        np.minimum.at(since_cat, (rows, cats), age)
        since_last = since_cat.min(axis=1) if n_cats else np.full(n_users, np.inf)
        last_validity = np.full(n_users, np.nan)
        if len(rows):
            newest = pd.DataFrame({"row": rows, "age": age, "col": cols}).sort_values(["row", "age"], kind="stable")
            first = newest.drop_duplicates("row")
            last_validity[first["row"].to_numpy()] = items.numbers["validity_days"][first["col"].to_numpy()]
        newest_pair = pd.DataFrame({"row": rows, "col": cols, "age": age}).groupby(["row", "col"])["age"].min()
        item_age = sp.csr_matrix(
            (
                newest_pair.to_numpy() + 1.0,
                (newest_pair.index.get_level_values(0), newest_pair.index.get_level_values(1)),
            ),
            shape=(n_users, n_items),
        )
        since_cat[np.isinf(since_cat)] = np.nan
        since_last[np.isinf(since_last)] = np.nan
        return cls(
            users,
            share.astype(np.float32),
            since_cat.astype(np.float32),
            since_last.astype(np.float32),
            last_validity.astype(np.float32),
            counts.astype(np.float32),
            item_age.astype(np.float32),
        )

    def has_history(self, rows: np.ndarray) -> np.ndarray:
        """Whether each user row (-1: unknown) bought anything."""
        known = rows >= 0
        out = np.zeros(len(rows), dtype=bool)
        out[known] = ~np.isnan(self.days_since_last[rows[known]])
        return out


def as_of_per_user(as_of: object, user_ids: np.ndarray) -> np.ndarray:
    """The cut-off of every user: one date for all, or a Series ``user_id -> date``."""
    if isinstance(as_of, pd.Series):
        mapped = pd.to_datetime(pd.Series(user_ids).map(as_of))
        fallback = pd.to_datetime(as_of).max()
        return mapped.fillna(fallback).to_numpy("datetime64[ns]")
    return np.full(len(user_ids), np.datetime64(pd.Timestamp(as_of)), dtype="datetime64[ns]")
