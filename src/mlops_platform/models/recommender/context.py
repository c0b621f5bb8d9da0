"""What the ranker knows besides the candidate scores: item attributes and each user's history.

:class:`ItemTable` holds the catalogue as arrays aligned with the item rows of an
:class:`~mlops_platform.models.recommender.interactions.IdMap`; :class:`History` summarises each
user's events before a cut-off: spend share and recency per category, days since the last
purchase, the validity of the last pack, how often each item was bought, and how the user's
items spread over the item tokens (a film's genres, a pack's price tier).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mlops_platform.models.recommender.interactions import DAY, IdMap

OPTIONAL_ITEM_COLUMNS = ("price", "validity_days", "data_mb", "voice_min")
# Item-item similarities are kept for catalogues up to this size (items x items floats).
MAX_SIMILARITY_ITEMS = 6_000
# Users per block when a per-pair feature needs an items x users product.
PAIR_CHUNK_USERS = 1_024


@dataclass(frozen=True)
class ItemTable:
    """Item attributes aligned with item rows; NaN where the business has no such attribute."""

    ids: IdMap
    category: np.ndarray  # category code per item row
    categories: np.ndarray  # category labels, by code
    name: np.ndarray
    numbers: dict[str, np.ndarray]
    tokens: sp.csr_matrix | None = None  # items x item tokens, each row summing to 1 (or 0: none)

    @classmethod
    def build(cls, items: pd.DataFrame, ids: IdMap, tokens: pd.DataFrame | None = None) -> ItemTable:
        """Align ``items`` (``item_id, category`` and optional attributes) and ``tokens`` with ``ids``.

        Args:
            tokens: ``id, token`` item tokens, ``ranker_only`` ones included (LightFM's choice
                does not limit what the ranker may read).
        """
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
        return cls(ids, codes.astype(np.int64), categories, names, numbers, token_matrix(tokens, ids))


def token_matrix(tokens: pd.DataFrame | None, ids: IdMap) -> sp.csr_matrix:
    """Rows of ``ids`` x distinct tokens, 1 / (the row's token count) where the row has the token."""
    if tokens is None or tokens.empty:
        return sp.csr_matrix((len(ids), 0), dtype=np.float32)
    rows = ids.index(tokens.iloc[:, 0].to_numpy())
    words = tokens["token"].astype(str).to_numpy()
    vocabulary, cols = np.unique(words, return_inverse=True)
    keep = rows >= 0
    found = sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (rows[keep], cols[keep])), shape=(len(ids), len(vocabulary))
    )
    found.sum_duplicates()
    found.data[:] = 1.0
    totals = np.asarray(found.sum(axis=1)).ravel()
    scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ found)


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
    token_share: np.ndarray  # users x item tokens, share of the user's distinct items with the token
    n_items: np.ndarray  # users, distinct items bought
    similarity: np.ndarray | None  # items x items cosine of their buyers (0 on the diagonal); None: too many

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
        bought = (counts > 0).astype(np.float32)
        items_bought = np.asarray(bought.sum(axis=1)).ravel()
        token_share = _token_share(bought, items.tokens, items_bought)
        return cls(
            users,
            share.astype(np.float32),
            since_cat.astype(np.float32),
            since_last.astype(np.float32),
            last_validity.astype(np.float32),
            counts.astype(np.float32),
            item_age.astype(np.float32),
            token_share,
            items_bought.astype(np.float32),
            item_similarity(bought),
        )

    def token_affinity(self, rows: np.ndarray, item_tokens: sp.csr_matrix | None, items: np.ndarray) -> np.ndarray:
        """Per pair (user row ``rows[i]``, item row ``items[i]``): the mean, over the item's tokens,
        of the user's share of items with that token; NaN for an unknown user or an item without tokens.

        A film of genres Comedy and Romance, for a user of whose films 40% are comedies and 10%
        romances, gets 0.25.
        """
        out = np.full(len(rows), np.nan)
        if item_tokens is None or item_tokens.shape[1] != self.token_share.shape[1] or not len(rows):
            return out
        known = (rows >= 0) & (np.asarray(item_tokens.sum(axis=1)).ravel()[items] > 0)
        return _per_pair(rows, items, known, lambda users: item_tokens @ self.token_share[users].T, out)

    def neighbour_score(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Per pair (user row ``rows[i]``, item row ``items[i]``): the mean similarity of the item to
        the user's items (item-based collaborative filtering); NaN for an unknown user or catalogue."""
        out = np.full(len(rows), np.nan)
        if self.similarity is None or not len(rows):
            return out
        similarity = self.similarity

        def block(users: np.ndarray) -> np.ndarray:
            bought = (self.item_counts[users] > 0).astype(np.float32)
            return np.asarray(bought @ similarity).T / np.maximum(self.n_items[users], 1.0)[None, :]

        return _per_pair(rows, items, rows >= 0, block, out)

    def has_history(self, rows: np.ndarray) -> np.ndarray:
        """Whether each user row (-1: unknown) bought anything."""
        known = rows >= 0
        out = np.zeros(len(rows), dtype=bool)
        out[known] = ~np.isnan(self.days_since_last[rows[known]])
        return out


def _per_pair(
    rows: np.ndarray,
    items: np.ndarray,
    known: np.ndarray,
    block: Callable[[np.ndarray], np.ndarray],
    out: np.ndarray,
) -> np.ndarray:
    """Fill ``out[i]`` for the ``known`` pairs from ``block(user rows)`` (items x those users), a
    chunk of users at a time so memory stays at items x ``PAIR_CHUNK_USERS`` floats."""
    users = np.unique(rows[known])
    for start in range(0, len(users), PAIR_CHUNK_USERS):
        chunk = users[start : start + PAIR_CHUNK_USERS]
        at = np.searchsorted(chunk, rows)
        inside = known & (at < len(chunk)) & (chunk[np.minimum(at, len(chunk) - 1)] == rows)
        values = np.asarray(block(chunk), dtype=np.float64)
        out[inside] = values[items[inside], at[inside]]
    return out


def _token_share(bought: sp.csr_matrix, item_tokens: sp.csr_matrix | None, n_items: np.ndarray) -> np.ndarray:
    """Users x tokens: the share of each user's distinct items carrying each token."""
    if item_tokens is None or item_tokens.shape[1] == 0:
        return np.zeros((bought.shape[0], 0), np.float32)
    carries = (item_tokens > 0).astype(np.float32)
    counts = np.asarray((bought @ carries).todense(), dtype=np.float64)
    return np.divide(counts, n_items[:, None], out=np.zeros_like(counts), where=n_items[:, None] > 0).astype(np.float32)


def item_similarity(bought: sp.csr_matrix) -> np.ndarray | None:
    """Items x items cosine similarity of the items' buyer sets, zero on the diagonal (None: too many items)."""
    n_items = bought.shape[1]
    if n_items > MAX_SIMILARITY_ITEMS:
        return None
    overlap = np.asarray((bought.T @ bought).todense(), dtype=np.float32)
    norms = np.sqrt(np.diag(overlap)).astype(np.float32)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    similarity = overlap * scale[:, None] * scale[None, :]
    np.fill_diagonal(similarity, 0.0)
    return similarity


def as_of_per_user(as_of: object, user_ids: np.ndarray) -> np.ndarray:
    """The cut-off of every user: one date for all, or a Series ``user_id -> date``."""
    if isinstance(as_of, pd.Series):
        mapped = pd.to_datetime(pd.Series(user_ids).map(as_of))
        fallback = pd.to_datetime(as_of).max()
        return mapped.fillna(fallback).to_numpy("datetime64[ns]")
    return np.full(len(user_ids), np.datetime64(pd.Timestamp(as_of)), dtype="datetime64[ns]")
