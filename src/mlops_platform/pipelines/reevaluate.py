"""Monthly re-evaluation: do the champions still hold up on the newest labelled window?

For a label date D (a committed ``labels/customer/date=D`` partition: its horizon has closed)
each champion scores the feature snapshot of D joined to the labels of D, and its own
``evaluate`` (the code that measured its training holdout) gives the metrics. They are compared
with the metrics its training run logged and with the seed targets of ``config/models.yaml``:

- degraded when the gate metric is worse than at training by more than ``reevaluation.tolerance``
  of its training value (direction-aware: for rmse a rise is worse), or a gate floor fails;
- a metric undefined on D (a window of one class) or not logged at training is noted, not judged;
- the targets are report lines (measured / target / pass) and never make a model degraded.

Segmentation has no labels: it is judged the same way on its silhouette, over the newest snapshot
dated D .. D + the longest label horizon (the newest data the labels of D saw; a rerun of D picks
the same one), so a monthly run measures it on current customers rather than on month-old ones.
Results go to ``reports/reevaluation/date=D/`` (``<model>.json``, ``report.md`` and last
``summary.json``, which the ``monthly_reevaluation`` DAG reads), to one MLflow run tagged
``mlops.kind=reevaluation``, and onto each judged champion version as the tags
``mlops.degraded`` (``true``/``false``) and ``mlops.reevaluated_on`` (D).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd
import pyarrow as pa
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.config import ModelsSettings, ReevaluationSettings
from mlops_platform.errors import InputError
from mlops_platform.features.labels import DATASET as LABELS_DATASET
from mlops_platform.features.labels import labels_partition
from mlops_platform.features.snapshot import DATASET as SNAPSHOT_DATASET
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.monitoring.judging import judged, target_checks, window_notes
from mlops_platform.monitoring.records import (
    DEGRADED,
    FAILED,
    OK,
    SKIPPED,
    ModelReevaluation,
    ReevaluationSummary,
    strict_json,
)
from mlops_platform.monitoring.report import render_markdown
from mlops_platform.pipelines.reevaluate_recommender import NAME as RECOMMENDER
from mlops_platform.pipelines.reevaluate_recommender import reevaluate_recommender
from mlops_platform.pipelines.train import training_data_from_lake
from mlops_platform.registry import tracking
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

REPORTS = "reports/reevaluation"
KIND_TAG = "mlops.kind"
KIND = "reevaluation"
DEGRADED_TAG = "mlops.degraded"
REEVALUATED_ON_TAG = "mlops.reevaluated_on"
RUN_TAG = "mlops.reevaluation_run"


# -- the window --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """The snapshot and labels of one label date, and the snapshot that unsupervised models score."""

    day: dt.date
    snapshot: pa.Table
    labels: pa.Table
    unsupervised_day: dt.date
    unsupervised_snapshot: pa.Table

    def frame(self, target: str | None) -> tuple[pd.DataFrame, int, dt.date]:
        """The rows a model with ``target`` scores, the snapshot rows left out unlabelled, and the snapshot date.

        With a target: the snapshot of the label date joined to it as training joins them (inner,
        sorted by customer id). Without: the unsupervised snapshot as it is.
        """
        if target is None:
            return self.unsupervised_snapshot.to_pandas(), 0, self.unsupervised_day
        joined = self.snapshot.join(self.labels.select(["customer_id", target]), keys="customer_id", join_type="inner")
        frame = joined.sort_by([("customer_id", "ascending")]).to_pandas()
        return frame, self.snapshot.num_rows - joined.num_rows, self.day


def newest_label_date(store: ObjectStore) -> dt.date:
    """The newest date with committed labels.

    Raises:
        InputError: the lake holds no labels.
    """
    dates = store.list_dates(LABELS_DATASET)
    if not dates:
        raise InputError(
            f"no labels in {store.url(LABELS_DATASET)}: build them with `mlops features labels --date D` "
            "once the label horizon of D has passed"
        )
    return dates[-1]


def read_window(store: ObjectStore, day: dt.date, horizon_days: int = 0) -> Window:
    """The snapshot and labels of ``day``, and the newest snapshot dated ``day .. day + horizon_days``.

    Raises:
        InputError: the labels or the snapshot of ``day`` are not committed; names the partition.
    """
    labels = labels_partition(day)
    if not store.has_partition(labels):
        newest = store.list_dates(LABELS_DATASET)
        raise InputError(
            f"no labels for {day}: partition {store.url(labels)} is missing "
            f"(newest labelled date: {newest[-1] if newest else 'none'}); build it with "
            f"`mlops features labels --date {day}` once its horizon has passed"
        )
    snapshot = snapshot_partition(day)
    if not store.has_partition(snapshot):
        raise InputError(
            f"no feature snapshot for {day}: partition {store.url(snapshot)} is missing; "
            f"build it with `mlops features build --date {day}`"
        )
    end = day + dt.timedelta(days=horizon_days)
    latest = max(d for d in [*store.list_dates(SNAPSHOT_DATASET), day] if day <= d <= end)
    table = store.read_partition(snapshot)
    unsupervised = table if latest == day else store.read_partition(snapshot_partition(latest))
    return Window(day, table, store.read_partition(labels), latest, unsupervised)


# -- one model ---------------------------------------------------------------------------------
def reevaluate_model(
    client: MlflowClient, models: ModelsSettings, settings: ReevaluationSettings, name: str, window: Window
) -> ModelReevaluation:
    """Score ``window`` with the champion of ``name`` and judge it against its training run.

    The champion version is read once and loaded by number, so an alias moved meanwhile does not
    mix two versions. A champion that cannot score the window is ``failed``, not an exception,
    so one broken model does not stop the others.
    """
    import mlflow

    conf = models.model(name)
    result = ModelReevaluation(name, SKIPPED, window.day.isoformat(), conf.gate.metric, conf.gate.greater_is_better)
    registry.reconcile_aliases(client, name, seen_by="mlops models reevaluate")
    champion = registry.version_by_alias(client, name, registry.CHAMPION)
    if champion is None:
        return replace(result, reasons=[f"no champion: train {name} or promote a version"])
    result.version, result.training_run_id = str(champion.version), champion.run_id
    result.training_window = (champion.tags or {}).get("training_window")
    frame, unlabelled, scored = window.frame(conf.target)
    result.rows, result.snapshot_date = len(frame), scored.isoformat()
    if result.rows < settings.min_rows:
        rows = f"{result.rows} {'labelled ' if conf.target else ''}rows in the snapshot of {scored}"
        return replace(result, reasons=[f"{rows} (< min_rows {settings.min_rows})"])
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}")
        model = loaded.unwrap_python_model().model
        evaluation = model.evaluate(training_data_from_lake(frame, list(model.features_), conf.target))
    except Exception as exc:  # one champion that cannot score must not stop the others
        _logger.warning("%s v%s cannot be evaluated on %s: %s", name, champion.version, window.day, exc)
        return replace(
            result, status=FAILED, reasons=[f"v{champion.version} cannot score the snapshot of {scored}: {exc}"]
        )
    at_training = tracking.training_metrics(client, champion.run_id)
    checks = target_checks(conf, evaluation.metrics, at_training)
    return judged(
        result, conf, settings.tolerance, evaluation.metrics, at_training, window_notes(result, unlabelled, checks)
    )


# -- all champions -----------------------------------------------------------------------------
def report_path(day: dt.date | str, name: str) -> str:
    """Where a file of the re-evaluation of ``day`` lives in the store."""
    return f"{REPORTS}/date={day if isinstance(day, str) else day.isoformat()}/{name}"


def read_summary(store: ObjectStore, day: dt.date | None = None) -> ReevaluationSummary:
    """The ``summary.json`` of ``day`` (default: the newest one written).

    Raises:
        InputError: no summary was written for that date.
    """
    if day is None:
        days = [d.split("=", 1)[1] for d in store.list_dirs(REPORTS) if d.startswith("date=")]
        days = [d for d in days if store.exists(report_path(d, "summary.json"))]
        if not days:
            raise InputError(f"no re-evaluation summary in {store.url(REPORTS)}: run `mlops models reevaluate`")
        day = dt.date.fromisoformat(max(days))
    data = store.get_bytes_if_exists(report_path(day, "summary.json"))
    if data is None:
        raise InputError(f"no re-evaluation summary for {day} at {store.url(report_path(day, 'summary.json'))}")
    return ReevaluationSummary.from_dict(json.loads(data))


def _run_metrics(results: Sequence[ModelReevaluation]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for r in results:
        metrics.update({f"{r.model}/{k}": v for k, v in r.metrics.items() if v is not None})
        if r.value_at_training is not None:
            metrics[f"{r.model}/{r.gate_metric}_at_training"] = r.value_at_training
        if r.status in (OK, DEGRADED):
            metrics[f"{r.model}/degraded"] = float(r.degraded)
    return metrics


def _tag_versions(client: MlflowClient, results: Sequence[ModelReevaluation], run_id: str) -> None:
    """Tag every judged version; a version already judged on a later date keeps that verdict."""
    for r in results:
        if r.status not in (OK, DEGRADED) or r.version is None:
            continue
        tags = client.get_model_version(r.model, r.version).tags or {}
        if tags.get(REEVALUATED_ON_TAG, "") > r.date:
            r.notes.append(f"v{r.version} keeps its tags from the later re-evaluation of {tags[REEVALUATED_ON_TAG]}")
            continue
        for key, value in {DEGRADED_TAG: str(r.degraded).lower(), REEVALUATED_ON_TAG: r.date, RUN_TAG: run_id}.items():
            client.set_model_version_tag(r.model, r.version, key, value)


def reevaluate_champions(
    client: MlflowClient,
    experiment_id: str,
    store: ObjectStore,
    models: ModelsSettings,
    settings: ReevaluationSettings,
    day: dt.date | None = None,
    names: Sequence[str] | None = None,
    horizon_days: int = 0,
) -> ReevaluationSummary:
    """Re-evaluate the champions of ``names`` (default ``settings.models``) on label date ``day``.

    ``client`` must come from ``tracking.client_for`` (which points MLflow at the same store).
    A summary already written for ``day`` keeps its other models' results, so models may be
    re-evaluated one command at a time; a rerun replaces a model's result.

    Args:
        day: the label date; default the newest date with committed labels.
        names: the models; default ``settings.models``.
        horizon_days: unsupervised models score the newest snapshot dated ``day .. day +
            horizon_days`` (the CLI passes the longest label horizon).

    Returns:
        The summary as written to ``reports/reevaluation/date=D/summary.json``.

    Raises:
        ConfigError: a name is not a model of ``models.yaml``.
        InputError: no labels or no snapshot for ``day``.
    """
    names = list(dict.fromkeys(names or settings.models))
    for name in names:
        models.check_trainable(name)
    window = read_window(store, day or newest_label_date(store), horizon_days)
    results = [
        reevaluate_recommender(client, store, models, settings, window.day, horizon_days)
        if name == RECOMMENDER
        else reevaluate_model(client, models, settings, name, window)
        for name in names
    ]
    try:
        earlier = read_summary(store, window.day).models
    except InputError:
        earlier = []
    order = {name: i for i, name in enumerate(models.trainable_names)}
    kept = [r for r in earlier if r.model not in names]
    day_text = window.day.isoformat()
    run_tags = {KIND_TAG: KIND, "date": day_text}
    with tracking.mlflow_run(client, experiment_id, f"reevaluation-{day_text}", run_tags) as run_id:
        for r in results:
            r.mlflow_run_id = run_id
        _tag_versions(client, results, run_id)
        summary = ReevaluationSummary(
            day_text,
            settings.tolerance,
            settings.trigger_retraining,
            sorted(kept + results, key=lambda r: (order.get(r.model, len(order)), r.model)),
            run_id,
            registry.now_iso(),
        )
        files = {f"reevaluation/{r.model}.json": strict_json(r.to_dict()) for r in results}
        files["reevaluation/report.md"] = render_markdown(summary).encode()
        files["reevaluation/summary.json"] = strict_json(summary.to_dict())
        params = {"date": day_text, "models": ",".join(names), "tolerance": settings.tolerance}
        params["min_rows"] = settings.min_rows
        tags = {"degraded": ",".join(r.model for r in results if r.degraded) or "none"}
        tracking.log_batch(client, run_id, params, _run_metrics(results), tags)
        tracking.log_artifacts(run_id, files, {}, {})
        for path, data in files.items():  # summary.json last: a reader that sees it sees the rest
            store.put_bytes(report_path(window.day, path.split("/", 1)[1]), data)
    return summary
