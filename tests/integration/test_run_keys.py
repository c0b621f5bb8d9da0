"""One judged version per run key: racing duplicates, a training killed after registering, bad settings.

A small labelled table trains churn against a SQLite MLflow in ``tmp_path`` (seconds per training).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlops_platform import registry
from mlops_platform.cli import app
from mlops_platform.config import load_models_settings
from mlops_platform.models.churn import ChurnModel
from mlops_platform.pipelines import train
from mlops_platform.pipelines.train import TrainingOutcome, fit_and_register
from mlops_platform.pipelines.train_table import prepare_from_table
from mlops_platform.registry import run_keys

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "config")
FAST = run_keys.ClaimTiming(lease_seconds=30, heartbeat_seconds=0.5, wait_seconds=120, poll_seconds=0.2)
PARAMS = "{n_estimators: 20, learning_rate: 0.2, max_depth: 3, early_stopping_rounds: 5, validation_share: 0.2}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One SQLite registry for the module (creating one costs seconds) and a small churn booster."""
    root = tmp_path_factory.mktemp("run-keys")
    return {
        "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(root / "mlruns"),
        "MLOPS_STORAGE_URI": f"file://{root / 'lake'}",
        "MLOPS_CHURN_PARAMS": PARAMS,
    }


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A registered model name of this test's own in the shared registry."""
    return "churn_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[-40:]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 customers whose churn follows their calls, with some noise."""
    rows = 300
    frame = pd.DataFrame(
        {
            "customer_id": range(rows),
            "calls": [float(i % 23) for i in range(rows)],
            "plan": ["basic", "plus", "max"] * (rows // 3),
        }
    )
    frame["churned"] = ((frame["calls"] < 8) ^ (frame.index % 13 == 0)).astype(int)
    path = tmp_path_factory.mktemp("table") / "churn.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def client(env: dict[str, str]) -> MlflowClient:
    return MlflowClient(tracking_uri=env["MLOPS_TRACKING_URI"])


def train_args(table: Path, name: str, key: str) -> list[str]:
    options = ["--target", "churned", "--id", "customer_id", "--name", name, "--run-key", key]
    return ["train", "churn", "--table", str(table), *options]


def mlops(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["--config-dir", CONFIG, *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def versions(client: MlflowClient, name: str) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{name}'"))


def live_claims(client: MlflowClient, name: str) -> list[str]:
    return [e.name for e in client.search_experiments() if e.name.startswith(f"{run_keys.PREFIX}/{name}/")]


def test_two_trainings_with_the_same_key_at_once_register_and_promote_once(env, table, client, name, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    models = load_models_settings(Path(CONFIG))
    prepared = prepare_from_table(str(table), "churn", "churned", "customer_id", None, models)
    start = threading.Barrier(2)
    outcomes: list[TrainingOutcome] = []
    errors: list[BaseException] = []

    def one() -> None:
        start.wait()
        try:
            outcomes.append(fit_and_register(models, "churn", name, prepared, "scheduled__2025-06-01", FAST))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    assert sorted(o.reused for o in outcomes) == [False, True]
    assert {o.version for o in outcomes} == {"1"}
    assert versions(client, name) == ["1"]
    events = registry.history(client, name)
    assert [e for e in events if e.actor == registry.OUTSIDE] == []
    assert [(e.from_version, e.to_version) for e in events if e.alias == registry.CHAMPION] == [(None, "1")]
    assert live_claims(client, name) == []


KILL_AFTER_REGISTERING = """
import os, signal, sys
from mlops_platform.registry import tracking
registered = tracking.log_model_version

def register_then_die(*args, **kwargs):
    registered(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

tracking.log_model_version = register_then_die
from mlops_platform.cli import app
app(sys.argv[1:])
"""


def test_a_training_killed_after_registering_is_judged_by_the_retry(env, table, client, name, tmp_path) -> None:
    script = tmp_path / "die.py"
    script.write_text(textwrap.dedent(KILL_AFTER_REGISTERING))
    died = subprocess.run(
        [sys.executable, str(script), "--config-dir", CONFIG, *train_args(table, name, "manual__killed")],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert died.returncode == -9, died.stderr[-2000:]
    (left,) = client.search_model_versions(f"name='{name}'")
    dead_run = left.run_id
    assert client.get_run(dead_run).info.status == "RUNNING" and "gate_decision" not in left.tags
    assert len(live_claims(client, name)) == 1  # left by the dead process

    output = mlops(env, *train_args(table, name, "manual__killed"))
    assert "reused version 1" in output and "promoted to champion" in output and "judged now" in output
    version = client.get_model_version(name, "1")
    assert version.tags["gate_decision"] == "promoted" and version.tags["gate_reason"]
    assert registry.current_aliases(client, name) == {"champion": "1"}
    assert client.get_run(dead_run).info.status == "FAILED"
    assert versions(client, name) == ["1"]
    assert live_claims(client, name) == []
    again = mlops(env, *train_args(table, name, "manual__killed"))
    assert "reused: gate already ran for this run key (promoted" in again


def test_a_gate_that_failed_after_registering_is_run_by_the_retry(env, table, client, name, monkeypatch) -> None:
    def server_gone(*args: object, **kwargs: object) -> None:
        raise ConnectionError("MLflow server gone")

    with monkeypatch.context() as patched:
        patched.setattr(train, "run_gate", server_gone)
        result = CliRunner().invoke(app, ["--config-dir", CONFIG, *train_args(table, name, "manual__gone")], env=env)
        assert result.exit_code != 0
    assert "gate_decision" not in client.get_model_version(name, "1").tags
    output = mlops(env, *train_args(table, name, "manual__gone"))
    assert "reused version 1" in output and "promoted to champion" in output
    assert client.get_model_version(name, "1").tags["gate_decision"] == "promoted"
    assert registry.current_aliases(client, name) == {"champion": "1"}
    assert versions(client, name) == ["1"]


def never_fit(*args: object, **kwargs: object) -> None:
    raise AssertionError("the model was fitted")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param(
            {"MLOPS_CHURN_GATE": "{metric: roc_aucc, margin: 0.0, floors: {}}"},
            "error: churn: gate.metric 'roc_aucc' is not a metric churn measures; valid: brier, f1,",
            id="gate-metric",
        ),
        pytest.param(
            {"MLOPS_CHURN_GATE": "{metric: roc_auc, margin: 0.0, floors: {rocauc: 0.6}}"},
            "error: churn: gate.floors name 'rocauc', not a metric churn measures; valid: brier",
            id="gate-floor",
        ),
        pytest.param(
            {"MLOPS_CHURN_PARAMS": PARAMS.replace("n_estimators: 20", "n_estimators: -4")},
            "error: churn: params.n_estimators must be an integer >= 1, got -4",
            id="negative-n-estimators",
        ),
        pytest.param(
            {"MLOPS_CHURN_PARAMS": PARAMS.replace("learning_rate: 0.2", "learning_rate: 0")},
            "error: churn: params.learning_rate must be a number > 0, got 0",
            id="zero-learning-rate",
        ),
    ],
)
def test_bad_training_settings_fail_before_any_fit_or_version(env, table, client, name, monkeypatch, override, message):
    monkeypatch.setattr(ChurnModel, "fit", never_fit)
    output = mlops({**env, **override}, *train_args(table, name, "manual__bad"), code=1)
    assert message in " ".join(output.split())
    assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1
    assert versions(client, name) == []
