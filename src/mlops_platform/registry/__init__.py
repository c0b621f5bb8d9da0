"""The MLflow side of the platform: runs, registered versions, their aliases and the gate.

- :mod:`~mlops_platform.registry.tracking`: the MLflow client, runs (one context manager that ends
  a run FINISHED or FAILED), batched logging and model versions;
- :mod:`~mlops_platform.registry.alias_history`: the alias history and its reconciliation;
- :mod:`~mlops_platform.registry.aliases`: moving ``champion``/``challenger``, promote, roll back;
- :mod:`~mlops_platform.registry.gate`: the promotion gate's decision and how it is applied;
- :mod:`~mlops_platform.registry.webhooks`: the receiver of MLflow's alias webhooks.

The names most callers need are re-exported here (``registry.CHAMPION``, ``registry.move_alias``).
"""

from mlops_platform.registry.alias_history import (
    ALIASES,
    CHALLENGER,
    CHAMPION,
    EVENT_TAG_PREFIX,
    OUTSIDE,
    STATE_TAG,
    AliasEvent,
    current_aliases,
    default_actor,
    history,
    known_state,
    now_iso,
    reconcile_aliases,
    record_event,
)
from mlops_platform.registry.aliases import (
    find_version_by_run_key,
    model_exists,
    move_alias,
    promote,
    remove_alias,
    require_champion,
    rollback,
    version_by_alias,
)
from mlops_platform.registry.gate import GateDecision, apply_decision, decide

__all__ = [
    "ALIASES",
    "CHALLENGER",
    "CHAMPION",
    "EVENT_TAG_PREFIX",
    "OUTSIDE",
    "STATE_TAG",
    "AliasEvent",
    "GateDecision",
    "apply_decision",
    "current_aliases",
    "decide",
    "default_actor",
    "find_version_by_run_key",
    "history",
    "known_state",
    "model_exists",
    "move_alias",
    "now_iso",
    "promote",
    "reconcile_aliases",
    "record_event",
    "remove_alias",
    "require_champion",
    "rollback",
    "version_by_alias",
]
