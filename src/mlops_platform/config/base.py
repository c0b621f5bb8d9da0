"""The base of every settings section and the error raised for a bad config.

Each section model forbids unknown keys and is frozen, so a typo in a YAML file fails loudly
and loaded settings cannot be changed by accident.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(ValueError):
    """A config file or override is missing, unknown or invalid; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
