"""What every DAG shares: the config folder, default arguments, the failure callback, the Asset."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, Param

from mlops_platform.config import (
    CONFIG_DIR_ENV,
    OrchestrationSettings,
    load_models_settings,
    load_orchestration_settings,
)

_logger = logging.getLogger("mlops_dags")

# A static start date (never now()); catchup is off, so only the newest interval runs.
START_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

# Published by feature_recalculation once the snapshot of a date is committed and checked;
# daily_scoring runs on it. The event's extra carries the snapshot date.
FEATURES_ASSET = Asset(name="features/customer", uri="mlops://lake/features/customer", group="lake")

# Published by drift_retraining when its gate promoted a champion; daily_scoring runs on it too,
# for the promoted models only. The event's extra: {"promoted": {model: version}}.
CHAMPIONS_ASSET = Asset(name="registry/champions", uri="mlops://registry/champions", group="registry")

# The task log: lines logged here show at the top level of Airflow's log view (print's lines are
# grouped under the task's stdout).
TASK_LOG = logging.getLogger("airflow.task")


def log_lines(text: str) -> None:
    """Log ``text`` (a table, a decision) line by line at INFO in the task log."""
    for line in text.splitlines():
        TASK_LOG.info("%s", line)


def config_dir() -> Path:
    """``$MLOPS_CONFIG_DIR``, else the repository's ``config/`` next to ``dags/``."""
    return Path(os.environ.get(CONFIG_DIR_ENV) or Path(__file__).resolve().parents[2] / "config")


def settings() -> OrchestrationSettings:
    """``config/orchestration.yaml`` (read when a DAG file is parsed: a file read, nothing else)."""
    return load_orchestration_settings(config_dir())


def models_param(description: str) -> Param:
    """The optional ``models`` param of a trigger form: a multi-select of ``config/models.yaml``'s models.

    Empty (null or no model picked) means every model; the form does not ask for a value.
    """
    names = load_models_settings(config_dir(), env={}).trainable_names
    items = {"type": "string", "enum": names}
    return Param(None, type=["null", "array"], items=items, title="Models", description=description)


def force_param(description: str) -> Param:
    """The optional ``force`` switch of a trigger form (empty: not forced)."""
    return Param(None, type=["null", "boolean"], title="Force retraining", description=description)


DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def date_param(title: str, description: str) -> Param:
    """An optional ``date`` param of a trigger form: text in YYYY-MM-DD (empty: the DAG's default).

    A plain text field with a pattern, not ``format: date``: the form's date picker shows the
    browser's locale (mm/dd/yyyy) while every help text and the API use YYYY-MM-DD.
    """
    return Param(None, type=["null", "string"], pattern=DATE_PATTERN, title=title, description=description)


def log_failure(context: Any) -> None:
    """Failure callback: one clear line naming the DAG, task, run, try and the error."""
    ti = context["ti"]
    index = getattr(ti, "map_index", -1)
    task = ti.task_id if index is None or index < 0 else f"{ti.task_id}[{index}]"
    _logger.error(
        "mlops task failed: DAG %s, task %s, run %s, try %s: %s",
        ti.dag_id,
        task,
        context.get("run_id"),
        getattr(ti, "try_number", "?"),
        context.get("exception") or "see the task log",
    )


def default_args(orchestration: OrchestrationSettings) -> dict[str, Any]:
    """Retries with exponential back-off, a time limit and the failure callback, from config."""
    tasks = orchestration.tasks
    return {
        "owner": "mlops",
        "retries": tasks.retries,
        "retry_delay": dt.timedelta(seconds=tasks.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=tasks.max_retry_delay_minutes),
        "execution_timeout": dt.timedelta(minutes=tasks.execution_timeout_minutes),
        "on_failure_callback": log_failure,
    }


def context_environment() -> dict[str, str]:
    """Set for in-process ``mlops`` calls: the config folder the DAGs were parsed with."""
    return {CONFIG_DIR_ENV: str(config_dir())}


def run_environment(context: Any) -> dict[str, str]:
    """Run identifiers a task passes on (training records the run as a version tag)."""
    return {"AIRFLOW_CTX_DAG_ID": context["dag"].dag_id, "AIRFLOW_CTX_DAG_RUN_ID": context["run_id"]}
