"""Typed settings loaded from ``config/*.yaml`` and overridden by ``MLOPS_*`` variables.

Every YAML key is required and every unknown key is rejected, so a typo or a deleted line
fails loudly with the key's dotted name. An environment variable
``MLOPS_<SECTION>_<KEY>`` (for example ``MLOPS_STORAGE_URI``) overrides one value; its text
is parsed as YAML, so ``MLOPS_FEATURES_ARPU_BUCKET_EDGES="[1, 2, 3]"`` gives a list.
Nothing here reads files or the environment at import time.

One module per YAML file (``platform``, ``models``, ``drift``, ``orchestration``); the shared
reading, checking and override logic and the four ``load_*_settings`` functions in ``loader``;
the section base in ``base``. Every public name is re-exported here, so
``from mlops_platform.config import X`` is the way to import them.
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
)
from mlops_platform.config.loader import (
    CONFIG_DIR_ENV,
    ENV_PREFIX,
    RESERVED_ENV,
    SETTINGS_FILES,
    all_section_names,
    apply_env_overrides,
    check_env_names,
    check_sections,
    find_config_dir,
    load_drift_settings,
    load_models_settings,
    load_orchestration_settings,
    load_platform_settings,
    load_section_file,
    section_models,
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
    parse_target,
)
from mlops_platform.config.orchestration import (
    BACKENDS,
    SECRET_NAME_MARKERS,
    AirflowApiSettings,
    DockerSettings,
    KubernetesSettings,
    OrchestrationSettings,
    RunnerSettings,
    SensorSettings,
    TaskSettings,
    looks_secret,
)
from mlops_platform.config.platform import (
    DateSettings,
    FeatureSettings,
    GeneratorSettings,
    LabelSettings,
    PlatformSettings,
    StorageSettings,
    ValidationSettings,
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
    "SECRET_NAME_MARKERS",
    "SETTINGS_FILES",
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
    "all_section_names",
    "apply_env_overrides",
    "check_env_names",
    "check_sections",
    "find_config_dir",
    "load_drift_settings",
    "load_models_settings",
    "load_orchestration_settings",
    "load_platform_settings",
    "load_section_file",
    "looks_secret",
    "parse_target",
    "section_models",
]
