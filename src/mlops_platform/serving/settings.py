"""What ``mlops serve`` serves and the limits it keeps (the CLI options, in one typed object)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mlops_platform.errors import InputError

DEFAULT_MODELS = ("churn", "conversion", "revenue", "segmentation")
TOKEN_ENV = "MLOPS_SERVE_TOKEN"
SECRET_ENV = "MLOPS_WEBHOOK_SECRET"


@dataclass(frozen=True)
class ServeSettings:
    """The service's settings.

    Attributes:
        models: registered models whose champions score customers (``/scores``, ``/predict``).
        recommender: the registered recommender (None: no recommendations endpoint).
        host, port: where to listen; a host off loopback requires ``token``.
        token: the bearer token every ``/v1`` request (but ``/v1/notify``) and ``/metrics`` must carry.
        secret: the HMAC secret of ``/v1/notify`` (None: the endpoint answers 503).
        poll_seconds: how often the champion aliases and the newest snapshot are checked.
        max_body_bytes: larger request bodies get 413.
        timeout_seconds: a request taking longer gets 504.
        max_rows: rows per ``/predict`` request at most.
        top_n: recommendations kept per customer (``n`` may not exceed it).
        exact_reasons: exact SHAP reasons for the recommendations (as ``mlops recommend`` gives).
        flush_seconds: how often the prediction log is written to the lake.
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    recommender: str | None = "recommender"
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    secret: str | None = None
    poll_seconds: float = 15.0
    max_body_bytes: int = 1_000_000
    timeout_seconds: float = 2.0
    max_rows: int = 1_000
    top_n: int = 10
    exact_reasons: bool = True
    flush_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not self.models and not self.recommender:
            raise InputError("mlops serve: no model to serve (give --models or --recommender)")
        for name, value in (("poll-seconds", self.poll_seconds), ("timeout-seconds", self.timeout_seconds)):
            if value <= 0:
                raise InputError(f"--{name} must be positive, got {value}")
        if self.max_body_bytes <= 0 or self.max_rows <= 0 or self.top_n <= 0:
            raise InputError("--max-body-bytes, --max-rows and --top-n must be positive")
        if self.token is not None and not self.token.strip():
            raise InputError(f"{TOKEN_ENV} is set but empty")
        check_bind(self.host, self.token)

    @property
    def served(self) -> tuple[str, ...]:
        """Every configured model, the recommender last."""
        return (*self.models, *([self.recommender] if self.recommender else []))


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen off loopback without a bearer token.

    Raises:
        InputError: ``host`` is not loopback and no token was set.
    """
    if not is_loopback(host) and not token:
        raise InputError(f"listening on {host} needs a bearer token: set {TOKEN_ENV} (or bind 127.0.0.1)")


def parse_models(text: str) -> tuple[str, ...]:
    """``"churn, conversion"`` -> ``("churn", "conversion")`` (empty names dropped, order kept)."""
    return tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
