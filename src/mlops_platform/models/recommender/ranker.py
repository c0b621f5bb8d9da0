"""The XGBoost learning-to-rank stage: features of each (user, candidate) pair and the ranker.

One group per user, its rows the K candidates, label 1 where the user bought the item in the
label window. The candidate model that scores the ranker's training rows is fitted on events
before the ranker's cut-off only, so it never saw the labels. Features a business can lack (no
price, no usage, no rating) are NaN, which XGBoost routes on its own; a feature without any
value (or with a single one) in the training rows is left out of the fitted model.

Features that must read the same at the ranker's cut-off and later, when serving from a refitted
candidate model, are relative: the candidate score is standardised per user, ``score_gap`` is the
distance to the user's best candidate, popularity is a lift over the mean item.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
import xgboost as xgb

from mlops_platform.errors import InputError
from mlops_platform.models.recommender.coldstart import PopularityTable
from mlops_platform.models.recommender.context import History, ItemTable

_logger = logging.getLogger(__name__)

FEATURES = (
    "candidate_score",
    "collaborative_score",
    "content_score",
    "candidate_rank",
    "score_gap",
    "item_popularity",
    "segment_popularity",
    "peer_popularity",
    "item_mean_rating",
    "token_affinity",
    "neighbour_score",
    "history_size",
    "item_affinity",
    "days_since_item",
    "category_affinity",
    "days_since_category",
    "days_since_last_purchase",
    "expiry_gap",
    "validity_ratio",
    "price_to_arpu",
    "log_price",
    "validity_days",
    "data_fit",
    "voice_fit",
    "usage_data_mb",
    "usage_voice_min",
    "tenure_days",
)
# The candidate stage's scores of each pair, carried in ``Candidates.scores``.
SCORES = FEATURES[:3]
# Shape constraints: all else equal, a better candidate score, more affinity or more popularity
# never lowers the ranker's score. The ranker adds what the candidate model cannot see, but labels
# that differ from later purchases (a film rated last is a less popular one than a film rated at
# random) cannot turn these relations upside down.
MONOTONE = {
    "candidate_score": 1,
    "collaborative_score": 1,
    "content_score": 1,
    "candidate_rank": -1,
    "score_gap": -1,
    "item_popularity": 1,
    "segment_popularity": 1,
    "peer_popularity": 1,
    "item_mean_rating": 1,
    "item_affinity": 1,
    "category_affinity": 1,
    "token_affinity": 1,
    "neighbour_score": 1,
}
# Descriptive columns carried next to the features (for the reasons), never fed to the model.
CONTEXT = ("user_id", "item_id", "category", "segment")


@dataclass(frozen=True)
class Candidates:
    """Each user's K candidate item rows and their scores (all users x K)."""

    user_ids: np.ndarray
    items: np.ndarray  # item rows, -1 where a user ran out of items
    scores: Mapping[str, np.ndarray]  # one users x K array per name of SCORES


def user_column(users: pd.DataFrame, user_ids: np.ndarray, name: str) -> np.ndarray:
    """``users[name]`` aligned with ``user_ids`` (NaN where unknown or absent)."""
    if name not in users:
        return np.full(len(user_ids), np.nan, dtype=object if name == "segment" else np.float64)
    series = users.drop_duplicates("user_id", keep="last").set_index("user_id")[name]
    values = pd.Series(user_ids).map(series)
    return values.to_numpy(object) if name == "segment" else pd.to_numeric(values, errors="coerce").to_numpy(float)


def candidate_features(
    cands: Candidates,
    users: pd.DataFrame,
    items: ItemTable,
    history: History,
    popularity: PopularityTable,
    user_tokens: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (user, candidate), users in order, candidates best first: CONTEXT + FEATURES.

    Args:
        user_tokens: ``id, token`` of the users (for ``peer_popularity``; NaN without them).
    """
    user_pos, rank = np.nonzero(cands.items >= 0)
    item = cands.items[user_pos, rank]
    hist = history.users.index(cands.user_ids)[user_pos]
    seen = hist >= 0
    h = np.where(seen, hist, 0)

    def from_history(values: np.ndarray) -> np.ndarray:
        return np.where(seen, values, np.nan).astype(np.float64)

    segment = user_column(users, cands.user_ids, "segment")[user_pos]
    usage_data = user_column(users, cands.user_ids, "usage_data_mb")[user_pos]
    usage_voice = user_column(users, cands.user_ids, "usage_voice_min")[user_pos]
    arpu = user_column(users, cands.user_ids, "arpu")[user_pos]
    price, validity = items.numbers["price"][item], items.numbers["validity_days"][item]
    category = items.category[item]
    since_last = from_history(history.days_since_last[h])
    score = cands.scores[SCORES[0]]
    best = np.max(np.where(cands.items >= 0, score, -np.inf), axis=1, initial=-np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        daily_data = items.numbers["data_mb"][item] / validity
        daily_voice = items.numbers["voice_min"][item] / validity
        frame = pd.DataFrame(
            {
                "user_id": cands.user_ids[user_pos],
                "item_id": items.ids.ids[item],
                "category": items.categories[category],
                "segment": segment,
                **{name: cands.scores[name][user_pos, rank].astype(np.float64) for name in SCORES},
                "candidate_rank": rank.astype(np.float64),
                "score_gap": (best[user_pos] - score[user_pos, rank]).astype(np.float64),
                "item_popularity": popularity.lift_of(segment, item, overall=True),
                "segment_popularity": popularity.lift_of(segment, item),
                "peer_popularity": popularity.peer_lift(user_tokens, cands.user_ids[user_pos], item),
                "item_mean_rating": popularity.mean_rating_of(item),
                "token_affinity": history.token_affinity(hist, items.tokens, item),
                "neighbour_score": history.neighbour_score(hist, item),
                "history_size": from_history(np.log1p(history.n_items[h])),
                "item_affinity": np.where(seen, np.asarray(history.item_counts[h, item]).ravel(), 0.0),
                "days_since_item": np.where(seen, np.asarray(history.item_age[h, item]).ravel(), 0.0) - 1.0,
                "category_affinity": np.where(seen, history.category_share[h, category], 0.0),
                "days_since_category": from_history(history.days_since_category[h, category]),
                "days_since_last_purchase": since_last,
                "expiry_gap": since_last - from_history(history.last_validity[h]),
                "validity_ratio": since_last / validity,
                "price_to_arpu": np.where(arpu > 0, price / arpu, np.nan),
                "log_price": np.log1p(price),
                "validity_days": validity,
                "data_fit": np.log1p(daily_data * 7.0) - np.log1p(usage_data),
                "voice_fit": np.log1p(daily_voice * 7.0) - np.log1p(usage_voice),
                "usage_data_mb": usage_data,
                "usage_voice_min": usage_voice,
                "tenure_days": user_column(users, cands.user_ids, "tenure_days")[user_pos],
            }
        )
    frame.loc[frame["days_since_item"] < 0, "days_since_item"] = np.nan  # never bought
    return frame


def purchase_labels(frame: pd.DataFrame, label_events: pd.DataFrame) -> np.ndarray:
    """1 where the row's user bought the row's item among ``label_events``, else 0."""
    bought = pd.MultiIndex.from_frame(label_events[["user_id", "item_id"]].drop_duplicates())
    keys = pd.MultiIndex.from_arrays([frame["user_id"].to_numpy(), frame["item_id"].to_numpy()])
    return keys.isin(bought).astype(np.int32)


class Ranker:
    """XGBoost ``XGBRanker`` over :data:`FEATURES` (or ``features``), one query group per user.

    ``features_`` holds the features the fitted model reads: those given, less any without at
    least two distinct values in the training rows (a telco pack's expiry on a film catalogue).
    """

    def __init__(
        self,
        objective: str = "rank:ndcg",
        n_estimators: int = 200,
        learning_rate: float = 0.1,
        max_depth: int = 4,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        seed: int = 42,
        num_threads: int = 1,
        features: Sequence[str] | None = None,
        monotone: bool = True,
        candidate_weight: float = 0.0,
    ) -> None:
        if not 0.0 <= candidate_weight <= 1.0:
            raise InputError(f"ranker: candidate_weight must be within [0, 1], got {candidate_weight}")
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.seed = seed
        self.num_threads = num_threads
        self.features = features
        self.monotone = monotone
        self.candidate_weight = candidate_weight

    def fit(self, frame: pd.DataFrame, labels: np.ndarray) -> Self:
        """Learn to order each user's candidates; groups with no bought (or only bought) rows are skipped.

        Raises:
            InputError: no user has both a bought and a not-bought candidate.
        """
        labels = np.asarray(labels)
        group = pd.factorize(frame["user_id"])[0]
        positives = np.bincount(group, weights=labels)
        sizes = np.bincount(group)
        useful = ((positives > 0) & (positives < sizes))[group]
        if not useful.any():
            raise InputError("ranker: no user has both a bought and a not-bought candidate to learn from")
        given = self._matrix(frame.loc[useful], tuple(self.features or FEATURES))
        self.features_ = tuple(name for name in given.columns if given[name].nunique(dropna=True) > 1)
        if not self.features_:
            raise InputError("ranker: every feature is missing or constant in the training rows")
        self.model_ = xgb.XGBRanker(
            objective=self.objective,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_child_weight=self.min_child_weight,
            subsample=self.subsample,
            random_state=self.seed,
            n_jobs=self.num_threads,
            tree_method="hist",
            monotone_constraints=self._constraints(),
        )
        self.model_.fit(given.loc[:, list(self.features_)], labels[useful], qid=group[useful])
        self.n_groups_ = int(np.unique(group[useful]).size)
        self.positive_rate_ = float(labels[useful].mean())
        return self

    def _constraints(self) -> str | None:
        if not self.monotone:
            return None
        return "(" + ",".join(str(MONOTONE.get(name, 0)) for name in self.features_) + ")"

    @staticmethod
    def _matrix(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
        missing = [name for name in names if name not in frame.columns]
        if missing:
            raise InputError(f"ranker: missing feature column(s) {', '.join(missing)}")
        return frame.loc[:, list(names)].astype(np.float64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError("this Ranker is not fitted yet: call fit() first")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """A score per row; higher ranks first within a user.

        With ``candidate_weight`` w > 0 the score is ``(1 - w) * ranker + w * candidate_score``,
        both standardised over each user's rows: the candidate model's order keeps a say.
        """
        self._check_fitted()
        scores = self.model_.predict(self._matrix(frame, self.features_)).astype(np.float64)
        if self.candidate_weight <= 0:
            return scores
        users = frame["user_id"].to_numpy()
        ranker = _standardise_within(scores, users)
        candidate = _standardise_within(frame["candidate_score"].to_numpy(np.float64), users)
        return (1.0 - self.candidate_weight) * ranker + self.candidate_weight * candidate

    def contributions(self, frame: pd.DataFrame, exact: bool = True) -> pd.DataFrame:
        """Each feature's additive contribution to each row's score (``pred_contribs``), plus ``bias``.

        Args:
            exact: SHAP values (tree SHAP); False: XGBoost's faster approximation (``approx_contribs``).
        """
        self._check_fitted()
        # XGBoost's default thread pool costs about 20 ms to build a DMatrix of a few rows
        matrix = xgb.DMatrix(self._matrix(frame, self.features_), nthread=self.num_threads)
        values = self.model_.get_booster().predict(matrix, pred_contribs=True, approx_contribs=not exact)
        return pd.DataFrame(values, columns=[*self.features_, "bias"], index=frame.index)


def _standardise_within(values: np.ndarray, users: np.ndarray) -> np.ndarray:
    """``values`` minus their user's mean, over their user's standard deviation (0 where it is 0)."""
    grouped = pd.Series(values).groupby(pd.factorize(users)[0])
    std = grouped.transform("std", ddof=0).to_numpy()
    centred = values - grouped.transform("mean").to_numpy()
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def rerank(frame: pd.DataFrame, scores: np.ndarray, n: int) -> pd.DataFrame:
    """Each user's ``n`` best rows by ``scores`` (ties: the candidate order), with ``score`` and ``rank``."""
    out = frame.assign(score=np.asarray(scores, dtype=np.float64))
    out = out.assign(_user=pd.factorize(out["user_id"])[0], _order=np.arange(len(out)))
    out = out.sort_values(["_user", "score", "_order"], ascending=[True, False, True], kind="stable")
    out["rank"] = out.groupby("_user", sort=False).cumcount() + 1
    return out.loc[out["rank"] <= n].drop(columns=["_user", "_order"])
