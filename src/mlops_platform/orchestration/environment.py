"""The environment a task gets: plain variables and secrets, split by ``config/orchestration.yaml``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlops_platform.config import CONFIG_DIR_ENV, OrchestrationSettings, looks_secret

_logger = logging.getLogger(__name__)

# Set by the training-task image (``container``) and by the local backend; training records it
# as the version tag ``execution_backend``, so it is never copied from the worker.
BACKEND_ENV = "MLOPS_EXECUTION_BACKEND"


@dataclass(frozen=True)
class TaskEnvironment:
    """Variables for a task container: ``plain`` may be shown and logged, ``secret`` never."""

    plain: dict[str, str] = field(default_factory=dict)
    secret: dict[str, str] = field(default_factory=dict)


def _wanted(name: str, patterns: list[str]) -> bool:
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def task_environment(settings: OrchestrationSettings, environ: Mapping[str, str]) -> TaskEnvironment:
    """Pick the task's variables out of the worker's ``environ``.

    Secrets (``runner.secret_env``) and the Airflow API credentials never go into ``plain``,
    even when a prefix such as ``MLOPS_*`` would match them; nor does any other variable whose
    name looks secret (``looks_secret``: SECRET, TOKEN, PASSWORD, KEY, CREDENTIAL): it is dropped,
    since only the names of ``runner.secret_env`` have a secret channel on every backend (a key
    of the Kubernetes Secret); nor does the worker's config folder (``MLOPS_CONFIG_DIR``), a path
    the container does not have: the image has its own; nor ``MLOPS_EXECUTION_BACKEND``, which
    the image sets itself.
    """
    withheld = set(settings.runner.secret_env) | {
        CONFIG_DIR_ENV,
        BACKEND_ENV,
        settings.airflow_api.username_env,
        settings.airflow_api.password_env,
    }
    wanted = sorted(name for name in environ if name not in withheld and _wanted(name, settings.runner.env))
    dropped = [name for name in wanted if looks_secret(name)]
    if dropped:
        _logger.warning(
            "not passed to the task (the names look secret; list them under runner.secret_env): %s",
            ", ".join(dropped),
        )
    plain = {name: environ[name] for name in wanted if not looks_secret(name)}
    secret = {name: environ[name] for name in settings.runner.secret_env if name in environ}
    return TaskEnvironment(plain=plain, secret=secret)
