"""Finding the config folder, reading its YAML files and applying ``MLOPS_*`` overrides.

An environment variable ``MLOPS_<SECTION>_<KEY>`` (for example ``MLOPS_STORAGE_URI``) overrides
one value; its text is parsed as YAML, so ``MLOPS_FEATURES_ARPU_BUCKET_EDGES="[1, 2, 3]"`` gives
a list. One namespace serves the four files, so a variable is checked against the sections of
all of them: one whose ``<SECTION>`` no file has (a typo such as ``MLOPS_STORGE_URI``) is an
error, as is an unknown top-level key of a file; the ``MLOPS_*`` variables the code reads for
other purposes (``RESERVED_ENV``) are not overrides. Validation errors are reported with each
key's dotted name. Nothing here reads files or the environment at import time.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mlops_platform.config.base import ConfigError
from mlops_platform.config.drift import DriftSettings
from mlops_platform.config.models import ModelsSettings
from mlops_platform.config.orchestration import OrchestrationSettings
from mlops_platform.config.platform import PlatformSettings

CONFIG_DIR_ENV = "MLOPS_CONFIG_DIR"
ENV_PREFIX = "MLOPS_"
# MLOPS_* variables that are not settings overrides: read by the code, the images, the DAG
# runner, the compose file (the default Airflow API credential names) and the dev scripts.
RESERVED_ENV = frozenset(
    {
        CONFIG_DIR_ENV,
        "MLOPS_EXECUTION_BACKEND",
        "MLOPS_CODE_VERSION",
        "MLOPS_WEBHOOK_SECRET",
        "MLOPS_SERVE_TOKEN",
        "MLOPS_AIRFLOW_USERNAME",
        "MLOPS_AIRFLOW_PASSWORD",
        "MLOPS_IMAGE",
        "MLOPS_SHARED_DATA",
        "MLOPS_TEST_IMAGE",
        "MLOPS_BASE_IMAGE",
        "MLOPS_DEBIAN_MIRROR",
        "MLOPS_ENGINE_WAIT",
        "MLOPS_ENGINE_STOP_GRACE",
    }
)
# The four files of the config folder and the settings each one is loaded into.
SETTINGS_FILES: Mapping[str, type[BaseModel]] = {
    "platform.yaml": PlatformSettings,
    "models.yaml": ModelsSettings,
    "drift.yaml": DriftSettings,
    "orchestration.yaml": OrchestrationSettings,
}

S = TypeVar("S", bound=BaseModel)


def find_config_dir(explicit: Path | None = None) -> Path:
    """Return the config folder: the argument, ``$MLOPS_CONFIG_DIR``, or ``./config``."""
    candidate = explicit or Path(os.environ.get(CONFIG_DIR_ENV, "config"))
    if not candidate.is_dir():
        raise ConfigError(
            f"config folder {str(candidate)!r} not found: run from the repository root or set {CONFIG_DIR_ENV}"
        )
    return candidate


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def section_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The sections of a file's settings model: section name -> the section's model."""
    return {
        name: field.annotation
        for name, field in model.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


def all_section_names() -> frozenset[str]:
    """Every section of the four config files (the ``<SECTION>`` an override may name)."""
    return frozenset(name for model in SETTINGS_FILES.values() for name in section_models(model))


def check_sections(source: str, data: Mapping[str, Any], sections: Collection[str]) -> None:
    """Fail on a top-level key that is not a section of the file, or a section that is not a mapping.

    Raises:
        ConfigError: naming the key and the known sections.
    """
    for name, values in data.items():
        if name not in sections:
            close = _closest(str(name), sections)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown section {str(name)!r}{hint}; known sections: {', '.join(sections)}")
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"{source}: section {name!r} must be a mapping of keys, got {values!r}")


def check_env_names(env: Mapping[str, str], sections: Collection[str]) -> None:
    """Fail on an ``MLOPS_*`` variable that is neither reserved nor ``MLOPS_<SECTION>_<KEY>`` of a known section.

    Raises:
        ConfigError: naming the variable, the known sections and the reserved names.
    """
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV:
            continue
        if _section_of(var, sections) is None:
            close = _closest(var[len(ENV_PREFIX) :].split("_")[0], sections)
            hint = f" (did you mean {ENV_PREFIX}{close.upper()}_...?)" if close else ""
            known = ", ".join(sorted(sections))
            raise ConfigError(
                f"{var}: no config section matches{hint}; "
                f"an override is {ENV_PREFIX}<SECTION>_<KEY> with SECTION one of {known}; "
                f"other {ENV_PREFIX}* variables read: {', '.join(sorted(RESERVED_ENV))}"
            )


def _section_of(var: str, sections: Collection[str]) -> str | None:
    rest = var[len(ENV_PREFIX) :].lower()
    return next((s for s in sorted(sections, key=len, reverse=True) if rest.startswith(s + "_")), None)


def _closest(name: str, known: Collection[str]) -> str | None:
    close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.7)
    return close[0] if close else None


def apply_env_overrides(
    data: dict[str, Any], env: Mapping[str, str], sections: Mapping[str, type[BaseModel]]
) -> dict[str, Any]:
    """Return ``data`` with every ``MLOPS_<SECTION>_<KEY>`` variable applied.

    Args:
        data: the parsed YAML, section -> key -> value.
        env: the environment to read.
        sections: the known section names and their models (to resolve the key names).

    Raises:
        ConfigError: a variable names an unknown key of a known section, or its value is not YAML.
    """
    merged = {name: dict(values or {}) for name, values in data.items()}
    for var, text in env.items():
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV:
            continue
        section = _section_of(var, sections)
        if section is None:
            continue  # a section of another config file (see check_env_names)
        key = var[len(ENV_PREFIX) + len(section) + 1 :].lower()
        if key not in sections[section].model_fields:
            known = ", ".join(sections[section].model_fields)
            raise ConfigError(f"{var}: {section}.{key} is not a known setting; known keys of {section}: {known}")
        try:
            merged.setdefault(section, {})[key] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{var}: value is not valid YAML: {exc}") from exc
    return merged


def _format_validation_error(source: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        if err["type"] == "missing":
            problems.append(f"{key}: missing (required)")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key")
        else:
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return f"{source}: " + "; ".join(problems)


def load_section_file(model: type[S], path: Path, env: Mapping[str, str] | None = None) -> S:
    """Load one YAML file into ``model`` with the environment overrides applied.

    Raises:
        ConfigError: an unknown section, an ``MLOPS_*`` variable of no section of any config
            file, an unknown key or a bad value; the message names it.
    """
    env = os.environ if env is None else env
    sections = section_models(model)
    data = _read_yaml(path)
    check_sections(str(path), data, list(sections))
    check_env_names(env, all_section_names() | set(sections))
    merged = apply_env_overrides(data, env, sections)
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(str(path), exc)) from None


def load_platform_settings(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> PlatformSettings:
    """Load ``platform.yaml`` from the config folder, with ``MLOPS_*`` overrides."""
    return load_section_file(PlatformSettings, find_config_dir(config_dir) / "platform.yaml", env)


def load_models_settings(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> ModelsSettings:
    """Load ``models.yaml``; ``MLFLOW_TRACKING_URI`` wins over its tracking uri unless ``MLOPS_TRACKING_URI`` is set."""
    env = os.environ if env is None else env
    settings = load_section_file(ModelsSettings, find_config_dir(config_dir) / "models.yaml", env)
    if env.get("MLFLOW_TRACKING_URI") and "MLOPS_TRACKING_URI" not in env:
        tracking = settings.tracking.model_copy(update={"uri": env["MLFLOW_TRACKING_URI"]})
        settings = settings.model_copy(update={"tracking": tracking})
    return settings


def load_drift_settings(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> DriftSettings:
    """Load ``drift.yaml``, with ``MLOPS_DECISION_*``/``MLOPS_RETRAIN_*``/``MLOPS_REEVALUATION_*`` overrides."""
    return load_section_file(DriftSettings, find_config_dir(config_dir) / "drift.yaml", env)


def load_orchestration_settings(
    config_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> OrchestrationSettings:
    """Load ``orchestration.yaml``, with ``MLOPS_RUNNER_*``, ``MLOPS_DOCKER_*`` ... overrides."""
    return load_section_file(OrchestrationSettings, find_config_dir(config_dir) / "orchestration.yaml", env)
