"""The recommender end to end: train, register, gate, serve (known, unknown, new customer), score, re-evaluate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlops_platform import registry
from mlops_platform.cli import app
from mlops_platform.config import load_drift_settings, load_models_settings
from mlops_platform.data.generate import GeneratorConfig, generate_to_store
from mlops_platform.errors import InputError
from mlops_platform.models.recommender.pyfunc import unwrap
from mlops_platform.pipelines.reevaluate_recommender import reevaluate_recommender
from mlops_platform.storage import ObjectStore

START = dt.date(2025, 1, 1)
DAYS = 150
AS_OF = START + dt.timedelta(days=DAYS - 20)  # leaves 20 days of purchases after the cut-off
CONFIG = str(Path("config").resolve())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A small generated lake, an empty SQLite registry and a small recommender, as environment overrides."""
    root = tmp_path_factory.mktemp("recommender")
    lake = f"file://{root / 'lake'}"
    generate_to_store(ObjectStore(lake), GeneratorConfig(customers=500, days=DAYS, seed=11, start=START))
    return {
        "MLOPS_STORAGE_URI": lake,
        "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(root / "mlruns"),
        "MLOPS_RECOMMENDER_CANDIDATES": "{losses: {warp: 1.0}, components: 16, epochs: 10, learning_rate: 0.05,"
        " item_alpha: 0.0, user_alpha: 0.0, max_sampled: 10, k_candidates: 20, half_life_days: 60, seed: 3}",
        "MLOPS_RECOMMENDER_RANKER": "{objective: rank:ndcg, n_estimators: 40, learning_rate: 0.1, max_depth: 3,"
        " min_child_weight: 1.0, subsample: 0.8, horizon_days: 30, candidate_weight: 0.0, seed: 3}",
    }


@pytest.fixture(scope="module")
def client(env: dict[str, str]) -> MlflowClient:
    return MlflowClient(tracking_uri=env["MLOPS_TRACKING_URI"])


@pytest.fixture(scope="module")
def trained(env: dict[str, str], client: MlflowClient) -> str:
    """The output of the first training (version 1, the champion)."""
    return mlops(env, "train", "recommender", "--as-of", AS_OF.isoformat(), "--run-key", "manual__1")


@pytest.fixture(scope="module")
def served(env: dict[str, str], trained: str):  # noqa: ANN201 - a loaded pyfunc model
    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])
    return mlflow.pyfunc.load_model("models:/recommender@champion")


def mlops(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["--config-dir", CONFIG, *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def flat(output: str) -> str:
    """CLI output with rich's box characters and line wrapping taken out."""
    return " ".join(output.replace("│", " ").split())


def heaviest_buyer(env: dict[str, str]) -> tuple[int, set[int]]:
    """The customer with the most purchases before the cut-off, and the products they bought."""
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    frame = store.read_partitions(
        [f"raw/transactions/date={d}" for d in store.list_dates("raw/transactions") if d < AS_OF],
        columns=["customer_id", "product_id"],
    ).to_pandas()
    top = int(frame["customer_id"].value_counts().index[0])
    return top, set(frame.loc[frame["customer_id"] == top, "product_id"].astype(int))


def test_training_registers_a_champion_with_its_evaluation(trained: str, client: MlflowClient) -> None:
    assert "registered version 1" in trained
    assert "promoted to champion" in trained
    version = client.get_model_version("recommender", "1")
    assert version.tags["cut_off"] == AS_OF.isoformat()
    assert version.tags["gate_decision"] == "promoted"
    run = client.get_run(version.run_id)
    metrics = run.data.metrics
    for name in ("ndcg_at_5", "map_at_5", "precision_at_5", "recall_at_10", "coverage", "candidate_recall"):
        assert 0.0 <= metrics[name] <= 1.0, name
    # the same run measures LightFM alone and popularity on the same customers
    assert {"lightfm_ndcg_at_5", "baseline_ndcg_at_5"} <= set(metrics)
    assert metrics["ndcg_at_5"] > metrics["baseline_ndcg_at_5"]
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "report")}
    assert {"report/recommender.md", "report/targets.json"} <= artifacts
    targets = json.loads(Path(client.download_artifacts(version.run_id, "report/targets.json")).read_text())
    assert {t["target"].split()[0] for t in targets} == {"ndcg_at_5", "map_at_5", "coverage", "cold_start_hit_rate"}
    features = json.loads(Path(client.download_artifacts(version.run_id, "features.json")).read_text())
    assert "segment" in features and "customer_id" not in features


def test_a_retried_training_with_the_same_run_key_is_reused(env, trained, client: MlflowClient) -> None:
    output = mlops(env, "train", "recommender", "--as-of", AS_OF.isoformat(), "--run-key", "manual__1")
    assert "reused version 1" in output
    assert len(client.search_model_versions("name='recommender'")) == 1


def test_known_customer_gets_five_products_with_reasons_from_the_ranker(env, served) -> None:
    customer, bought = heaviest_buyer(env)
    recs = served.predict(pd.DataFrame({"customer_id": [customer]}), params={"n": 5})
    assert list(recs["rank"]) == [1, 2, 3, 4, 5]
    assert recs["product_id"].is_unique
    assert recs["score"].is_monotonic_decreasing
    assert all(recs["reasons"].str.len() > 0)
    # a heavy buyer renews packs: what they buy shows up, and the reasons speak of their history
    assert set(recs["product_id"]) & bought
    assert recs["reasons"].str.contains("you ").any()


def test_unknown_customer_gets_the_cold_start_list_and_never_raises(served) -> None:
    recs = served.predict(pd.DataFrame({"customer_id": [987654321, 987654322]}), params={"n": 5})
    first = recs.loc[recs["customer_id"] == 987654321, "product_id"].tolist()
    second = recs.loc[recs["customer_id"] == 987654322, "product_id"].tolist()
    assert len(first) == 5 and first == second


def test_new_customer_with_a_profile_gets_the_tastes_of_their_segment(served) -> None:
    frame = pd.DataFrame(
        {"customer_id": [900001, 900002], "segment": ["premium", "residential"], "tenure_days": [2.0, 2.0]}
    )
    recs = served.predict(frame, params={"n": 5})
    premium = recs.loc[recs["customer_id"] == 900001]
    residential = recs.loc[recs["customer_id"] == 900002]
    assert len(premium) == len(residential) == 5
    assert premium["product_id"].tolist() != residential["product_id"].tolist()
    assert premium["reasons"].str.contains("segment").all()
    unknown = recs.loc[recs["customer_id"] == 900001, "product_id"].tolist()
    plain = served.predict(pd.DataFrame({"customer_id": [900003]}), params={"n": 5})["product_id"].tolist()
    assert unknown != plain  # the profile changed the list


def test_bad_input_is_named(served) -> None:
    with pytest.raises(Exception, match="customer_id"):
        unwrap(served).recommend(pd.DataFrame({"id": [1]}))
    with pytest.raises(InputError, match="positive"):
        unwrap(served).recommend(pd.DataFrame({"customer_id": [1]}), n=0)


def test_mlops_recommend_prints_the_champions_top_n_with_reasons(env, trained) -> None:
    customer, _ = heaviest_buyer(env)
    output = mlops(env, "recommend", str(customer), "424242", "--n", "3")
    assert f"customer {customer}: recommender v1" in output
    assert "customer 424242: recommender v1" in output
    assert output.count("│ 1 │") == 2 and output.count("│ 3 │") == 2 and "│ 4 │" not in output


def test_mlops_recommend_without_a_champion_says_what_to_do(env) -> None:
    output = mlops(env, "recommend", "1", "--model", "no_such_model", code=2)
    assert "'no_such_model' has no champion" in flat(output)


def test_train_refuses_a_table_for_the_recommender(env) -> None:
    output = mlops(env, "train", "recommender", "--table", "x.csv", "--target", "y", code=2)
    assert "lake's transactions: --table/--target/--id/--time do not apply" in flat(output)


def test_scoring_writes_the_top_n_of_every_customer(env, trained) -> None:
    output = mlops(env, "score", "recommender", "--date", AS_OF.isoformat())
    assert "recommender v1: scored" in output
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    scores = store.read_partition(f"scores/recommender/date={AS_OF}").to_pandas()
    snapshot = store.read_partition(f"features/customer/date={AS_OF}", columns=["customer_id"]).to_pandas()
    assert set(scores["customer_id"]) == set(snapshot["customer_id"])
    assert (scores.groupby("customer_id").size() == 5).all()
    assert (scores["model_version"] == "1").all()


def test_reevaluation_judges_the_champion_on_purchases_after_its_cut_off(env, trained, client) -> None:
    models = load_models_settings(Path(CONFIG), env=env)
    settings = load_drift_settings(Path(CONFIG), env=env).reevaluation
    result = reevaluate_recommender(client, ObjectStore(env["MLOPS_STORAGE_URI"]), models, settings, AS_OF, 30)
    assert result.status in {"ok", "degraded"}, result.reasons
    assert result.version == "1" and result.rows > 0
    assert 0.0 <= result.value <= 1.0
    assert result.value_at_training == pytest.approx(client.get_run(result.training_run_id).data.metrics["ndcg_at_5"])
    assert any(f"[{AS_OF}, " in note for note in result.notes)
    early = reevaluate_recommender(client, ObjectStore(env["MLOPS_STORAGE_URI"]), models, settings, AS_OF, 3)
    assert early.status == "skipped" and "under 7 days" in early.reasons[0]


def test_retraining_with_the_same_settings_promotes_the_fresher_version(env, trained, client) -> None:
    later = AS_OF + dt.timedelta(days=7)
    output = mlops(env, "train", "recommender", "--as-of", later.isoformat(), "--run-key", "manual__2")
    assert "registered version 2" in output
    version = client.get_model_version("recommender", "2")
    assert version.tags["gate_decision"] == "promoted", version.tags["gate_reason"]
    assert "same settings" in version.tags["gate_reason"]
    assert registry.current_aliases(client, "recommender") == {"champion": "2"}


def test_a_champion_with_other_settings_is_refitted_on_the_same_window(env, client) -> None:
    later = AS_OF + dt.timedelta(days=14)
    changed = {**env, "MLOPS_RECOMMENDER_TOP_N": "4"}
    output = mlops(changed, "train", "recommender", "--as-of", later.isoformat(), "--run-key", "manual__3")
    assert "registered version 3" in output
    reason = client.get_model_version("recommender", "3").tags["gate_reason"]
    assert f"champion v2's settings re-fitted at {later - dt.timedelta(days=30)}" in reason
    assert client.get_model_version("recommender", "3").tags["gate_decision"] == "promoted", reason
    # only the gate differs: the recipe is the same, so the champion's figure is the new one
    same = {**changed, "MLOPS_RECOMMENDER_GATE": "{metric: ndcg_at_5, margin: 0.05, floors: {}, require_gain: false}"}
    output = mlops(same, "train", "recommender", "--as-of", later.isoformat(), "--run-key", "manual__4")
    assert "same settings" in client.get_model_version("recommender", "4").tags["gate_reason"]
