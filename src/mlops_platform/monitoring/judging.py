"""Judging a champion: is its gate metric worse than at training by more than the tolerance?

Pure functions of the metrics measured now and the metrics its training run logged:

- degraded when the gate metric is worse than at training by more than ``reevaluation.tolerance``
  of its training value (direction-aware: for rmse a rise is worse), or a gate floor fails;
- a metric undefined on the window (a window of one class) or not logged at training is noted,
  not judged;
- the seed targets are report lines (measured / target / pass) and never make a model degraded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from mlops_platform.config import LOWER_IS_BETTER, GateSettings, ModelSettings, RecommenderSettings
from mlops_platform.monitoring.records import DEGRADED, OK, ModelReevaluation, TargetCheck, finite
from mlops_platform.monitoring.report import number


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
    value, base = finite(now.get(metric)), finite(at_training.get(metric))
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
        measured = finite(now.get(name))
        ceiling = name in LOWER_IS_BETTER
        if measured is None:
            notes.append(f"floor {name} {'<=' if ceiling else '>='} {floor:g} not checked: {name} is undefined")
        elif (measured > floor) if ceiling else (measured < floor):
            reasons.append(f"{name} {measured:.4f} {'above ceiling' if ceiling else 'below floor'} {floor:g}")
    return Judgement(bool(reasons), reasons, notes, change, relative)


def target_checks(
    settings: ModelSettings | RecommenderSettings, now: Mapping[str, float], at_training: Mapping[str, float]
) -> list[TargetCheck]:
    """Measured / target / pass-fail of every configured target, now and at training."""
    checks = []
    for target in settings.target_lines():
        measured, before = finite(now.get(target.metric)), finite(at_training.get(target.metric))
        checks.append(TargetCheck(str(target), measured, target.holds(measured), before, target.holds(before)))
    return checks


def window_notes(result: ModelReevaluation, unlabelled: int, checks: list[TargetCheck]) -> list[str]:
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
                f"target {check.target} met at training ({number(check.measured_at_training)}) "
                f"is missed now ({number(check.measured)})"
            )
    return notes


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
        value=finite(now.get(conf.gate.metric)),
        value_at_training=finite(at_training.get(conf.gate.metric)),
        change=verdict.change,
        relative_change=verdict.relative_change,
        degraded=verdict.degraded,
        reasons=verdict.reasons,
        notes=[*verdict.notes, *notes],
        targets=target_checks(conf, now, at_training),
        metrics={k: finite(v) for k, v in now.items()},
        metrics_at_training={k: finite(v) for k, v in at_training.items()},
    )
