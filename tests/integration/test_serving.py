"""`mlops serve` against a small generated lake: answers equal `mlops score`/`mlops recommend`, bad
input gets a clear status naming the field, the prediction log survives SIGTERM, and an alias
moved in a real MLflow server is served within the poll interval with zero failed requests."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pyarrow as pa
import pytest
from mlflow import MlflowClient
from starlette.testclient import TestClient
from typer.testing import CliRunner

from mlops_platform import registry
from mlops_platform.cli import app
from mlops_platform.data.generate import GeneratorConfig, generate_to_store
from mlops_platform.pipelines.recommend import recommend
from mlops_platform.registry import webhooks
from mlops_platform.serving.app import Service, create_app
from mlops_platform.serving.server import build_service
from mlops_platform.serving.settings import ServeSettings
from mlops_platform.storage import ObjectStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import free_port  # noqa: E402
from small_settings import SMALL  # noqa: E402

CONFIG = str(Path("config").resolve())
MLOPS = str(Path(sys.executable).parent / "mlops")
START = dt.date(2025, 1, 1)
SECRET = "serving-test-secret"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A 300-customer lake with a churn champion and a recommender champion (SQLite registry)."""
    root = tmp_path_factory.mktemp("serving")
    lake = f"file://{root / 'lake'}"
    generate_to_store(ObjectStore(lake), GeneratorConfig(customers=300, days=100, seed=5, start=START))
    values = {
        **SMALL,
        "MLOPS_STORAGE_URI": lake,
        "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(root / "mlruns"),
    }
    mlops(values, "train", "churn", "--run-key", "k1")
    mlops(values, "train", "recommender", "--as-of", "2025-03-25", "--run-key", "k1")
    return values


def mlops(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, ["--config-dir", CONFIG, *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def client(env: dict[str, str]) -> MlflowClient:
    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])
    return MlflowClient(tracking_uri=env["MLOPS_TRACKING_URI"])


@pytest.fixture(scope="module")
def store(env: dict[str, str]) -> ObjectStore:
    return ObjectStore(env["MLOPS_STORAGE_URI"])


def start(service: Service) -> TestClient:
    http = TestClient(create_app(service))
    http.__enter__()
    deadline = time.monotonic() + 120
    while http.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, http.get("/readyz").json()
        time.sleep(0.1)
    return http


@pytest.fixture(scope="module")
def service(client: MlflowClient, store: ObjectStore) -> Iterator[Service]:
    settings = ServeSettings(models=("churn",), recommender="recommender", secret=SECRET, max_body_bytes=20_000)
    found = build_service(client, store, settings)
    http = start(found)
    found.http = http  # type: ignore[attr-defined]
    yield found
    http.__exit__(None, None, None)


@pytest.fixture(scope="module")
def http(service: Service) -> TestClient:
    return service.http  # type: ignore[attr-defined]


def snapshot_rows(store: ObjectStore) -> tuple[dt.date, list[dict[str, Any]]]:
    day = store.list_dates("features/customer")[-1]
    rows = store.read_partition(f"features/customer/date={day}").to_pylist()
    return day, [{k: v for k, v in r.items() if k != "snapshot_date"} for r in rows]


def test_scores_equal_mlops_score_for_every_customer(env, store, http) -> None:
    day, _ = snapshot_rows(store)
    mlops(env, "score", "churn", "--date", day.isoformat())
    batch = store.read_partition(f"scores/churn/date={day}").to_pandas()
    for row in batch.itertuples(index=False):
        answer = http.get(f"/v1/customers/{row.customer_id}/scores", params={"models": "churn"})
        assert answer.status_code == 200, answer.text
        churn = answer.json()["scores"]["churn"]
        assert churn["score"] == pytest.approx(row.score, abs=1e-6)
        assert churn["version"] == row.model_version == "1"
        assert churn["snapshot_date"] == day.isoformat()


def test_predict_on_snapshot_rows_equals_mlops_score(env, store, http) -> None:
    day, rows = snapshot_rows(store)
    mlops(env, "score", "churn", "--date", day.isoformat())
    expected = store.read_partition(f"scores/churn/date={day}").to_pandas().set_index("customer_id")["score"]
    answer = http.post("/v1/models/churn/predict", json={"rows": rows[:40]})
    assert answer.status_code == 200, answer.text
    got = [p["score"] for p in answer.json()["predictions"]]
    assert got == pytest.approx([expected[r["customer_id"]] for r in rows[:40]], abs=1e-6)


def test_recommendations_equal_mlops_recommend_and_unknown_ids_get_the_cold_start_list(client, service, http) -> None:
    known = sorted(service.state.recommendations.lists)[:3]
    expected = recommend(client, "recommender", [*known, 987654321], n=3)
    for customer in [*known, 987654321]:
        answer = http.get(f"/v1/customers/{customer}/recommendations", params={"n": 3}).json()
        want = expected.of(customer)
        assert [i["product_id"] for i in answer["recommendations"]] == want["product_id"].tolist()
        assert [i["score"] for i in answer["recommendations"]] == pytest.approx(want["score"].tolist(), abs=1e-6)
        assert ["; ".join(i["reasons"]) for i in answer["recommendations"]] == want["reasons"].tolist()
        assert answer["cold_start"] is (customer == 987654321)


def test_models_lists_what_is_served_and_readyz_and_healthz_answer(http) -> None:
    served = {m["name"]: m for m in http.get("/v1/models").json()["models"]}
    assert set(served) == {"churn", "recommender"}
    assert served["churn"]["version"] == "1" and served["churn"]["alias"] == "champion"
    assert served["churn"]["snapshot_date"] and served["churn"]["loaded_at"]
    assert http.get("/readyz").json() == {"ready": True}
    assert http.get("/healthz").status_code == 200


def test_metrics_export_counts_latency_buckets_and_served_versions(http) -> None:
    http.get("/v1/customers/1/scores")
    text = http.get("/metrics").text
    assert 'mlops_serving_requests_total{route="scores",status="404"}' in text
    assert 'mlops_serving_request_seconds_bucket{le="0.001",route="scores"}' in text
    for bound in ("0.002", "0.005", "0.01", "0.025", "0.05"):
        assert f'le="{bound}"' in text
    assert 'mlops_serving_model_version{model="churn"} 1.0' in text
    assert 'mlops_serving_errors_total{kind="not_found",route="scores"}' in text


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        pytest.param("GET", "/v1/customers/1/scores", None, 404, "customer_id", id="unknown customer"),
        pytest.param("GET", "/v1/customers/abc/scores", None, 422, "customer_id", id="id not an integer"),
        pytest.param("GET", "/v1/customers/1/scores?models=nope", None, 404, "model", id="model not served"),
        pytest.param("GET", "/v1/customers/1/recommendations?n=0", None, 422, "n", id="n below 1"),
        pytest.param("GET", "/v1/customers/1/recommendations?n=x", None, 422, "n", id="n not a number"),
        pytest.param("GET", "/v1/customers/1/recommendations?n=11", None, 422, "n", id="n above top-n"),
        pytest.param("POST", "/v1/models/churn/predict", b"{not json", 422, "body", id="malformed JSON"),
        pytest.param("POST", "/v1/models/churn/predict", b"[1, 2]", 422, "rows", id="not an object"),
        pytest.param("POST", "/v1/models/churn/predict", b'{"rows": []}', 422, "rows", id="no rows"),
        pytest.param("POST", "/v1/models/churn/predict", b'{"rows": [3]}', 422, "rows[0]", id="row not an object"),
        pytest.param("POST", "/v1/models/nope/predict", b'{"rows": [{}]}', 404, "model", id="predict unknown model"),
        pytest.param("POST", "/v1/models/churn/predict", b"x" * 30_000, 413, None, id="body too large"),
    ],
)
def test_bad_input_gets_a_clear_status_naming_the_field(http, method, path, body, status, field) -> None:
    answer = http.request(method, path, content=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
    assert answer.json().get("field") == field


def test_a_wrong_type_or_missing_feature_names_the_row_and_column(store, http) -> None:
    _, rows = snapshot_rows(store)
    wrong = dict(rows[0], tenure_days="old")
    answer = http.post("/v1/models/churn/predict", json={"rows": [rows[1], wrong]})
    assert answer.status_code == 422
    assert answer.json()["field"] == "rows[1].tenure_days"
    missing = {k: v for k, v in rows[0].items() if k != "tenure_days"}
    answer = http.post("/v1/models/churn/predict", json={"rows": [missing]})
    assert answer.status_code == 422
    assert answer.json()["field"] == "rows[0].tenure_days"


def test_a_failing_or_slow_request_never_takes_the_worker_down(service, http, monkeypatch, store) -> None:
    from mlops_platform.serving import batcher

    _, rows = snapshot_rows(store)
    monkeypatch.setattr(batcher, "predict_rows", lambda *_: 1 / 0)
    assert http.post("/v1/models/churn/predict", json={"rows": rows[:1]}).status_code == 500
    monkeypatch.setattr(batcher, "predict_rows", lambda *_: time.sleep(3))
    slow = http.post("/v1/models/churn/predict", json={"rows": rows[:1]})
    assert slow.status_code == 504
    assert "no answer within" in slow.json()["error"]
    assert http.get("/healthz").status_code == 200


def test_a_streamed_body_over_the_limit_is_a_413_too(http) -> None:
    chunks = (b"x" * 5_000 for _ in range(6))  # no Content-Length: chunked transfer
    answer = http.post("/v1/models/churn/predict", content=chunks)
    assert answer.status_code == 413
    assert "over 20,000 bytes" in answer.json()["error"]


def test_a_model_without_a_champion_keeps_the_service_unready_and_answers_503(client, store) -> None:
    settings = ServeSettings(models=("churn", "conversion"), recommender=None)
    service = build_service(client, store, settings)
    with TestClient(create_app(service)) as http:
        deadline = time.monotonic() + 60
        while "churn" not in service.state.scores:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["missing"] == ["conversion"]
        assert "has no champion" in ready.json()["failures"]["conversion"]
        answer = http.get("/v1/customers/1/scores", params={"models": "conversion"})
        assert answer.status_code == 503 and answer.json()["field"] == "model"


def test_a_token_is_required_when_set_and_never_for_probes(client, store) -> None:
    settings = ServeSettings(models=("churn",), recommender=None, token="s3cret", host="0.0.0.0")
    http = start(build_service(client, store, settings))
    try:
        assert http.get("/v1/models").status_code == 401
        assert http.get("/metrics").status_code == 401
        assert http.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert http.get("/readyz").status_code == 200
    finally:
        http.__exit__(None, None, None)


def test_a_version_that_fails_to_load_is_not_swapped_in(client, store) -> None:
    settings = ServeSettings(models=("churn",), recommender=None)
    service = build_service(client, store, settings)
    http = start(service)
    try:
        v1 = client.get_model_version("churn", "1")
        v2 = client.create_model_version("churn", v1.source, v1.run_id)

        def broken(name: str, version: str) -> Any:
            raise OSError(f"artifact of {name} v{version} unreadable")

        service.swapper.loader.load = broken
        registry.promote(client, "churn", v2.version, "test: a broken version")
        service.swapper.refresh()
        served = {m["name"]: m for m in http.get("/v1/models").json()["models"]}
        assert served["churn"]["version"] == "1"
        assert "unreadable" in served["churn"]["last_error"]
        assert 'mlops_serving_load_failures_total{model="churn"} 1.0' in http.get("/metrics").text
        assert http.get(f"/v1/customers/{next(iter(service.state.scores['churn'].index))}/scores").status_code == 200
    finally:
        registry.promote(client, "churn", "1", "test: back to v1")
        http.__exit__(None, None, None)


def signed(body: str, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "x-mlflow-delivery-id": "d1",
        "x-mlflow-timestamp": stamp,
        "x-mlflow-signature": webhooks.sign(secret, "d1", stamp, body),
    }


def test_a_signed_notification_wakes_the_refresh_and_a_forged_one_is_refused(service, http) -> None:
    body = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": "churn", "alias": "champion", "version": "1"},
        }
    )
    before = service.swapper.refreshes
    assert http.post("/v1/notify", content=body, headers=signed(body, "forged")).status_code == 401
    answer = http.post("/v1/notify", content=body, headers=signed(body))
    assert answer.status_code == 202
    deadline = time.monotonic() + 30
    while service.swapper.refreshes == before:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def get_json(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def serve_process(env: dict[str, str], port: int, *args: str) -> subprocess.Popen:
    command = [MLOPS, "--config-dir", CONFIG, "serve", "--port", str(port), "--models", "churn", *args]
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            if get_json(f"http://127.0.0.1:{port}/readyz")[0] == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"mlops serve did not get ready: {proc.stdout.read().decode()[-3000:]}")
        time.sleep(0.25)


def batches_of(store: ObjectStore, model: str, pid: int) -> pa.Table:
    """The prediction log batches process ``pid`` wrote today or yesterday (UTC)."""
    today = dt.datetime.now(dt.UTC).date()
    parts = [
        f"predictions/{model}/date={day}/{name}"
        for day in (today - dt.timedelta(days=1), today)
        for name in store.list_dirs(f"predictions/{model}/date={day}")
        if f"-{pid}-" in name
    ]
    return store.read_partitions(parts)


def test_every_answer_is_in_the_prediction_log_after_sigterm(env, store) -> None:
    port = free_port()
    proc = serve_process(env, port, "--flush-seconds", "3600")
    try:
        customers = list(
            store.read_partition(f"features/customer/date={snapshot_rows(store)[0]}").column("customer_id").to_pylist()
        )[:25]
        for customer in customers:
            assert get_json(f"http://127.0.0.1:{port}/v1/customers/{customer}/scores")[0] == 200
        for customer in customers[:5]:
            assert get_json(f"http://127.0.0.1:{port}/v1/customers/{customer}/recommendations?n=2")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode in (0, -signal.SIGTERM), output  # uvicorn re-raises the signal once it has stopped
    assert "the last flush wrote 30 prediction log rows" in output
    churn = batches_of(store, "churn", proc.pid)
    assert sorted(churn.column("customer_id").to_pylist()) == sorted(customers)
    assert batches_of(store, "recommender", proc.pid).num_rows == 5
    row = churn.to_pylist()[0]
    assert row["version"] == "1" and row["request_id"] and row["latency_ms"] >= 0 and 0 <= row["score"] <= 1


def test_listening_off_loopback_without_a_token_is_refused(env) -> None:
    result = CliRunner().invoke(app, ["--config-dir", CONFIG, "serve", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 1
    assert "needs a bearer token" in result.output and "MLOPS_SERVE_TOKEN" in result.output


@pytest.fixture
def server_champions(client: MlflowClient, mlflow_server) -> Iterator[MlflowClient]:
    """Churn v1 and v2 in a real MLflow server (the SQLite champion logged twice), v1 the champion."""
    loaded = mlflow.pyfunc.load_model("models:/churn/1")
    mlflow.set_tracking_uri(mlflow_server.uri)
    try:
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=loaded.unwrap_python_model(),
                signature=loaded.metadata.signature,
                registered_model_name="churn",
                pip_requirements=[],
            )
        mlflow.register_model(info.model_uri, "churn")  # v2: the same model, a new version
        remote = MlflowClient(tracking_uri=mlflow_server.uri)
        remote.set_registered_model_alias("churn", "champion", "1")
        yield remote
    finally:
        mlflow.set_tracking_uri(client.tracking_uri)


def test_an_alias_moved_in_mlflow_is_served_within_the_poll_interval_with_zero_failures(
    env, store, mlflow_server, server_champions
) -> None:
    port = free_port()
    proc = serve_process(
        {**env, "MLOPS_TRACKING_URI": mlflow_server.uri}, port, "--recommender", "", "--poll-seconds", "3"
    )
    customer = store.read_partition(f"features/customer/date={snapshot_rows(store)[0]}").column("customer_id")[0]
    seen: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status, body = get_json(f"http://127.0.0.1:{port}/v1/customers/{customer}/scores")
            version = body["scores"]["churn"]["version"] if status == 200 else None
            seen.append((time.monotonic(), status, version))
            time.sleep(0.005)

    sender = threading.Thread(target=load, daemon=True)
    try:
        sender.start()
        time.sleep(1.0)
        moved = time.monotonic()
        server_champions.set_registered_model_alias("churn", "champion", "2")
        deadline = moved + 20
        while not any(v == "2" for _, _, v in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        sender.join(10)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert [s for _, s, _ in seen if s != 200] == []
    first_new = min(t for t, _, v in seen if v == "2")
    assert first_new - moved < 15
    assert all(v == "2" for t, _, v in seen if t > first_new)
    assert len(seen) > 50
