"""The promotion gate: one decision (:func:`decide`) and one way to apply it (:func:`apply_decision`).

A challenger is promoted when there is no champion, or when it beats the champion on the gate
metric by the margin (or, with ``require_gain: false``, is no worse than the margin); the gate
floors must hold either way. The decision and its reason are written onto the version; a
promotion moves the aliases through :mod:`~mlops_platform.registry.aliases`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient

from mlops_platform.config import GateSettings
from mlops_platform.errors import InputError
from mlops_platform.registry.alias_history import CHALLENGER, CHAMPION
from mlops_platform.registry.aliases import move_alias, remove_alias


@dataclass(frozen=True)
class GateDecision:
    """What the promotion gate decided for one challenger."""

    promote: bool
    reason: str
    metric: str
    challenger_value: float
    champion_value: float | None
    champion_version: str | None


def decide(
    gate: GateSettings,
    challenger_metrics: dict[str, float],
    champion_value: float | None,
    champion_version: str | None,
    problem: str | None = None,
) -> GateDecision:
    """Promote if there is no champion, or the challenger beats it by the margin; floors must hold.

    ``problem`` says why the champion could not be measured: the challenger is then kept, for
    that reason.
    """
    metric = gate.metric
    if problem is not None:
        value = float(challenger_metrics.get(metric, float("nan")))
        return GateDecision(False, problem, metric, value, None, champion_version)
    if metric not in challenger_metrics:
        raise InputError(f"gate metric {metric!r} was not measured (measured: {sorted(challenger_metrics)})")
    value = float(challenger_metrics[metric])
    failed = [
        f"{name} {challenger_metrics.get(name, float('nan')):.4f} < floor {floor:g}"
        for name, floor in gate.floors.items()
        if not challenger_metrics.get(name, float("-inf")) >= floor
    ]

    def verdict(promote: bool, reason: str) -> GateDecision:
        return GateDecision(promote, reason, metric, value, champion_value, champion_version)

    if failed:
        return verdict(False, "floor not met: " + "; ".join(failed))
    if champion_version is None or champion_value is None:
        return verdict(True, f"no champion yet; {metric} {value:.4f} meets every floor")
    gain = value - champion_value if gate.greater_is_better else champion_value - value
    if not gate.require_gain:
        compared = f"{metric} {value:.4f} vs champion v{champion_version} {champion_value:.4f} (gain {gain:+.4f}"
        if gain >= -gate.margin:
            return verdict(True, f"{compared}, no worse than the margin {gate.margin:g}): the fresher version wins")
        return verdict(False, f"{compared}, worse than the margin {gate.margin:g}); kept as challenger")
    if gain > 0 and gain >= gate.margin:
        return verdict(
            True,
            f"{metric} {value:.4f} vs champion v{champion_version} {champion_value:.4f} "
            f"(gain {gain:+.4f} >= margin {gate.margin:g})",
        )
    return verdict(
        False,
        f"{metric} {value:.4f} vs champion v{champion_version} {champion_value:.4f} "
        f"(gain {gain:+.4f}, needs > 0 and >= margin {gate.margin:g}); kept as challenger",
    )


def apply_decision(
    client: MlflowClient, name: str, version: str, decision: GateDecision, actor: str | None = None
) -> None:
    """Tag ``version`` with the gate's decision and reason; a promotion moves the aliases."""
    client.set_model_version_tag(name, version, "gate_decision", "promoted" if decision.promote else "rejected")
    client.set_model_version_tag(name, version, "gate_reason", decision.reason)
    client.update_model_version(name, version, description=f"Gate: {decision.reason}")
    if decision.promote:
        move_alias(client, name, CHAMPION, version, f"gate: {decision.reason}", actor)
        remove_alias(client, name, CHALLENGER, f"v{version} promoted to champion", actor)


def check_gate(gate: GateSettings, measured: frozenset[str], model: str) -> None:
    """Refuse a gate metric or floor that ``model`` does not measure, before anything is fitted.

    Raises:
        InputError: one line naming the wrong metric and the valid ones.
    """
    valid = ", ".join(sorted(measured))
    if gate.metric not in measured:
        raise InputError(f"{model}: gate.metric {gate.metric!r} is not a metric {model} measures; valid: {valid}")
    unknown = sorted(set(gate.floors) - measured)
    if unknown:
        raise InputError(
            f"{model}: gate.floors name {', '.join(map(repr, unknown))}, not a metric {model} measures; valid: {valid}"
        )
