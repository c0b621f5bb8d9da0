"""A small client of Airflow 3's REST API, and the hook that re-scores a model whose champion moved.

Airflow 3 (simple auth manager) issues a JWT at ``POST /auth/token`` for a user name and a
password; every ``/api/v2`` call then carries it as a bearer token. :class:`AirflowApi` triggers DAG
runs (``POST /api/v2/dags/{dag_id}/dagRuns``), reads DAGs and runs, and pauses or unpauses a DAG.
:func:`champion_trigger` builds the webhook receiver's ``on_champion_moved`` callback: it triggers
``daily_scoring`` with ``conf={"models": [name]}``. Only the standard library and ``requests``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from mlops_platform.config import AirflowApiSettings
from mlops_platform.errors import PlatformError

if TYPE_CHECKING:
    from mlops_platform.registry import AliasEvent

_logger = logging.getLogger(__name__)

SCORING_DAG = "daily_scoring"


class AirflowApiError(PlatformError):
    """Airflow could not be reached or refused a call; the message names the call and the reason."""


def _detail(response: requests.Response) -> str:
    """The reason Airflow gives for a refusal (its JSON ``detail``), else the start of the body."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if detail is None:
        return response.text.strip()[:200] or response.reason or "no reason given"
    return detail if isinstance(detail, str) else str(detail)[:300]


@dataclass
class AirflowApi:
    """Airflow's REST API at ``url`` (e.g. ``http://127.0.0.1:8080``) as ``username``.

    The token is fetched on the first call and fetched again once if Airflow answers 401 (expired).
    """

    url: str
    username: str
    password: str = field(repr=False)
    timeout: float = 30.0
    _token: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise AirflowApiError(f"Airflow API url must start with http:// or https://, got {self.url!r}")
        if not self.username or not self.password:
            raise AirflowApiError("Airflow API user name and password must not be empty")
        self.url = self.url.rstrip("/")

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None, token: str | None) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return requests.request(method, self.url + path, json=body, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise AirflowApiError(
                f"Airflow API at {self.url} did not answer {method} {path} within {self.timeout:g} s"
            ) from exc
        except requests.RequestException as exc:
            raise AirflowApiError(f"Airflow API at {self.url} not reachable ({method} {path}): {exc}") from exc

    @staticmethod
    def _json(response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise AirflowApiError(f"{what}: Airflow answered {response.status_code} with no JSON body") from None

    def token(self) -> str:
        """A JWT for ``username`` from ``POST /auth/token``."""
        if self._token is None:
            body = {"username": self.username, "password": self.password}
            response = self._send("POST", "/auth/token", body, token=None)
            if response.status_code >= 400:
                raise AirflowApiError(
                    f"Airflow at {self.url} refused the login of user {self.username!r} "
                    f"({response.status_code}): {_detail(response)}"
                )
            data = self._json(response, "POST /auth/token")
            token = data.get("access_token") if isinstance(data, dict) else None
            if not token:
                raise AirflowApiError(f"POST /auth/token: Airflow at {self.url} answered without an access_token")
            self._token = str(token)
        return self._token

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One authenticated call of ``path`` (under ``url``); returns the decoded JSON answer.

        Raises:
            AirflowApiError: Airflow is unreachable, refuses the login, or answers 4xx/5xx.
        """
        response = self._send(method, path, body, self.token())
        if response.status_code == 401:  # the token expired: log in once more
            self._token = None
            response = self._send(method, path, body, self.token())
        if response.status_code >= 400:
            raise AirflowApiError(f"{method} {path}: Airflow answered {response.status_code}: {_detail(response)}")
        return self._json(response, f"{method} {path}")

    def trigger_dag_run(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        logical_date: dt.datetime | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Create a manual run of ``dag_id``; returns the run (``dag_run_id``, ``state``, ...).

        Args:
            dag_id: the DAG to run.
            conf: the run's ``conf`` (``dag_run.conf`` in its tasks).
            logical_date: timezone-aware; None (the default) lets Airflow 3 create a run with no
                logical date, so several triggers never collide.
            note: a note shown on the run in the UI.
        """
        if logical_date is not None and logical_date.tzinfo is None:
            raise AirflowApiError(f"logical_date must be timezone-aware, got {logical_date.isoformat()}")
        body: dict[str, Any] = {
            "logical_date": None if logical_date is None else logical_date.isoformat(),
            "conf": dict(conf or {}),
        }
        if note is not None:
            body["note"] = note
        return self.call("POST", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", body)

    def dag(self, dag_id: str) -> dict[str, Any]:
        """The DAG's details (``is_paused``, ``tags``, ...)."""
        return self.call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}")

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One run of ``dag_id`` (its ``state``: queued, running, success, failed)."""
        return self.call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}")

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        """Pause or unpause ``dag_id``."""
        return self.call("PATCH", f"/api/v2/dags/{quote(dag_id, safe='')}", {"is_paused": paused})


def from_settings(settings: AirflowApiSettings, env: Mapping[str, str] | None = None) -> AirflowApi | None:
    """The client ``settings`` describe, or None (with a warning saying why) if it is switched off.

    Args:
        settings: ``airflow_api`` of ``config/orchestration.yaml``: the url, and the names of the
            variables that hold the user name and the password.
        env: where to read those variables (default: the process environment).
    """
    env = os.environ if env is None else env
    if not settings.url:
        _logger.warning("airflow_api.url is empty: champion moves will not trigger %s", SCORING_DAG)
        return None
    missing = [name for name in (settings.username_env, settings.password_env) if not env.get(name)]
    if missing:
        _logger.warning(
            "%s not set: champion moves will not trigger %s at %s", " and ".join(missing), SCORING_DAG, settings.url
        )
        return None
    return AirflowApi(settings.url, env[settings.username_env], env[settings.password_env])


def trigger_scoring(api: AirflowApi, event: AliasEvent, dag_id: str = SCORING_DAG) -> str | None:
    """Trigger ``dag_id`` for the model of ``event``; returns the run id, None if not triggered.

    Never raises: a failure is logged, so that the webhook receiver keeps serving.
    """
    if event.to_version is None:
        _logger.info("champion of %s removed: nothing to score", event.model)
        return None
    note = f"champion of {event.model} moved to version {event.to_version} ({event.actor})"
    try:
        run = api.trigger_dag_run(dag_id, {"models": [event.model]}, note=note)
        run_id = str(run.get("dag_run_id"))
        _logger.info("%s: triggered %s run %s", note, dag_id, run_id)
        if api.dag(dag_id).get("is_paused"):
            _logger.warning("DAG %s is paused: run %s waits until it is unpaused in Airflow", dag_id, run_id)
        return run_id
    except AirflowApiError as exc:
        _logger.error("%s, but %s was not triggered: %s", note, dag_id, exc)
    except Exception:  # a bug here must not take the receiver down
        _logger.exception("%s, but triggering %s failed unexpectedly", note, dag_id)
    return None


def champion_trigger(
    settings: AirflowApiSettings,
    env: Mapping[str, str] | None = None,
    dag_id: str = SCORING_DAG,
    in_thread: bool = True,
) -> Callable[[AliasEvent], None] | None:
    """The receiver's ``on_champion_moved``: trigger ``dag_id`` with ``{"models": [name]}``.

    Returns None (after a warning) when ``settings`` switch the trigger off or the credentials are
    missing. With ``in_thread`` the call runs in a background thread, so MLflow's webhook delivery
    is answered at once.
    """
    api = from_settings(settings, env)
    if api is None:
        return None

    def on_champion_moved(event: AliasEvent) -> None:
        if not in_thread:
            trigger_scoring(api, event, dag_id)
            return
        name = f"trigger-{dag_id}-{event.model}"
        threading.Thread(target=trigger_scoring, args=(api, event, dag_id), name=name, daemon=True).start()

    return on_champion_moved
