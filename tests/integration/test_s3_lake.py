"""The data half of the platform on an S3-protocol server (moto on 127.0.0.1), through the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.storage import ObjectStore

CONFIG = str(Path(__file__).resolve().parents[2] / "config")


def _mlops(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, ["--config-dir", CONFIG, *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.integration
def test_generate_validate_features_and_labels_on_s3(s3_uri: str, s3_server) -> None:
    # short windows keep the number of S3 requests (and the test's time) small
    env = {
        **s3_server.env,
        "MLOPS_STORAGE_URI": s3_uri,
        "MLOPS_FEATURES_ACTIVITY_WINDOW_DAYS": "28",
        "MLOPS_FEATURES_RFM_WINDOW_DAYS": "28",
        "MLOPS_LABELS_CHURN_HORIZON_DAYS": "7",
        "MLOPS_LABELS_REVENUE_HORIZON_DAYS": "7",
    }
    _mlops(env, "data", "generate", "--customers", "200", "--days", "45", "--seed", "3", "--start", "2025-01-01")
    store = ObjectStore(s3_uri)
    raw_days = store.list_dates("raw/usage")
    assert len(raw_days) == 45
    _mlops(env, "data", "validate", "--start", "2025-02-01", "--end", "2025-02-02")
    day = dt.date(2025, 2, 10)
    _mlops(env, "features", "build", "--date", day.isoformat())
    _mlops(env, "features", "labels", "--date", "2025-02-05")
    snapshot = store.read_partition(f"features/customer/date={day}")
    assert snapshot.num_rows > 0
    assert set(snapshot.column("snapshot_date").to_pylist()) == {day}
    labels = store.read_partition("labels/customer/date=2025-02-05")
    assert labels.num_rows > 0
    # a rerun of the same date gives the same rows under a new attempt
    before = store.manifest(f"features/customer/date={day}")
    _mlops(env, "features", "build", "--date", day.isoformat())
    after = store.manifest(f"features/customer/date={day}")
    assert before is not None and after is not None and before.attempt != after.attempt
    assert store.read_partition(f"features/customer/date={day}").equals(snapshot)
    # a label date whose horizon has not passed is refused and writes nothing
    refused = CliRunner().invoke(app, ["--config-dir", CONFIG, "features", "labels", "--date", "2025-02-12"], env=env)
    assert refused.exit_code != 0
    assert "horizon" in refused.output
    assert not store.has_partition("labels/customer/date=2025-02-12")
