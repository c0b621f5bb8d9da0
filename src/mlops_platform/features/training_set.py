"""Point-in-time training sets: stacked feature snapshots joined to the labels that follow them.

For a training date ``as_of`` (data known up to ``as_of - 1``) and a label horizon ``h``:

- the newest labelled date is ``L = as_of - h`` (its horizon ends on ``as_of - 1``);
- the holdout is ``L`` and the ``holdout_dates - 1`` dates before it, ``step_days`` apart;
- training dates end before the holdout's labels begin: ``T1 = H_min - h`` and then
  ``step_days`` apart, so no training label day is inside a holdout label window.

Features of each date use only days before it, labels only days from it on (see
``features/``), so no training row sees its own future. Stored under
``training/<model>/<run>/`` as ``train``, ``holdout`` and ``reference`` partitions plus a
``manifest.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from mlops_platform.config import PlatformSettings, TrainingSetSettings
from mlops_platform.errors import InputError
from mlops_platform.features.definitions import feature_names
from mlops_platform.features.labels import labels_partition
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

DATE_COLUMN = "snapshot_date"


@dataclass(frozen=True)
class DatePlan:
    """Which dates a training set stacks and which it holds out."""

    train: list[dt.date]
    holdout: list[dt.date]


@dataclass
class TrainingSetManifest:
    """What a stored training set holds; logged with every training run."""

    model: str
    run: str
    as_of: str
    target: str | None
    horizon_days: int
    train_dates: list[str]
    holdout_dates: list[str]
    train_rows: int
    holdout_rows: int
    positive_rate: float | None
    holdout_positive_rate: float | None
    features: list[str]
    reference_rows: int
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @property
    def data_window(self) -> str:
        return f"{min(self.train_dates)}..{max(self.holdout_dates)}"


@dataclass(frozen=True)
class TrainingSet:
    """A stored training set and the tables it wrote (so callers need not read them back)."""

    manifest: TrainingSetManifest
    train: pa.Table
    holdout: pa.Table
    reference: pa.Table


def plan_dates(as_of: dt.date, horizon_days: int, settings: TrainingSetSettings) -> DatePlan:
    """The holdout and training dates for ``as_of`` (see the module docstring)."""
    newest = as_of - dt.timedelta(days=horizon_days)
    step = dt.timedelta(days=settings.step_days)
    holdout = [newest - i * step for i in range(settings.holdout_dates)]
    first_train = min(holdout) - dt.timedelta(days=max(horizon_days, 1))
    train = [first_train - i * step for i in range(settings.dates)]
    return DatePlan(train=sorted(train), holdout=sorted(holdout))


def training_run_path(model: str, run: str) -> str:
    return f"training/{model}/{run}"


def _read_labelled(store: ObjectStore, day: dt.date, target: str | None) -> pa.Table:
    features = store.read_partition(snapshot_partition(day))
    if target is None:
        return features
    labels = store.read_partition(labels_partition(day), columns=["customer_id", target])
    joined = features.join(labels, keys="customer_id", join_type="inner")
    if joined.num_rows != features.num_rows:
        _logger.warning("%s: %d snapshot rows without labels dropped", day, features.num_rows - joined.num_rows)
    return joined.sort_by([("customer_id", "ascending")])


def ensure_partitions(
    store: ObjectStore,
    dates: list[dt.date],
    with_labels: bool,
    build_snapshot: Callable[[dt.date], object],
    build_labels: Callable[[dt.date], object],
) -> None:
    """Build every missing snapshot (and label partition) for ``dates``."""
    for day in dates:
        if not store.has_partition(snapshot_partition(day)):
            build_snapshot(day)
        if with_labels and not store.has_partition(labels_partition(day)):
            build_labels(day)


def _positive_rate(table: pa.Table, target: str | None) -> float | None:
    if target is None or table.num_rows == 0:
        return None
    column = table[target]
    if not (pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)):
        return float(pc.mean(pc.greater(column, 0)).as_py())
    return float(pc.mean(pc.cast(column, pa.float64())).as_py())


def reference_sample(table: pa.Table, rows: int, seed: int) -> pa.Table:
    """A seeded sample of at most ``rows`` rows of the training features (the drift reference)."""
    import numpy as np

    columns = [c for c in feature_names() if c in table.column_names]
    if table.num_rows <= rows:
        return table.select(columns)
    picks = np.sort(np.random.default_rng(seed).choice(table.num_rows, size=rows, replace=False))
    return table.select(columns).take(pa.array(picks))


def build_training_set(
    store: ObjectStore,
    platform: PlatformSettings,
    settings: TrainingSetSettings,
    model: str,
    target: str | None,
    horizon_days: int,
    as_of: dt.date,
    run: str,
    build_snapshot: Callable[[dt.date], object],
    build_labels: Callable[[dt.date], object],
) -> TrainingSet:
    """Stack the planned dates into ``training/<model>/<run>/`` and return what was stored."""
    plan = plan_dates(as_of, horizon_days, settings)
    newest_raw = max(store.list_dates("raw/transactions"), default=None)
    if newest_raw is None or newest_raw < as_of - dt.timedelta(days=1):
        raise InputError(
            f"training date {as_of}: raw transactions end on {newest_raw}, "
            f"so the labels of {plan.holdout[-1]} are not complete"
        )
    ensure_partitions(store, plan.train + plan.holdout, target is not None, build_snapshot, build_labels)
    train = pa.concat_tables([_read_labelled(store, d, target) for d in plan.train])
    holdout = pa.concat_tables([_read_labelled(store, d, target) for d in plan.holdout])
    if train.num_rows == 0 or holdout.num_rows == 0:
        raise InputError(
            f"{model}: empty training set for {as_of} (train {train.num_rows}, holdout {holdout.num_rows})"
        )
    reference = reference_sample(train, settings.reference_rows, settings.seed)
    prefix = training_run_path(model, run)
    store.write_partition(f"{prefix}/train", train)
    store.write_partition(f"{prefix}/holdout", holdout)
    store.write_partition(f"{prefix}/reference", reference)
    manifest = TrainingSetManifest(
        model=model,
        run=run,
        as_of=as_of.isoformat(),
        target=target,
        horizon_days=horizon_days,
        train_dates=[d.isoformat() for d in plan.train],
        holdout_dates=[d.isoformat() for d in plan.holdout],
        train_rows=train.num_rows,
        holdout_rows=holdout.num_rows,
        positive_rate=_positive_rate(train, target),
        holdout_positive_rate=_positive_rate(holdout, target),
        features=[c for c in feature_names() if c in train.column_names],
        reference_rows=reference.num_rows,
    )
    store.put_bytes(f"{prefix}/manifest.json", manifest.to_json().encode())
    return TrainingSet(manifest, train, holdout, reference)


def load_training_set(store: ObjectStore, model: str, run: str) -> tuple[TrainingSetManifest, pa.Table, pa.Table]:
    """The manifest, train and holdout tables of a stored training set."""
    prefix = training_run_path(model, run)
    if not store.exists(f"{prefix}/manifest.json"):
        raise InputError(f"no training set {model}/{run} in {store.url('training')}")
    manifest = TrainingSetManifest(**json.loads(store.get_bytes(f"{prefix}/manifest.json")))
    return manifest, store.read_partition(f"{prefix}/train"), store.read_partition(f"{prefix}/holdout")
