"""One recommender training, end to end: lake -> evaluate the recipe -> fit -> log -> register -> gate.

As of ``D`` with horizon ``h`` (``ranker.horizon_days``):

1. the recipe is fitted at ``D - h`` and measured on the purchases of ``[D - h, D)``, beside
   LightFM alone and popularity (:mod:`~mlops_platform.models.recommender.evaluation`);
2. the champion's recipe is measured on the same window: its own figure when its settings are
   the new ones (the fit is deterministic), else its settings re-fitted at ``D - h``;
3. the recipe is fitted again at ``D`` (its ranker at ``D - h``): that is the registered model,
   an MLflow pyfunc (:mod:`~mlops_platform.models.recommender.pyfunc`);
4. the version becomes challenger and the gate (``recommender.gate`` in ``models.yaml``) decides.

Exactly one judged version per run key, like the other models: the key is claimed before the
lake is read, and a version whose training died before the gate is judged by the retry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from mlops_platform import registry
from mlops_platform.config import ModelsSettings, PlatformSettings, RecommenderSettings
from mlops_platform.errors import InputError
from mlops_platform.models.recommender.evaluation import CutOffs, Evaluation, evaluate, fit_at, markdown
from mlops_platform.models.recommender.pyfunc import CONTEXT_TYPES, RecommenderPyfunc, signature, unwrap
from mlops_platform.pipelines import recommender_data as lake
from mlops_platform.pipelines.train import (
    JUDGED_NOW,
    TrainingOutcome,
    adopt_pending,
    judged_outcome,
    log_challenger,
    logged_metrics,
    parquet_bytes,
    run_tags,
    target_lines,
)
from mlops_platform.registry import run_keys, tracking
from mlops_platform.registry.gate import check_gate
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

NAME = "recommender"
EXAMPLE_CUSTOMERS = 3


def _recipe(settings: RecommenderSettings) -> dict:
    """What decides a fit: the settings less the gate and the report targets."""
    return settings.model_dump(mode="json", exclude={"gate", "targets"})


def measured_metrics(settings: RecommenderSettings) -> frozenset[str]:
    """The metric names the recommender's evaluation returns (what its gate can name)."""
    ks = sorted({5, 10, settings.top_n})
    at_k = {f"{name}_at_{k}" for k in ks for name in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")}
    return frozenset({*at_k, "n_users", "n_skipped_users", "coverage", "cold_start_hit_rate", "candidate_recall"})


def _champion_value(
    client: MlflowClient,
    name: str,
    tables: lake.TelcoTables,
    cut_offs: CutOffs,
    new: RecommenderSettings,
    value: float,
) -> tuple[str | None, float | None, str | None, str]:
    """(champion version, its gate metric on the new window, a problem, how it was measured)."""
    champion = registry.version_by_alias(client, name, registry.CHAMPION)
    if champion is None:
        return None, None, None, ""
    version = str(champion.version)
    try:
        old = unwrap(mlflow.pyfunc.load_model(f"models:/{name}/{version}")).recommender
        if _recipe(old.settings) == _recipe(new):
            return version, value, None, f"champion v{version} has the same settings: the same fit and figure"
        refit = fit_at(old.settings, tables, cut_offs.evaluation)
        measured = evaluate(refit, tables, cut_offs.evaluation, cut_offs.serving).metrics
        how = f"champion v{version}'s settings re-fitted at {cut_offs.evaluation}"
        return version, measured.get(new.gate.metric), None, how
    except Exception as exc:  # a champion of other code or data must not crash the training
        _logger.warning("champion v%s of %s cannot be re-evaluated: %s", version, name, exc)
        return version, None, f"champion v{version} cannot be re-evaluated on this window: {exc}", ""


def _gate(
    client: MlflowClient,
    name: str,
    version: str,
    metrics: dict[str, float],
    tables: lake.TelcoTables,
    cut_offs: CutOffs,
    new: RecommenderSettings,
) -> registry.GateDecision:
    gate = new.gate
    value = float(metrics.get(gate.metric, float("nan")))
    champion, champion_value, problem, how = _champion_value(client, name, tables, cut_offs, new, value)
    decision = registry.decide(gate, metrics, champion_value, champion, problem)
    if how:
        decision = dataclasses.replace(decision, reason=f"{decision.reason} [{how}]")
    registry.apply_decision(client, name, version, decision)
    return decision


def _example(tables: lake.TelcoTables, day: dt.date):  # noqa: ANN202 - a DataFrame
    snapshot = tables.snapshots[day]
    columns = ["customer_id", *[c for c in CONTEXT_TYPES if c in snapshot.columns]]
    example = snapshot.loc[:, columns].head(EXAMPLE_CUSTOMERS).reset_index(drop=True)
    for column, kind in CONTEXT_TYPES.items():
        if column in example.columns:
            example[column] = example[column].astype("float64" if kind == "double" else object)
    return example


def _log(
    client: MlflowClient,
    run_id: str,
    name: str,
    model: RecommenderPyfunc,
    evaluation: Evaluation,
    tables: lake.TelcoTables,
    cut_offs: CutOffs,
    tags: dict[str, str],
) -> str:
    """Params, metrics, the report, the drift reference and the pyfunc; returns the new version."""
    settings = model.recommender.settings
    metrics = dict(evaluation.metrics)
    for contender, values in evaluation.contenders.items():
        prefix = "baseline" if contender == "popularity" else contender
        metrics.update({f"{prefix}_{k}": v for k, v in values.items()})
    metrics.update({f"time_{k}": v for k, v in model.recommender.timings_.items()})
    params = {
        **settings.model_dump(mode="json", exclude={"targets", "gate"}),
        "model": name,
        "cut_off": cut_offs.serving.isoformat(),
        "evaluation_window": f"{evaluation.window[0]}..{evaluation.window[1]}",
        "customers": len(model.recommender.stage_.users),
        "products": len(model.recommender.items_),
    }
    tracking.log_batch(client, run_id, params, metrics, {})
    lines = target_lines(settings, evaluation.metrics)
    reference = tables.snapshots[cut_offs.serving]
    files = {
        "features.json": json.dumps([c for c in reference.columns if c != "customer_id"], indent=2).encode(),
        "training_set/reference.parquet": parquet_bytes(reference),
        "report/recommender.md": markdown(evaluation, [(t.target, t.measured, t.passed) for t in lines]).encode(),
        "report/targets.json": json.dumps([line.__dict__ for line in lines], indent=2).encode(),
        "report/notes.txt": "\n".join([*evaluation.notes, *model.recommender.notes_]).encode(),
    }
    tracking.log_artifacts(run_id, files, {}, {})
    tracking.ensure_registered_model(client, name, "next-product recommender: LightFM candidates, XGBoost ranker")
    example = _example(tables, cut_offs.serving)
    version_tags = {**tags, "cut_off": cut_offs.serving.isoformat()}
    version_tags["summary"] = f"{settings.gate.metric}={evaluation.metrics.get(settings.gate.metric, float('nan')):.4f}"
    return tracking.log_model_version(
        client, run_id, name, model, example, model.recommend(example), version_tags, signature(settings.top_n)
    )


def train_recommender(
    store: ObjectStore,
    platform: PlatformSettings,
    models: ModelsSettings,
    as_of: dt.date,
    run_key: str | None = None,
    name: str = NAME,
    timing: run_keys.ClaimTiming | None = None,
) -> TrainingOutcome:
    """Train, log, register and gate the recommender as of ``as_of`` (see the module doc)."""
    settings = models.recommender
    check_gate(settings.gate, measured_metrics(settings), NAME)
    client, experiment_id = tracking.client_for(models.tracking)
    cut_offs = CutOffs(as_of, settings.ranker.horizon_days)

    def fit(claim: run_keys.Claim | None) -> TrainingOutcome:
        first, tables = _read_lake(store, platform, settings, as_of, cut_offs)
        evaluation = evaluate(fit_at(settings, tables, cut_offs.evaluation), tables, cut_offs.evaluation, as_of)
        serving = fit_at(settings, tables, cut_offs.serving)
        names = dict(zip(tables.products["product_id"].astype(int), tables.products["name"].astype(str), strict=True))
        wrapper = RecommenderPyfunc(serving, names)
        tags = run_tags(run_key, f"features/customer/date={as_of}", f"{first}..{as_of - dt.timedelta(days=1)}")
        run_id, version = log_challenger(
            client,
            experiment_id,
            name,
            tags,
            lambda run_id: _log(client, run_id, name, wrapper, evaluation, tables, cut_offs, tags),
            claim,
        )
        decision = _gate(client, name, version, evaluation.metrics, tables, cut_offs, serving.settings)
        metrics, baseline = evaluation.metrics, evaluation.contenders["popularity"]
        return TrainingOutcome(
            name, version, run_id, False, metrics, baseline, decision, target_lines(settings, metrics)
        )

    def judge(pending: ModelVersion, claim: run_keys.Claim) -> TrainingOutcome:
        version, run_id = str(pending.version), str(pending.run_id)
        _, tables = _read_lake(store, platform, settings, as_of, cut_offs)
        recipe = unwrap(mlflow.pyfunc.load_model(f"models:/{name}/{version}")).recommender.settings
        metrics, baseline = logged_metrics(client, run_id)
        metrics.setdefault(settings.gate.metric, float("nan"))  # logged only when finite
        adopt_pending(client, name, version, claim)
        decision = _gate(client, name, version, metrics, tables, cut_offs, recipe)
        lines = target_lines(settings, metrics)
        return TrainingOutcome(name, version, run_id, True, metrics, baseline, decision, lines, JUDGED_NOW)

    return run_keys.run_once(client, experiment_id, name, run_key, fit, judge, judged_outcome, timing)


def _read_lake(
    store: ObjectStore, platform: PlatformSettings, settings: RecommenderSettings, as_of: dt.date, cut_offs: CutOffs
) -> tuple[dt.date, lake.TelcoTables]:
    """The first transaction day and the tables of a training as of ``as_of``.

    Raises:
        InputError: the lake starts too late for three ranker horizons before ``as_of``.
    """
    from mlops_platform.features.snapshot import build_snapshot

    first = lake.first_transaction_day(store)
    earliest = cut_offs.evaluation_ranker - dt.timedelta(days=settings.ranker.horizon_days)
    if first is None or first > earliest:
        raise InputError(
            f"recommender: training as of {as_of} needs transactions from {earliest} on "
            f"(three horizons of {settings.ranker.horizon_days} days); the lake starts on {first}"
        )
    tables = lake.read_tables(store, as_of, cut_offs.snapshot_days, lambda day: build_snapshot(store, platform, day))
    return first, tables
