"""Aliases, their history and the promotion gate against a real (SQLite) MLflow registry."""

from __future__ import annotations

import uuid

import pytest
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.config import GateSettings
from mlops_platform.errors import InputError


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    """One SQLite registry for the module (creating one costs seconds)."""
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}")


@pytest.fixture
def name() -> str:
    """A model name of this test's own in the shared registry."""
    return f"churn-{uuid.uuid4().hex[:8]}"


def _model_with_versions(client: MlflowClient, name: str, count: int) -> None:
    client.create_registered_model(name)
    for _ in range(count):
        client.create_model_version(name, source="file:///nowhere/model")


def test_moves_through_the_platform_are_recorded_with_from_and_to(client: MlflowClient, name: str) -> None:
    _model_with_versions(client, name, 2)
    registry.move_alias(client, name, "champion", "1", "first champion", actor="tester")
    registry.move_alias(client, name, "champion", "2", "better", actor="tester")
    events = registry.history(client, name)
    assert [(e.alias, e.from_version, e.to_version, e.reason) for e in events] == [
        ("champion", None, "1", "first champion"),
        ("champion", "1", "2", "better"),
    ]
    assert all(e.actor == "tester" for e in events)
    assert registry.current_aliases(client, name) == {"champion": "2"}


def test_a_move_to_the_same_version_records_nothing(client: MlflowClient, name: str) -> None:
    _model_with_versions(client, name, 1)
    assert registry.move_alias(client, name, "champion", "1", "first") is not None
    assert registry.move_alias(client, name, "champion", "1", "again") is None
    assert len(registry.history(client, name)) == 1


def test_a_move_made_outside_the_platform_is_recorded_when_first_seen(client: MlflowClient, name: str) -> None:
    _model_with_versions(client, name, 3)
    registry.move_alias(client, name, "champion", "1", "first")
    client.set_registered_model_alias(name, "champion", "3")  # what the MLflow UI does
    seen = registry.reconcile_aliases(client, name, seen_by="test")
    assert [(e.from_version, e.to_version, e.actor) for e in seen] == [("1", "3", registry.OUTSIDE)]
    assert registry.reconcile_aliases(client, name) == []  # recorded once
    assert registry.history(client, name)[-1].to_version == "3"


def test_a_deleted_alias_is_recorded_as_removed(client: MlflowClient, name: str) -> None:
    _model_with_versions(client, name, 1)
    registry.move_alias(client, name, "challenger", "1", "trained")
    client.delete_registered_model_alias(name, "challenger")
    seen = registry.reconcile_aliases(client, name)
    assert [(e.alias, e.from_version, e.to_version) for e in seen] == [("challenger", "1", None)]


def test_rollback_returns_to_the_previous_champion(client: MlflowClient, name: str) -> None:
    _model_with_versions(client, name, 3)
    for version in ("1", "2", "3"):
        registry.move_alias(client, name, "champion", version, f"v{version}")
    event = registry.rollback(client, name)
    assert (event.from_version, event.to_version) == ("3", "2")
    assert registry.current_aliases(client, name)["champion"] == "2"


def test_rollback_without_an_earlier_champion_is_refused(client: MlflowClient, name: str) -> None:
    _model_with_versions(client, name, 1)
    registry.move_alias(client, name, "champion", "1", "first")
    with pytest.raises(InputError, match="no earlier champion"):
        registry.rollback(client, name)


def test_promote_checks_the_version_exists(client: MlflowClient, name: str) -> None:
    _model_with_versions(client, name, 1)
    with pytest.raises(InputError, match="no version 7"):
        registry.promote(client, name, "7", "by hand")


def test_the_run_key_finds_the_version_registered_under_it(client: MlflowClient, name: str) -> None:
    client.create_registered_model(name)
    client.create_model_version(name, source="file:///a", tags={"run_key": "scheduled__2025-12-01"})
    client.create_model_version(name, source="file:///b", tags={"run_key": "other"})
    found = registry.find_version_by_run_key(client, name, "scheduled__2025-12-01")
    assert found is not None and str(found.version) == "1"
    assert registry.find_version_by_run_key(client, name, "missing") is None


GATE = GateSettings(metric="roc_auc", margin=0.01, floors={"roc_auc": 0.6})


@pytest.mark.parametrize(
    ("metrics", "champion", "promote", "reason"),
    [
        pytest.param({"roc_auc": 0.8}, None, True, "no champion yet", id="first-model"),
        pytest.param({"roc_auc": 0.55}, None, False, "floor not met", id="first-model-under-floor"),
        pytest.param({"roc_auc": 0.82}, 0.80, True, "gain", id="beats-by-margin"),
        pytest.param({"roc_auc": 0.805}, 0.80, False, "kept as challenger", id="gain-below-margin"),
        pytest.param({"roc_auc": 0.70}, 0.80, False, "kept as challenger", id="worse"),
    ],
)
def test_the_gate_promotes_only_past_the_margin_and_floors(metrics, champion, promote, reason) -> None:
    decision = registry.decide(GATE, metrics, champion, None if champion is None else "4")
    assert decision.promote is promote
    assert reason in decision.reason


def test_for_error_metrics_lower_is_better() -> None:
    gate = GateSettings(metric="rmse", margin=0.0, floors={})
    assert registry.decide(gate, {"rmse": 9.0}, 10.0, "1").promote
    assert not registry.decide(gate, {"rmse": 11.0}, 10.0, "1").promote
    assert not registry.decide(gate, {"rmse": 10.0}, 10.0, "1").promote


def test_a_gate_metric_that_was_not_measured_is_an_error() -> None:
    with pytest.raises(InputError, match="gate metric 'roc_auc' was not measured"):
        registry.decide(GATE, {"f1": 0.5}, None, None)


FRESH = GateSettings(metric="ndcg_at_5", margin=0.01, floors={"ndcg_at_5": 0.1}, require_gain=False)


@pytest.mark.parametrize(
    ("value", "champion", "promote", "reason"),
    [
        pytest.param(0.50, 0.50, True, "no worse than the margin", id="tie"),
        pytest.param(0.491, 0.50, True, "gain -0.0090", id="within-margin"),
        pytest.param(0.489, 0.50, False, "worse than the margin", id="past-margin"),
        pytest.param(0.60, 0.50, True, "gain +0.1000", id="better"),
        pytest.param(0.05, None, False, "floor not met", id="first-under-floor"),
    ],
)
def test_a_freshness_gate_promotes_unless_worse_than_the_margin(value, champion, promote, reason) -> None:
    decision = registry.decide(FRESH, {"ndcg_at_5": value}, champion, None if champion is None else "2")
    assert decision.promote is promote
    assert reason in decision.reason
