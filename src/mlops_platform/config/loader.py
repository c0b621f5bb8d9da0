"""Finding the config folder, reading its YAML files and applying ``MLOPS_*`` overrides.

An environment variable ``MLOPS_<SECTION>_<KEY>`` (for example ``MLOPS_STORAGE_URI``) overrides
one value; its text is parsed as YAML, so ``MLOPS_FEATURES_ARPU_BUCKET_EDGES="[1, 2, 3]"`` gives
a list. Validation errors are reported with each key's dotted name. Nothing here reads files or
the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlops_platform.config.base import ConfigError

CONFIG_DIR_ENV = "MLOPS_CONFIG_DIR"
ENV_PREFIX = "MLOPS_"
# MLOPS_* variables that are not settings overrides.
RESERVED_ENV = frozenset({CONFIG_DIR_ENV})


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


def apply_env_overrides(
    data: dict[str, Any], env: Mapping[str, str], sections: Mapping[str, type[BaseModel]]
) -> dict[str, Any]:
    """Return ``data`` with every ``MLOPS_<SECTION>_<KEY>`` variable applied.

    Args:
        data: the parsed YAML, section -> key -> value.
        env: the environment to read.
        sections: the known section names and their models (to resolve the key names).

    Raises:
        ConfigError: a variable names an unknown section or key, or its value is not YAML.
    """
    merged = {name: dict(values or {}) for name, values in data.items()}
    for var, text in env.items():
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV:
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        section = next((s for s in sorted(sections, key=len, reverse=True) if rest.startswith(s + "_")), None)
        if section is None:
            continue  # belongs to another config file or to a tool; not ours to judge
        key = rest[len(section) + 1 :]
        if key not in sections[section].model_fields:
            raise ConfigError(f"{var}: {section}.{key} is not a known setting")
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


def load_section_file(model: type[BaseModel], path: Path, env: Mapping[str, str] | None = None) -> Any:
    """Load one YAML file into ``model`` with the environment overrides applied."""
    env = os.environ if env is None else env
    sections = {
        name: field.annotation
        for name, field in model.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }
    data = apply_env_overrides(_read_yaml(path), env, sections)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(str(path), exc)) from None
