"""How good a recommender recipe is: fitted at a past cut-off, measured on the purchases after it.

A recipe (the settings) is fitted on the lake as it was at ``D - h`` (its ranker at
``D - 2h``) and asked for the top-N of every customer who bought in ``[D - h, D)``. The same run
also measures two contenders on the same customers: LightFM alone (the ranker switched off)
and the most popular products of the window before the cut-off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlops_platform.config import RecommenderSettings
from mlops_platform.errors import InputError
from mlops_platform.models.recommender import interactions as ia
from mlops_platform.models.recommender.model import Recommender, evaluate_recommendations, telco_stages
from mlops_platform.models.recommender.pyfunc import with_profiles
from mlops_platform.models.recommender.tables import TelcoTables


@dataclass(frozen=True)
class CutOffs:
    """The days of one training as of ``D`` with horizon ``h``.

    ``serving`` = D and ``serving_ranker`` = D - h fit the registered model; ``evaluation`` =
    D - h and ``evaluation_ranker`` = D - 2h fit the recipe that is measured on ``[D - h, D)``.
    """

    as_of: dt.date
    horizon_days: int

    @property
    def serving(self) -> dt.date:
        return self.as_of

    @property
    def evaluation(self) -> dt.date:
        return self.as_of - dt.timedelta(days=self.horizon_days)

    @property
    def evaluation_ranker(self) -> dt.date:
        return self.as_of - dt.timedelta(days=2 * self.horizon_days)

    @property
    def snapshot_days(self) -> list[dt.date]:
        return [self.evaluation_ranker, self.evaluation, self.serving]


@dataclass
class Evaluation:
    """Metrics of the recipe and of its contenders on one window."""

    window: tuple[dt.date, dt.date]
    customers: int
    cold_customers: int
    metrics: dict[str, float]
    contenders: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def fit_at(settings: RecommenderSettings, tables: TelcoTables, cut_off: dt.date) -> Recommender:
    """The recipe fitted on the tables as they were at ``cut_off`` (its ranker ``horizon_days`` earlier)."""
    horizon = settings.ranker.horizon_days
    serving, ranker = telco_stages(
        tables.transactions_before(cut_off),
        tables.snapshot_frame,
        cut_off,
        horizon,
        customers=tables.customers_before(cut_off),
    )
    products = tables.products
    return Recommender(settings).fit(ia.telco_items(products), ia.telco_item_tokens(products), serving, ranker)


def popularity_list(tables: TelcoTables, cut_off: dt.date, days: int | None, n: int) -> list[int]:
    """The ``n`` products with the most buyers in the ``days`` before ``cut_off`` (all history if None)."""
    bought = tables.transactions_before(cut_off)
    if days is not None:
        bought = bought.loc[bought["ts"] >= pd.Timestamp(cut_off) - pd.Timedelta(days=days)]
    buyers = bought.groupby("product_id")["customer_id"].nunique().sort_values(ascending=False, kind="stable")
    return [int(i) for i in buyers.index[:n]]


def new_customer_profiles(rec: Recommender, tables: TelcoTables, customers: np.ndarray) -> pd.DataFrame:
    """Segment and tenure 0 of the ``customers`` the fit never saw (they signed up after its cut-off).

    At the time such a customer is first recommended, signup has just given their segment: the
    evaluation asks for them as the pyfunc would be asked for a customer who is new today.
    """
    unseen = customers[rec.stage_.users.index(customers) < 0]
    known = tables.customers.loc[tables.customers["customer_id"].isin(unseen), ["customer_id", "segment"]]
    return known.assign(tenure_days=0.0).reset_index(drop=True)


def evaluate(rec: Recommender, tables: TelcoTables, start: dt.date, end: dt.date) -> Evaluation:
    """Measure ``rec`` (fitted at ``start``) on the purchases of ``[start, end)``.

    Raises:
        InputError: nobody bought anything in the window.
    """
    labels = tables.purchases(start, end)
    if labels.empty:
        raise InputError(f"recommender: no purchases in [{start}, {end}) to evaluate on")
    settings = rec.settings
    k = settings.top_n
    customers = pd.unique(labels["user_id"].to_numpy())
    seen = set(tables.transactions_before(start)["customer_id"].unique().tolist())
    cold = [c for c in customers if c not in seen]
    catalogue = len(tables.products)
    ks = tuple(sorted({5, 10, k}))
    users, tokens = with_profiles(rec, new_customer_profiles(rec, tables, customers))
    ranked = rec.recommend(customers, users, tokens, n=max(ks), explain=False)
    alone = rec.recommend(customers, users, tokens, n=max(ks), explain=False, use_ranker=False)
    popular = popularity_list(tables, start, settings.cold_start.popularity_days, max(ks))
    popular_recs = pd.DataFrame(
        {
            "user_id": np.repeat(customers, len(popular)),
            "rank": np.tile(np.arange(1, len(popular) + 1), len(customers)),
            "item_id": np.tile(popular, len(customers)),
        }
    )

    def measure(recs: pd.DataFrame) -> dict[str, float]:
        recs = recs.loc[recs["rank"] <= max(ks)]
        return evaluate_recommendations(recs, labels, catalogue, k=k, cold_users=cold, ks=ks)

    metrics = measure(ranked)
    notes = list(rec.notes_)
    metrics["candidate_recall"] = float(rec.candidate_recall_)
    if rec.ranker_ is None:
        notes.append("no ranker was fitted: the recommendations keep LightFM's order")
    return Evaluation(
        (start, end),
        len(customers),
        len(cold),
        metrics,
        {"lightfm": measure(alone), "popularity": measure(popular_recs)},
        notes,
    )


def markdown(evaluation: Evaluation, targets: list[tuple[str, float | None, bool]]) -> str:
    """The evaluation as a Markdown report: contenders side by side, then the seed targets."""
    start, end = evaluation.window
    names = ["precision_at_5", "recall_at_5", "precision_at_10", "ndcg_at_5", "map_at_5", "coverage"]
    names.append("cold_start_hit_rate")
    rows = {"LightFM + ranker": evaluation.metrics, **{f"{k}": v for k, v in evaluation.contenders.items()}}
    lines = [
        f"# Recommender evaluation: purchases of [{start}, {end})",
        "",
        f"{evaluation.customers:,} customers bought in the window; {evaluation.cold_customers:,} of them "
        "had no purchase before it (cold start).",
        "",
        "| contender | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for label, values in rows.items():
        lines.append(f"| {label} | " + " | ".join(_number(values.get(n)) for n in names) + " |")
    lines += ["", "| target | measured | result |", "| --- | --- | --- |"]
    for target, measured, passed in targets:
        lines.append(f"| {target} | {_number(measured)} | {'pass' if passed else 'MISS'} |")
    if evaluation.notes:
        lines += ["", *[f"- {note}" for note in evaluation.notes]]
    return "\n".join(lines) + "\n"


def _number(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"
