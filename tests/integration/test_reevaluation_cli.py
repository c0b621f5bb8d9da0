"""mlops models reevaluate against a real MLflow (SQLite) and a generated lake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.data.generate import GeneratorConfig, generate_to_store
from mlops_platform.features.labels import labels_partition
from mlops_platform.pipelines.reevaluate import read_summary, report_path
from mlops_platform.storage import ObjectStore

START = dt.date(2025, 1, 1)
DAYS = 200


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A small generated lake, an empty SQLite registry, small models: as environment overrides."""
    root = tmp_path_factory.mktemp("reevaluation")
    lake = f"file://{root / 'lake'}"
    generate_to_store(ObjectStore(lake), GeneratorConfig(customers=500, days=DAYS, seed=7, start=START))
    return {
        "MLOPS_STORAGE_URI": lake,
        "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(root / "mlruns"),
        "MLOPS_TRAINING_SETS_DATES": "1",
        "MLOPS_CHURN_PARAMS": "{n_estimators: 60, learning_rate: 0.1, max_depth: 4, early_stopping_rounds: 10,"
        " validation_share: 0.2, seed: 1}",
        "MLOPS_SEGMENTATION_PARAMS": "{k_min: 3, k_max: 4, pca_components: null, silhouette_sample: 2000, seed: 1}",
    }


@pytest.fixture(scope="module")
def client(env: dict[str, str]) -> MlflowClient:
    return MlflowClient(tracking_uri=env["MLOPS_TRACKING_URI"])


@pytest.fixture(scope="module")
def store(env: dict[str, str]) -> ObjectStore:
    return ObjectStore(env["MLOPS_STORAGE_URI"])


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config-dir", str(Path("config").resolve()), *args], env=env)
    return result.exit_code, result.output


def mlops(env: dict[str, str], *args: str) -> str:
    code, output = invoke(env, *args)
    assert code == 0, output
    return output


@pytest.fixture(scope="module")
def champions(env: dict[str, str], client: MlflowClient) -> dict[str, dict[str, float]]:
    """Train churn and segmentation once; their champions' training-time metrics."""
    mlops(env, "train", "churn", "--run-key", "reeval__churn")
    mlops(env, "train", "segmentation", "--run-key", "reeval__segmentation")
    names = ("churn", "segmentation")
    return {name: client.get_run(client.get_model_version(name, "1").run_id).data.metrics for name in names}


@pytest.fixture(scope="module")
def label_day(champions, store: ObjectStore) -> dt.date:
    """The newest labelled date: the churn champion's holdout date."""
    return store.list_dates("labels/customer")[-1]


def test_every_champion_is_reevaluated_on_the_newest_labels(env, client, store, champions, label_day) -> None:
    output = mlops(env, "models", "reevaluate")
    assert f"champions re-evaluated on the labels of {label_day}" in output
    summary = json.loads(store.get_bytes(report_path(label_day, "summary.json")))
    assert summary["date"] == label_day.isoformat()
    assert (summary["degraded"], summary["retrain"], summary["tolerance"]) == ([], [], 0.05)
    by_model = {r["model"]: r for r in summary["models"]}
    assert list(by_model) == ["churn", "conversion", "revenue", "segmentation", "recommender"]

    # The newest label date is the churn champion's holdout: the same rows and the same metric
    # code must give back exactly the metrics its training run logged.
    churn = by_model["churn"]
    training = {k: v for k, v in champions["churn"].items() if not k.startswith("baseline_")}
    assert (churn["status"], churn["version"], churn["degraded"], churn["reasons"]) == ("ok", "1", False, [])
    assert churn["metrics"] == pytest.approx(training, abs=1e-9)
    assert churn["metrics_at_training"] == pytest.approx(training, abs=1e-9)
    assert churn["change"] == pytest.approx(0.0, abs=1e-9)
    assert churn["rows"] == int(training["n_rows"])
    assert any("not an out-of-sample check" in note for note in churn["notes"])
    assert churn["targets"][0]["target"] == "roc_auc > 0.85"

    for name in ("conversion", "revenue", "recommender"):
        assert (by_model[name]["status"], by_model[name]["degraded"]) == ("skipped", False)
        assert by_model[name]["reasons"] == [f"no champion: train {name} or promote a version"]

    # Segmentation has no labels: it scores the newest snapshot within the labels' horizon, here
    # the one it was trained and held out on, so again its training metrics come back.
    segmentation = by_model["segmentation"]
    newest_snapshot = store.list_dates("features/customer")[-1]
    assert newest_snapshot <= label_day + dt.timedelta(days=30)
    assert (segmentation["status"], segmentation["snapshot_date"]) == ("ok", newest_snapshot.isoformat())
    assert segmentation["gate_metric"] == "silhouette"
    assert segmentation["metrics"] == pytest.approx(champions["segmentation"], abs=1e-9)

    for name in ("churn", "segmentation"):
        assert store.exists(report_path(label_day, f"{name}.json"))
        version = client.get_model_version(name, "1")
        assert version.tags["mlops.degraded"] == str(by_model[name]["degraded"]).lower()
        assert version.tags["mlops.reevaluated_on"] == label_day.isoformat()
        assert version.tags["mlops.reevaluation_run"] == summary["mlflow_run_id"]
    report = store.get_bytes(report_path(label_day, "report.md")).decode()
    assert f"| churn | 1 | ok | roc_auc | {training['roc_auc']:.4f} | {training['roc_auc']:.4f} |" in report
    assert "| conversion | - | skipped |" in report

    run = client.get_run(summary["mlflow_run_id"])
    assert run.data.tags["mlops.kind"] == "reevaluation"
    assert run.info.status == "FINISHED"
    assert run.data.metrics["churn/roc_auc"] == pytest.approx(training["roc_auc"], abs=1e-9)
    assert run.data.metrics["churn/degraded"] == 0.0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "reevaluation")}
    expected = {"summary.json", "report.md", *(f"{name}.json" for name in by_model)}
    assert artifacts == {f"reevaluation/{name}" for name in expected}


def test_bad_input_is_a_clear_error(env, store, champions, label_day) -> None:
    missing = label_day + dt.timedelta(days=1)
    code, output = invoke(env, "models", "reevaluate", "churn", "--date", missing.isoformat())
    assert code == 1
    assert f"no labels for {missing}" in output and f"labels/customer/date={missing}" in output
    code, output = invoke(env, "models", "reevaluate", "nosuch")
    assert code == 1 and "unknown model 'nosuch'" in output
    code, output = invoke(env, "models", "reevaluate", "--date", "2025-07-32")
    assert code != 0 and "YYYY-MM-DD" in output
    assert not store.exists(report_path(missing, "summary.json"))


def _flip_churn_labels(store: ObjectStore, day: dt.date) -> None:
    labels = store.read_partition(labels_partition(day))
    flipped = pc.subtract(pa.scalar(1, labels["churned_30d"].type), labels["churned_30d"])
    column = labels.schema.get_field_index("churned_30d")
    store.write_partition(labels_partition(day), labels.set_column(column, "churned_30d", flipped))


def test_a_champion_whose_labels_turned_against_it_is_degraded(env, client, store, champions, label_day) -> None:
    _flip_churn_labels(store, label_day)  # every churner is now a stayer and back: AUC becomes 1 - AUC
    code, output = invoke(env, "models", "reevaluate", "churn")
    assert code == 0, output  # a degraded model is a result, not an error
    summary = read_summary(store, label_day)
    churn = next(r for r in summary.models if r.model == "churn")
    at_training = champions["churn"]["roc_auc"]
    assert churn.value == pytest.approx(1.0 - at_training, abs=1e-9)
    assert (churn.status, churn.degraded) == ("degraded", True)
    assert churn.reasons[0].startswith(f"roc_auc fell from {at_training:.4f} at training to {1 - at_training:.4f}")
    assert churn.reasons[1] == f"roc_auc {1 - at_training:.4f} below floor 0.65"
    assert summary.degraded == ["churn"] and summary.retrain == ["churn"]
    # the other models' results of this date are kept
    assert [r.model for r in summary.models] == ["churn", "conversion", "revenue", "segmentation", "recommender"]
    assert "YES" in output and "to retrain: churn" in output
    version = client.get_model_version("churn", "1")
    assert (version.tags["mlops.degraded"], version.tags["mlops.reevaluated_on"]) == ("true", label_day.isoformat())
    run = client.get_run(summary.mlflow_run_id)
    assert run.data.metrics["churn/degraded"] == 1.0 and "segmentation/silhouette" not in run.data.metrics


def test_an_older_date_does_not_overwrite_a_newer_verdict_on_the_version(env, client, store, champions) -> None:
    older = store.list_dates("labels/customer")[0]  # a training date of the champion
    newest = store.list_dates("labels/customer")[-1]
    output = mlops(env, "models", "reevaluate", "churn", "--date", older.isoformat())
    churn = read_summary(store, older).models[0]
    assert churn.status in ("ok", "degraded") and churn.rows > 0
    assert f"keeps its tags from the later re-evaluation of {newest}" in " ".join(churn.notes)
    assert "keeps its tags" in output
    version = client.get_model_version("churn", "1")
    assert version.tags["mlops.reevaluated_on"] == newest.isoformat()
