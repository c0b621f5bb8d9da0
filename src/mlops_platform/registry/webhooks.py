"""Alias moves made by hand in the MLflow UI, caught by an MLflow webhook.

MLflow (a SQL-backed server) posts ``model_version_alias.created`` / ``.deleted`` events,
signed with HMAC-SHA256 over ``"<delivery id>.<unix time>.<body>"`` (header
``X-MLflow-Signature: v1,<base64>``). :class:`AliasWebhookReceiver` checks the signature and the
timestamp, and records in the model's alias history any move the platform did not make itself.
``on_champion_moved`` lets the orchestrator re-score when a champion changes.

The receiver judges a delivery from its headers before it reads the body (signature headers
present, timestamp fresh, delivery id not seen before, a numeric ``Content-Length`` under the
cap), then reads exactly that many bytes within a time-out. Delivery ids are kept in a small
append-only file (:class:`DeliveryLog`) for the replay window, so a replay is recorded once even
across a restart. At most ``max_handlers`` connections are served at once; the next get 503.
The HTTP side lives in :mod:`~mlops_platform.registry.webhook_transport`.

An authentic event for a registered model that does not exist (deleted since) is logged and
answered 200 "ignored": there is no history to record it in, and a 4xx or 5xx would only make
MLflow report (or retry) a delivery that can never succeed.
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
from pathlib import Path
from typing import Any, cast

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mlops_platform import registry
from mlops_platform.errors import InputError
from mlops_platform.registry.webhook_transport import (
    DELIVERY_ID,
    MAX_BODY_BYTES,
    MAX_HANDLERS,
    READ_TIMEOUT_SECONDS,
    BoundedServer,
    DeliveryLog,
    Reply,
    body_length,
    handler_for,
)

_logger = logging.getLogger(__name__)

PATH = "/mlflow-webhook"
EVENTS = ("model_version_alias.created", "model_version_alias.deleted")
MAX_SKEW_SECONDS = 300
WEBHOOK_ACTOR = "MLflow UI or API (webhook)"
MIN_SECRET_LENGTH = 16


def default_deliveries_path() -> Path:
    """Where the receiver keeps recent delivery ids unless told otherwise."""
    return Path.home() / ".mlops" / "webhook-deliveries.log"


def check_secret(secret: str) -> str:
    """``secret`` if it is long enough to be an HMAC key worth the name, else an InputError."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise InputError(
            f"the webhook secret has {len(secret)} characters; use at least {MIN_SECRET_LENGTH} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return secret


def sign(secret: str, delivery_id: str, timestamp: str, body: str | bytes) -> str:
    """The signature MLflow sends for ``body``."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_headers(headers: dict[str, str], now: float | None = None) -> str | None:
    """None if the signature headers are present, well formed and fresh, else why not."""
    delivery = headers.get("x-mlflow-delivery-id", "")
    stamp = headers.get("x-mlflow-timestamp", "")
    if not (delivery and stamp and headers.get("x-mlflow-signature", "")):
        return "missing signature headers"
    if not DELIVERY_ID.fullmatch(delivery):
        return "bad delivery id"
    try:
        age = abs((now or time.time()) - int(stamp))
    except ValueError:
        return "bad timestamp"
    if age > MAX_SKEW_SECONDS:
        return f"timestamp {age:.0f} s away from now"
    return None


def verify(secret: str, headers: dict[str, str], body: str | bytes, now: float | None = None) -> str | None:
    """None if the delivery is authentic and fresh, else why not."""
    problem = check_headers(headers, now)
    if problem:
        return problem
    expected = sign(secret, headers["x-mlflow-delivery-id"], headers["x-mlflow-timestamp"], body)
    if not hmac.compare_digest(expected, headers["x-mlflow-signature"]):
        return "signature mismatch"
    return None


@dataclass(frozen=True)
class AliasChange:
    model: str
    alias: str
    version: str | None  # None: the alias was deleted


def parse_event(body: str) -> AliasChange | None:
    """The alias change in a webhook body, or None for other events; ValueError names what is wrong."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"body is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise ValueError(f"body is a JSON {type(payload).__name__}, not an object")
    if payload.get("entity") != "model_version_alias":
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValueError("missing object 'data'")
    created = payload.get("action") == "created"
    for field in ("name", "alias", "version") if created else ("name", "alias"):
        value = data.get(field)
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
            raise ValueError(f"missing or bad field 'data.{field}'")
    version = str(data["version"]) if created else None
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
        *,
        deliveries_path: Path | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        max_handlers: int = MAX_HANDLERS,
    ) -> None:
        self.secret = check_secret(secret)
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.on_champion_moved = on_champion_moved
        self.deliveries = DeliveryLog(deliveries_path or default_deliveries_path(), MAX_SKEW_SECONDS + 5)
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.recorded: list[registry.AliasEvent] = []
        self._lock = threading.Lock()
        self.server = BoundedServer((host, port), handler_for(self), max_handlers)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}{PATH}"

    def precheck(self, path: str, headers: dict[str, str]) -> int | Reply:
        """The body length to read, or the reply that refuses the delivery from its headers alone."""
        if path != PATH:
            return 404, "not found"
        problem = check_headers(headers)
        if problem:
            _logger.warning("rejected webhook delivery: %s", problem)
            return 401, problem
        if self.deliveries.seen(headers["x-mlflow-delivery-id"]):
            return 200, "already received"
        return body_length(headers, self.max_body_bytes)

    def handle(self, path: str, headers: dict[str, str], body: str | bytes) -> Reply:
        """Check and apply one delivery; returns the HTTP status and a short text."""
        if path != PATH:
            return 404, "not found"
        problem = verify(self.secret, headers, body)
        if problem:
            _logger.warning("rejected webhook delivery: %s", problem)
            return 401, problem
        try:
            text = body if isinstance(body, str) else body.decode("utf-8")
            change = parse_event(text)
        except UnicodeDecodeError:
            return 400, "body is not UTF-8"
        except ValueError as exc:
            return 400, f"bad payload: {exc}"
        delivery, stamp = headers["x-mlflow-delivery-id"], int(headers["x-mlflow-timestamp"])
        with self._lock:
            if self.deliveries.seen(delivery):
                return 200, "already received"
            reply, event = self._apply(change)
            if reply[0] < 500:
                self.deliveries.remember(delivery, stamp)
        if event is not None:
            self.recorded.append(event)
            if event.alias == registry.CHAMPION and self.on_champion_moved is not None:
                self._notify(event)
        return reply

    def _apply(self, change: AliasChange | None) -> tuple[Reply, registry.AliasEvent | None]:
        """Apply ``change`` to the alias history: the reply and the event recorded, if any."""
        if change is None:
            return (200, "ignored"), None
        try:
            event = apply_change(self.client, change)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                _logger.warning("webhook event for model %r, which does not exist: nothing recorded", change.model)
                return (200, f"ignored: no registered model {change.model!r}"), None
            _logger.warning("could not record a webhook event for %r: %s", change.model, exc)
            return (503, "tracking server unavailable; retry later"), None
        return (200, "recorded" if event else "already known"), event

    def _notify(self, event: registry.AliasEvent) -> None:
        assert self.on_champion_moved is not None
        try:
            self.on_champion_moved(event)
        except Exception:
            _logger.exception("on_champion_moved failed for %s", event.model)

    def start(self) -> AliasWebhookReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()


def register_webhook(client: MlflowClient, url: str, secret: str, name: str = "mlops-alias-moves") -> str:
    """Create (or reuse) the MLflow webhook that posts alias events to ``url``; returns its id."""
    check_secret(secret)
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
