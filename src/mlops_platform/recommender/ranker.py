"""The XGBoost learning-to-rank stage: features of each (user, candidate) pair and the ranker.

One group per user, its rows the K candidates, label 1 where the user bought the item in the
label window. The candidate model that scores the ranker's training rows is fitted on events
before the ranker's cut-off only, so it never saw the labels. Features a model can lack (no
price, no usage) are NaN, which XGBoost routes on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
import xgboost as xgb

from mlops_platform.errors import InputError
from mlops_platform.recommender.coldstart import PopularityTable
from mlops_platform.recommender.context import History, ItemTable

_logger = logging.getLogger(__name__)

FEATURES = (
    "candidate_score",
    "collaborative_score",
    "content_score",
    "candidate_rank",
    "item_popularity",
    "segment_popularity",
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
    cands: Candidates, users: pd.DataFrame, items: ItemTable, history: History, popularity: PopularityTable
) -> pd.DataFrame:
    """One row per (user, candidate), users in order, candidates best first: CONTEXT + FEATURES."""
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
                "item_popularity": popularity.lift_of(segment, item, overall=True),
                "segment_popularity": popularity.lift_of(segment, item),
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
    """XGBoost ``XGBRanker`` over :data:`FEATURES`, one query group per user."""

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
    ) -> None:
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.seed = seed
        self.num_threads = num_threads

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
        )
        self.model_.fit(self._matrix(frame.loc[useful]), labels[useful], qid=group[useful])
        self.n_groups_ = int(np.unique(group[useful]).size)
        self.positive_rate_ = float(labels[useful].mean())
        return self

    @staticmethod
    def _matrix(frame: pd.DataFrame) -> pd.DataFrame:
        missing = [name for name in FEATURES if name not in frame.columns]
        if missing:
            raise InputError(f"ranker: missing feature column(s) {', '.join(missing)}")
        return frame.loc[:, list(FEATURES)].astype(np.float64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError("this Ranker is not fitted yet: call fit() first")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """A score per row; higher ranks first within a user."""
        self._check_fitted()
        return self.model_.predict(self._matrix(frame))

    def contributions(self, frame: pd.DataFrame, exact: bool = True) -> pd.DataFrame:
        """Each feature's additive contribution to each row's score (``pred_contribs``), plus ``bias``.

        Args:
            exact: SHAP values (tree SHAP); False: XGBoost's faster approximation (``approx_contribs``).
        """
        self._check_fitted()
        matrix = xgb.DMatrix(self._matrix(frame))
        values = self.model_.get_booster().predict(matrix, pred_contribs=True, approx_contribs=not exact)
        return pd.DataFrame(values, columns=[*FEATURES, "bias"], index=frame.index)


def rerank(frame: pd.DataFrame, scores: np.ndarray, n: int) -> pd.DataFrame:
    """Each user's ``n`` best rows by ``scores`` (ties: the candidate order), with ``score`` and ``rank``."""
    out = frame.assign(score=np.asarray(scores, dtype=np.float64))
    out = out.assign(_user=pd.factorize(out["user_id"])[0], _order=np.arange(len(out)))
    out = out.sort_values(["_user", "score", "_order"], ascending=[True, False, True], kind="stable")
    out["rank"] = out.groupby("_user", sort=False).cumcount() + 1
    return out.loc[out["rank"] <= n].drop(columns=["_user", "_order"])
