"""MLflow killed mid-training: the tracking server dies while ``mlops train`` logs its run.

The server (SQLite backend, proxied artifacts, on 127.0.0.1) is killed as soon as the training
has created its run, then restarted on the same store; the rerun of the training with the same
key leaves one judged version of the key and no run of it RUNNING.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fault_checks import broken_partitions, registry_problems
from fault_helpers import TrialLog, World, kill_group, run, start

MODEL = "churn"
KEY = "mlflow-killed"
# The training gives up soon once the server is gone (instead of retrying for minutes).
QUICK_FAILURE = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


class TrackingServer:
    """``mlflow server`` on a fixed port and store, which a trial may kill and start again."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.root = root
        self.uri = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until it answers ``/health``."""
        command = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            *("--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}"),
            *("--artifacts-destination", str(self.root / "artifacts")),
            *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
        ]
        with open(self.root / "server.log", "ab") as log:
            self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mlflow server did not start: {(self.root / 'server.log').read_text()[-1500:]}")
            time.sleep(0.3)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server and its workers."""
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, base_env: dict[str, str]) -> Iterator[TrackingServer]:
    """One tracking server for the module, killed (by its process group) at the end."""
    made = TrackingServer(tmp_path_factory.mktemp("mlflow-server"), base_env)
    made.start()
    try:
        yield made
    finally:
        made.kill()


def wait_for_run(uri: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll the server until a run of ``KEY`` exists; False if the training ended first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            experiments = [e.experiment_id for e in client.search_experiments()]
            if experiments and client.search_runs(experiments, filter_string=f"tags.run_key = '{KEY}'"):
                return True
        except Exception:  # noqa: BLE001 - the experiment may not exist yet
            pass
        time.sleep(0.2)
    return False


def test_mlflow_killed_mid_training_then_the_rerun_leaves_one_judged_version(
    server: TrackingServer,
    world: World,
    tmp_path: Path,
    trial_log: TrialLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = time.monotonic()
    for name, value in QUICK_FAILURE.items():
        monkeypatch.setenv(name, value)
    copy = world.copy(tmp_path / "world", registry=False)
    env = {**copy.env, **QUICK_FAILURE, "MLOPS_TRACKING_URI": server.uri}
    proc = start(env, "train", MODEL, "--run-key", KEY)
    seen = wait_for_run(server.uri, proc, timeout=150)
    time.sleep(0.3)
    server.kill()
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        code = -9
    problems = [f"after the kill: {p}" for p in broken_partitions(copy.lake)]
    server.start()
    rerun = run(env, "train", MODEL, "--run-key", KEY)
    if rerun.code != 0:
        problems.append(f"the rerun failed: {rerun.tail()}")
    problems += registry_problems(server.uri, MODEL, KEY)
    fault = f"server SIGKILLed {'once the run existed' if seen else '(no run seen)'}; training exit {code}"
    trial_log.record("mlflow killed mid-training", f"mlops train {MODEL}", fault, problems, time.monotonic() - started)
    assert not problems, problems
