"""The Airflow REST client against a small fake of Airflow 3's API on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mlops_platform.config import AirflowApiSettings
from mlops_platform.orchestration import airflow_api
from mlops_platform.orchestration.airflow_api import AirflowApi, AirflowApiError
from mlops_platform.registry import AliasEvent

USER, PASSWORD = "admin", "s3cret"


@dataclass
class FakeAirflow:
    """Answers like Airflow 3: ``/auth/token`` for USER/PASSWORD, then bearer-checked ``/api/v2`` calls."""

    dags: dict[str, bool] = field(default_factory=lambda: {"daily_scoring": False})  # dag id -> paused
    valid_tokens: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, dict[str, Any] | None, str | None]] = field(default_factory=list)
    fail_runs_with: int | None = None  # answer dagRuns posts with this status and an HTML body
    issued: int = 0

    def answer(self, method: str, path: str, body: dict[str, Any] | None, auth: str | None) -> tuple[int, Any]:
        self.calls.append((method, path, body, auth))
        if path == "/auth/token" and method == "POST":
            if body != {"username": USER, "password": PASSWORD}:
                return 401, {"detail": "Invalid credentials"}
            self.issued += 1
            token = f"token-{self.issued}"
            self.valid_tokens.add(token)
            return 201, {"access_token": token}
        if auth is None or auth.removeprefix("Bearer ") not in self.valid_tokens:
            return 401, {"detail": "Not authenticated"}
        parts = path.split("/")  # ['', 'api', 'v2', 'dags', dag_id, ...]
        dag_id = parts[4]
        if dag_id not in self.dags:
            return 404, {"detail": f"The Dag with dag_id: `{dag_id}` was not found"}
        if parts[5:] == ["dagRuns"] and method == "POST":
            if self.fail_runs_with:
                return self.fail_runs_with, "<html>Internal Server Error</html>"
            return 200, {"dag_id": dag_id, "dag_run_id": "manual__1", "state": "queued", "conf": body["conf"]}
        if parts[5:] == [] and method == "PATCH":
            self.dags[dag_id] = bool(body["is_paused"])
        return 200, {"dag_id": dag_id, "is_paused": self.dags[dag_id]}


@dataclass
class Served:
    fake: FakeAirflow
    url: str

    def api(self, password: str = PASSWORD) -> AirflowApi:
        return AirflowApi(self.url, USER, password, timeout=5)


@pytest.fixture
def served() -> Iterator[Served]:
    fake = FakeAirflow()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, payload = fake.answer(self.command, self.path, body, self.headers.get("Authorization"))
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _reply  # noqa: N815 - http.server naming

        def log_message(self, fmt: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(fake, f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()


def _event(to_version: str | None = "3", model: str = "churn") -> AliasEvent:
    return AliasEvent(
        time="2026-01-01T00:00:00+00:00",
        model=model,
        alias="champion",
        from_version="2",
        to_version=to_version,
        actor="MLflow UI or API (webhook)",
        reason="alias moved outside the platform (webhook)",
    )


def test_a_trigger_logs_in_then_posts_a_run_with_a_null_logical_date_and_the_conf(served: Served) -> None:
    run = served.api().trigger_dag_run("daily_scoring", {"models": ["churn"]})

    assert run["dag_run_id"] == "manual__1"
    (login, post) = served.fake.calls
    assert login[:2] == ("POST", "/auth/token") and login[3] is None
    assert post == (
        "POST",
        "/api/v2/dags/daily_scoring/dagRuns",
        {"logical_date": None, "conf": {"models": ["churn"]}},
        "Bearer token-1",
    )


def test_the_token_is_reused_across_calls(served: Served) -> None:
    api = served.api()
    api.trigger_dag_run("daily_scoring")
    api.dag("daily_scoring")
    assert [path for _, path, _, _ in served.fake.calls].count("/auth/token") == 1


def test_an_expired_token_is_renewed_once(served: Served) -> None:
    api = served.api()
    api.dag("daily_scoring")
    served.fake.valid_tokens.clear()  # Airflow restarted or the token expired

    assert api.set_paused("daily_scoring", True)["is_paused"] is True
    assert [auth for _, _, _, auth in served.fake.calls if auth] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_a_given_logical_date_is_sent_in_iso_form_and_a_naive_one_is_refused(served: Served) -> None:
    api = served.api()
    api.trigger_dag_run("daily_scoring", logical_date=dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
    assert served.fake.calls[-1][2]["logical_date"] == "2025-06-30T00:00:00+00:00"
    with pytest.raises(AirflowApiError, match="timezone-aware"):
        api.trigger_dag_run("daily_scoring", logical_date=dt.datetime(2025, 6, 30))


def test_a_refused_login_names_the_user_and_airflows_reason(served: Served) -> None:
    with pytest.raises(AirflowApiError, match=r"refused the login of user 'admin' \(401\): Invalid credentials"):
        served.api(password="wrong").trigger_dag_run("daily_scoring")


def test_an_unknown_dag_names_the_call_and_airflows_detail(served: Served) -> None:
    with pytest.raises(AirflowApiError, match=r"POST /api/v2/dags/nope/dagRuns: Airflow answered 404: .*`nope`"):
        served.api().trigger_dag_run("nope")


def test_a_server_error_without_json_shows_the_start_of_the_body(served: Served) -> None:
    served.fake.fail_runs_with = 500
    with pytest.raises(AirflowApiError, match="answered 500: <html>Internal Server Error"):
        served.api().trigger_dag_run("daily_scoring")


def test_an_unreachable_airflow_names_the_url() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(AirflowApiError, match=rf"Airflow API at http://127.0.0.1:{port} not reachable"):
        AirflowApi(f"http://127.0.0.1:{port}", USER, PASSWORD, timeout=2).token()


def test_an_airflow_that_does_not_answer_in_time_names_the_call_and_the_timeout() -> None:
    with socket.socket() as sock:  # accepts connections (backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(AirflowApiError, match=r"did not answer POST /auth/token within 0.5 s"):
            AirflowApi(url, USER, PASSWORD, timeout=0.5).token()


@pytest.mark.parametrize(
    ("url", "user", "match"),
    [
        pytest.param("127.0.0.1:8080", USER, "must start with http", id="no-scheme"),
        pytest.param("http://127.0.0.1:8080", "", "must not be empty", id="no-user"),
    ],
)
def test_a_bad_url_or_empty_user_is_refused_early(url: str, user: str, match: str) -> None:
    with pytest.raises(AirflowApiError, match=match):
        AirflowApi(url, user, PASSWORD)


def _settings(url: str) -> AirflowApiSettings:
    return AirflowApiSettings(url=url, username_env="AF_USER", password_env="AF_PASSWORD")


def test_an_empty_url_switches_the_trigger_off_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=airflow_api.__name__):
        assert airflow_api.champion_trigger(_settings(""), env={"AF_USER": USER, "AF_PASSWORD": PASSWORD}) is None
    assert "airflow_api.url is empty" in caplog.text


def test_missing_credentials_switch_the_trigger_off_naming_the_variable(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=airflow_api.__name__):
        assert airflow_api.champion_trigger(_settings("http://127.0.0.1:1"), env={"AF_USER": USER}) is None
    assert "AF_PASSWORD not set" in caplog.text


def test_a_champion_move_triggers_daily_scoring_for_that_model(served: Served) -> None:
    env = {"AF_USER": USER, "AF_PASSWORD": PASSWORD}
    on_moved = airflow_api.champion_trigger(_settings(served.url), env=env, in_thread=False)
    assert on_moved is not None

    on_moved(_event(model="revenue"))

    posts = [call for call in served.fake.calls if call[0] == "POST" and call[1].endswith("/dagRuns")]
    assert [(path, body["conf"]) for _, path, body, _ in posts] == [
        ("/api/v2/dags/daily_scoring/dagRuns", {"models": ["revenue"]})
    ]
    assert "moved to version 3" in posts[0][2]["note"]


def test_a_paused_scoring_dag_is_reported(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    served.fake.dags["daily_scoring"] = True
    with caplog.at_level(logging.INFO, logger=airflow_api.__name__):
        assert airflow_api.trigger_scoring(served.api(), _event()) == "manual__1"
    assert "daily_scoring is paused" in caplog.text


def test_a_removed_champion_triggers_nothing(served: Served) -> None:
    assert airflow_api.trigger_scoring(served.api(), _event(to_version=None)) is None
    assert served.fake.calls == []


def test_a_failed_trigger_is_logged_and_not_raised(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    served.fake.fail_runs_with = 503
    with caplog.at_level(logging.ERROR, logger=airflow_api.__name__):
        assert airflow_api.trigger_scoring(served.api(), _event()) is None
    assert "daily_scoring was not triggered" in caplog.text and "answered 503" in caplog.text


def test_the_threaded_trigger_reaches_airflow(served: Served) -> None:
    on_moved = airflow_api.champion_trigger(
        _settings(served.url), env={"AF_USER": USER, "AF_PASSWORD": PASSWORD}, in_thread=True
    )
    assert on_moved is not None
    before = set(threading.enumerate())
    on_moved(_event())
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=10)
    assert any(path.endswith("/dagRuns") for _, path, _, _ in served.fake.calls)
