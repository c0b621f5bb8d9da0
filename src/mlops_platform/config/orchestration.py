"""Typed settings of ``config/orchestration.yaml``: task runner backends, sensors, retries, Airflow API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlops_platform.config.base import _Section

BACKENDS = ("local", "docker", "kubernetes")
# A variable whose name holds one of these is a secret: never plain task environment.
SECRET_NAME_MARKERS = ("SECRET", "TOKEN", "PASSWORD", "KEY", "CREDENTIAL")


def looks_secret(name: str) -> bool:
    """Whether the variable ``name`` looks like it holds a secret (``SECRET_NAME_MARKERS``)."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_NAME_MARKERS)


class RunnerSettings(_Section):
    """Where the DAG tasks run the ``mlops`` command: in the worker, in Docker or in a Kubernetes pod."""

    backend: Literal["local", "docker", "kubernetes"] = Field(description="local, docker or kubernetes")
    image: str = Field(min_length=1, description="the training-task image built from the Dockerfile")
    env: list[str] = Field(description="variables copied from the worker into the task as plain environment")
    secret_env: list[str] = Field(description="secret variables: private environment / Kubernetes secret keys")

    @field_validator("env")
    @classmethod
    def _no_secret_by_name(cls, value: list[str]) -> list[str]:
        named = [name for name in value if not name.endswith("*") and looks_secret(name)]
        if named:
            raise ValueError(f"{', '.join(named)} looks secret: list it under runner.secret_env instead")
        return value


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
