"""Typed settings of ``config/models.yaml``: tracking, training sets, the model zoo, the recommender.

Each model's ``targets`` are report lines such as ``{roc_auc: "> 0.85"}``, parsed on load; its
``gate`` is the champion/challenger rule. ``MLFLOW_TRACKING_URI`` wins over the file's tracking
uri unless ``MLOPS_TRACKING_URI`` is set.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from mlops_platform.config.base import ConfigError, _Section

LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "brier", "davies_bouldin", "rmse_buyers", "mae_buyers"})
_TARGET_OPS = (">=", "<=", ">", "<")


class Target(_Section):
    """A seed target as a report line: ``metric op value`` (e.g. ``roc_auc > 0.85``)."""

    metric: str
    op: str
    value: float

    def holds(self, measured: float | None) -> bool:
        if measured is None:
            return False
        return {
            ">": measured > self.value,
            ">=": measured >= self.value,
            "<": measured < self.value,
            "<=": measured <= self.value,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_target(metric: str, text: str) -> Target:
    """Parse ``"> 0.85"`` for ``metric``; the error names the metric."""
    stripped = str(text).strip()
    for op in _TARGET_OPS:
        if stripped.startswith(op):
            try:
                return Target(metric=metric, op=op, value=float(stripped[len(op) :]))
            except ValueError:
                break
    raise ValueError(f"target for {metric} must look like '> 0.85' (ops: > >= < <=), got {text!r}")


class TrackingSettings(_Section):
    """Where MLflow keeps runs and the registry."""

    uri: str
    artifact_location: str
    experiment: str = Field(min_length=1)


class TrainingSetSettings(_Section):
    """How training sets stack snapshot dates."""

    dates: int = Field(gt=0)
    step_days: int = Field(gt=0)
    holdout_dates: int = Field(gt=0)
    reference_rows: int = Field(gt=0, le=50_000)
    seed: int


class GateSettings(_Section):
    """The champion/challenger gate of one model."""

    metric: str
    margin: float = Field(ge=0)
    floors: dict[str, float]
    require_gain: bool = Field(
        default=True,
        description=(
            "True: the challenger must beat the champion by the margin. False (a model retrained to take "
            "in new data): it is promoted unless it is worse than the champion by more than the margin"
        ),
    )

    @property
    def greater_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER


class _WithTargets(_Section):
    """A model section's ``targets``: report lines such as ``{roc_auc: "> 0.85"}``, checked on load."""

    targets: dict[str, str]

    @field_validator("targets")
    @classmethod
    def _parse_targets(cls, value: dict[str, str]) -> dict[str, str]:
        for metric, text in value.items():
            parse_target(metric, text)
        return value

    def target_lines(self) -> list[Target]:
        return [parse_target(metric, text) for metric, text in self.targets.items()]


class ModelSettings(_WithTargets):
    """One model of the zoo."""

    target: str | None
    params: dict[str, Any]
    gate: GateSettings


RECOMMENDER_LOSSES = ("warp", "bpr", "warp-kos")


class CandidateSettings(_Section):
    """The LightFM candidate generator: an ensemble of losses, each a model with these settings."""

    losses: dict[str, float] = Field(
        min_length=1, description="loss (warp, bpr, warp-kos) -> weight in the ensemble; one entry: a single model"
    )
    components: int = Field(gt=0, description="latent dimensions")
    epochs: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    item_alpha: float = Field(ge=0, description="L2 penalty on item feature embeddings")
    user_alpha: float = Field(ge=0, description="L2 penalty on user feature embeddings")
    max_sampled: int = Field(gt=0, description="negatives WARP samples before giving up")
    k_candidates: int = Field(gt=0, description="candidates per customer handed to the ranker")
    half_life_days: float = Field(gt=0, description="an interaction this old weighs half a fresh one")
    seed: int

    @field_validator("losses")
    @classmethod
    def _known_losses(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [name for name in value if name not in RECOMMENDER_LOSSES]
        if unknown:
            raise ValueError(f"unknown loss(es) {', '.join(unknown)}; known: {', '.join(RECOMMENDER_LOSSES)}")
        if any(weight < 0 for weight in value.values()) or sum(value.values()) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {value}")
        return value


class RankerSettings(_Section):
    """The XGBoost learning-to-rank model that re-orders the candidates."""

    objective: Literal["rank:ndcg", "rank:pairwise", "rank:map"]
    n_estimators: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    max_depth: int = Field(gt=0)
    min_child_weight: float = Field(ge=0)
    subsample: float = Field(gt=0, le=1)
    horizon_days: int = Field(gt=0, description="labels: purchases in this many days after the ranker's cut-off")
    candidate_weight: float = Field(
        ge=0, le=1, description="share of the candidate score in the final score (0: the ranker's order alone)"
    )
    seed: int


class TenureStep(_Section):
    """Up to ``until_day`` days of tenure (inclusive; null: for ever), this share of the score is collaborative."""

    until_day: int | None = Field(ge=0)
    collaborative: float = Field(ge=0, le=1)


class ColdStartSettings(_Section):
    """Scores of customers with little or no history."""

    popularity_blend: float = Field(ge=0, le=1, description="share of segment popularity in the content score")
    popularity_days: int | None = Field(gt=0, description="popularity counts buyers of this many days; null: all")
    tenure_schedule: list[TenureStep] = Field(min_length=1)

    @field_validator("tenure_schedule")
    @classmethod
    def _ordered(cls, value: list[TenureStep]) -> list[TenureStep]:
        days = [step.until_day for step in value]
        if days[-1] is not None or None in days[:-1]:
            raise ValueError("only the last step (and it must) has until_day null")
        bounded = [day for day in days[:-1] if day is not None]  # every step but the last, all set
        if any(a >= b for a, b in zip(bounded[:-1], bounded[1:], strict=True)):
            raise ValueError(f"until_day must increase, got {days}")
        return value


class RecommenderSettings(_WithTargets):
    """The recommender: LightFM candidates, an XGBoost ranker, the cold-start fallback."""

    candidates: CandidateSettings
    ranker: RankerSettings
    cold_start: ColdStartSettings
    top_n: int = Field(gt=0, description="recommendations per customer")
    reasons: int = Field(ge=0, description="plain-language reasons per recommendation")
    exclude_purchased: bool = Field(description="never recommend a product the customer already bought")
    gate: GateSettings


class ModelsSettings(_Section):
    """Everything in ``config/models.yaml``."""

    tracking: TrackingSettings
    training_sets: TrainingSetSettings
    churn: ModelSettings
    conversion: ModelSettings
    revenue: ModelSettings
    segmentation: ModelSettings
    recommender: RecommenderSettings

    def model(self, name: str) -> ModelSettings:
        """Settings of model ``name``; unknown names are an error listing the known ones."""
        known = [n for n, f in type(self).model_fields.items() if f.annotation is ModelSettings]
        if name not in known:
            raise ConfigError(f"unknown model {name!r}; known models: {', '.join(known)}")
        return getattr(self, name)

    @property
    def model_names(self) -> list[str]:
        """The customer models of the zoo (the sections typed ``ModelSettings``)."""
        return [n for n, f in type(self).model_fields.items() if f.annotation is ModelSettings]

    @property
    def trainable_names(self) -> list[str]:
        """Every registered model the DAGs train, check and re-evaluate: the zoo, then the recommender."""
        return [*self.model_names, "recommender"]

    def gate(self, name: str) -> GateSettings:
        """The promotion gate of any trainable model."""
        return self.recommender.gate if self.check_trainable(name) == "recommender" else self.model(name).gate

    def check_trainable(self, name: str) -> str:
        """``name`` if it is a trainable model, else a ConfigError listing the known ones."""
        if name not in self.trainable_names:
            raise ConfigError(f"unknown model {name!r}; known models: {', '.join(self.trainable_names)}")
        return name
