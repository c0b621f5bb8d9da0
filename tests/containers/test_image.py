"""The training-task image, run for real: entry point, user, environment and a lake job on S3.

Every container runs with ``--network host`` (the engine has no bridge network) and reaches
the moto S3 server of tests/conftest.py on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from mlops_platform import __version__
from mlops_platform.storage import ObjectStore

RUN_TIMEOUT = 300


def docker_run(
    image: str, *args: str, env: dict[str, str] | None = None, entrypoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``docker run --rm --network host`` the image; the container is removed if it outlives the timeout."""
    name = f"mlops-test-{uuid.uuid4().hex[:10]}"
    command = ["docker", "run", "--rm", "--name", name, "--network", "host"]
    for key, value in (env or {}).items():
        command += ["-e", f"{key}={value}"]
    if entrypoint is not None:
        command += ["--entrypoint", entrypoint]
    try:
        return subprocess.run([*command, image, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=60)
        raise


def test_version_is_the_package_version(mlops_image: str) -> None:
    result = docker_run(mlops_image, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"mlops {__version__}"


def test_runs_as_a_non_root_user(mlops_image: str) -> None:
    result = docker_run(mlops_image, "-u", entrypoint="id")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) != 0


def test_marks_its_runs_as_container_execution(mlops_image: str) -> None:
    result = docker_run(mlops_image, "MLOPS_EXECUTION_BACKEND", entrypoint="printenv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "container"


def test_image_metadata(mlops_image: str) -> None:
    inspected = subprocess.run(
        ["docker", "image", "inspect", mlops_image], capture_output=True, text=True, timeout=60, check=True
    )
    config = json.loads(inspected.stdout)[0]["Config"]
    assert config["Entrypoint"] == ["mlops"]
    assert config["User"] not in ("", "root", "0")
    assert config["Healthcheck"]["Test"] == ["CMD", "mlops", "--version"]
    assert "MLOPS_CONFIG_DIR=/app/config" in config["Env"]


def test_has_no_airflow_and_its_config_baked_in(mlops_image: str) -> None:
    script = (
        "import importlib.util, os, sys; "
        "sys.exit(importlib.util.find_spec('airflow') is not None "
        "or not os.path.isfile(os.path.join(os.environ['MLOPS_CONFIG_DIR'], 'platform.yaml')))"
    )
    result = docker_run(mlops_image, "-c", script, entrypoint="python")
    assert result.returncode == 0, result.stderr


def test_loads_the_model_libraries_with_a_writable_home(mlops_image: str) -> None:
    # lightgbm, xgboost and LightFM's compiled extension need the OpenMP runtime of the base
    # image; matplotlib and MLflow write caches under the home folder
    script = (
        "import os, lightgbm, xgboost, sklearn, matplotlib, numpy, scipy.sparse; "
        "from lightfm import LightFM; "
        "LightFM(no_components=2, random_state=1).fit(scipy.sparse.coo_matrix(numpy.eye(4)), epochs=1); "
        "home = os.path.expanduser('~'); "
        "assert os.access(home, os.W_OK), home; "
        "print(matplotlib.get_configdir())"
    )
    result = docker_run(mlops_image, "-c", script, entrypoint="python")
    assert result.returncode == 0, result.stderr
    assert "Permission denied" not in result.stderr
    assert result.stdout.strip().startswith("/home/")


@pytest.mark.integration
def test_generates_the_lake_on_s3_from_inside_the_container(mlops_image: str, s3_server, s3_uri: str) -> None:
    env = {**s3_server.env, "MLOPS_STORAGE_URI": s3_uri}
    args = ["data", "generate", "--customers", "200", "--days", "20", "--seed", "5", "--start", "2025-03-01"]
    result = docker_run(mlops_image, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr

    store = ObjectStore(s3_uri)  # s3_uri pointed this process's AWS variables at the same server
    days = store.list_dates("raw/usage")
    assert len(days) == 20
    assert days[0].isoformat() == "2025-03-01"
    for day in (days[0], days[-1]):
        partition = f"raw/usage/date={day.isoformat()}"
        manifest = store.manifest(partition)
        assert manifest is not None and manifest.rows > 0
        assert store.read_partition(partition).num_rows == manifest.rows
