"""The alias-webhook receiver on 127.0.0.1 against hostile and broken deliveries (SQLite MLflow)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlops_platform import registry
from mlops_platform.cli.app import app
from mlops_platform.errors import InputError
from mlops_platform.registry import webhooks
from mlops_platform.registry.webhook_transport import DeliveryLog

SECRET = "a-test-secret-of-32-characters!!"
Factory = Callable[..., webhooks.AliasWebhookReceiver]


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite registry for the module (creating one costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def make_receiver(tracking_uri: str, tmp_path: Path) -> Iterator[Factory]:
    """Start receivers on ephemeral ports (all sharing this test's delivery log); stop them after."""
    started: list[webhooks.AliasWebhookReceiver] = []

    def make(**options: object) -> webhooks.AliasWebhookReceiver:
        options.setdefault("deliveries_path", tmp_path / "deliveries.log")
        receiver = webhooks.AliasWebhookReceiver(tracking_uri, SECRET, **options).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def port_of(receiver: webhooks.AliasWebhookReceiver) -> int:
    return int(receiver.server.server_address[1])


def event_body(name: str, alias: str = "champion", version: object = "2", action: str = "created") -> bytes:
    data: dict[str, object] = {"name": name, "alias": alias}
    if version is not None:
        data["version"] = version
    return json.dumps({"entity": "model_version_alias", "action": action, "data": data}).encode()


def signed(body: bytes, delivery: str | None = None, length: str | None = None) -> dict[str, str]:
    """MLflow's headers for ``body``, signed now with SECRET."""
    delivery = delivery or uuid.uuid4().hex
    stamp = str(int(time.time()))
    return {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": webhooks.sign(SECRET, delivery, stamp, body),
        "Content-Length": str(len(body)) if length is None else length,
    }


def send(port: int, headers: dict[str, str], body: bytes = b"", path: str = webhooks.PATH) -> socket.socket:
    """A connection that has sent a POST's headers and ``body`` (which may be only a part)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = "".join(f"{key}: {value}\r\n" for key, value in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode() + body)
    return sock


def reply_of(sock: socket.socket, timeout: float = 5.0) -> tuple[int, str]:
    """The status and text the server answered, read until it closed the connection."""
    sock.settimeout(timeout)
    data = b""
    with sock:
        while chunk := sock.recv(65536):
            data += chunk
    assert data, "the connection was closed without a reply"
    head, _, text = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), text.decode()


def post(port: int, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    return reply_of(send(port, signed(body) if headers is None else headers, body))


def champion_model(client: MlflowClient) -> str:
    """A registered model with two versions; the platform made version 1 champion."""
    name = f"churn-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, source="file:///nowhere/model")
    registry.move_alias(client, name, registry.CHAMPION, "1", "first champion", actor="tester")
    return name


def webhook_events(client: MlflowClient, name: str) -> int:
    return sum(e.actor == webhooks.WEBHOOK_ACTOR for e in registry.history(client, name))


# -- replays ---------------------------------------------------------------------------------------


def test_a_replayed_delivery_is_recorded_once(client: MlflowClient, make_receiver: Factory) -> None:
    port = port_of(make_receiver())
    name = champion_model(client)
    body = event_body(name)
    headers = signed(body)
    assert post(port, body, headers) == (200, "recorded")
    registry.move_alias(client, name, registry.CHAMPION, "1", "rolled back", actor="tester")

    assert post(port, body, headers) == (200, "already received")  # else a bogus 1 -> 2 move
    assert webhook_events(client, name) == 1
    assert registry.known_state(client, name)[registry.CHAMPION] == "1"


def test_a_replay_after_a_restart_of_the_receiver_is_recorded_once(
    client: MlflowClient, make_receiver: Factory
) -> None:
    first = make_receiver()
    name = champion_model(client)
    body = event_body(name)
    headers = signed(body)
    assert post(port_of(first), body, headers) == (200, "recorded")
    first.stop()
    registry.move_alias(client, name, registry.CHAMPION, "1", "rolled back", actor="tester")

    assert post(port_of(make_receiver()), body, headers) == (200, "already received")
    assert webhook_events(client, name) == 1


def test_the_delivery_log_keeps_only_ids_within_the_window(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deliveries.log"
    path.parent.mkdir()
    now = int(time.time())
    path.write_text(f"{now - 1000} old-id\n{now - 10} fresh-id\nnot a line\n{now} bad id with spaces\n")
    log = DeliveryLog(path, keep_seconds=305)
    assert log.seen("fresh-id") and not log.seen("old-id")
    log.remember("new-id", now)
    assert path.read_text().splitlines() == [f"{now - 10} fresh-id", f"{now} new-id"]


# -- size, time and thread limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sign_it", "status"),
    [pytest.param(False, 401, id="unsigned"), pytest.param(True, 413, id="signed-but-too-big")],
)
def test_a_200_mb_post_is_refused_before_its_body_is_sent(make_receiver: Factory, sign_it: bool, status: int) -> None:
    port = port_of(make_receiver())
    length = str(200 * 1024 * 1024)
    headers = signed(b"x", length=length) if sign_it else {"Content-Length": length}
    started = time.monotonic()
    sock = send(port, headers, b"x" * 1024)  # 1 KiB of the 200 MB; the rest is never sent
    assert reply_of(sock, timeout=3)[0] == status
    assert time.monotonic() - started < 3  # well before the 10 s read time-out


def test_a_stalled_body_is_cut_off_by_the_read_timeout(client: MlflowClient, make_receiver: Factory) -> None:
    port = port_of(make_receiver(read_timeout=0.5))
    body = event_body(champion_model(client))
    started = time.monotonic()
    status, _ = reply_of(send(port, signed(body), body[:10]))  # then nothing more
    assert status == 408
    assert time.monotonic() - started < 3


def test_a_silent_connection_is_closed_by_the_read_timeout(make_receiver: Factory) -> None:
    port = port_of(make_receiver(read_timeout=0.5))
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, not by our 3 s time-out
        assert time.monotonic() - started < 3


def test_connections_over_the_bound_are_answered_503(make_receiver: Factory) -> None:
    port = port_of(make_receiver(max_handlers=2, read_timeout=5))
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    assert reply_of(send(port, {"Content-Length": "0"}))[0] == 503
    for sock in idle:
        sock.close()
    deadline = time.monotonic() + 3
    while (status := reply_of(send(port, {"Content-Length": "0"}))[0]) == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == 401  # served again once the idle connections are gone


# -- malformed input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "length", "reason"),
    [
        pytest.param(b'{"entity": "model_version_alias", "x": "\xff"}', None, "not UTF-8", id="not-utf8"),
        pytest.param(b"{}", "abc", "is not a number", id="content-length-abc"),
        pytest.param(b"{}", "", "missing Content-Length", id="no-content-length"),
        pytest.param(b"[1, 2]", None, "JSON list, not an object", id="json-list"),
        pytest.param(b"{not json", None, "not JSON", id="not-json"),
        pytest.param(b'{"entity": "model_version_alias", "data": [1]}', None, "'data'", id="data-not-object"),
        pytest.param(event_body("m", alias=None), None, "data.alias", id="no-alias"),
        pytest.param(event_body("m", version=None), None, "data.version", id="no-version"),
        pytest.param(event_body("m", version={"a": 1}), None, "data.version", id="version-object"),
    ],
)
def test_every_malformed_delivery_is_answered_400(
    make_receiver: Factory, body: bytes, length: str | None, reason: str
) -> None:
    port = port_of(make_receiver())
    headers = signed(body, length=length)
    if length == "":
        del headers["Content-Length"]
    status, text = post(port, body, headers)
    assert status == 400 and reason in text
    assert post(port, b"{}")[0] == 200  # still serving


def test_a_chunked_or_short_body_is_answered_400(make_receiver: Factory) -> None:
    port = port_of(make_receiver())
    chunked = {**signed(b"{}"), "Transfer-Encoding": "chunked"}
    assert post(port, b"", chunked)[0] == 400
    sock = send(port, signed(b"{}" * 10), b"{}")
    sock.shutdown(socket.SHUT_WR)  # hangs up after 2 of the 20 bytes
    assert reply_of(sock) == (400, "body shorter than Content-Length")


def test_an_event_for_a_missing_model_is_answered_and_ignored(make_receiver: Factory) -> None:
    port = port_of(make_receiver())
    status, text = post(port, event_body("no-such-model"))
    assert (status, text) == (200, "ignored: no registered model 'no-such-model'")
    assert post(port, event_body("no-such-model", action="deleted", version=None))[0] == 200


def test_an_unexpected_failure_is_answered_500(make_receiver: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = make_receiver()

    def broken(*_: object) -> tuple[int, str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(receiver, "handle", broken)
    assert post(port_of(receiver), b"{}") == (500, "internal error")


def test_a_wrong_path_is_404_without_reading_the_body(make_receiver: Factory) -> None:
    port = port_of(make_receiver())
    assert reply_of(send(port, signed(b"{}", length="99999"), b"{}", path="/other"))[0] == 404


# -- the secret ------------------------------------------------------------------------------------


def test_a_short_secret_is_refused(tracking_uri: str, client: MlflowClient, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has 1 characters; use at least 16"):
        webhooks.AliasWebhookReceiver(tracking_uri, "x", deliveries_path=tmp_path / "d.log")
    with pytest.raises(InputError, match="at least 16"):
        webhooks.register_webhook(client, "http://127.0.0.1:1/mlflow-webhook", "fifteen-chars!!")


@pytest.mark.parametrize("command", ["serve", "register"])
def test_the_cli_refuses_a_short_secret_in_one_line(command: str) -> None:
    args = ["webhook", command] + (["http://127.0.0.1:1/mlflow-webhook"] if command == "register" else [])
    result = CliRunner().invoke(app, args, env={"MLOPS_WEBHOOK_SECRET": "short"})
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: MLOPS_WEBHOOK_SECRET: the webhook secret has 5 characters; use at least 16 "
        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    ]
