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
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd
import pyarrow as pa
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mlops_platform import registry, tracking
from mlops_platform.config import (
    LOWER_IS_BETTER,
    GateSettings,
    ModelSettings,
    ModelsSettings,
    RecommenderSettings,
    ReevaluationSettings,
)
from mlops_platform.errors import InputError
from mlops_platform.features.labels import DATASET as LABELS_DATASET
from mlops_platform.features.labels import labels_partition
from mlops_platform.features.snapshot import DATASET as SNAPSHOT_DATASET
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

REPORTS = "reports/reevaluation"
KIND_TAG = "mlops.kind"
KIND = "reevaluation"
DEGRADED_TAG = "mlops.degraded"
REEVALUATED_ON_TAG = "mlops.reevaluated_on"
RUN_TAG = "mlops.reevaluation_run"
OK, DEGRADED, SKIPPED, FAILED = "ok", "degraded", "skipped", "failed"


def _finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Judgement:
    """The verdict on one gate metric and the gate floors; ``change`` is now minus at training."""

    degraded: bool
    reasons: list[str]
    notes: list[str]
    change: float | None
    relative_change: float | None


def judge(
    gate: GateSettings, tolerance: float, now: Mapping[str, float], at_training: Mapping[str, float]
) -> Judgement:
    """Whether the gate metric worsened by more than ``tolerance`` since training, or a gate floor fails.

    Args:
        gate: the model's gate: its metric (and direction) and floors.
        tolerance: the worsening allowed, as a share of the training value (0.05: 5 %).
        now: the metrics measured on the window.
        at_training: the metrics the champion's training run logged on its holdout.

    Worse means lower, or higher for metrics where lower is better (rmse). A training value of 0
    makes any worsening count. A floor of a lower-is-better metric is a ceiling. A metric that is
    missing or undefined (NaN) is noted and not judged.
    """
    metric, reasons, notes = gate.metric, [], []
    value, base = _finite(now.get(metric)), _finite(at_training.get(metric))
    change = relative = None
    if value is None:
        notes.append(f"{metric} is undefined on this window ({now.get(metric)}): the change is not judged")
    elif base is None:
        notes.append(f"the champion's training run logged no {metric}: the change is not judged")
    else:
        change = value - base
        worse = -change if gate.greater_is_better else change
        relative = change / abs(base) if base else None
        drop = worse / abs(base) if base else (math.inf if worse > 0 else 0.0)
        if drop > tolerance:
            verb = "fell" if gate.greater_is_better else "rose"
            reasons.append(
                f"{metric} {verb} from {base:.4f} at training to {value:.4f} "
                f"({drop:.2%} worse, tolerance {tolerance:.2%})"
            )
    for name, floor in gate.floors.items():
        measured = _finite(now.get(name))
        ceiling = name in LOWER_IS_BETTER
        if measured is None:
            notes.append(f"floor {name} {'<=' if ceiling else '>='} {floor:g} not checked: {name} is undefined")
        elif (measured > floor) if ceiling else (measured < floor):
            reasons.append(f"{name} {measured:.4f} {'above ceiling' if ceiling else 'below floor'} {floor:g}")
    return Judgement(bool(reasons), reasons, notes, change, relative)


@dataclass(frozen=True)
class TargetCheck:
    """One seed target, measured now and at training."""

    target: str
    measured: float | None
    passed: bool
    measured_at_training: float | None
    passed_at_training: bool


def target_checks(
    settings: ModelSettings | RecommenderSettings, now: Mapping[str, float], at_training: Mapping[str, float]
) -> list[TargetCheck]:
    """Measured / target / pass-fail of every configured target, now and at training."""
    checks = []
    for target in settings.target_lines():
        measured, before = _finite(now.get(target.metric)), _finite(at_training.get(target.metric))
        checks.append(TargetCheck(str(target), measured, target.holds(measured), before, target.holds(before)))
    return checks


@dataclass
class ModelReevaluation:
    """The re-evaluation of one model's champion on one label date.

    ``status`` is ``ok``, ``degraded``, ``skipped`` (no champion, too few rows) or ``failed``
    (the champion could not score the window); ``reasons`` say why it is not ``ok``.
    ``snapshot_date`` is the snapshot scored: ``date`` itself, except for unsupervised models.
    """

    model: str
    status: str
    date: str
    gate_metric: str
    greater_is_better: bool
    version: str | None = None
    snapshot_date: str | None = None
    rows: int = 0
    value: float | None = None
    value_at_training: float | None = None
    change: float | None = None
    relative_change: float | None = None
    degraded: bool = False
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[TargetCheck] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    metrics_at_training: dict[str, float | None] = field(default_factory=dict)
    training_run_id: str | None = None
    training_window: str | None = None
    mlflow_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelReevaluation:
        values = dict(data)
        values["targets"] = [TargetCheck(**t) for t in values.get("targets", [])]
        return cls(**values)


@dataclass
class ReevaluationSummary:
    """Every model's result for one label date: what ``summary.json`` holds."""

    date: str
    tolerance: float
    trigger_retraining: bool
    models: list[ModelReevaluation]
    mlflow_run_id: str | None = None
    written_at: str = ""

    @property
    def degraded(self) -> list[str]:
        return [r.model for r in self.models if r.degraded]

    @property
    def retrain(self) -> list[str]:
        """The models the DAG retrains: the degraded ones when ``trigger_retraining`` is on."""
        return self.degraded if self.trigger_retraining else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "tolerance": self.tolerance,
            "trigger_retraining": self.trigger_retraining,
            "degraded": self.degraded,
            "retrain": self.retrain,
            "mlflow_run_id": self.mlflow_run_id,
            "written_at": self.written_at,
            "models": [r.to_dict() for r in self.models],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReevaluationSummary:
        values = {k: v for k, v in data.items() if k not in ("degraded", "retrain")}  # derived
        return cls(**{**values, "models": [ModelReevaluation.from_dict(r) for r in data["models"]]})


def _json(data: Any) -> bytes:
    """Strict JSON: NaN and infinities become null."""

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return _finite(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), indent=2, allow_nan=False).encode()


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
    newest = max(d for d in store.list_dates(SNAPSHOT_DATASET) + [day] if day <= d <= end)
    table = store.read_partition(snapshot)
    unsupervised = table if newest == day else store.read_partition(snapshot_partition(newest))
    return Window(day, table, store.read_partition(labels), newest, unsupervised)


# -- one model ---------------------------------------------------------------------------------
def training_metrics(client: MlflowClient, run_id: str | None) -> dict[str, float]:
    """The model metrics a training run logged (its ``baseline_*`` metrics left out)."""
    if not run_id:
        return {}
    try:
        logged = client.get_run(run_id).data.metrics
    except MlflowException:
        _logger.warning("training run %s cannot be read", run_id)
        return {}
    return {k: float(v) for k, v in logged.items() if not k.startswith("baseline_")}


def _window_notes(result: ModelReevaluation, unlabelled: int, checks: list[TargetCheck]) -> list[str]:
    notes = []
    if unlabelled:
        notes.append(f"{unlabelled} snapshot rows of {result.date} have no labels and were left out")
    scored = result.snapshot_date or result.date
    end = (result.training_window or "").split("..")[-1]
    if end and scored <= end:
        notes.append(
            f"the snapshot of {scored} is not after the training window {result.training_window}: "
            "not an out-of-sample check"
        )
    for check in checks:
        if check.passed_at_training and not check.passed:
            notes.append(
                f"target {check.target} met at training ({_number(check.measured_at_training)}) "
                f"is missed now ({_number(check.measured)})"
            )
    return notes


def reevaluate_model(
    client: MlflowClient, models: ModelsSettings, settings: ReevaluationSettings, name: str, window: Window
) -> ModelReevaluation:
    """Score ``window`` with the champion of ``name`` and judge it against its training run.

    The champion version is read once and loaded by number, so an alias moved meanwhile does not
    mix two versions. A champion that cannot score the window is ``failed``, not an exception,
    so one broken model does not stop the others.
    """
    import mlflow

    from mlops_platform.training import training_data_from_lake

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
    at_training = training_metrics(client, champion.run_id)
    checks = target_checks(conf, evaluation.metrics, at_training)
    return judged(
        result, conf, settings.tolerance, evaluation.metrics, at_training, _window_notes(result, unlabelled, checks)
    )


def judged(
    result: ModelReevaluation,
    conf: ModelSettings | RecommenderSettings,
    tolerance: float,
    now: Mapping[str, float],
    at_training: Mapping[str, float],
    notes: Sequence[str] = (),
) -> ModelReevaluation:
    """``result`` completed with the verdict and target checks of ``now`` against ``at_training``."""
    verdict = judge(conf.gate, tolerance, now, at_training)
    return replace(
        result,
        status=DEGRADED if verdict.degraded else OK,
        value=_finite(now.get(conf.gate.metric)),
        value_at_training=_finite(at_training.get(conf.gate.metric)),
        change=verdict.change,
        relative_change=verdict.relative_change,
        degraded=verdict.degraded,
        reasons=verdict.reasons,
        notes=[*verdict.notes, *notes],
        targets=target_checks(conf, now, at_training),
        metrics={k: _finite(v) for k, v in now.items()},
        metrics_at_training={k: _finite(v) for k, v in at_training.items()},
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
    from mlops_platform.monitoring.recommender_reevaluation import NAME as RECOMMENDER
    from mlops_platform.monitoring.recommender_reevaluation import reevaluate_recommender

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
    run = client.create_run(experiment_id, run_name=f"reevaluation-{day_text}", tags={KIND_TAG: KIND, "date": day_text})
    run_id = run.info.run_id
    try:
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
        files = {f"reevaluation/{r.model}.json": _json(r.to_dict()) for r in results}
        files["reevaluation/report.md"] = render_markdown(summary).encode()
        files["reevaluation/summary.json"] = _json(summary.to_dict())
        params = {"date": day_text, "models": ",".join(names), "tolerance": settings.tolerance}
        params["min_rows"] = settings.min_rows
        tags = {"degraded": ",".join(r.model for r in results if r.degraded) or "none"}
        tracking.log_batch(client, run_id, params, _run_metrics(results), tags)
        tracking.log_artifacts(run_id, files, {}, {})
        for path, data in files.items():  # summary.json last: a reader that sees it sees the rest
            store.put_bytes(report_path(window.day, path.split("/", 1)[1]), data)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return summary


# -- reading the results -----------------------------------------------------------------------
def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def format_change(result: ModelReevaluation) -> str:
    """``+0.0123 (+1.5%)``: now minus at training, and relative to the training value."""
    if result.change is None:
        return "n/a"
    relative = "" if result.relative_change is None else f" ({result.relative_change:+.1%})"
    return f"{result.change:+.4f}{relative}"


def format_targets(result: ModelReevaluation) -> str:
    """``roc_auc > 0.85: MISS; f1 > 0.4: pass`` for the targets measured now."""
    return "; ".join(f"{t.target}: {'pass' if t.passed else 'MISS'}" for t in result.targets) or "-"


def render_markdown(summary: ReevaluationSummary) -> str:
    """The human report: one table of every model, then each model's metrics, targets and reasons."""
    lines = [
        f"# Champion re-evaluation on {summary.date}",
        "",
        f"Each champion scored the feature snapshot of {summary.date} joined to the labels of that date "
        "(segmentation, which has no labels: the newest snapshot within their horizon). "
        f"Degraded: the gate metric is worse than at training by more than {summary.tolerance:.1%} "
        "of its training value, or a gate floor fails.",
        "",
        "| model | version | status | gate metric | at training | now | change | targets now |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary.models:
        lines.append(
            f"| {r.model} | {r.version or '-'} | {r.status} | {r.gate_metric} | {_number(r.value_at_training)} "
            f"| {_number(r.value)} | {format_change(r)} | {format_targets(r)} |"
        )
    retrain = ", ".join(summary.retrain) or "none"
    lines += ["", f"Degraded: {', '.join(summary.degraded) or 'none'}. To retrain: {retrain} "]
    lines[-1] += f"(trigger_retraining: {str(summary.trigger_retraining).lower()})."
    for r in summary.models:
        lines += ["", f"## {r.model} v{r.version or '-'}: {r.status}", ""]
        if r.version is not None:
            lines += [f"- rows: {r.rows:,} (snapshot of {r.snapshot_date or r.date})"]
            lines += [f"- training run: {r.training_run_id or '-'} (window {r.training_window or '-'})"]
        lines += [f"- re-evaluation run: {r.mlflow_run_id or '-'}"]
        lines += [f"- reason: {reason}" for reason in r.reasons] + [f"- note: {note}" for note in r.notes]
        if r.metrics:
            lines += ["", "| metric | at training | now |", "| --- | --- | --- |"]
            for key, value in r.metrics.items():
                lines.append(f"| {key} | {_number(r.metrics_at_training.get(key))} | {_number(value)} |")
        if r.targets:
            lines += ["", "| target | at training | now | result now |", "| --- | --- | --- | --- |"]
            for t in r.targets:
                result = "pass" if t.passed else "MISS"
                lines.append(f"| {t.target} | {_number(t.measured_at_training)} | {_number(t.measured)} | {result} |")
    return "\n".join(lines) + "\n"
