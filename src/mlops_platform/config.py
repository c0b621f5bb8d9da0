"""Typed settings loaded from ``config/*.yaml`` and overridden by ``MLOPS_*`` variables.

Every YAML key is required and every unknown key is rejected, so a typo or a deleted line
fails loudly with the key's dotted name. An environment variable
``MLOPS_<SECTION>_<KEY>`` (for example ``MLOPS_STORAGE_URI``) overrides one value; its text
is parsed as YAML, so ``MLOPS_FEATURES_ARPU_BUCKET_EDGES="[1, 2, 3]"`` gives a list.
Nothing here reads files or the environment at import time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_logger = logging.getLogger(__name__)

CONFIG_DIR_ENV = "MLOPS_CONFIG_DIR"
ENV_PREFIX = "MLOPS_"
# MLOPS_* variables that are not settings overrides.
RESERVED_ENV = frozenset({CONFIG_DIR_ENV})


class ConfigError(ValueError):
    """A config file or override is missing, unknown or invalid; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


def load_platform_settings(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> PlatformSettings:
    """Load ``platform.yaml`` from the config folder, with ``MLOPS_*`` overrides."""
    return load_section_file(PlatformSettings, find_config_dir(config_dir) / "platform.yaml", env)


# -- config/models.yaml ------------------------------------------------------------------------

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
        if any(a >= b for a, b in zip(days[:-2], days[1:-1], strict=True)):
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


def load_models_settings(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> ModelsSettings:
    """Load ``models.yaml``; ``MLFLOW_TRACKING_URI`` wins over the file's tracking uri."""
    env = os.environ if env is None else env
    settings = load_section_file(ModelsSettings, find_config_dir(config_dir) / "models.yaml", env)
    if env.get("MLFLOW_TRACKING_URI") and "MLOPS_TRACKING_URI" not in env:
        tracking = settings.tracking.model_copy(update={"uri": env["MLFLOW_TRACKING_URI"]})
        settings = settings.model_copy(update={"tracking": tracking})
    return settings


# -- config/drift.yaml -------------------------------------------------------------------------

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


def load_drift_settings(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> DriftSettings:
    """Load ``drift.yaml``, with ``MLOPS_DECISION_*``/``MLOPS_RETRAIN_*``/``MLOPS_REEVALUATION_*`` overrides."""
    return load_section_file(DriftSettings, find_config_dir(config_dir) / "drift.yaml", env)


# -- config/orchestration.yaml -----------------------------------------------------------------

BACKENDS = ("local", "docker", "kubernetes")


class RunnerSettings(_Section):
    """Where the DAG tasks run the ``mlops`` command: in the worker, in Docker or in a Kubernetes pod."""

    backend: Literal["local", "docker", "kubernetes"] = Field(description="local, docker or kubernetes")
    image: str = Field(min_length=1, description="the training-task image built from the Dockerfile")
    env: list[str] = Field(description="variables copied from the worker into the task as plain environment")
    secret_env: list[str] = Field(description="secret variables: private environment / Kubernetes secret keys")


class DockerSettings(_Section):
    """DockerOperator settings of the ``docker`` backend."""

    url: str = Field(min_length=1, description="Docker engine socket")
    network_mode: str = Field(min_length=1, description="host keeps all traffic on loopback")
    auto_remove: Literal["never", "success", "force"]


class KubernetesSettings(_Section):
    """KubernetesPodOperator settings of the ``kubernetes`` backend."""

    namespace: str = Field(min_length=1)
    secret_name: str = Field(min_length=1, description="Kubernetes Secret holding the secret_env keys")
    in_cluster: bool
    on_finish_action: Literal["delete_pod", "delete_succeeded_pod", "keep_pod"]
    startup_timeout_seconds: int = Field(gt=0)


class SensorSettings(_Section):
    """How ``feature_recalculation`` waits for the raw partitions of the previous day."""

    poke_interval_seconds: float = Field(gt=0)
    timeout_minutes: float = Field(gt=0)


class TaskSettings(_Section):
    """Retries and time limits of every DAG task."""

    retries: int = Field(ge=0)
    retry_delay_seconds: float = Field(gt=0)
    max_retry_delay_minutes: float = Field(gt=0)
    execution_timeout_minutes: float = Field(gt=0)


class AirflowApiSettings(_Section):
    """Airflow's REST API, used to trigger ``daily_scoring`` when a champion moves."""

    url: str = Field(description="base URL of the Airflow api-server; empty: do not trigger")
    username_env: str = Field(min_length=1, description="variable holding the API user name")
    password_env: str = Field(min_length=1, description="variable holding the API password")


class OrchestrationSettings(_Section):
    """Everything in ``config/orchestration.yaml``."""

    runner: RunnerSettings
    docker: DockerSettings
    kubernetes: KubernetesSettings
    sensor: SensorSettings
    tasks: TaskSettings
    airflow_api: AirflowApiSettings


def load_orchestration_settings(
    config_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> OrchestrationSettings:
    """Load ``orchestration.yaml``, with ``MLOPS_RUNNER_*``, ``MLOPS_DOCKER_*`` ... overrides."""
    return load_section_file(OrchestrationSettings, find_config_dir(config_dir) / "orchestration.yaml", env)
