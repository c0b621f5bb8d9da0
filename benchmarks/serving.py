"""Benchmark: `mlops serve` against `mlflow models serve` of the same churn champion, on loopback.

    .venv/bin/python benchmarks/serving.py            # the record (a few minutes; make bench-serving)
    .venv/bin/python benchmarks/serving.py --quick    # seconds of load on a tiny lake; a smoke test

An open-loop fixed-rate client (``serving_load.py``, asyncio) drives each server at 500, 1,000,
2,000 and 4,000 req/s (bounded in count and time) and records p50/p99/p99.9 and errors per rate:

- ``mlops serve`` ``GET /v1/customers/{id}/scores?models=churn`` (a lookup of scores computed at load);
- ``mlops serve`` ``POST /v1/models/churn/predict`` with one snapshot row (the model's own predict on
  a one-row frame: the path for rows the snapshot does not hold);
- ``mlflow models serve`` ``POST /invocations`` with the same row (a pandas frame and the pyfunc per
  request; skipped by ``--quick`` unless ``--with-mlflow``);
- recommendations top-5 at 100 req/s;
- a hot swap: the champion alias moves (to a new version of the same model, with the signed
  notification MLflow's webhook would send) during 1,000 req/s; failed requests and the time
  until the new version is served.

Figures go to ``benchmarks/results/serving.{json,md}`` with the machine's load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from serving_load import Outcome, fixed_rate, get, post, run

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
SECRET = "bench-secret"
TARGET_P99_MS = 5.0
SMALL_MODELS = {
    "MLOPS_FEATURES_ACTIVITY_WINDOW_DAYS": "28",
    "MLOPS_FEATURES_RFM_WINDOW_DAYS": "28",
    "MLOPS_FEATURES_ARPU_WINDOW_DAYS": "14",
    "MLOPS_FEATURES_USAGE_LONG_DAYS": "14",
    "MLOPS_LABELS_CHURN_HORIZON_DAYS": "14",
    "MLOPS_LABELS_REVENUE_HORIZON_DAYS": "14",
    "MLOPS_VALIDATION_MIN_HISTORY_DAYS": "42",
    "MLOPS_TRAINING_SETS_DATES": "2",
    "MLOPS_CHURN_PARAMS": "{n_estimators: 100, learning_rate: 0.1, max_depth: 4, early_stopping_rounds: 10,"
    " validation_share: 0.2, seed: 1}",
    "MLOPS_RECOMMENDER_CANDIDATES": "{losses: {warp: 1.0}, components: 16, epochs: 10, learning_rate: 0.05,"
    " item_alpha: 0.0, user_alpha: 0.0, max_sampled: 10, k_candidates: 20, half_life_days: 60, seed: 1}",
    "MLOPS_RECOMMENDER_RANKER": "{objective: rank:ndcg, n_estimators: 40, learning_rate: 0.1, max_depth: 3,"
    " min_child_weight: 1.0, subsample: 0.8, horizon_days: 14, candidate_weight: 0.0, seed: 1}",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlops(env: dict[str, str], *args: str) -> None:
    command = [str(BIN / "mlops"), "--config-dir", str(REPO / "config"), *args]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


def prepare(work: Path, customers: int, days: int) -> dict[str, str]:
    """A generated lake with a churn and a recommender champion (reused when ``work`` has one)."""
    from mlops_platform.data.generate import GeneratorConfig, generate_to_store
    from mlops_platform.storage import ObjectStore

    env = {
        **SMALL_MODELS,
        "MLOPS_STORAGE_URI": f"file://{work / 'lake'}",
        "MLOPS_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(work / "mlruns"),
        "MLOPS_WEBHOOK_SECRET": SECRET,
    }
    if (work / "ready").exists():
        return env
    work.mkdir(parents=True, exist_ok=True)
    start = dt.date(2025, 1, 1)
    generate_to_store(ObjectStore(env["MLOPS_STORAGE_URI"]), GeneratorConfig(customers, days, seed=3, start=start))
    mlops(env, "train", "churn", "--run-key", "bench")
    mlops(env, "train", "recommender", "--as-of", (start + dt.timedelta(days=days - 20)).isoformat(), "--run-key", "b")
    (work / "ready").touch()
    return env


def start_server(command: list[str], env: dict[str, str], port: int, probe: str, log: Path) -> subprocess.Popen:
    """Start a server and wait until ``probe`` answers 200."""
    out = open(log, "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=2) as answer:
                if answer.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{command[0]} did not get ready: {log.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def sweep(port: int, request: Any, rates: list[int], seconds: float, label: str) -> list[dict[str, Any]]:
    rows = []
    for rate in rates:
        outcome = run(fixed_rate(port, request, rate, int(rate * seconds), seconds + 10))
        rows.append({"what": label, **outcome.summary(), "load": round(os.getloadavg()[0], 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def hot_swap(env: dict[str, str], port: int, customer: int, rate: int, seconds: float) -> dict[str, Any]:
    """Move the churn champion to a new version during a fixed-rate run; failures and time to serve it."""
    import mlflow
    from mlflow import MlflowClient

    from mlops_platform.registry import webhooks

    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])  # resolves the source of the new version
    client = MlflowClient(tracking_uri=env["MLOPS_TRACKING_URI"])
    old = client.get_model_version_by_alias("churn", "champion")
    new = mlflow.register_model(old.source, "churn")  # the same model as a new version
    moved: list[float] = []

    def move() -> None:
        time.sleep(min(2.0, seconds / 4))
        client.set_registered_model_alias("churn", "champion", new.version)
        moved.append(time.perf_counter())
        body = json.dumps(
            {
                "entity": "model_version_alias",
                "action": "created",
                "data": {"name": "churn", "alias": "champion", "version": new.version},
            }
        )
        stamp = str(int(time.time()))
        headers = {
            "x-mlflow-delivery-id": "bench",
            "x-mlflow-timestamp": stamp,
            "x-mlflow-signature": webhooks.sign(SECRET, "bench", stamp, body),
        }
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/notify", body.encode(), headers, method="POST")
        urllib.request.urlopen(request, timeout=5).close()

    mover = threading.Thread(target=move)
    mover.start()
    path = f"/v1/customers/{customer}/scores?models=churn"
    outcome: Outcome = run(fixed_rate(port, lambda _: get(path), rate, int(rate * seconds), seconds + 10, True))
    mover.join()
    served = [t for t, body in outcome.bodies if orjson.loads(body)["scores"]["churn"]["version"] == str(new.version)]
    after = round(min(served) - moved[0], 3) if served and moved else None
    return {
        "what": "hot swap",
        **outcome.summary(),
        "from_version": old.version,
        "to_version": new.version,
        "seconds_to_new_version": after,
        "load": round(os.getloadavg()[0], 2),
    }


def best_rate(rows: list[dict[str, Any]], label: str) -> int | None:
    good = [r["rate"] for r in rows if r["what"] == label and r["errors"] == 0 and r["p99_ms"] < TARGET_P99_MS]
    return max(good) if good else None


def report(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Online serving: `mlops serve` vs `mlflow models serve`",
        "",
        f"Measured {result['when']} on {result['machine']} (load average before: {result['load_before']}, "
        f"after: {result['load_after']}); {result['mode']} mode, {result['seconds']} s per rate, "
        f"{result['customers']:,} customers. Open-loop fixed-rate client on loopback; latency from the due time "
        "(or from the send, when the client sent early).",
        "",
        "| what | rate/s | sent | errors | achieved/s | p50 ms | p99 ms | p99.9 ms | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['what']} | {r['rate']:,} | {r['sent']:,} | {r['errors']} | {r['achieved_rate']:,} | {r['p50_ms']} "
            f"| {r['p99_ms']} | {r['p999_ms']} | {r['load']} |"
        )
    s = result["swap"]
    lines += [
        "",
        f"Highest rate with p99 under {TARGET_P99_MS} ms and no errors: "
        + ", ".join(f"{k}: {v if v is not None else 'none of the rates'}" for k, v in result["best_rate"].items()),
        "",
        f"Hot swap at {s['rate']:,} req/s: v{s['from_version']} -> v{s['to_version']}, {s['errors']} failed of "
        f"{s['sent']:,}, new version served {s['seconds_to_new_version']} s after the alias moved "
        f"(p99 {s['p99_ms']} ms during the run).",
    ]
    (out / "serving.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny lake, low rates, seconds of load")
    parser.add_argument("--with-mlflow", action="store_true", help="also run mlflow models serve in --quick")
    parser.add_argument("--work", type=Path, default=HERE / ".work" / "serving")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    quick = args.quick
    customers, days = (300, 100) if quick else (3000, 120)
    rates, seconds = ([100, 300], 1.0) if quick else ([500, 1000, 2000, 4000], 10.0)
    load_before = [round(x, 2) for x in os.getloadavg()]
    env = prepare(args.work, customers, days)
    from mlops_platform.storage import ObjectStore

    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    day = store.list_dates("features/customer")[-1]
    snapshot = store.read_partition(f"features/customer/date={day}").drop_columns(["snapshot_date"]).to_pylist()
    ids = [r["customer_id"] for r in snapshot]
    row = orjson.dumps({"rows": [snapshot[0]]})
    port = free_port()
    serve = [
        str(BIN / "mlops"),
        "--config-dir",
        str(REPO / "config"),
        "serve",
        "--port",
        str(port),
        "--models",
        "churn",
        "--recommender",
        "recommender",
    ]
    proc = start_server(serve, env, port, "/readyz", args.work / "serve.log")
    try:
        runs = sweep(
            port,
            lambda i: get(f"/v1/customers/{ids[i % len(ids)]}/scores?models=churn"),
            rates,
            seconds,
            "mlops serve scores",
        )
        runs += sweep(port, lambda _: post("/v1/models/churn/predict", row), rates[:2], seconds, "mlops serve predict")
        runs += sweep(
            port,
            lambda i: get(f"/v1/customers/{ids[i % len(ids)]}/recommendations?n=5"),
            [100],
            max(seconds, 5.0),
            "mlops serve recommendations top-5",
        )
        swap = hot_swap(env, port, ids[0], 200 if quick else 1000, 8.0 if quick else 20.0)
        print(json.dumps(swap), flush=True)
    finally:
        stop_server(proc)
    if not quick or args.with_mlflow:
        port = free_port()
        command = [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/churn@champion",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ]
        # mlflow models serve execs `uvicorn` by name: the virtual environment's bin goes first on PATH.
        path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        mlflow_env = {**env, "MLFLOW_TRACKING_URI": env["MLOPS_TRACKING_URI"], "PATH": path}
        body = orjson.dumps({"dataframe_records": [snapshot[0]]})
        try:
            proc = start_server(command, mlflow_env, port, "/ping", args.work / "mlflow-serve.log")
        except RuntimeError as exc:
            print(f"mlflow models serve did not start: {exc}", flush=True)
        else:
            try:
                runs += sweep(port, lambda _: post("/invocations", body), rates, seconds, "mlflow models serve")
            finally:
                stop_server(proc)
    labels = dict.fromkeys(r["what"] for r in runs)
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "mode": "quick" if quick else "full",
        "seconds": seconds,
        "customers": len(ids),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "swap": swap,
        "best_rate": {label: best_rate(runs, label) for label in labels if "recommendations" not in label},
    }
    report(result, args.out)
    print(f"figures in {args.out / 'serving.md'}")


if __name__ == "__main__":
    main()
