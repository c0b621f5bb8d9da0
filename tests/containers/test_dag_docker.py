"""The weekly DAG with the ``docker`` backend: its drift checks and trainings run in the image.

``drift_retraining`` runs under ``dag.test()`` in this process; every ``mlops`` task becomes a
DockerOperator that starts the training-task image with ``network_mode="host"``, so the
containers reach the S3-protocol server (moto) and the MLflow server of tests/conftest.py on
127.0.0.1. The image sets ``MLOPS_EXECUTION_BACKEND=container``, which training records as the
version tag ``execution_backend``: that tag proves where each version was trained.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.data.generate import GeneratorConfig, generate_to_store
from mlops_platform.storage import ObjectStore
from small_settings import SMALL

START = dt.date(2025, 1, 1)
DAYS = 100
DAY = START + dt.timedelta(days=DAYS)
MODELS = ["churn", "segmentation"]


@pytest.fixture
def docker_backend(mlops_image, s3_server, mlflow_server, airflow_db, monkeypatch) -> dict:
    lake = f"s3://{s3_server.new_bucket()}/lake"
    env = {
        **s3_server.env,
        **SMALL,
        "MLOPS_STORAGE_URI": lake,
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        "MLOPS_RUNNER_BACKEND": "docker",
        "MLOPS_RUNNER_IMAGE": mlops_image,
        "MLOPS_DOCKER_NETWORK_MODE": "host",
        "MLOPS_DOCKER_AUTO_REMOVE": "success",
        "MLOPS_TRACKING_EXPERIMENT": f"containers-{os.getpid()}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MLOPS_TRACKING_URI", raising=False)
    store = ObjectStore(lake)
    generate_to_store(store, GeneratorConfig(customers=300, days=DAYS, seed=5, start=START))
    from mlops_platform.config import load_platform_settings
    from mlops_platform.features.snapshot import build_snapshot

    build_snapshot(store, load_platform_settings(Path("config")), DAY)
    return {"store": store, "client": MlflowClient(tracking_uri=mlflow_server.uri)}


def test_the_weekly_dag_trains_in_containers_and_registers_versions_tagged_by_the_image(docker_backend) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    dag = bag.dags["drift_retraining"]
    assert type(dag.get_task("train")).__name__ == "MappedOperator"
    assert dag.get_task("train").operator_class.__name__ == "MlopsDockerOperator"
    client: MlflowClient = docker_backend["client"]
    names = [f"{m}" for m in MODELS]
    before = {n: len(client.search_model_versions(f"name='{n}'")) for n in names}

    run = dag.test(
        logical_date=dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC),
        run_conf={"date": DAY.isoformat(), "models": MODELS, "force": True},
    )

    tasks = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", tasks
    assert [tasks[("train", i)] for i in range(len(MODELS))] == ["success"] * len(MODELS)
    for name in MODELS:
        version = registry.find_version_by_run_key(client, name, run.run_id)
        assert version is not None, name
        assert version.tags["execution_backend"] == "container"
        assert version.tags["airflow_run"] == run.run_id
        assert len(client.search_model_versions(f"name='{name}'")) == before[name] + 1
        assert docker_backend["store"].exists(f"reports/drift/date={DAY.isoformat()}/{name}.json")
