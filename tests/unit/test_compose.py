"""Structural checks of the Dockerfile, docker-compose.yml, .env.example and make_env.py.

Pure text and YAML: no Docker engine is needed or started.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
MAKE_ENV = ROOT / "scripts" / "make_env.py"

# ${VAR}, ${VAR:-default}, ${VAR?error}; "$${VAR}" is an escaped dollar left to the container.
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def env_example_keys() -> set[str]:
    keys = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            keys.add(line.split("=", 1)[0].strip())
    return keys


def depends_on(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def host_ports(service: dict) -> list[str]:
    """Return the published host ports as "ip:port" ("*:port" when no ip is given)."""
    out = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if "published" in entry:
                out.append(f"{entry.get('host_ip', '*')}:{entry['published']}")
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) == 3:
            out.append(f"{parts[0]}:{parts[1]}")
        elif len(parts) == 2:
            out.append(f"*:{parts[0]}")
    return out


def test_every_service_has_image_or_build(services: dict) -> None:
    missing = [name for name, svc in services.items() if "image" not in svc and "build" not in svc]
    assert not missing


def test_every_variable_is_in_env_example() -> None:
    used = set(VAR_REF.findall(COMPOSE.read_text(encoding="utf-8")))
    assert used, "the compose file references no variables"
    assert used - env_example_keys() == set()


def test_secrets_come_from_env(services: dict) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for var in (
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
    ):
        assert "${" + var + "}" in text, var
    placeholders = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.endswith("=change-me")
    }
    assert {"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "AIRFLOW_ADMIN_PASSWORD"} <= placeholders


def test_named_volumes_are_declared(compose: dict, services: dict) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for svc in services.values():
        for vol in svc.get("volumes", []):
            source = vol.get("source") if isinstance(vol, dict) else str(vol).split(":")[0]
            if source and not source.startswith((".", "/", "~", "$")):
                used.add(source)
    assert used, "no named volumes used"
    assert used - declared == set()


def test_networks_are_declared(compose: dict, services: dict) -> None:
    declared = set(compose.get("networks") or {})
    assert len(declared) == 1
    for name, svc in services.items():
        nets = svc.get("networks", [])
        assert nets, f"{name} is on no named network"
        assert set(nets) - declared == set(), name


def test_no_host_port_is_published_twice(services: dict) -> None:
    seen: dict[str, str] = {}
    for name, svc in services.items():
        for hp in host_ports(svc):
            ip, port = hp.rsplit(":", 1)
            for other_hp, other in seen.items():
                other_ip, other_port = other_hp.rsplit(":", 1)
                clash = port == other_port and "*" in (ip, other_ip) or hp == other_hp
                assert not clash, f"{name} and {other} both publish {port}"
            seen[hp] = name
    assert seen, "no service publishes a port"


def test_healthy_dependencies_have_healthchecks(services: dict) -> None:
    for name, svc in services.items():
        for dep, spec in depends_on(svc).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} health"
            if condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") == "no", dep


def test_long_running_services_have_healthchecks(services: dict) -> None:
    for name, svc in services.items():
        if svc.get("restart", "no") != "no":
            assert "healthcheck" in svc, name


def test_minio_init_creates_the_buckets(services: dict) -> None:
    command = " ".join(services["minio-init"]["command"])
    assert "local/lake" in command and "local/mlflow" in command


def test_mlflow_serves_artifacts_from_minio(services: dict) -> None:
    mlflow = services["mlflow"]
    command = " ".join(mlflow["command"])
    assert "--serve-artifacts" in command
    assert "--artifacts-destination=s3://mlflow" in command
    assert "postgresql://" in command
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert mlflow["environment"]["MLFLOW_WEBHOOK_ALLOWED_SCHEMES"] == "http,https"


def test_airflow_services(services: dict) -> None:
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
        svc = services[name]
        assert svc["image"].startswith("apache/airflow:3") or "AIRFLOW_IMAGE" in svc["image"]
        assert any(str(v).startswith("./dags:") for v in svc["volumes"])
        assert any("docker.sock" in str(v) for v in svc["volumes"])
    assert {"airflow-triggerer", "redis", "airflow-worker"} <= set(services)
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]


def test_postgres_init_script_creates_two_databases(services: dict) -> None:
    mounts = [str(v) for v in services["postgres"]["volumes"]]
    assert any(m.startswith("./docker/postgres-init.sql:/docker-entrypoint-initdb.d/") for m in mounts)
    sql = (ROOT / "docker" / "postgres-init.sql").read_text(encoding="utf-8").lower()
    assert "create database airflow" in sql and "create database mlflow" in sql


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE_IMAGE=", text, re.M)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", text, re.M)) == 2
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["mlops"\]', text, re.M)
    assert re.search(r"^HEALTHCHECK .*", text, re.M)
    assert "--version" in text.split("HEALTHCHECK", 1)[1]
    assert "apache-airflow" not in text.lower()
    assert "--no-index --find-links /wheelhouse" in text
    assert "MLOPS_CONFIG_DIR=/app/config" in text
    assert "compileall" in text


def run_make_env(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MAKE_ENV), "--example", str(ENV_EXAMPLE), "--output", str(tmp_path / ".env"), *extra],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_make_env_writes_secrets_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = run_make_env(tmp_path)
    assert first.returncode == 0, first.stderr
    written = (tmp_path / ".env").read_text(encoding="utf-8")
    assert "change-me" not in written
    keys = {line.split("=", 1)[0] for line in written.splitlines() if "=" in line and not line.startswith("#")}
    assert keys == env_example_keys()

    again = run_make_env(tmp_path)
    assert again.returncode != 0
    assert "--force" in again.stderr
    assert (tmp_path / ".env").read_text(encoding="utf-8") == written

    forced = run_make_env(tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / ".env").read_text(encoding="utf-8") != written


def test_make_env_creates_the_file_owner_only_before_writing_a_secret(tmp_path: Path) -> None:
    """With umask 0 a plain write would be world-readable; chmod afterwards is too late."""
    script = (
        "import os, pathlib, runpy, sys\n"
        "os.umask(0)\n"
        "pathlib.Path.chmod = lambda self, mode: None\n"  # nothing may rely on a chmod after the write
        "os.chmod = lambda *args, **kwargs: None\n"
        f"sys.argv = ['make_env.py', '--example', {str(ENV_EXAMPLE)!r}, '--output', {str(tmp_path / '.env')!r}]\n"
        f"runpy.run_path({str(MAKE_ENV)!r}, run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600


def test_make_env_force_makes_an_existing_readable_file_owner_only(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("OLD=1\n")
    target.chmod(0o644)
    assert run_make_env(tmp_path, "--force").returncode == 0
    assert target.stat().st_mode & 0o777 == 0o600
    assert "OLD=1" not in target.read_text()
