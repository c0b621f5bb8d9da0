"""Typed settings of ``config/drift.yaml``: the drift decision, forced retraining, re-evaluation."""

from __future__ import annotations

from pydantic import Field, field_validator

from mlops_platform.config.base import _Section

# Evidently stat tests (by their registered names) that fit each column kind.
NUMERICAL_DRIFT_METHODS = (
    "wasserstein",
    "ks",
    "psi",
    "jensenshannon",
    "kl_div",
    "hellinger",
    "anderson",
    "cramer_von_mises",
    "energy_distance",
    "mannw",
    "t_test",
)
CATEGORICAL_DRIFT_METHODS = ("jensenshannon", "chisquare", "psi", "kl_div", "hellinger", "TVD", "g_test", "z")


class DriftDecisionSettings(_Section):
    """How a feature snapshot is judged against the champion's training reference."""

    drifted_share_threshold: float = Field(
        gt=0, le=1, description="retrain when at least this share of the tested columns drifted"
    )
    numerical_method: str = Field(description="Evidently stat test of numeric columns")
    categorical_method: str = Field(description="Evidently stat test of categorical columns")
    per_column_threshold: float = Field(
        gt=0, description="a column drifts when its p-value is below / its distance is at least this"
    )
    sample_rows: int = Field(gt=0, description="seeded sample cap on each side before testing")
    seed: int

    @field_validator("numerical_method")
    @classmethod
    def _numerical(cls, value: str) -> str:
        if value not in NUMERICAL_DRIFT_METHODS:
            raise ValueError(f"must be one of {', '.join(NUMERICAL_DRIFT_METHODS)}")
        return value

    @field_validator("categorical_method")
    @classmethod
    def _categorical(cls, value: str) -> str:
        if value not in CATEGORICAL_DRIFT_METHODS:
            raise ValueError(f"must be one of {', '.join(CATEGORICAL_DRIFT_METHODS)}")
        return value


class RetrainSettings(_Section):
    """When a champion is retrained regardless of drift."""

    max_champion_age_days: int = Field(gt=0, description="days of data time after which a champion is stale")


class ReevaluationSettings(_Section):
    """The monthly re-evaluation of the champions on the newest labelled window."""

    models: list[str] = Field(
        min_length=1, description="models re-evaluated when none is named (names of config/models.yaml)"
    )
    tolerance: float = Field(
        ge=0, lt=1, description="relative worsening of the gate metric since training that is still not degraded"
    )
    min_rows: int = Field(gt=0, description="fewer labelled rows on the window: skipped, not judged")
    trigger_retraining: bool = Field(description="the monthly DAG retrains degraded models (drift_retraining, forced)")


class DriftSettings(_Section):
    """Everything in ``config/drift.yaml``."""

    decision: DriftDecisionSettings
    retrain: RetrainSettings
    reevaluation: ReevaluationSettings
