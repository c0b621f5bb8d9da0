"""The alias history: every move of ``champion``/``challenger``, who made it and why.

MLflow keeps no history of alias moves, so every move made through the platform is written
as a tag of the registered model (``mlops.alias_event.<time>``: time, who, alias, from, to,
reason), next to the last alias state the platform knows (``mlops.alias_state``). A move made
by hand in the MLflow UI is caught by the webhook receiver (:mod:`~mlops_platform.registry.webhooks`)
or, where no webhook can be delivered, by :func:`reconcile_aliases`, which any command calls: it
records the difference between MLflow's aliases and the known state as a move made outside the
platform, at the time it was first seen.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import uuid
from dataclasses import asdict, dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

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


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def default_actor() -> str:
    try:
        return f"mlops ({getpass.getuser()})"
    except (KeyError, OSError):
        return "mlops"


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


def write_event(client: MlflowClient, event: AliasEvent) -> None:
    stamp = event.time.replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    key = f"{EVENT_TAG_PREFIX}{stamp}-{uuid.uuid4().hex[:6]}"
    client.set_registered_model_tag(event.model, key, event.to_json())


def record_event(client: MlflowClient, event: AliasEvent, state: dict[str, str]) -> None:
    """Write one history event and the new known state onto the registered model."""
    write_event(client, event)
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
