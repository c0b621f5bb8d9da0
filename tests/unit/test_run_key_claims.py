"""The run-key claim against a real (SQLite) MLflow: exclusive, released, taken over from the dead."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from mlflow import MlflowClient

from mlops_platform.config import GateSettings
from mlops_platform.errors import InputError, PlatformError
from mlops_platform.pipelines.train_checks import check_params
from mlops_platform.registry import run_keys
from mlops_platform.registry.gate import check_gate

QUICK = run_keys.ClaimTiming(lease_seconds=30, heartbeat_seconds=0.2, wait_seconds=0.6, poll_seconds=0.1)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}")


@pytest.fixture
def key() -> str:
    return f"manual__{uuid.uuid4().hex[:8]}"


def test_a_held_key_cannot_be_claimed_twice_and_is_free_again_once_released(client, key) -> None:
    with run_keys.held(client, "churn", key, QUICK, lambda: False) as first:
        assert first is not None and first.attempt == 1
        with pytest.raises(PlatformError, match=f"run key '{key}' of churn is being trained by another process"):
            run_keys.acquire(client, "churn", key, QUICK, lambda: False)
    assert client.get_experiment(first.experiment_id).lifecycle_stage == "deleted"
    with run_keys.held(client, "churn", key, QUICK, lambda: False) as second:
        assert second is not None and second.attempt == 2
        second.ensure_held()


def test_a_waiting_claimant_stops_once_the_holders_outcome_is_there(client, key) -> None:
    with run_keys.held(client, "churn", key, QUICK, lambda: False):
        assert run_keys.acquire(client, "churn", key, QUICK, lambda: True) is None


def test_a_claim_whose_process_died_is_taken_over_and_its_holder_fenced_off(client, key) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    first = run_keys.acquire(client, "churn", key, QUICK, lambda: False)
    assert first is not None
    client.set_experiment_tag(first.experiment_id, run_keys.PID_TAG, dead.stdout.strip())
    second = run_keys.acquire(client, "churn", key, QUICK, lambda: False)
    assert second is not None and second.attempt == 2
    assert client.get_experiment(first.experiment_id).lifecycle_stage == "deleted"
    with pytest.raises(PlatformError, match="taken over by another training"):
        first.ensure_held()


def test_a_claim_whose_heartbeat_lapsed_is_taken_over(client, key) -> None:
    first = run_keys.acquire(client, "churn", key, QUICK, lambda: False)
    assert first is not None
    client.set_experiment_tag(first.experiment_id, run_keys.HEARTBEAT_TAG, str(time.time() - 31))
    second = run_keys.acquire(client, "churn", key, QUICK, lambda: False)
    assert second is not None and second.attempt == 2


def test_runs_of_the_key_left_running_are_ended_failed(client, key) -> None:
    experiment = client.create_experiment(f"runs-{key}")
    orphan = client.create_run(experiment, tags={"run_key": key}).info.run_id
    other = client.create_run(experiment, tags={"run_key": "other"}).info.run_id
    assert run_keys.end_orphan_runs(client, experiment, key) == [orphan]
    assert client.get_run(orphan).info.status == "FAILED"
    assert client.get_run(other).info.status == "RUNNING"


def test_the_gate_may_name_only_measured_metrics() -> None:
    measured = frozenset({"roc_auc", "pr_auc"})
    check_gate(GateSettings(metric="roc_auc", margin=0.0, floors={"pr_auc": 0.1}), measured, "churn")
    with pytest.raises(
        InputError, match="gate.metric 'roc_aucc' is not a metric churn measures; valid: pr_auc, roc_auc"
    ):
        check_gate(GateSettings(metric="roc_aucc", margin=0.0, floors={}), measured, "churn")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"n_estimators": -4}, "params.n_estimators must be an integer >= 1, got -4", id="negative"),
        pytest.param({"n_estimators": 2.5}, "params.n_estimators must be an integer", id="float"),
        pytest.param({"max_depth": True}, "params.max_depth must be an integer >= 1, got True", id="bool"),
        pytest.param({"learning_rate": "fast"}, "params.learning_rate must be a number > 0", id="text"),
        pytest.param({"subsample": 1.5}, "params.subsample must be a number > 0 and <= 1", id="share"),
        pytest.param({"k_min": 6, "k_max": 4}, "params.k_min 6 is above params.k_max 4", id="k-order"),
    ],
)
def test_known_params_are_checked_by_type_and_range(params, message) -> None:
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        check_params("churn", params)
    check_params("churn", {"n_estimators": 10, "learning_rate": 1, "max_depth": 3, "strategies": ["none"]})


def test_the_declared_metrics_are_those_the_models_measure() -> None:
    """Each zoo model, fitted on a tiny table, returns exactly the metrics it declares."""
    import numpy as np
    import pandas as pd

    from mlops_platform.models.base import TrainingData, get_model_class

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["label"] = (frame["a"] > 0).astype(int)
    frame["spend"] = np.where(frame["label"] == 1, np.abs(frame["b"]) * 10, 0.0)
    small = {"n_estimators": 5, "early_stopping_rounds": 2}
    cases = {
        "churn": ("label", small),
        "conversion": ("label", {**small, "strategies": ["none"]}),
        "revenue": ("spend", small),
        "segmentation": (None, {"k_min": 2, "k_max": 3, "silhouette_sample": 100}),
    }
    for name, (target, params) in cases.items():
        data = TrainingData(frame, ["a", "b"], target)
        model_class = get_model_class(name)
        measured = model_class(params=params, seed=1).fit(data).evaluate(data).metrics
        assert set(measured) == model_class.measured_metrics(), name
