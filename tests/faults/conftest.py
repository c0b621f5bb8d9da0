"""The fault suite's shared world: the environment of every command, a small generated lake with
a trained churn champion, copies of it per trial, and the table of trials printed at the end.

Run with ``make test-faults`` (``make test`` leaves this folder out). Every command runs as a
user would run it, ``.venv/bin/mlops`` in a subprocess, against a lake and a SQLite MLflow in
pytest's temporary folders. ``MLOPS_FAULT_SEED`` changes the seeded schedule of kill points.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import GENERATE, TrialLog, World, run

from small_settings import SMALL

REPO = Path(__file__).resolve().parents[2]
LOG_KEY = pytest.StashKey[TrialLog]()
START_KEY = pytest.StashKey[float]()
# The modules that most commands import: compiled once, by the first fixture, into the cache.
WARM_IMPORTS = (
    "mlops_platform.cli.app, mlops_platform.pipelines.train, mlops_platform.pipelines.score,"
    " mlops_platform.features.snapshot, mlops_platform.features.labels, mlflow.pyfunc,"
    " mlflow.store.tracking.sqlalchemy_store, mlflow.server, lightgbm, xgboost, sklearn.ensemble"
)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[START_KEY] = time.monotonic()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the table of trials and their outcomes, the wall time and the CPU time spent."""
    log = config.stash.get(LOG_KEY, None)
    if log is None or not log.trials:
        return
    terminalreporter.section("fault trials")
    for line in log.lines():
        terminalreporter.write_line(line)
    wall = time.monotonic() - config.stash.get(START_KEY, time.monotonic())
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    terminalreporter.write_line(f"wall time {wall:.0f} s; CPU time of the suite and its commands {cpu:.0f} s")


@pytest.fixture(scope="session")
def trial_log(request: pytest.FixtureRequest) -> TrialLog:
    """The session's log of trials (printed by ``pytest_terminal_summary``)."""
    return request.config.stash.setdefault(LOG_KEY, TrialLog())


@pytest.fixture(scope="session")
def fault_seed() -> int:
    return int(os.environ.get("MLOPS_FAULT_SEED", "20250601"))


def clean_environment() -> dict[str, str]:
    """This process's environment without any MLOPS_/MLflow setting that would leak into a trial.

    Byte code goes to a cache of the session (not into the repository), so only the first
    command of the session compiles the imports.
    """
    skip = ("MLOPS_", "MLFLOW_")
    return {k: v for k, v in os.environ.items() if not k.startswith(skip) and k != "PYTHONDONTWRITEBYTECODE"}


@pytest.fixture(scope="session")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``config/`` for the session (the small settings come as overrides)."""
    target = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(REPO / "config", target)
    return target


@pytest.fixture(scope="session")
def base_env(tmp_path_factory: pytest.TempPathFactory, config_dir: Path) -> dict[str, str]:
    """What every command of the suite runs with: small settings, the session's config copy."""
    cache = tmp_path_factory.mktemp("pycache")
    artifacts = tmp_path_factory.mktemp("mlruns")
    env = {
        **clean_environment(),
        **SMALL,
        "PYTHONPYCACHEPREFIX": str(cache),
        "MLOPS_CONFIG_DIR": str(config_dir),
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(artifacts),
    }
    warm = subprocess.run([sys.executable, "-c", f"import {WARM_IMPORTS}"], env=env, timeout=300, check=False)
    assert warm.returncode == 0, "the imports of the platform failed"
    return env


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, base_env: dict[str, str]) -> World:
    """A generated lake and a churn champion trained on it (run key ``world``)."""
    made = World.at(tmp_path_factory.mktemp("world"), base_env)
    for args in (GENERATE, ("train", "churn", "--run-key", "world")):
        result = run(made.env, *args)
        assert result.code == 0, f"mlops {' '.join(args)} failed: {result.output[-2000:]}"
        made.seconds[args[0]] = result.seconds
    return made
