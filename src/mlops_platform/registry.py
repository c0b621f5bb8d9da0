"""The MLflow model registry: versions, the ``champion``/``challenger`` aliases and their history.

MLflow keeps no history of alias moves, so every move made through the platform is written
as a tag of the registered model (``mlops.alias_event.<time>``: time, who, alias, from, to,
reason), next to the last alias state the platform knows (``mlops.alias_state``). A move made
by hand in the MLflow UI is caught by the webhook receiver (``webhooks.py``) or, where no
webhook can be delivered, by :func:`reconcile_aliases`, which any command calls: it records
the difference between MLflow's aliases and the known state as a move made outside the
platform, at the time it was first seen. Stages are never used.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import uuid
from dataclasses import asdict, dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from mlops_platform.config import GateSettings
from mlops_platform.errors import InputError

_logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)
EVENT_TAG_PREFIX = "mlops.alias_event."
STATE_TAG = "mlops.alias_state"
OUTSIDE = "outside the platform"


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias: ``to_version`` None means the alias was removed."""

    time: str
    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    actor: str
    reason: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class GateDecision:
    """What the promotion gate decided for one challenger."""

    promote: bool
    reason: str
    metric: str
    challenger_value: float
    champion_value: float | None
    champion_version: str | None


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def default_actor() -> str:
    try:
        return f"mlops ({getpass.getuser()})"
    except (KeyError, OSError):
        return "mlops"


# -- aliases and their history ------------------------------------------------------------------
def current_aliases(client: MlflowClient, name: str) -> dict[str, str]:
    """Alias -> version of the platform's aliases on registered model ``name``."""
    model = client.get_registered_model(name)
    return {alias: str(version) for alias, version in model.aliases.items() if alias in ALIASES}


def known_state(client: MlflowClient, name: str) -> dict[str, str]:
    """The alias state the platform last recorded for ``name``."""
    tags = client.get_registered_model(name).tags
    try:
        return {k: str(v) for k, v in json.loads(tags.get(STATE_TAG, "{}")).items()}
    except ValueError:
        return {}


def _write_event(client: MlflowClient, event: AliasEvent) -> None:
    stamp = event.time.replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    key = f"{EVENT_TAG_PREFIX}{stamp}-{uuid.uuid4().hex[:6]}"
    client.set_registered_model_tag(event.model, key, event.to_json())


def record_event(client: MlflowClient, event: AliasEvent, state: dict[str, str]) -> None:
    """Write one history event and the new known state onto the registered model."""
    _write_event(client, event)
    client.set_registered_model_tag(event.model, STATE_TAG, json.dumps(state, sort_keys=True))


def history(client: MlflowClient, name: str) -> list[AliasEvent]:
    """Every recorded alias move of ``name``, oldest first."""
    tags = client.get_registered_model(name).tags
    events = []
    for key in sorted(k for k in tags if k.startswith(EVENT_TAG_PREFIX)):
        try:
            events.append(AliasEvent(**json.loads(tags[key])))
        except (ValueError, TypeError):
            _logger.warning("ignoring unreadable history tag %s of %s", key, name)
    return sorted(events, key=lambda e: e.time)


def reconcile_aliases(client: MlflowClient, name: str, seen_by: str = "mlops") -> list[AliasEvent]:
    """Record alias moves made outside the platform since the last known state.

    Returns:
        The events recorded now (empty when MLflow agrees with the known state).
    """
    try:
        actual = current_aliases(client, name)
    except MlflowException:
        return []
    known = known_state(client, name)
    events = []
    for alias in ALIASES:
        if actual.get(alias) != known.get(alias):
            event = AliasEvent(
                time=now_iso(),
                model=name,
                alias=alias,
                from_version=known.get(alias),
                to_version=actual.get(alias),
                actor=OUTSIDE,
                reason=f"alias found moved (first seen by {seen_by})",
            )
            known = (
                {**known, alias: actual[alias]} if alias in actual else {k: v for k, v in known.items() if k != alias}
            )
            record_event(client, event, known)
            events.append(event)
    return events


def move_alias(
    client: MlflowClient, name: str, alias: str, version: str, reason: str, actor: str | None = None
) -> AliasEvent | None:
    """Point ``alias`` of ``name`` at ``version`` and record the move (None if already there).

    The known state is written before the alias moves, so the webhook that MLflow sends for
    this very move finds nothing new and records nothing twice.
    """
    reconcile_aliases(client, name)
    before = current_aliases(client, name)
    if before.get(alias) == str(version):
        return None
    after = {**before, alias: str(version)}
    event = AliasEvent(now_iso(), name, alias, before.get(alias), str(version), actor or default_actor(), reason)
    _apply(client, name, before, after, lambda: client.set_registered_model_alias(name, alias, str(version)))
    _write_event(client, event)
    return event


def remove_alias(client: MlflowClient, name: str, alias: str, reason: str, actor: str | None = None) -> None:
    """Delete ``alias`` from ``name`` (if set) and record it."""
    reconcile_aliases(client, name)
    before = current_aliases(client, name)
    if alias not in before:
        return
    after = {k: v for k, v in before.items() if k != alias}
    event = AliasEvent(now_iso(), name, alias, before[alias], None, actor or default_actor(), reason)
    _apply(client, name, before, after, lambda: client.delete_registered_model_alias(name, alias))
    _write_event(client, event)


def _apply(client: MlflowClient, name: str, before: dict[str, str], after: dict[str, str], move) -> None:  # noqa: ANN001
    """Write the new known state, move the alias, and restore the state if the move fails."""
    client.set_registered_model_tag(name, STATE_TAG, json.dumps(after, sort_keys=True))
    try:
        move()
    except BaseException:
        client.set_registered_model_tag(name, STATE_TAG, json.dumps(before, sort_keys=True))
        raise


def model_exists(client: MlflowClient, name: str) -> bool:
    """Whether registered model ``name`` exists."""
    try:
        client.get_registered_model(name)
        return True
    except MlflowException:
        return False


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def find_version_by_run_key(client: MlflowClient, name: str, run_key: str) -> ModelVersion | None:
    """The version of ``name`` registered under ``run_key``, if any (idempotent training)."""
    safe = run_key.replace("'", "")
    try:
        found = client.search_model_versions(f"name='{name}' and tags.run_key='{safe}'")
    except MlflowException:
        return None
    return min(found, key=lambda v: int(v.version)) if found else None


def promote(client: MlflowClient, name: str, version: str, reason: str, actor: str | None = None) -> AliasEvent | None:
    """Make ``version`` the champion (checking it exists first)."""
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise InputError(f"model {name!r} has no version {version}") from None
    return move_alias(client, name, CHAMPION, str(version), reason, actor)


def rollback(client: MlflowClient, name: str, actor: str | None = None) -> AliasEvent:
    """Move ``champion`` back to the version that held it before the current one."""
    reconcile_aliases(client, name)
    current = current_aliases(client, name).get(CHAMPION)
    if current is None:
        raise InputError(f"model {name!r} has no champion to roll back")
    previous = [
        e.from_version
        for e in history(client, name)
        if e.alias == CHAMPION and e.to_version == current and e.from_version not in (None, current)
    ]
    if not previous:
        raise InputError(f"model {name!r}: no earlier champion recorded before version {current}")
    event = move_alias(client, name, CHAMPION, previous[-1], f"rollback from version {current}", actor)
    assert event is not None
    return event


# -- the promotion gate -------------------------------------------------------------------------
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
