"""The records of a re-evaluation: one model's result, the summary of a date, and their strict JSON.

``summary.json`` (what the ``monthly_reevaluation`` DAG reads) is a :class:`ReevaluationSummary`;
each ``<model>.json`` a :class:`ModelReevaluation`. NaN and infinities are written as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

OK, DEGRADED, SKIPPED, FAILED = "ok", "degraded", "skipped", "failed"


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class TargetCheck:
    """One seed target, measured now and at training."""

    target: str
    measured: float | None
    passed: bool
    measured_at_training: float | None
    passed_at_training: bool


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


def strict_json(data: Any) -> bytes:
    """Strict JSON: NaN and infinities become null."""

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return finite(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), indent=2, allow_nan=False).encode()
