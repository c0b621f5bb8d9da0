"""One training, end to end: data -> fit -> evaluate -> log -> register -> gate.

Used by ``mlops train`` (from the lake's training sets, or from any labelled table) and by the
DAG tasks through it. Exactly one judged version per run key: the key is claimed before anything
is fitted (:mod:`~mlops_platform.registry.run_keys`), a key already judged returns that version, and
a version whose training died before the gate is judged by the retry.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from mlops_platform import registry
from mlops_platform.config import ModelSettings, ModelsSettings, PlatformSettings, RecommenderSettings, Target
from mlops_platform.features.definitions import categorical_features
from mlops_platform.models.base import CustomerModel, EvaluationResult, TrainingData
from mlops_platform.pipelines.train_checks import check_training_settings
from mlops_platform.registry import run_keys, tracking
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

JUDGED_NOW = "judged now: the training that registered it died before the gate"


@dataclass
class TargetLine:
    """One seed target as a report line."""

    target: str
    measured: float | None
    passed: bool


@dataclass
class TrainingOutcome:
    """What a training produced, for the CLI, the DAG summary and the tests."""

    model: str
    version: str
    run_id: str
    reused: bool
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    decision: registry.GateDecision | None = None
    targets: list[TargetLine] = field(default_factory=list)
    note: str = ""

    @property
    def gate_summary(self) -> str:
        if self.decision is None:
            return "reused: gate already ran for this run key" + (f" ({self.note})" if self.note else "")
        verdict = "promoted to champion: " if self.decision.promote else "kept as challenger: "
        return verdict + self.decision.reason + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class PreparedData:
    """A train/holdout pair with what the run logs about where it came from."""

    train: TrainingData
    holdout: TrainingData
    manifest: dict[str, Any]
    reference: pd.DataFrame
    data_window: str
    feature_snapshot: str


def target_lines(settings: ModelSettings | RecommenderSettings, metrics: dict[str, float]) -> list[TargetLine]:
    """Measured / target / pass-fail for every configured seed target."""
    lines = []
    for target in settings.target_lines():
        measured = metrics.get(target.metric)
        lines.append(TargetLine(str(target), measured, Target.holds(target, measured)))
    return lines


def training_data_from_lake(frame: pd.DataFrame, features: list[str], target: str | None) -> TrainingData:
    """Column roles of a lake training set (customer snapshots)."""
    return TrainingData(
        frame=frame,
        features=features,
        target=target,
        categorical=[c for c in categorical_features() if c in features],
        id_column="customer_id",
        time_column="snapshot_date" if "snapshot_date" in frame.columns else None,
    )


def _champion_metrics(
    client: MlflowClient, name: str, holdout: TrainingData
) -> tuple[str | None, dict[str, float] | None, str | None]:
    """Evaluate the current champion on ``holdout``: (version, metrics, problem)."""
    champion = registry.version_by_alias(client, name, registry.CHAMPION)
    if champion is None:
        return None, None, None
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@{registry.CHAMPION}")
        model: CustomerModel = loaded.unwrap_python_model().model
        return str(champion.version), model.evaluate(holdout).metrics, None
    except Exception as exc:  # the champion may come from another table or code version
        _logger.warning("champion v%s of %s cannot be evaluated: %s", champion.version, name, exc)
        return str(champion.version), None, f"champion v{champion.version} cannot score this holdout: {exc}"


def run_gate(
    client: MlflowClient,
    name: str,
    version: str,
    settings: ModelSettings,
    metrics: dict[str, float],
    holdout: TrainingData,
    actor: str | None = None,
) -> registry.GateDecision:
    """Compare the new version with the champion on the same holdout; move aliases; tag why."""
    champion_version, champion_metrics, problem = _champion_metrics(client, name, holdout)
    champion_value = None if champion_metrics is None else champion_metrics.get(settings.gate.metric)
    decision = registry.decide(settings.gate, metrics, champion_value, champion_version, problem)
    registry.apply_decision(client, name, version, decision, actor)
    return decision


def run_tags(run_key: str | None, feature_snapshot: str, data_window: str) -> dict[str, str]:
    """Tags of a training run and its model version: run key, data, code, Airflow run, backend."""
    tags = {
        "run_key": run_key or "",
        "feature_snapshot": feature_snapshot,
        "training_window": data_window,
        "code_version": tracking.code_version(),
    }
    airflow_run = os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
    if airflow_run:
        tags["airflow_run"] = airflow_run
    if os.environ.get("MLOPS_EXECUTION_BACKEND"):
        tags["execution_backend"] = os.environ["MLOPS_EXECUTION_BACKEND"]
    return {k: v for k, v in tags.items() if v}


def judged_outcome(version: ModelVersion) -> TrainingOutcome:
    """A version the gate already judged, reused as the outcome of its run key."""
    note = f"{version.tags.get('gate_decision')}: {version.tags.get('gate_reason', '')}"
    return TrainingOutcome(version.name, str(version.version), str(version.run_id), reused=True, note=note)


def log_challenger(
    client: MlflowClient,
    experiment_id: str,
    name: str,
    tags: dict[str, str],
    log: Callable[[str], str],
    claim: run_keys.Claim | None = None,
) -> tuple[str, str]:
    """Create the training run of ``name``; ``log(run_id)`` fills it and returns the registered version.

    The run ends FINISHED, or FAILED if ``log`` raises; the new version gets the ``challenger``
    alias (once ``claim``, if any, is checked to be still held). Returns ``(run_id, version)``.
    """
    run_name = f"{name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    with tracking.mlflow_run(client, experiment_id, run_name, {**tags, "model": name}) as run_id:
        version = log(run_id)
    if claim is not None:
        claim.ensure_held()
    registry.move_alias(client, name, registry.CHALLENGER, version, "newly trained")
    return run_id, version


def adopt_pending(client: MlflowClient, name: str, version: str, claim: run_keys.Claim) -> None:
    """Make a registered but never judged ``version`` the challenger, as its own training would have."""
    claim.ensure_held()
    registry.move_alias(client, name, registry.CHALLENGER, version, "newly trained (its training died before the gate)")


def logged_metrics(client: MlflowClient, run_id: str) -> tuple[dict[str, float], dict[str, float]]:
    """The ``(metrics, baseline metrics)`` a training run logged."""
    logged = client.get_run(run_id).data.metrics
    metrics = {k: float(v) for k, v in logged.items() if not k.startswith("baseline_")}
    baseline = {k.removeprefix("baseline_"): float(v) for k, v in logged.items() if k.startswith("baseline_")}
    return metrics, baseline


def fit_and_register(
    models: ModelsSettings,
    name: str,
    registered_name: str,
    prepared: PreparedData,
    run_key: str | None,
    timing: run_keys.ClaimTiming | None = None,
) -> TrainingOutcome:
    """Fit ``name`` on the prepared data, log it, register it as challenger and run the gate.

    The settings are checked first; a run key is claimed before anything is fitted.
    """
    settings = models.model(name)
    model_class = check_training_settings(name, settings)
    client, experiment_id = tracking.client_for(models.tracking)

    def fit(claim: run_keys.Claim | None) -> TrainingOutcome:
        params = {k: v for k, v in settings.params.items() if k != "seed"}
        model = model_class(params=params, seed=int(settings.params.get("seed", 42)))
        model.fit(prepared.train)
        result: EvaluationResult = model.evaluate(prepared.holdout)
        tags = run_tags(run_key, prepared.feature_snapshot, prepared.data_window)
        run_id, version = log_challenger(
            client,
            experiment_id,
            registered_name,
            tags,
            lambda run_id: _log_run(client, run_id, registered_name, model, result, prepared, settings, tags),
            claim,
        )
        decision = run_gate(client, registered_name, version, settings, result.metrics, prepared.holdout)
        metrics, baseline = result.metrics, result.baseline_metrics
        return TrainingOutcome(
            registered_name, version, run_id, False, metrics, baseline, decision, target_lines(settings, metrics)
        )

    def judge(pending: ModelVersion, claim: run_keys.Claim) -> TrainingOutcome:
        version, run_id = str(pending.version), str(pending.run_id)
        metrics, baseline = logged_metrics(client, run_id)
        metrics.setdefault(settings.gate.metric, float("nan"))  # logged only when finite
        adopt_pending(client, registered_name, version, claim)
        decision = run_gate(client, registered_name, version, settings, metrics, prepared.holdout)
        lines = target_lines(settings, metrics)
        return TrainingOutcome(registered_name, version, run_id, True, metrics, baseline, decision, lines, JUDGED_NOW)

    return run_keys.run_once(client, experiment_id, registered_name, run_key, fit, judge, judged_outcome, timing)


def _log_run(
    client: MlflowClient,
    run_id: str,
    name: str,
    model: CustomerModel,
    result: EvaluationResult,
    prepared: PreparedData,
    settings: ModelSettings,
    tags: dict[str, str],
) -> str:
    """Log everything about one training into ``run_id`` and register the model version."""
    from mlops_platform.models.pyfunc import CustomerModelPyfunc, signature
    from mlops_platform.models.table_schema import schema_of

    metrics = {**result.metrics, **{f"baseline_{k}": v for k, v in result.baseline_metrics.items()}}
    params = {
        **settings.params,
        "model": name,
        "features": len(prepared.train.features),
        "data_window": prepared.data_window,
        "train_rows": len(prepared.train.frame),
        "holdout_rows": len(prepared.holdout.frame),
    }
    tracking.log_batch(client, run_id, params, metrics, {})
    lines = target_lines(settings, result.metrics)
    files = {
        "features.json": json.dumps(prepared.train.features, indent=2).encode(),
        "training_set/manifest.json": json.dumps(prepared.manifest, indent=2, default=str).encode(),
        "training_set/reference.parquet": parquet_bytes(prepared.reference),
        "report/targets.json": json.dumps([line.__dict__ for line in lines], indent=2).encode(),
        "report/notes.txt": "\n".join(result.notes).encode(),
    }
    tracking.log_artifacts(run_id, files, result.figures, result.tables)
    tracking.ensure_registered_model(client, name, f"{name} model of the customer-model zoo")
    # The model takes raw rows (a table's own, or snapshot rows): the example shows such rows.
    schema = schema_of(model, prepared.train.frame, prepared.manifest.get("preparation"))
    raw_rows = prepared.manifest.get("raw_example")
    example = pd.DataFrame(raw_rows) if raw_rows else prepared.holdout.frame[schema.columns].head(5).copy()
    for column in example.columns:
        if isinstance(example[column].dtype, pd.CategoricalDtype):
            example[column] = example[column].astype(object)
    output = model.predict_frame(prepared.holdout.frame.head(5))
    version_tags = {
        **tags,
        "summary": f"{settings.gate.metric}={result.metrics.get(settings.gate.metric, float('nan')):.4f}",
    }
    wrapper, model_signature = CustomerModelPyfunc(model, schema), signature(schema, output)
    return tracking.log_model_version(client, run_id, name, wrapper, example, output, version_tags, model_signature)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def prepare_from_lake(
    store: ObjectStore,
    platform: PlatformSettings,
    models: ModelsSettings,
    name: str,
    as_of: dt.date,
    run: str,
) -> PreparedData:
    """Build (or rebuild) the training set of ``name`` for ``as_of`` and load it for fitting."""
    from mlops_platform.features import labels as label_builder
    from mlops_platform.features import snapshot as snapshot_builder
    from mlops_platform.features.training_set import build_training_set

    settings = models.model(name)
    check_training_settings(name, settings)
    horizon = _horizon(platform, settings.target)
    stored = build_training_set(
        store,
        platform,
        models.training_sets,
        name,
        settings.target,
        horizon,
        as_of,
        run,
        build_snapshot=lambda day: snapshot_builder.build_snapshot(store, platform, day),
        build_labels=lambda day: label_builder.build_labels(store, platform, day),
    )
    manifest = stored.manifest
    return PreparedData(
        train=training_data_from_lake(stored.train.to_pandas(), manifest.features, settings.target),
        holdout=training_data_from_lake(stored.holdout.to_pandas(), manifest.features, settings.target),
        manifest=json.loads(manifest.to_json()),
        reference=stored.reference.to_pandas(),
        data_window=manifest.data_window,
        feature_snapshot=f"features/customer/date={manifest.holdout_dates[-1]}",
    )


def _horizon(platform: PlatformSettings, target: str | None) -> int:
    """Days between a label date and the training date.

    A labels partition holds every label, so it exists only once the longest horizon has
    passed; every supervised model therefore plans with the longest horizon.
    """
    if target is None:
        return 0
    return platform.labels.longest_horizon_days
