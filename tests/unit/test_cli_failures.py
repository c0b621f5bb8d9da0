"""A service that fails (MLflow down, S3 unreachable, a model's schema) is one line, not a traceback.

The servers are real sockets on 127.0.0.1: a port that was just bound and closed refuses every
connection, so the failures are the ones MLflow and pyarrow really raise, in bounded time.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from typer.testing import CliRunner

from mlops_platform import registry, storage
from mlops_platform.cli import failures
from mlops_platform.cli.app import app
from mlops_platform.cli.support import user_errors
from mlops_platform.features.snapshot import snapshot_partition

REPO = Path(__file__).resolve().parents[2]
FAST_MLFLOW = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlops(*args: str, env: dict[str, str]) -> object:
    return CliRunner().invoke(app, ["--config-dir", str(REPO / "config"), *args], env=env)


@pytest.fixture(autouse=True)
def _restore_the_tracking_uri() -> Iterator[None]:
    """The CLI sets MLflow's global tracking URI (and MLFLOW_TRACKING_URI); put it back."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    mlflow.set_tracking_uri(before)


def test_a_down_tracking_server_is_one_line_naming_its_uri() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    result = mlops("models", "list", env={"MLOPS_TRACKING_URI": uri, **FAST_MLFLOW})
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"error: MLflow tracking server {uri} is not reachable (Connection refused)")
    assert "MLOPS_TRACKING_URI" in result.output


def test_verbose_keeps_the_traceback_of_a_down_tracking_server() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(
        app,
        ["--verbose", "--config-dir", str(REPO / "config"), "models", "list"],
        env={"MLOPS_TRACKING_URI": uri, **FAST_MLFLOW},
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, MlflowException)


def test_the_cli_gives_mlflow_few_retries_unless_told_otherwise() -> None:
    environ = {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "5"}
    with failures.mlflow_http_defaults(environ):
        assert environ == {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "5"}
    assert environ == {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "5"}


def test_an_unreachable_s3_endpoint_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"

    def one_attempt() -> pafs.S3FileSystem:
        """The store's S3 filesystem, but one attempt with a 2 s connect timeout (bounded test time)."""
        return pafs.S3FileSystem(
            endpoint_override=endpoint.removeprefix("http://"),
            scheme="http",
            region="us-east-1",
            access_key="testing",
            secret_key="testing",
            connect_timeout=2,
            request_timeout=2,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
        )

    monkeypatch.setattr(storage, "s3_filesystem", one_attempt)
    result = mlops("lake", "ls", "raw/usage", env={"MLOPS_STORAGE_URI": "s3://bucket", "AWS_ENDPOINT_URL": endpoint})
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"error: S3 endpoint {endpoint} is not reachable")
    assert "NETWORK_CONNECTION" in result.output


def _register_champion(tracking_uri: str, artifacts: Path, name: str) -> None:
    """A pyfunc whose signature wants an integer ``tenure_days``, as the champion of ``name``."""

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return pd.DataFrame({"score": model_input["tenure_days"] * 2.0})

    mlflow.set_tracking_uri(tracking_uri)
    signature = ModelSignature(inputs=Schema([ColSpec("long", "tenure_days")]))
    experiment = mlflow.create_experiment("schema-test", artifact_location=artifacts.as_uri())
    with mlflow.start_run(experiment_id=experiment):
        mlflow.pyfunc.log_model(
            name="model", python_model=Doubler(), signature=signature, pip_requirements=[], registered_model_name=name
        )
    registry.move_alias(mlflow.MlflowClient(tracking_uri), name, registry.CHAMPION, "1", "test champion", actor="test")


def test_a_snapshot_that_does_not_fit_the_model_schema_is_one_line_naming_the_column(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _register_champion(tracking_uri, tmp_path / "artifacts", "churn")
    lake = f"file://{tmp_path / 'lake'}"
    day = dt.date(2025, 3, 1)
    snapshot = pa.table({"customer_id": ["a", "b"], "tenure_days": [1.5, None]})  # floats, not integers
    storage.ObjectStore(lake).write_partition(snapshot_partition(day), snapshot, writer="test")

    result = mlops(
        "score",
        "churn",
        "--date",
        day.isoformat(),
        env={"MLOPS_TRACKING_URI": tracking_uri, "MLOPS_STORAGE_URI": lake},
    )
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: the input does not fit the model's input schema:")
    assert "column tenure_days" in result.output
    assert not storage.ObjectStore(lake).has_partition("scores/churn/date=2025-03-01")


def test_a_programming_error_keeps_its_traceback() -> None:
    @user_errors
    def broken() -> None:
        raise TypeError("unsupported operand")

    with pytest.raises(TypeError, match="unsupported operand"):
        broken()


def test_an_oserror_that_is_not_from_s3_is_not_described() -> None:
    assert failures.describe(OSError("disk full")) is None
    assert failures.describe(RuntimeError("boom")) is None
