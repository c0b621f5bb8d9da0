"""Alias moves made by hand in the MLflow UI, caught by an MLflow webhook.

MLflow (a SQL-backed server) posts ``model_version_alias.created`` / ``.deleted`` events,
signed with HMAC-SHA256 over ``"<delivery id>.<unix time>.<body>"`` (header
``X-MLflow-Signature: v1,<base64>``). :class:`AliasWebhookReceiver` checks the signature and the
timestamp, and records in the model's alias history any move the platform did not make itself.
``on_champion_moved`` lets the orchestrator re-score when a champion changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from mlflow import MlflowClient

from mlops_platform import registry

_logger = logging.getLogger(__name__)

PATH = "/mlflow-webhook"
EVENTS = ("model_version_alias.created", "model_version_alias.deleted")
MAX_SKEW_SECONDS = 300
WEBHOOK_ACTOR = "MLflow UI or API (webhook)"


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """The signature MLflow sends for ``body``."""
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: str, now: float | None = None) -> str | None:
    """None if the delivery is authentic and fresh, else why not."""
    delivery = headers.get("x-mlflow-delivery-id", "")
    stamp = headers.get("x-mlflow-timestamp", "")
    given = headers.get("x-mlflow-signature", "")
    if not (delivery and stamp and given):
        return "missing signature headers"
    try:
        age = abs((now or time.time()) - int(stamp))
    except ValueError:
        return "bad timestamp"
    if age > MAX_SKEW_SECONDS:
        return f"timestamp {age:.0f} s away from now"
    if not hmac.compare_digest(sign(secret, delivery, stamp, body), given):
        return "signature mismatch"
    return None


@dataclass(frozen=True)
class AliasChange:
    model: str
    alias: str
    version: str | None  # None: the alias was deleted


def parse_event(body: str) -> AliasChange | None:
    """The alias change in a webhook body, or None for other events."""
    payload = json.loads(body)
    if payload.get("entity") != "model_version_alias":
        return None
    data = payload.get("data", {})
    version = str(data["version"]) if payload.get("action") == "created" else None
    return AliasChange(model=str(data["name"]), alias=str(data["alias"]), version=version)


def apply_change(client: MlflowClient, change: AliasChange) -> registry.AliasEvent | None:
    """Record ``change`` unless the platform already knows it (it made the move itself)."""
    if change.alias not in registry.ALIASES:
        return None
    known = registry.known_state(client, change.model)
    if known.get(change.alias) == change.version:
        return None
    state = dict(known)
    if change.version is None:
        state.pop(change.alias, None)
    else:
        state[change.alias] = change.version
    event = registry.AliasEvent(
        time=registry.now_iso(),
        model=change.model,
        alias=change.alias,
        from_version=known.get(change.alias),
        to_version=change.version,
        actor=WEBHOOK_ACTOR,
        reason="alias moved outside the platform (webhook)",
    )
    registry.record_event(client, event, state)
    return event


class AliasWebhookReceiver:
    """An HTTP server on ``host:port`` that records alias moves posted by MLflow."""

    def __init__(
        self,
        tracking_uri: str,
        secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        on_champion_moved: Callable[[registry.AliasEvent], None] | None = None,
    ) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.secret = secret
        self.on_champion_moved = on_champion_moved
        self.recorded: list[registry.AliasEvent] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}{PATH}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                status, text = receiver.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, fmt: str, *args: object) -> None:
                _logger.debug(fmt, *args)

        return Handler

    def handle(self, path: str, headers: dict[str, str], body: str) -> tuple[int, str]:
        """Check and apply one delivery; returns the HTTP status and a short text."""
        if path != PATH:
            return 404, "not found"
        problem = verify(self.secret, headers, body)
        if problem:
            _logger.warning("rejected webhook delivery: %s", problem)
            return 401, problem
        try:
            change = parse_event(body)
        except (ValueError, KeyError) as exc:
            return 400, f"bad payload: {exc}"
        if change is None:
            return 200, "ignored"
        with self._lock:
            event = apply_change(self.client, change)
        if event is not None:
            self.recorded.append(event)
            if event.alias == registry.CHAMPION and self.on_champion_moved is not None:
                self.on_champion_moved(event)
        return 200, "recorded" if event else "already known"

    def start(self) -> AliasWebhookReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def register_webhook(client: MlflowClient, url: str, secret: str, name: str = "mlops-alias-moves") -> str:
    """Create (or reuse) the MLflow webhook that posts alias events to ``url``; returns its id."""
    for hook in client.list_webhooks():
        if hook.name == name and hook.url == url:
            return hook.webhook_id
    hook = client.create_webhook(
        name=name,
        url=url,
        events=cast(Any, list(EVENTS)),
        secret=secret,
        description="alias history of the mlops platform",
    )
    return hook.webhook_id
