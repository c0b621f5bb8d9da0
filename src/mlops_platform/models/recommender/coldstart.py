"""Scores for customers with little or no history: content, segment popularity, tenure schedule.

- The *collaborative* score is LightFM's score of the customer's own row (identity + features).
- The *content* score uses the customer's features alone (LightFM without the identity column)
  blended with the popularity of each item in the customer's segment; a customer nobody knows,
  without features, gets the segment (or overall) popularity.
- The tenure schedule sets the collaborative share: with the default config days 0-7 are
  content only, days 8-30 are 70% content / 30% collaborative, from day 31 collaborative only.
  A customer without any interaction is content only whatever the tenure.

Nothing here raises on an unknown id, segment or a missing tenure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from mlops_platform.models.recommender.candidates import standardise_rows
from mlops_platform.models.recommender.interactions import DAY, IdMap

# Buyers-equivalent pull of a segment's shares towards the overall shares (small segments).
PRIOR_BUYERS = 10.0
# Ratings-equivalent pull of an item's mean rating towards the mean of all ratings.
PRIOR_RATINGS = 10.0


def collaborative_share(
    tenure_days: ArrayLike, schedule: Sequence[tuple[int | None, float]], has_history: ArrayLike = True
) -> np.ndarray:
    """The collaborative share of each customer's score.

    Args:
        tenure_days: days since signup per customer (NaN: unknown, treated as established).
        schedule: ``(until_day, share)`` steps, ``until_day`` inclusive and increasing, the last None.
        has_history: per customer, whether they have any interaction (False: share 0).
    """
    tenure = np.atleast_1d(pd.to_numeric(pd.Series(np.atleast_1d(tenure_days)), errors="coerce").to_numpy(float))
    share = np.full(len(tenure), float(schedule[-1][1]))
    for until_day, value in reversed(list(schedule[:-1])):
        share[tenure <= until_day] = value
    return np.where(np.broadcast_to(np.asarray(has_history, dtype=bool), share.shape), share, 0.0)


@dataclass
class PopularityTable:
    """Share of buyers who bought each item, overall and per segment (smoothed towards overall)."""

    items: IdMap
    window_days: int | None = None

    def fit(
        self,
        events: pd.DataFrame,
        users: pd.DataFrame,
        as_of: object | None = None,
        user_tokens: pd.DataFrame | None = None,
    ) -> Self:
        """Count distinct buyers per item in the window before ``as_of`` (all events when None).

        Args:
            events: ``user_id, item_id, ts`` before the cut-off, and ``rating`` where the
                business has one (then ``mean_rating_`` holds each item's smoothed mean).
            users: ``user_id, segment`` (users without a row count only overall).
            user_tokens: ``id, token`` user tokens (``ranker_only`` ones too); each token's
                buyers give the peer popularity (:meth:`peer_lift`).
        """
        if self.window_days is not None and len(events):
            end = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(events["ts"].max()) + pd.Timedelta(DAY)
            events = events.loc[events["ts"] >= end - pd.Timedelta(days=self.window_days)]
        cols = self.items.index(events["item_id"].to_numpy())
        pairs = pd.DataFrame({"user_id": events["user_id"].to_numpy(), "col": cols}).loc[cols >= 0].drop_duplicates()
        segments = users.drop_duplicates("user_id").set_index("user_id").get("segment", pd.Series(dtype=object))
        pairs["segment"] = pairs["user_id"].map(segments).fillna("").astype(str).to_numpy()
        n_items = len(self.items)
        buyers = max(pairs["user_id"].nunique(), 1)
        self.overall_ = np.bincount(pairs["col"], minlength=n_items).astype(np.float32) / buyers
        self.by_segment_: dict[str, np.ndarray] = {}
        for segment, group in pairs.groupby("segment"):
            if not segment:
                continue
            counts = np.bincount(group["col"], minlength=n_items).astype(np.float32)
            size = group["user_id"].nunique()
            self.by_segment_[str(segment)] = (counts + PRIOR_BUYERS * self.overall_) / (size + PRIOR_BUYERS)
        self._fit_peers(pairs, user_tokens)
        self.mean_rating_ = _mean_rating(events, cols, n_items)
        return self

    def _fit_peers(self, pairs: pd.DataFrame, user_tokens: pd.DataFrame | None) -> None:
        """``log2`` lift of each item among the buyers holding each user token over all buyers."""
        self.token_names_ = np.zeros(0, dtype=object)
        self.token_lift_ = np.zeros((0, len(self.items)), np.float32)
        if user_tokens is None or user_tokens.empty or pairs.empty:
            return
        holders = pd.DataFrame({"user_id": user_tokens.iloc[:, 0].to_numpy(), "token": user_tokens["token"]})
        holders = holders.dropna().drop_duplicates()
        holders["token"] = holders["token"].astype(str)
        joined = pairs.merge(holders, on="user_id")
        if joined.empty:
            return
        self.token_names_, code = np.unique(joined["token"].to_numpy(), return_inverse=True)
        n_tokens, n_items = len(self.token_names_), len(self.items)
        counts = np.zeros((n_tokens, n_items), np.float32)
        np.add.at(counts, (code, joined["col"].to_numpy()), 1.0)
        size = joined.groupby(code)["user_id"].nunique().reindex(range(n_tokens), fill_value=0).to_numpy()
        shares = (counts + PRIOR_BUYERS * self.overall_) / (size[:, None] + PRIOR_BUYERS)
        self.token_lift_ = np.log2((shares + 1e-6) / (self.overall_ + 1e-6)).astype(np.float32)

    def _codes(self, segments: object) -> tuple[np.ndarray, np.ndarray]:
        """Rows of a (segments + overall) x items table and the row of each segment given."""
        names = sorted(self.by_segment_)
        table = np.vstack([self.overall_[None, :], *(self.by_segment_[name][None, :] for name in names)])
        labels = pd.Series(np.atleast_1d(np.asarray(segments, dtype=object))).fillna("").astype(str)
        codes = labels.map({name: i + 1 for i, name in enumerate(names)}).fillna(0).to_numpy(np.int64)
        return table, codes

    def shares(self, segments: object) -> np.ndarray:
        """Rows of item shares for each segment given (unknown or missing: the overall shares)."""
        table, codes = self._codes(segments)
        return table[codes]

    def lift_of(self, segments: object, items: np.ndarray, overall: bool = False) -> np.ndarray:
        """``log2`` of item row ``items[i]``'s share in segment ``segments[i]`` (or overall) over the mean share.

        A lift, unlike a share, does not grow with the length of the history, so a ranker trained
        at one cut-off reads it the same way at a later one; 0 is an average item, 1 twice as popular.
        """
        table, codes = self._codes(segments)
        if overall:
            codes = np.zeros_like(codes)
        mean = table.mean(axis=1, keepdims=True)
        lift = np.log2((table + 1e-6) / (mean + 1e-6))
        return lift[codes, np.asarray(items)].astype(np.float64)

    def peer_lift(self, user_tokens: pd.DataFrame | None, user_ids: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Per pair (``user_ids[i]``, item row ``items[i]``): the mean over the user's tokens of the
        item's lift among the token's holders (0: as popular with them as with everyone; NaN: no
        known token)."""
        out = np.full(len(user_ids), np.nan)
        if user_tokens is None or user_tokens.empty or not len(self.token_names_) or not len(user_ids):
            return out
        people, at = np.unique(np.asarray(user_ids, dtype=object).astype(str), return_inverse=True)
        rows = pd.Index(people).get_indexer(user_tokens.iloc[:, 0].astype(str).to_numpy())
        cols = pd.Index(self.token_names_).get_indexer(user_tokens["token"].astype(str).to_numpy())
        keep = (rows >= 0) & (cols >= 0)
        held = pd.DataFrame({"row": rows[keep], "col": cols[keep]}).drop_duplicates()
        member = np.zeros((len(people), len(self.token_names_)), np.float32)
        member[held["row"].to_numpy(), held["col"].to_numpy()] = 1.0
        n_held = member.sum(axis=1)
        lift = (member @ self.token_lift_)[at, np.asarray(items)]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n_held[at] > 0, lift / n_held[at], np.nan).astype(np.float64)

    def mean_rating_of(self, items: np.ndarray) -> np.ndarray:
        """The smoothed mean rating of each item row (NaN when the events carry no rating)."""
        return self.mean_rating_[np.asarray(items)].astype(np.float64)


def _mean_rating(events: pd.DataFrame, cols: np.ndarray, n_items: int) -> np.ndarray:
    """Each item's mean ``rating`` pulled towards the mean of all ratings; NaN without ratings."""
    if "rating" not in events or not len(events):
        return np.full(n_items, np.nan, np.float32)
    rating = pd.to_numeric(events["rating"], errors="coerce").to_numpy(np.float64)
    keep = (cols >= 0) & ~np.isnan(rating)
    if not keep.any():
        return np.full(n_items, np.nan, np.float32)
    total = np.bincount(cols[keep], weights=rating[keep], minlength=n_items)
    count = np.bincount(cols[keep], minlength=n_items)
    prior = rating[keep].mean()
    return ((total + PRIOR_RATINGS * prior) / (count + PRIOR_RATINGS)).astype(np.float32)


def content_scores(feature_scores: np.ndarray, segment_shares: np.ndarray, popularity_blend: float) -> np.ndarray:
    """Features-only LightFM scores blended with segment popularity (both standardised per row)."""
    blend = np.float32(popularity_blend)
    return (1 - blend) * standardise_rows(feature_scores) + blend * standardise_rows(segment_shares)


def blend_scores(collaborative: np.ndarray, content: np.ndarray, share: np.ndarray) -> np.ndarray:
    """``share * collaborative + (1 - share) * content``, each standardised per row."""
    weight = np.asarray(share, dtype=np.float32)[:, None]
    return weight * standardise_rows(collaborative) + (1 - weight) * standardise_rows(content)
