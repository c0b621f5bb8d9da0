"""The ``champion`` and ``challenger`` aliases of registered models: move, remove, promote, roll back.

Every move is recorded in the alias history (:mod:`~mlops_platform.registry.alias_history`) before it is
made, so the webhook MLflow sends for it finds nothing new. Stages are never used.
"""

from __future__ import annotations

import json
import logging

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from mlops_platform.errors import InputError, NoChampionError
from mlops_platform.registry.alias_history import (
    CHAMPION,
    STATE_TAG,
    AliasEvent,
    current_aliases,
    default_actor,
    history,
    now_iso,
    reconcile_aliases,
    write_event,
)

_logger = logging.getLogger(__name__)


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
    write_event(client, event)
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
    write_event(client, event)


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


def require_champion(client: MlflowClient, name: str, seen_by: str = "mlops", how: str | None = None) -> ModelVersion:
    """The champion version of ``name``, after the aliases were reconciled with the history.

    Args:
        how: what the user can do about a missing champion (default: train it or promote a version).

    Raises:
        NoChampionError: ``name`` has no champion; the message says how to get one.
    """
    reconcile_aliases(client, name, seen_by=seen_by)
    champion = version_by_alias(client, name, CHAMPION)
    if champion is None:
        hint = how or f"train it or run `mlops promote {name} VERSION`"
        raise NoChampionError(f"model {name!r} has no champion: {hint}")
    return champion
