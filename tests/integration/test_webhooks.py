"""Alias moves made by hand (the MLflow UI's REST calls) reach the history through a real webhook."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.registry import webhooks

SECRET = "test-secret-of-at-least-16-characters"


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _versions(client: MlflowClient, name: str, count: int) -> None:
    """A registered model with ``count`` versions whose source is a run's artifact folder."""
    client.create_registered_model(name)
    experiment = client.get_experiment_by_name("Default").experiment_id
    for _ in range(count):
        run = client.create_run(experiment)
        client.create_model_version(name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id)


@pytest.fixture
def receiver(mlflow_server, tmp_path):
    receiver = webhooks.AliasWebhookReceiver(
        mlflow_server.uri, SECRET, deliveries_path=tmp_path / "deliveries.log"
    ).start()
    hook = webhooks.register_webhook(
        MlflowClient(tracking_uri=mlflow_server.uri),
        receiver.url,
        SECRET,
        name=f"test-{uuid.uuid4().hex[:6]}",
    )
    yield receiver
    MlflowClient(tracking_uri=mlflow_server.uri).delete_webhook(hook)
    receiver.stop()


@pytest.mark.integration
def test_a_champion_moved_outside_the_platform_is_recorded_by_the_webhook(mlflow_server, receiver) -> None:
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    name = f"churn-{uuid.uuid4().hex[:6]}"
    _versions(client, name, 2)
    registry.move_alias(client, name, registry.CHAMPION, "1", "gate: first champion")

    client.set_registered_model_alias(name, registry.CHAMPION, "2")  # the UI's call

    assert _wait_for(lambda: len(registry.history(client, name)) == 2), receiver.recorded
    last = registry.history(client, name)[-1]
    assert (last.from_version, last.to_version, last.actor) == ("1", "2", webhooks.WEBHOOK_ACTOR)
    # the platform's own move was not recorded a second time by its webhook delivery
    assert [e.actor for e in registry.history(client, name)].count(webhooks.WEBHOOK_ACTOR) == 1
    assert registry.reconcile_aliases(client, name) == []


@pytest.mark.integration
def test_a_deleted_alias_is_recorded_by_the_webhook(mlflow_server, receiver) -> None:
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    name = f"conv-{uuid.uuid4().hex[:6]}"
    _versions(client, name, 1)
    registry.move_alias(client, name, registry.CHALLENGER, "1", "trained")
    client.delete_registered_model_alias(name, registry.CHALLENGER)
    assert _wait_for(lambda: registry.history(client, name)[-1].to_version is None)
    assert registry.history(client, name)[-1].actor == webhooks.WEBHOOK_ACTOR


@pytest.mark.integration
def test_a_delivery_from_mlflow_is_kept_in_the_delivery_log(mlflow_server, receiver) -> None:
    # MLflow's "test webhook" call posts at once (alias events go through a 60 s cache of webhooks)
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    hook = next(h for h in client.list_webhooks() if h.url == receiver.url)
    result = client.test_webhook(hook.webhook_id, event="model_version_alias.created")
    assert (result.success, result.response_status) == (True, 200), result
    stamp, delivery = receiver.deliveries.path.read_text().splitlines()[-1].split(" ")
    assert uuid.UUID(delivery) and abs(time.time() - int(stamp)) < 60
    assert receiver.deliveries.seen(delivery)


def test_deliveries_with_a_bad_signature_are_rejected() -> None:
    body = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": "m", "alias": "champion", "version": "2"},
        }
    )
    stamp = str(int(time.time()))
    good = webhooks.sign(SECRET, "d1", stamp, body)
    headers = {"x-mlflow-delivery-id": "d1", "x-mlflow-timestamp": stamp, "x-mlflow-signature": good}
    assert webhooks.verify(SECRET, headers, body) is None
    assert webhooks.verify("other", headers, body) == "signature mismatch"
    assert webhooks.verify(SECRET, {**headers, "x-mlflow-timestamp": str(int(stamp) - 3600)}, body) is not None
    assert webhooks.verify(SECRET, {}, body) == "missing signature headers"
    assert webhooks.parse_event(body) == webhooks.AliasChange("m", "champion", "2")
