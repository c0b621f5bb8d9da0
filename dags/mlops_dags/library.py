"""Opened at run time by the in-worker tasks: the lake, the platform settings, the MLflow client."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from mlops_dags.defaults import config_dir

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlops_platform.config import DriftSettings, ModelsSettings, PlatformSettings
    from mlops_platform.storage import ObjectStore


def platform_settings() -> PlatformSettings:
    from mlops_platform.config import load_platform_settings

    return load_platform_settings(config_dir())


def models_settings() -> ModelsSettings:
    from mlops_platform.config import load_models_settings

    return load_models_settings(config_dir())


def drift_settings() -> DriftSettings:
    from mlops_platform.config import load_drift_settings

    return load_drift_settings(config_dir())


def lake() -> ObjectStore:
    from mlops_platform.storage import ObjectStore

    return ObjectStore(platform_settings().storage.uri)


def mlflow_client() -> MlflowClient:
    from mlops_platform.registry import tracking

    client, _ = tracking.client_for(models_settings().tracking)
    return client


def param_date(params: dict[str, Any], name: str = "date") -> dt.date | None:
    """A date param from the trigger form (empty: None); a bad value names the param."""
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"param {name!r}: {value!r} is not a date (YYYY-MM-DD)") from None


def logical_day(context: dict[str, Any]) -> dt.date:
    """The run's logical date as a day (a manual run without one: the run's start, UTC)."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    return moment.date()
