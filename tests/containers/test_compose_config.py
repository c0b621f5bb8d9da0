"""docker-compose.yml validated by Docker Compose itself (its public images cannot be pulled here).

`make test-containers` installs Debian's ``docker-compose``; the stack is rendered with a `.env`
made by ``scripts/make_env.py`` from ``.env.example``, for the default and the celery profile.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `.env` with random secrets, written by ``scripts/make_env.py`` as `make env` does."""
    target = tmp_path_factory.mktemp("compose") / ".env"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_env.py"), "--output", str(target)],
        check=True,
        capture_output=True,
    )
    return target


def compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: run the container tests with `make test-containers`")
    return subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(REPO / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    "profile", [pytest.param([], id="default"), pytest.param(["--profile", "celery"], id="celery")]
)
def test_docker_compose_accepts_the_stack(env_file: Path, profile: list[str]) -> None:
    result = compose(env_file, *profile, "config")

    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    services = set(rendered["services"])
    assert {"postgres", "minio", "minio-init", "mlflow", "airflow-apiserver", "airflow-scheduler"} <= services
    assert rendered["services"]["airflow-worker"]["profiles"] == ["celery"]
    assert rendered["services"]["redis"]["profiles"] == ["celery"]
    assert "change-me" not in result.stdout


def test_docker_compose_names_a_missing_secret(env_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / ".env"
    broken.write_text(
        "\n".join(line for line in env_file.read_text().splitlines() if not line.startswith("POSTGRES_PASSWORD="))
    )

    result = compose(broken, "config")

    assert "POSTGRES_PASSWORD" in result.stderr + result.stdout
