"""mlops train / score / promote / rollback against a real MLflow (SQLite) and a generated lake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlops_platform import registry
from mlops_platform.cli import app
from mlops_platform.data.generate import GeneratorConfig, generate_to_store
from mlops_platform.storage import ObjectStore

START = dt.date(2025, 1, 1)
DAYS = 230


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A small generated lake and an empty SQLite registry, as environment overrides."""
    root = tmp_path_factory.mktemp("zoo")
    lake = f"file://{root / 'lake'}"
    generate_to_store(ObjectStore(lake), GeneratorConfig(customers=700, days=DAYS, seed=7, start=START))
    return {
        "MLOPS_STORAGE_URI": lake,
        "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(root / "mlruns"),
        "MLOPS_TRAINING_SETS_DATES": "3",
        "MLOPS_CHURN_PARAMS": "{n_estimators: 60, learning_rate: 0.1, max_depth: 4, early_stopping_rounds: 10,"
        " validation_share: 0.2, seed: 1}",
        "MLOPS_CONVERSION_PARAMS": "{n_estimators: 40, learning_rate: 0.1, num_leaves: 15,"
        " strategies: [none, class_weight, smote], validation_share: 0.2, seed: 1}",
        "MLOPS_REVENUE_PARAMS": "{n_estimators: 40, learning_rate: 0.1, max_depth: 4, seed: 1}",
        "MLOPS_SEGMENTATION_PARAMS": "{k_min: 3, k_max: 5, pca_components: null, silhouette_sample: 2000, seed: 1}",
    }


@pytest.fixture(scope="module")
def client(env: dict[str, str]) -> MlflowClient:
    return MlflowClient(tracking_uri=env["MLOPS_TRACKING_URI"])


def mlops(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, ["--config-dir", str(Path("config").resolve()), *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def versions(client: MlflowClient, name: str) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{name}'"))


def test_the_first_training_registers_and_promotes_a_champion(env, client) -> None:
    output = mlops(env, "train", "churn", "--run-key", "manual__1")
    assert "registered version 1" in output
    assert "promoted to champion" in output
    version = client.get_model_version("churn", "1")
    for tag in ("run_key", "training_window", "feature_snapshot", "code_version"):
        assert version.tags.get(tag), tag
    assert version.tags["gate_decision"] == "promoted"
    assert registry.current_aliases(client, "churn") == {"champion": "1"}
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"features.json", "training_set", "plots", "report"} <= artifacts
    run = client.get_run(version.run_id)
    assert 0.5 < run.data.metrics["roc_auc"] <= 1.0
    assert "baseline_roc_auc" in run.data.metrics


def test_a_retried_training_with_the_same_run_key_adds_no_version(env, client) -> None:
    before = versions(client, "churn")
    output = mlops(env, "train", "churn", "--run-key", "manual__1")
    assert "reused version 1" in output
    assert versions(client, "churn") == before


def test_a_second_training_goes_through_the_gate(env, client) -> None:
    mlops(env, "train", "churn", "--run-key", "manual__2")
    new = client.get_model_version("churn", "2")
    champion = registry.current_aliases(client, "churn")["champion"]
    if new.tags["gate_decision"] == "promoted":
        assert champion == "2"
    else:
        assert champion == "1"
        assert registry.current_aliases(client, "churn")["challenger"] == "2"
        assert "kept as challenger" in new.description or "floor" in new.description


def test_scores_follow_the_champion_even_when_moved_by_hand(env, client) -> None:
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    day = store.list_dates("features/customer")[-1]
    mlops(env, "score", "churn", "--date", day.isoformat())
    first = store.read_partition(f"scores/churn/date={day}").to_pandas()
    snapshot = store.read_partition(f"features/customer/date={day}")
    assert len(first) == snapshot.num_rows
    assert first["score"].between(0, 1).all()
    mlops(env, "score", "churn", "--date", day.isoformat())  # same champion: same rows
    again = store.read_partition(f"scores/churn/date={day}").to_pandas()
    pd.testing.assert_frame_equal(first, again)

    champion = registry.current_aliases(client, "churn")["champion"]
    other = "1" if champion == "2" else "2"
    client.set_registered_model_alias("churn", "champion", other)  # what the MLflow UI does
    mlops(env, "score", "churn", "--date", day.isoformat())
    moved = store.read_partition(f"scores/churn/date={day}").to_pandas()
    assert set(moved["model_version"]) == {other}
    last = registry.history(client, "churn")[-1]
    assert (last.from_version, last.to_version, last.actor) == (champion, other, registry.OUTSIDE)


def test_promote_rollback_and_history(env, client) -> None:
    current = registry.current_aliases(client, "churn")["champion"]
    target = "1" if current == "2" else "2"
    mlops(env, "promote", "churn", target)
    assert registry.current_aliases(client, "churn")["champion"] == target
    mlops(env, "rollback", "churn")
    assert registry.current_aliases(client, "churn")["champion"] == current
    output = mlops(env, "models", "history", "churn")
    assert "rollback from version" in output
    listing = mlops(env, "models", "list")
    assert "churn" in listing


@pytest.mark.parametrize(
    ("model", "metric"),
    [("conversion", "pr_auc"), ("revenue", "rmse"), ("segmentation", "silhouette")],
)
def test_every_model_of_the_zoo_trains_and_registers(env, client, model: str, metric: str) -> None:
    mlops(env, "train", model, "--run-key", f"zoo__{model}")
    version = client.get_model_version(model, "1")
    assert metric in client.get_run(version.run_id).data.metrics
    assert registry.current_aliases(client, model).get("champion") == "1"


def test_a_table_of_ones_own_trains_the_same_way(env, client, tmp_path: Path) -> None:
    rows = 400
    frame = pd.DataFrame(
        {
            "session_id": range(rows),
            "pages": [str(i % 17) if i % 23 else " " for i in range(rows)],  # numbers stored as text
            "channel": ["ads", "search", "direct", "mail"] * (rows // 4),
            "minutes": [float(i % 31) for i in range(rows)],
        }
    )
    frame["is_ordered"] = ((frame["minutes"] > 14) ^ (frame.index % 11 == 0)).astype(int)
    path = tmp_path / "training_data.csv"
    frame.to_csv(path, index=False)
    output = mlops(
        env,
        "train",
        "conversion",
        "--table",
        str(path),
        "--target",
        "is_ordered",
        "--id",
        "session_id",
        "--name",
        "shop_conversion",
        "--run-key",
        "byo",
    )
    assert "registered version 1" in output
    assert registry.current_aliases(client, "shop_conversion")["champion"] == "1"


def test_a_missing_target_column_is_a_clear_error(env, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1, 2, 3, 4], "b": [0, 1, 0, 1]}).to_csv(path, index=False)
    result = CliRunner().invoke(
        app,
        ["--config-dir", "config", "train", "conversion", "--table", str(path), "--target", "is_ordered"],
        env=env,
    )
    assert result.exit_code == 1
    assert "is_ordered" in result.output


def test_drift_check_compares_a_snapshot_with_the_champions_reference(env, client) -> None:
    if registry.version_by_alias(client, "churn", registry.CHAMPION) is None:
        mlops(env, "train", "churn", "--run-key", "manual__1")
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    day = store.list_dates("features/customer")[-1]
    output = mlops(env, "drift", "check", "churn", "--date", day.isoformat(), "--no-report")
    assert "retrain:" in output
    report = json.loads(store.get_bytes(f"reports/drift/date={day}/churn.json"))
    champion = registry.current_aliases(client, "churn")["champion"]
    assert (report["model"], report["date"], report["champion_version"]) == ("churn", day.isoformat(), champion)
    assert isinstance(report["retrain"], bool) and report["retrain_reason"]
    assert report["drift"]  # the per-column decision
    assert not store.exists(f"reports/drift/date={day}/churn.html")  # --no-report


def test_a_forced_drift_check_decides_to_retrain(env, client) -> None:
    if registry.version_by_alias(client, "churn", registry.CHAMPION) is None:
        mlops(env, "train", "churn", "--run-key", "manual__1")
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    day = store.list_dates("features/customer")[-1]
    output = mlops(env, "drift", "check", "churn", "--date", day.isoformat(), "--no-report", "--force")
    assert "retrain: yes (forced)" in output
    report = json.loads(store.get_bytes(f"reports/drift/date={day}/churn.json"))
    assert (report["retrain"], report["retrain_reason"]) == (True, "forced")


def test_score_refuses_an_empty_or_inf_snapshot_and_keeps_the_scores(env, client) -> None:
    if registry.version_by_alias(client, "churn", registry.CHAMPION) is None:
        mlops(env, "train", "churn", "--run-key", "manual__1")
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    dates = store.list_dates("features/customer")
    day = dates[0] - dt.timedelta(days=1)  # a date no other test reads
    snapshot, scores = f"features/customer/date={day}", f"scores/churn/date={day}"
    good = store.read_partition(f"features/customer/date={dates[-1]}")
    good = good.set_column(1, "snapshot_date", pa.array([day] * good.num_rows, pa.date32()))
    store.write_partition(snapshot, good)
    mlops(env, "score", "churn", "--date", day.isoformat())
    before, rows = store.manifest(scores), store.read_partition(scores)
    assert rows.num_rows == good.num_rows
    column = good.column_names.index("usage_7d_data_mb")
    infinite = good.set_column(column, "usage_7d_data_mb", pa.array([float("inf")] * good.num_rows, pa.float64()))
    for bad, message in [
        (good.slice(0, 0), "has 0 rows: nothing to score; nothing written to"),
        (infinite, f"inf or -inf values in usage_7d_data_mb ({good.num_rows:,} row(s)); nothing written to"),
    ]:
        store.write_partition(snapshot, bad)
        result = CliRunner().invoke(
            app, ["--config-dir", str(Path("config").resolve()), "score", "churn", "--date", day.isoformat()], env=env
        )
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
        assert store.manifest(scores) == before
        assert store.read_partition(scores).equals(rows)
