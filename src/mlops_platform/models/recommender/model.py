"""The fitted recommender: LightFM candidates, the cold-start blend, the XGBoost ranker, reasons.

:class:`Recommender` is one picklable object holding the id mappings, the feature spaces, the
LightFM models, the ranker and the popularity tables, so a pyfunc can wrap it as it is.

Fitting takes two cut-offs (:class:`Stage`): the *ranker stage* (events before ``D - h``,
labels = purchases in ``[D - h, D)``) trains the ranker on candidates of a LightFM model that
never saw those labels; the *serving stage* (events before ``D``) refits LightFM for
recommending. Evaluating on purchases after ``D`` therefore uses nothing the model saw.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mlops_platform.config import RecommenderSettings
from mlops_platform.errors import InputError
from mlops_platform.evaluation.ranking import cold_start_hit_rate, ranking_report
from mlops_platform.models.recommender import interactions as ia
from mlops_platform.models.recommender.candidates import BATCH_USERS, CandidateEnsemble, candidate_recall, top_k
from mlops_platform.models.recommender.coldstart import (
    PopularityTable,
    blend_scores,
    collaborative_share,
    content_scores,
)
from mlops_platform.models.recommender.context import History, ItemTable, as_of_per_user
from mlops_platform.models.recommender.explain import FALLBACK, cold_reasons, reasons
from mlops_platform.models.recommender.ranker import (
    Candidates,
    Ranker,
    candidate_features,
    purchase_labels,
    user_column,
)
from mlops_platform.models.recommender.ranker import rerank as order_by

_logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Stage:
    """The inputs of one cut-off.

    Attributes:
        events: ``user_id, item_id, ts, quantity`` strictly before the cut-off.
        users: ``user_id`` and the user columns known at the cut-off (segment, tenure ...).
        user_tokens: ``id, token`` user features of LightFM.
        as_of: the cut-off: one timestamp, or a Series ``user_id -> timestamp``.
        labels: ``user_id, item_id`` bought after the cut-off (the ranker stage only).
    """

    events: pd.DataFrame
    users: pd.DataFrame
    user_tokens: pd.DataFrame
    as_of: Any
    labels: pd.DataFrame | None = None


@dataclasses.dataclass
class _Fitted:
    """The learned state of one stage."""

    users: ia.IdMap
    space: ia.FeatureSpace
    frame: pd.DataFrame
    tokens: pd.DataFrame
    ensemble: CandidateEnsemble
    history: History
    popularity: PopularityTable


def _latest(as_of: Any) -> pd.Timestamp:
    return pd.Timestamp(as_of.max()) if isinstance(as_of, pd.Series) else pd.Timestamp(as_of)


def _rows_of(ids: np.ndarray, users: pd.DataFrame, tokens: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``users`` and ``tokens`` of ``ids`` only: a request costs what it asks for,
    not the size of the customer base."""
    return users.loc[users["user_id"].isin(ids)], tokens.loc[tokens["id"].isin(ids)]


class Recommender:
    """Top-N products per customer with reasons; scikit-learn style (``fit`` returns ``self``).

    ``ranker.candidate_weight`` of the settings is the share of the candidate score in the final
    ranking score (see :class:`~mlops_platform.models.recommender.ranker.Ranker`): where the ranker's
    labels differ in kind from what is recommended for (the latest ratings of a film site against
    ratings at random), the candidate order keeps a say.
    """

    def __init__(self, settings: RecommenderSettings, num_threads: int = 1) -> None:
        self.settings = settings
        self.num_threads = num_threads

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, items: pd.DataFrame, item_tokens: pd.DataFrame, serving: Stage, ranker: Stage | None = None) -> Self:
        """Learn the item space, the ranker (from ``ranker`` when given) and the serving candidates."""
        if items.empty:
            raise InputError("recommender: the item table is empty")
        self.items_ = ia.IdMap.fit(items["item_id"])
        self.item_table_ = ItemTable.build(items, self.items_, item_tokens)
        self.item_space_ = ia.FeatureSpace.fit(self.items_, item_tokens)
        self.item_features_ = self.item_space_.matrix(self.items_.ids, item_tokens)
        self.ranker_: Ranker | None = None
        self.notes_: list[str] = []
        self.candidate_recall_ = float("nan")
        self.timings_: dict[str, float] = {}
        if ranker is not None:
            self._fit_ranker(ranker)
        started = time.perf_counter()
        self.stage_ = self._fit_stage(serving)
        self.timings_["serving_fit_s"] = time.perf_counter() - started
        self.notes_ = list(dict.fromkeys([*self.notes_, *self.stage_.ensemble.notes_]))
        return self

    def _fit_stage(self, stage: Stage) -> _Fitted:
        """LightFM (one model per loss), history and popularity of one cut-off."""
        cfg = self.settings.candidates
        users = ia.IdMap.fit(stage.events["user_id"], stage.users["user_id"])
        space = ia.FeatureSpace.fit(users, stage.user_tokens)
        latest = _latest(stage.as_of)
        found = ia.build_interactions(stage.events, users, self.items_, cfg.half_life_days, as_of=latest)
        ensemble = CandidateEnsemble(
            cfg.losses,
            components=cfg.components,
            epochs=cfg.epochs,
            learning_rate=cfg.learning_rate,
            item_alpha=cfg.item_alpha,
            user_alpha=cfg.user_alpha,
            max_sampled=cfg.max_sampled,
            seed=cfg.seed,
            num_threads=self.num_threads,
        ).fit(found.matrix, found.weights, space.matrix(users.ids, stage.user_tokens), self.item_features_)
        history = History.build(stage.events, users, self.item_table_, as_of_per_user(stage.as_of, users.ids))
        popularity = PopularityTable(self.items_, self.settings.cold_start.popularity_days)
        popularity.fit(stage.events, stage.users, as_of=latest, user_tokens=stage.user_tokens)
        return _Fitted(users, space, stage.users, stage.user_tokens, ensemble, history, popularity)

    def _fit_ranker(self, stage: Stage) -> None:
        """Train the ranker on the candidates of a LightFM model fitted before the labels."""
        if stage.labels is None or stage.labels.empty:
            raise InputError("recommender: the ranker stage has no label purchases")
        started = time.perf_counter()
        fitted = self._fit_stage(stage)
        user_ids = pd.unique(stage.labels["user_id"].to_numpy())
        cands = self._candidates(fitted, user_ids, stage.users, stage.user_tokens, exclude=self._exclude())
        self.candidate_recall_ = candidate_recall(user_ids, cands.items, self.items_.ids, stage.labels)
        frame = candidate_features(
            cands, stage.users, self.item_table_, fitted.history, fitted.popularity, stage.user_tokens
        )
        labels = purchase_labels(frame, stage.labels)
        warm = frame["days_since_last_purchase"].notna().to_numpy()
        frame, labels = frame.loc[warm], labels[warm]
        self.timings_["ranker_candidates_s"] = time.perf_counter() - started
        started = time.perf_counter()
        params = self.settings.ranker.model_dump(exclude={"horizon_days"})
        try:
            self.ranker_ = Ranker(**params, num_threads=self.num_threads).fit(frame, labels)
        except InputError as exc:
            note = f"{exc}: recommendations keep the candidate order"
            _logger.warning(note)
            self.notes_.append(note)
            return
        self.timings_["ranker_fit_s"] = time.perf_counter() - started
        self.notes_.extend(fitted.ensemble.notes_)
        _logger.info(
            "ranker: %d users, candidate recall@%d %.3f",
            self.ranker_.n_groups_,
            cands.items.shape[1],
            self.candidate_recall_,
        )

    def _exclude(self) -> bool:
        return self.settings.exclude_purchased

    # -- scoring ---------------------------------------------------------------------------------

    def _candidates(
        self, fitted: _Fitted, user_ids: np.ndarray, users: pd.DataFrame, tokens: pd.DataFrame, exclude: bool
    ) -> Candidates:
        """Top-K candidates per user by the tenure blend of collaborative and content scores."""
        cold = self.settings.cold_start
        rows = fitted.users.index(user_ids)
        schedule = [(step.until_day, step.collaborative) for step in cold.tenure_schedule]
        share = collaborative_share(
            user_column(users, user_ids, "tenure_days"), schedule, fitted.history.has_history(rows)
        )
        segments = user_column(users, user_ids, "segment")
        own = fitted.space.matrix(user_ids, tokens, identity=True)
        content_only = fitted.space.matrix(user_ids, tokens, identity=False)
        k = min(self.settings.candidates.k_candidates, len(self.items_))
        parts: dict[str, list[np.ndarray]] = {"items": [], "candidate_score": [], "collaborative_score": []}
        parts["content_score"] = []
        for start in range(0, len(user_ids), BATCH_USERS):
            batch = slice(start, start + BATCH_USERS)
            collab = fitted.ensemble.scores(own[batch])
            content = content_scores(
                fitted.ensemble.scores(content_only[batch]),
                fitted.popularity.shares(segments[batch]),
                cold.popularity_blend,
            )
            blended = blend_scores(collab, content, share[batch])
            items, best = top_k(blended, k, self._bought(fitted, rows[batch]) if exclude else None)
            safe = np.maximum(items, 0)
            parts["items"].append(items)
            parts["candidate_score"].append(best)
            parts["collaborative_score"].append(np.take_along_axis(collab, safe, axis=1))
            parts["content_score"].append(np.take_along_axis(content, safe, axis=1))
        stacked = {name: np.vstack(p) if p else np.zeros((0, k)) for name, p in parts.items()}
        items = stacked.pop("items").astype(np.int64)
        return Candidates(np.asarray(user_ids), items, stacked)

    def _bought(self, fitted: _Fitted, rows: np.ndarray) -> sp.csr_matrix:
        """Users x items, non-zero where the user (row; -1 unknown) bought the item before."""
        counts = fitted.history.item_counts[np.maximum(rows, 0)]
        return sp.csr_matrix(sp.diags((rows >= 0).astype(np.float32)) @ counts)

    def recommend(
        self,
        user_ids: Iterable[Any],
        users: pd.DataFrame | None = None,
        user_tokens: pd.DataFrame | None = None,
        n: int | None = None,
        use_ranker: bool = True,
        explain: bool = True,
        exact_reasons: bool = True,
    ) -> pd.DataFrame:
        """The top ``n`` items of every user (unknown users get the cold-start fallback).

        Args:
            user_ids: who to recommend for (duplicates and nulls are dropped).
            users, user_tokens: the users' current columns and LightFM tokens; those of the
                fit when None.
            n: list length; ``top_n`` of the config when None.
            use_ranker: re-order the candidates with the ranker (when one was fitted).
            explain: add the ``reasons`` column.
            exact_reasons: exact SHAP contributions (slow: about 1 ms per row); False takes
                XGBoost's approximate ones (``approx_contribs``, about 75 times faster).

        Returns:
            ``user_id, rank, item_id, category, score, reasons`` ordered by user then rank;
            ``score`` is the ranker's, or the cold-start score for a customer without history.
        """
        if not hasattr(self, "stage_"):
            raise InputError("this Recommender is not fitted yet: call fit() first")
        fitted = self.stage_
        ids = pd.Series(list(user_ids), dtype=object).dropna().drop_duplicates().to_numpy()
        if len(ids) and all(isinstance(i, int | np.integer) for i in ids):
            ids = ids.astype(np.int64)
        users, tokens = _rows_of(
            ids, fitted.frame if users is None else users, fitted.tokens if user_tokens is None else user_tokens
        )
        cands = self._candidates(fitted, ids, users, tokens, exclude=self._exclude())
        frame = candidate_features(cands, users, self.item_table_, fitted.history, fitted.popularity, tokens)
        ranker = self.ranker_ if use_ranker else None
        # The ranker's features describe a purchase history: without one, the cold-start score ranks.
        warm = frame["days_since_last_purchase"].notna().to_numpy()
        scores = frame["candidate_score"].to_numpy(dtype=np.float64, copy=True)
        if ranker is not None and warm.any():
            scores[warm] = ranker.predict(frame.loc[warm])
        top = order_by(frame, scores, n or self.settings.top_n)
        if explain:
            top["reasons"] = self._reasons(top, ranker, exact_reasons)
        columns = ["user_id", "rank", "item_id", "category", "score", *(["reasons"] if explain else [])]
        return top.loc[:, columns].reset_index(drop=True)

    def _reasons(self, top: pd.DataFrame, ranker: Ranker | None, exact: bool) -> list[list[str]]:
        """Reasons from the ranker's contributions; rule-based ones for customers without history."""
        limit = self.settings.reasons
        out = cold_reasons(top, limit)
        warm = np.flatnonzero(top["days_since_last_purchase"].notna().to_numpy())
        if ranker is not None and len(warm):
            rows = top.iloc[warm]
            for position, said in zip(warm, reasons(ranker.contributions(rows, exact), rows, limit), strict=True):
                out[position] = said
        elif ranker is None:
            out = [[FALLBACK] if limit else [] for _ in range(len(top))]
        return out


def evaluate_recommendations(
    recs: pd.DataFrame,
    labels: pd.DataFrame,
    catalogue_size: int,
    k: int = 5,
    cold_users: Iterable[Any] = (),
    ks: tuple[int, ...] = (5, 10),
) -> dict[str, float]:
    """Ranking metrics of ``recs`` (``user_id, rank, item_id``) against the label purchases.

    Returns:
        :func:`~mlops_platform.evaluation.ranking.ranking_report` at ``ks`` plus ``coverage``
        and ``cold_start_hit_rate`` at ``k`` (NaN when no cold user bought anything).
    """
    ordered = recs.sort_values(["user_id", "rank"], kind="stable")
    lists = ordered.groupby("user_id", sort=False)["item_id"].agg(list).to_dict()
    relevant = labels.groupby("user_id")["item_id"].agg(set).to_dict()
    report = ranking_report(lists, relevant, ks=tuple(sorted({*ks, k})), catalogue_size=catalogue_size)
    report["coverage"] = report[f"coverage_at_{k}"]
    report["cold_start_hit_rate"] = cold_start_hit_rate(lists, relevant, list(cold_users), k=k)
    return report


# -- telco -----------------------------------------------------------------------------------------


def _snapshot_at(snapshots: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    dates = pd.to_datetime(snapshots["snapshot_date"])
    found = snapshots.loc[dates == day]
    if found.empty:
        raise InputError(f"recommender: no feature snapshot for {day.date()} (snapshot_date)")
    return found


def telco_stages(
    transactions: pd.DataFrame,
    snapshots: pd.DataFrame,
    cut_off: Any,
    horizon_days: int,
    customers: pd.DataFrame | None = None,
) -> tuple[Stage, Stage]:
    """``(serving, ranker)`` stages of the telco tables for cut-off ``D``.

    The ranker stage is cut at ``D - horizon_days`` with the snapshot of that day and labels
    in ``[D - horizon_days, D)``; serving is cut at ``D`` with the snapshot of ``D``. With the
    ``customers`` table, customers who signed up before a cut-off but have no snapshot row get
    their segment and tenure (see :func:`~mlops_platform.models.recommender.interactions.telco_profiles`).
    """
    day = pd.Timestamp(cut_off).normalize()
    past = day - pd.Timedelta(days=horizon_days)
    events = ia.telco_events(transactions)
    stages = []
    for when in (day, past):
        known = None if customers is None else customers.loc[pd.to_datetime(customers["signup_date"]) < when]
        snapshot = ia.telco_profiles(_snapshot_at(snapshots, when), known, when)
        before = ia.events_before(events, when)
        stages.append(Stage(before, ia.telco_users(snapshot), ia.telco_user_tokens(snapshot), when))
    labels = events.loc[(events["ts"] >= past) & (events["ts"] < day)]
    return stages[0], dataclasses.replace(stages[1], labels=labels)
