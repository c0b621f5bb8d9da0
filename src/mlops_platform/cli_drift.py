"""``mlops drift check``: compare a feature snapshot with the champion's training reference."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated, Any

import typer

from mlops_platform.cli_support import get_context, out, parse_date, user_errors
from mlops_platform.errors import InputError

_logger = logging.getLogger(__name__)

drift_app = typer.Typer(help="Feature drift against the champion's training reference.", no_args_is_help=True)


def _download(client, run_id: str, path: str) -> bytes:  # noqa: ANN001 - an MlflowClient
    import tempfile
    from pathlib import Path

    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, path, tmp)
        except (MlflowException, OSError) as exc:
            raise InputError(f"run {run_id} has no artifact {path!r}: {exc}") from None
        return Path(local).read_bytes()


def _champion_age_days(version, day: dt.date) -> float | None:  # noqa: ANN001 - a ModelVersion
    """Days from the end of the champion's training window (data time) to ``day``."""
    window = (version.tags or {}).get("training_window", "")
    try:
        end = dt.date.fromisoformat(window.split("..")[-1])
    except ValueError:
        return None
    return float((day - end).days)


def _log_run(client, experiment_id: str, name: str, files: dict[str, bytes], summary: dict[str, Any]) -> str:  # noqa: ANN001
    from mlops_platform import tracking

    run = client.create_run(experiment_id, run_name=name, tags={"mlops.kind": "drift"})
    try:
        params = {k: v for k, v in summary.items() if not isinstance(v, float)}
        metrics = {k: v for k, v in summary.items() if isinstance(v, float)}
        tracking.log_batch(client, run.info.run_id, params, metrics, {"model": str(summary["model"])})
        tracking.log_artifacts(run.info.run_id, files, {}, {})
    except BaseException:
        client.set_terminated(run.info.run_id, "FAILED")
        raise
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


@drift_app.command("check")
@user_errors
def drift_check(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    date: Annotated[str, typer.Option(help="Snapshot date D (YYYY-MM-DD).")],
    reference_run: Annotated[
        str | None,
        typer.Option(help="Take the reference and feature list from this MLflow run instead of the champion's."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Also write Evidently's HTML report (slower).")] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Decide to retrain whatever the drift (recorded as forced).")
    ] = False,
) -> None:
    """Decide whether MODEL's features drifted on D; writes reports/drift/date=D/<model>.json/.html.

    The decision is data, not an error: the command exits 0 whether or not a retrain is due.
    """
    import io

    import pandas as pd

    from mlops_platform import registry, tracking
    from mlops_platform.config import load_drift_settings
    from mlops_platform.features.definitions import categorical_features, numeric_features
    from mlops_platform.features.snapshot import snapshot_partition
    from mlops_platform.monitoring.drift import decide_retrain, drift_decision, drift_report, report_prefix

    context = get_context(ctx)
    day = parse_date(date, "date")
    settings = load_drift_settings(context.config_dir)
    client, experiment_id = tracking.client_for(context.models.tracking)
    champion = registry.version_by_alias(client, model, registry.CHAMPION)
    if champion is None and reference_run is None:
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
        context.store.put_bytes(f"{report_prefix(day, model)}.json", json.dumps(payload, indent=2).encode())
        out.print(f"{model} {day}: no champion to compare with")
        out.print("retrain: yes (no champion)")
        return
    run_id = reference_run or champion.run_id
    features = json.loads(_download(client, run_id, "features.json"))
    reference = pd.read_parquet(io.BytesIO(_download(client, run_id, "training_set/reference.parquet")))
    numerical = [c for c in numeric_features() if c in features]
    categorical = [c for c in categorical_features() if c in features]
    current = context.store.read_partition(snapshot_partition(day), columns=numerical + categorical).to_pandas()
    decision = drift_decision(reference, current, numerical, categorical, settings)
    age = None if champion is None else _champion_age_days(champion, day)
    verdict = decide_retrain(decision, champion is not None, age, force, settings)
    payload = {
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
    context.store.put_bytes(f"{prefix}.json", files[f"drift/{model}.json"])
    if report:
        html, _ = drift_report(reference, current, numerical, categorical, settings)
        files[f"drift/{model}.html"] = html.encode()
        context.store.put_bytes(f"{prefix}.html", files[f"drift/{model}.html"])
    summary = {
        "model": model,
        "date": day.isoformat(),
        "reference_run": run_id,
        "drift_share": float(decision.share),
        "drifted_columns": float(len(decision.drifted_columns)),
        "tested_columns": float(len(decision.columns)),
        "retrain": float(verdict.retrain),
    }
    drift_run = _log_run(client, experiment_id, f"drift-{model}-{day.isoformat()}", files, summary)
    out.print(f"{model} {day}: {decision.reason}")
    for note in decision.notes:
        out.print(f"  note: {note}")
    out.print(f"retrain: {'yes' if verdict.retrain else 'no'} ({verdict.reason})")
    out.print(f"report: {context.store.url(prefix + '.json')} (MLflow run {drift_run})")


def register(app: typer.Typer) -> None:
    """Add the drift commands to the root app."""
    app.add_typer(drift_app, name="drift")
