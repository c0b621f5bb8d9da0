"""One task runner, three backends: the same DAG file builds local, Docker or Kubernetes tasks."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlops_platform.config import load_orchestration_settings
from mlops_platform.orchestration.environment import task_environment

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-value-never-shown"


def settings_with(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> Any:
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    return load_orchestration_settings(REPO / "config")


def context() -> dict[str, Any]:
    return {"dag": SimpleNamespace(dag_id="drift_retraining"), "run_id": "scheduled__2025-04-12"}


def test_the_task_environment_keeps_secrets_and_the_worker_config_folder_out_of_plain() -> None:
    settings = load_orchestration_settings(REPO / "config")
    environ = {
        "MLOPS_STORAGE_URI": "s3://lake/prod",
        "MLOPS_CHURN_PARAMS": "{n_estimators: 10}",
        "MLOPS_CONFIG_DIR": "/home/airflow/config",
        "MLOPS_AIRFLOW_PASSWORD": "admin-password",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ACCESS_KEY_ID": "minio",
        "HOME": "/root",
    }

    env = task_environment(settings, environ)

    assert env.plain == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "MLOPS_CHURN_PARAMS": "{n_estimators: 10}",
        "MLOPS_STORAGE_URI": "s3://lake/prod",
    }
    assert env.secret == {"AWS_ACCESS_KEY_ID": "minio", "AWS_SECRET_ACCESS_KEY": SECRET}


@pytest.mark.parametrize(
    ("backend", "class_name"),
    [
        pytest.param("local", "MlopsLocalOperator", id="local-runs-in-the-worker"),
        pytest.param("docker", "MlopsDockerOperator", id="docker-runs-the-image"),
        pytest.param("kubernetes", "MlopsKubernetesPodOperator", id="kubernetes-runs-a-pod"),
    ],
)
def test_the_configured_backend_picks_the_operator(monkeypatch, backend: str, class_name: str) -> None:
    from airflow.sdk import DAG
    from mlops_dags.runner import mlops_task

    settings = settings_with(monkeypatch, MLOPS_RUNNER_BACKEND=backend)
    with DAG("probe", schedule=None):
        task = mlops_task("build", ["features", "build", "--date", "2025-04-11"], settings)

    assert type(task).__name__ == class_name


def test_the_docker_backend_runs_the_image_on_the_host_network_without_a_tmp_mount(monkeypatch) -> None:
    from airflow.sdk import DAG
    from mlops_dags.runner import mlops_task

    settings = settings_with(monkeypatch, MLOPS_RUNNER_BACKEND="docker", MLOPS_RUNNER_IMAGE="mlops-platform:test")
    with DAG("probe", schedule=None):
        task = mlops_task("train", ["train", "churn", "--run-key", "{{ run_id }}"], settings)

    assert task.image == "mlops-platform:test"
    assert task.network_mode == "host"
    assert task.mount_tmp_dir is False
    assert task.command == ["train", "churn", "--run-key", "{{ run_id }}"]
    assert task._private_environment == {}


def test_the_docker_backend_passes_secrets_only_as_private_environment(monkeypatch) -> None:
    from airflow.providers.docker.operators.docker import DockerOperator
    from airflow.sdk import DAG
    from mlops_dags.runner import mlops_task

    monkeypatch.setenv("MLOPS_CONFIG_DIR", str(REPO / "config"))
    settings = settings_with(
        monkeypatch, MLOPS_RUNNER_BACKEND="docker", AWS_SECRET_ACCESS_KEY=SECRET, MLOPS_STORAGE_URI="s3://lake/x"
    )
    seen: dict[str, Any] = {}

    def capture(self: Any, ctx: Any) -> None:
        seen.update(environment=dict(self.environment), private=dict(self._private_environment))

    monkeypatch.setattr(DockerOperator, "execute", capture)
    with DAG("probe", schedule=None):
        task = mlops_task("train", ["train", "churn"], settings)
    task.execute(context())

    assert seen["private"]["AWS_SECRET_ACCESS_KEY"] == SECRET
    assert SECRET not in json.dumps(seen["environment"])
    assert seen["environment"]["MLOPS_STORAGE_URI"] == "s3://lake/x"
    assert seen["environment"]["AIRFLOW_CTX_DAG_RUN_ID"] == "scheduled__2025-04-12"
    assert "MLOPS_CONFIG_DIR" not in seen["environment"]


def test_the_kubernetes_pod_has_the_image_command_environment_and_no_secret_in_plain_fields(monkeypatch) -> None:
    from airflow.sdk import DAG
    from mlops_dags.runner import mlops_task

    settings = settings_with(
        monkeypatch,
        MLOPS_RUNNER_BACKEND="kubernetes",
        MLOPS_RUNNER_IMAGE="registry.example/mlops-platform:1.0",
        AWS_SECRET_ACCESS_KEY=SECRET,
        MLOPS_STORAGE_URI="s3://lake/prod",
    )
    with DAG("probe", schedule=None):
        task = mlops_task("train", ["train", "churn", "--as-of", "2025-04-11"], settings)
    task.prepare_environment(context())
    pod = task.build_pod_request_obj(None, dry_run=True)

    container = pod.spec.containers[0]
    assert container.image == "registry.example/mlops-platform:1.0"
    assert container.command == ["mlops"]
    assert container.args == ["train", "churn", "--as-of", "2025-04-11"]
    assert pod.metadata.namespace == "mlops"
    plain = {e.name: e.value for e in container.env if e.value is not None}
    assert plain["MLOPS_STORAGE_URI"] == "s3://lake/prod"
    assert plain["AIRFLOW_CTX_DAG_RUN_ID"] == "scheduled__2025-04-12"
    from_secret = {e.name: e.value_from.secret_key_ref for e in container.env if e.value_from is not None}
    assert from_secret["AWS_SECRET_ACCESS_KEY"].name == "mlops-secrets"
    assert from_secret["AWS_SECRET_ACCESS_KEY"].key == "AWS_SECRET_ACCESS_KEY"
    assert SECRET not in json.dumps(pod.to_dict(), default=str)
    assert task.on_finish_action.value == "delete_succeeded_pod"


def test_the_local_backend_fails_the_task_with_the_commands_error(monkeypatch, tmp_path) -> None:
    from mlops_dags.runner import MlopsCommandFailed, run_mlops

    monkeypatch.setenv("MLOPS_STORAGE_URI", f"file://{tmp_path / 'lake'}")
    with pytest.raises(MlopsCommandFailed, match=r"features/customer date=2025-04-11: raw input day 2025-04-10"):
        run_mlops(["--config-dir", str(REPO / "config"), "features", "build", "--date", "2025-04-11"])


def test_the_local_backend_names_a_bad_option(tmp_path) -> None:
    from mlops_dags.runner import MlopsCommandFailed, run_mlops

    with pytest.raises(MlopsCommandFailed, match="date"):
        run_mlops(["--config-dir", str(REPO / "config"), "features", "build", "--date", "yesterday"])


def test_a_secret_looking_variable_caught_by_a_prefix_never_reaches_the_plain_environment(caplog) -> None:
    settings = load_orchestration_settings(REPO / "config")
    environ = {
        "MLOPS_STORAGE_URI": "s3://lake/prod",
        "MLOPS_WEBHOOK_SECRET": SECRET,
        "MLOPS_API_TOKEN": SECRET,
        "MLOPS_DB_PASSWORD": SECRET,
        "MLOPS_SIGNING_KEY": SECRET,
        "MLOPS_CLOUD_CREDENTIALS": SECRET,
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }

    with caplog.at_level("WARNING"):
        env = task_environment(settings, environ)

    assert env.plain == {"MLOPS_STORAGE_URI": "s3://lake/prod"}
    assert env.secret == {"AWS_SECRET_ACCESS_KEY": SECRET}  # only runner.secret_env has a secret channel
    assert SECRET not in caplog.text
    assert "MLOPS_API_TOKEN" in caplog.text and "runner.secret_env" in caplog.text
