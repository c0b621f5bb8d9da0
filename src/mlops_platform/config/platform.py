"""Typed settings of ``config/platform.yaml``: storage, dates, generator, features, labels, validation.

Every YAML key is required and every unknown key is rejected; ``MLOPS_<SECTION>_<KEY>``
variables (for example ``MLOPS_STORAGE_URI``) override single values (see ``loader``).
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from mlops_platform.config.base import _Section


class StorageSettings(_Section):
    """Where the lake lives."""

    uri: str = Field(description="file://<path> or s3://<bucket>[/<prefix>]")
    gc_grace_hours: float = Field(ge=0, description="age before unreferenced files are removed")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not (value.startswith("file://") or value.startswith("s3://")):
            raise ValueError(f"must start with file:// or s3://, got {value!r}")
        if value.startswith("s3://") and not value[len("s3://") :].strip("/"):
            raise ValueError("s3:// needs a bucket name")
        return value


class DateSettings(_Section):
    """Fixed dates of the demo timeline."""

    start: dt.date


class GeneratorSettings(_Section):
    """Defaults of ``mlops data generate``."""

    customers: int = Field(gt=0)
    days: int = Field(gt=0)
    seed: int


class FeatureSettings(_Section):
    """Windows (in days before the snapshot date) and bucket edges of the customer features."""

    activity_window_days: int = Field(gt=0)
    rfm_window_days: int = Field(gt=0)
    arpu_window_days: int = Field(gt=0)
    usage_short_days: int = Field(gt=0)
    usage_long_days: int = Field(gt=0)
    events_window_days: int = Field(gt=0)
    arpu_bucket_edges: tuple[float, float, float]

    @field_validator("arpu_bucket_edges")
    @classmethod
    def _increasing(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not (0 < value[0] < value[1] < value[2]):
            raise ValueError(f"must be three positive, strictly increasing numbers, got {value}")
        return value

    @property
    def longest_window_days(self) -> int:
        """The furthest back any feature looks."""
        return max(
            self.activity_window_days,
            self.rfm_window_days,
            self.arpu_window_days,
            self.usage_short_days,
            self.usage_long_days,
            self.events_window_days,
        )


class LabelSettings(_Section):
    """Label horizons, counted from the snapshot date itself."""

    churn_horizon_days: int = Field(gt=0)
    conversion_horizon_days: int = Field(gt=0)
    revenue_horizon_days: int = Field(gt=0)

    @property
    def longest_horizon_days(self) -> int:
        return max(self.churn_horizon_days, self.conversion_horizon_days, self.revenue_horizon_days)


class ValidationSettings(_Section):
    """Thresholds of the raw-data contracts."""

    max_missing_share: float = Field(ge=0, le=1)
    min_history_days: int = Field(ge=0)
    example_ids: int = Field(gt=0)


class PlatformSettings(_Section):
    """Everything in ``config/platform.yaml``."""

    storage: StorageSettings
    dates: DateSettings
    generator: GeneratorSettings
    features: FeatureSettings
    labels: LabelSettings
    validation: ValidationSettings
