"""One drift check: the champion's training reference against the snapshot of a day.

Reads the reference sample and feature list from the champion's training run (or a given run),
the snapshot of ``D`` from the lake, decides (:mod:`mlops_platform.monitoring.drift`), writes
``reports/drift/date=D/<model>.json`` (and Evidently's HTML) and logs one MLflow run tagged
``mlops.kind=drift``. With no champion and no reference run, the decision is "retrain: no
champion", written all the same so the DAG's ``decide`` step reads one file per model.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from mlops_platform import registry
from mlops_platform.config import DriftSettings
from mlops_platform.errors import InputError
from mlops_platform.features.definitions import categorical_features, numeric_features
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.monitoring.drift import decide_retrain, drift_decision, drift_report, report_prefix
from mlops_platform.registry import tracking
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftCheck:
    """What one check decided and where it went."""

    model: str
    day: dt.date
    retrain: bool
    retrain_reason: str
    decision_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    report: str | None = None
    mlflow_run_id: str | None = None


def _download(client: MlflowClient, run_id: str, path: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, path, tmp)
        except (MlflowException, OSError) as exc:
            raise InputError(f"run {run_id} has no artifact {path!r}: {exc}") from None
        return Path(local).read_bytes()


def champion_age_days(version: ModelVersion, day: dt.date) -> float | None:
    """Days from the end of the champion's training window (data time) to ``day``."""
    window = (version.tags or {}).get("training_window", "")
    try:
        end = dt.date.fromisoformat(window.split("..")[-1])
    except ValueError:
        return None
    return float((day - end).days)


def _log_run(client: MlflowClient, experiment_id: str, files: dict[str, bytes], summary: dict[str, Any]) -> str:
    name = f"drift-{summary['model']}-{summary['date']}"
    with tracking.mlflow_run(client, experiment_id, name, {"mlops.kind": "drift"}) as run_id:
        params = {k: v for k, v in summary.items() if not isinstance(v, float)}
        metrics = {k: v for k, v in summary.items() if isinstance(v, float)}
        tracking.log_batch(client, run_id, params, metrics, {"model": str(summary["model"])})
        tracking.log_artifacts(run_id, files, {}, {})
    return run_id


def _no_champion(store: ObjectStore, model: str, day: dt.date) -> DriftCheck:
    payload = {
        "model": model,
        "date": day.isoformat(),
        "champion_version": None,
        "reference_run": None,
        "champion_age_days": None,
        "retrain": True,
        "retrain_reason": "no champion",
        "drift": None,
    }
    path = f"{report_prefix(day, model)}.json"
    store.put_bytes(path, json.dumps(payload, indent=2).encode())
    return DriftCheck(model, day, True, "no champion", report=store.url(path))


def check_drift(
    client: MlflowClient,
    experiment_id: str,
    store: ObjectStore,
    settings: DriftSettings,
    model: str,
    day: dt.date,
    reference_run: str | None = None,
    html_report: bool = True,
    force: bool = False,
) -> DriftCheck:
    """Decide whether ``model``'s features drifted on ``day`` and record the decision (see the module doc)."""
    champion = registry.version_by_alias(client, model, registry.CHAMPION)
    if champion is None and reference_run is None:
        return _no_champion(store, model, day)
    run_id = reference_run or str(champion.run_id if champion is not None else "")
    features = json.loads(_download(client, run_id, "features.json"))
    reference = pd.read_parquet(io.BytesIO(_download(client, run_id, "training_set/reference.parquet")))
    numerical = [c for c in numeric_features() if c in features]
    categorical = [c for c in categorical_features() if c in features]
    current = store.read_partition(snapshot_partition(day), columns=numerical + categorical).to_pandas()
    decision = drift_decision(reference, current, numerical, categorical, settings)
    age = None if champion is None else champion_age_days(champion, day)
    verdict = decide_retrain(decision, champion is not None, age, force, settings)
    payload: dict[str, Any] = {
        "model": model,
        "date": day.isoformat(),
        "champion_version": None if champion is None else str(champion.version),
        "reference_run": run_id,
        "champion_age_days": age,
        "retrain": verdict.retrain,
        "retrain_reason": verdict.reason,
        "drift": decision.to_dict(),
    }
    files = {f"drift/{model}.json": json.dumps(payload, indent=2).encode()}
    prefix = report_prefix(day, model)
    store.put_bytes(f"{prefix}.json", files[f"drift/{model}.json"])
    if html_report:
        html, _ = drift_report(reference, current, numerical, categorical, settings)
        files[f"drift/{model}.html"] = html.encode()
        store.put_bytes(f"{prefix}.html", files[f"drift/{model}.html"])
    summary = {
        "model": model,
        "date": day.isoformat(),
        "reference_run": run_id,
        "drift_share": float(decision.share),
        "drifted_columns": float(len(decision.drifted_columns)),
        "tested_columns": float(len(decision.columns)),
        "retrain": float(verdict.retrain),
    }
    drift_run = _log_run(client, experiment_id, files, summary)
    return DriftCheck(
        model,
        day,
        verdict.retrain,
        verdict.reason,
        decision.reason,
        list(decision.notes),
        store.url(prefix + ".json"),
        drift_run,
    )
