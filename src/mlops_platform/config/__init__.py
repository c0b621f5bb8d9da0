"""Typed settings loaded from ``config/*.yaml`` and overridden by ``MLOPS_*`` variables.

Every YAML key is required and every unknown key is rejected, so a typo or a deleted line
fails loudly with the key's dotted name. An environment variable
``MLOPS_<SECTION>_<KEY>`` (for example ``MLOPS_STORAGE_URI``) overrides one value; its text
is parsed as YAML, so ``MLOPS_FEATURES_ARPU_BUCKET_EDGES="[1, 2, 3]"`` gives a list.
Nothing here reads files or the environment at import time.

One module per YAML file (``platform``, ``models``, ``drift``, ``orchestration``), the shared
reading and override logic in ``loader`` and the section base in ``base``; every public name is
re-exported here, so ``from mlops_platform.config import X`` is the way to import them.
"""

from __future__ import annotations

from mlops_platform.config.base import ConfigError
from mlops_platform.config.drift import (
    CATEGORICAL_DRIFT_METHODS,
    NUMERICAL_DRIFT_METHODS,
    DriftDecisionSettings,
    DriftSettings,
    ReevaluationSettings,
    RetrainSettings,
    load_drift_settings,
)
from mlops_platform.config.loader import (
    CONFIG_DIR_ENV,
    ENV_PREFIX,
    RESERVED_ENV,
    apply_env_overrides,
    find_config_dir,
    load_section_file,
)
from mlops_platform.config.models import (
    LOWER_IS_BETTER,
    RECOMMENDER_LOSSES,
    CandidateSettings,
    ColdStartSettings,
    GateSettings,
    ModelSettings,
    ModelsSettings,
    RankerSettings,
    RecommenderSettings,
    Target,
    TenureStep,
    TrackingSettings,
    TrainingSetSettings,
    load_models_settings,
    parse_target,
)
from mlops_platform.config.orchestration import (
    BACKENDS,
    AirflowApiSettings,
    DockerSettings,
    KubernetesSettings,
    OrchestrationSettings,
    RunnerSettings,
    SensorSettings,
    TaskSettings,
    load_orchestration_settings,
)
from mlops_platform.config.platform import (
    DateSettings,
    FeatureSettings,
    GeneratorSettings,
    LabelSettings,
    PlatformSettings,
    StorageSettings,
    ValidationSettings,
    load_platform_settings,
)

__all__ = [
    "BACKENDS",
    "CATEGORICAL_DRIFT_METHODS",
    "CONFIG_DIR_ENV",
    "ENV_PREFIX",
    "LOWER_IS_BETTER",
    "NUMERICAL_DRIFT_METHODS",
    "RECOMMENDER_LOSSES",
    "RESERVED_ENV",
    "AirflowApiSettings",
    "CandidateSettings",
    "ColdStartSettings",
    "ConfigError",
    "DateSettings",
    "DockerSettings",
    "DriftDecisionSettings",
    "DriftSettings",
    "FeatureSettings",
    "GateSettings",
    "GeneratorSettings",
    "KubernetesSettings",
    "LabelSettings",
    "ModelSettings",
    "ModelsSettings",
    "OrchestrationSettings",
    "PlatformSettings",
    "RankerSettings",
    "RecommenderSettings",
    "ReevaluationSettings",
    "RetrainSettings",
    "RunnerSettings",
    "SensorSettings",
    "StorageSettings",
    "Target",
    "TaskSettings",
    "TenureStep",
    "TrackingSettings",
    "TrainingSetSettings",
    "ValidationSettings",
    "apply_env_overrides",
    "find_config_dir",
    "load_drift_settings",
    "load_models_settings",
    "load_orchestration_settings",
    "load_platform_settings",
    "load_section_file",
    "parse_target",
]
