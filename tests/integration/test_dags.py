"""The four DAGs under ``dag.test()``: a lake on an S3-protocol server, a real MLflow (SQLite).

The tests run in file order over one lake and one registry, like the weeks of a real
deployment: features for the interval, a first retraining, a quiet week, injected drift, a
failing training, scoring after the features, the monthly re-evaluation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.config import load_models_settings
from mlops_platform.data.generate import GeneratorConfig, generate_to_store
from mlops_platform.data.raw import write_raw
from mlops_platform.features.labels import labels_partition
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.storage import ObjectStore, date_partition
from small_settings import SMALL

pytestmark = pytest.mark.integration

START = dt.date(2025, 1, 1)
DAYS = 100
# The first snapshot date after the generated raw days: its raw input day is the last one.
DAY = START + dt.timedelta(days=DAYS)
MODELS = ["churn", "conversion", "revenue", "segmentation", "recommender"]


@pytest.fixture(scope="module")
def platform(s3_server, airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Generated raw data in a fresh bucket, an empty registry, and the parsed DAGs."""
    root = tmp_path_factory.mktemp("dags")
    lake = f"s3://{s3_server.new_bucket()}/lake"
    env = {
        **s3_server.env,
        **SMALL,
        "MLOPS_STORAGE_URI": lake,
        "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(root / "mlruns"),
    }
    patch = pytest.MonkeyPatch()
    for name, value in env.items():
        patch.setenv(name, value)
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        store = ObjectStore(lake)
        generate_to_store(store, GeneratorConfig(customers=400, days=DAYS, seed=11, start=START))
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])))
        assert bag.import_errors == {}
        yield {"store": store, "bag": bag, "client": MlflowClient(tracking_uri=env["MLOPS_TRACKING_URI"])}
    finally:
        patch.undo()


def run_dag(platform: dict[str, Any], dag_id: str, day: dt.date, conf: dict[str, Any] | None = None) -> Any:
    dag = platform["bag"].dags[dag_id]
    logical = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return dag.test(logical_date=logical, run_conf=conf)


def states(run: Any) -> dict[str, list[str]]:
    """Task id -> the states of its instances (one per mapped index)."""
    found: dict[str, list[str]] = {}
    for ti in sorted(run.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
        found.setdefault(ti.task_id, []).append(str(ti.state))
    return found


def champions(client: MlflowClient) -> dict[str, str | None]:
    result = {}
    for name in MODELS:
        version = registry.version_by_alias(client, name, registry.CHAMPION)
        result[name] = None if version is None else str(version.version)
    return result


def version_count(client: MlflowClient) -> int:
    return sum(len(client.search_model_versions(f"name='{name}'")) for name in MODELS)


def sorted_table(table: pa.Table) -> pa.Table:
    return table.sort_by("customer_id")


def _with_retries(platform: dict[str, Any], dag_id: str, task_id: str) -> None:
    """Give one task retries (the small settings have none), to see that a hopeless error skips them."""
    task = platform["bag"].dags[dag_id].get_task(task_id)
    task.retries = 2


def test_drift_retraining_before_any_snapshot_fails_at_once_for_a_snapshot_that_cannot_come(platform, capfd) -> None:
    _with_retries(platform, "drift_retraining", "wait_for_snapshot")
    too_early = START - dt.timedelta(days=3)

    run = run_dag(platform, "drift_retraining", DAY, {"date": too_early.isoformat()})

    assert str(run.state) == "failed"
    assert states(run)["wait_for_snapshot"] == ["failed"]  # not up_for_retry
    assert states(run)["plan"] == ["upstream_failed"]
    output = capfd.readouterr()
    assert f"has no snapshot of {too_early}" in output.out + output.err
    assert "before the lake's first raw day" in output.out + output.err


def test_a_sensor_for_a_day_before_the_lake_starts_fails_at_once_with_the_reason(platform, capfd) -> None:
    _with_retries(platform, "feature_recalculation", "wait_for_raw")

    run = run_dag(platform, "feature_recalculation", START)

    assert str(run.state) == "failed"
    assert states(run)["wait_for_raw"] == ["failed"]
    assert states(run)["demo_feed"] == ["success"]
    output = capfd.readouterr()
    assert (
        f"raw day {START - dt.timedelta(days=1)} is before the lake's first raw day {START}" in output.out + output.err
    )


def test_feature_recalculation_writes_the_snapshot_and_the_closed_labels_of_its_interval(platform) -> None:
    run = run_dag(platform, "feature_recalculation", DAY)

    assert str(run.state) == "success", states(run)
    store: ObjectStore = platform["store"]
    snapshot = store.read_partition(snapshot_partition(DAY))
    assert snapshot.num_rows > 100
    assert set(snapshot.column("snapshot_date").to_pylist()) == {DAY}
    # 14-day horizons: the labels of DAY - 14 were due once raw day DAY - 1 arrived.
    assert store.has_partition(labels_partition(DAY - dt.timedelta(days=14)))
    assert not store.has_partition(labels_partition(DAY - dt.timedelta(days=13)))
    assert states(run)["publish"] == ["success"]


def test_a_rerun_of_the_same_interval_leaves_the_same_partition_content(platform) -> None:
    store: ObjectStore = platform["store"]
    label_day = DAY - dt.timedelta(days=14)
    before = (store.read_partition(snapshot_partition(DAY)), store.read_partition(labels_partition(label_day)))

    run = run_dag(platform, "feature_recalculation", DAY)

    assert str(run.state) == "success", states(run)
    after = (store.read_partition(snapshot_partition(DAY)), store.read_partition(labels_partition(label_day)))
    for old, new in zip(before, after, strict=True):
        assert sorted_table(new).equals(sorted_table(old))


def _broken_copy(store: ObjectStore, table: str, source: dt.date, target: dt.date) -> pa.Table:
    """The raw partition of ``source`` moved to ``target``; transactions get negative amounts."""
    data = store.read_partition(date_partition(f"raw/{table}", source))
    shift = pa.scalar(dt.timedelta(days=(target - source).days))
    columns = {}
    for name in data.column_names:
        column = data.column(name)
        if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
            column = pc.add(column, shift) if pa.types.is_timestamp(column.type) else pa.array([target] * len(column))
        columns[name] = column
    if table == "transactions":
        columns["transaction_id"] = pc.add(columns["transaction_id"], 10**9)
        columns["amount_idr"] = pc.multiply(columns["amount_idr"], -1.0)
    return pa.table(columns)


def test_a_broken_raw_rule_fails_the_run_with_the_rule_and_writes_no_snapshot(platform, capfd) -> None:
    store: ObjectStore = platform["store"]
    bad_day = DAY  # raw input day of the snapshot DAY + 1
    written = []
    for table in ("transactions", "usage", "events"):
        write_raw(store, table, bad_day, _broken_copy(store, table, bad_day - dt.timedelta(days=1), bad_day))
        written.append(date_partition(f"raw/{table}", bad_day))
    try:
        run = run_dag(platform, "feature_recalculation", DAY + dt.timedelta(days=1))

        assert str(run.state) == "failed"
        assert states(run)["validate_raw"] == ["failed"]
        assert states(run)["build_snapshot"] == ["upstream_failed"]
        assert not store.has_partition(snapshot_partition(DAY + dt.timedelta(days=1)))
        output = capfd.readouterr()
        assert "amount_idr" in output.out + output.err
    finally:
        for partition in written:
            store.delete(f"{partition}/_SUCCESS.json")


def test_the_first_weekly_run_trains_registers_and_promotes_every_model(platform) -> None:
    client: MlflowClient = platform["client"]

    run = run_dag(platform, "drift_retraining", DAY, {"date": DAY.isoformat()})

    assert str(run.state) == "success", states(run)
    assert states(run)["train"] == ["success"] * len(MODELS)
    assert states(run)["no_retraining"] == ["skipped"]
    assert champions(client) == {name: "1" for name in MODELS}
    for name in MODELS:
        version = client.get_model_version(name, "1")
        assert version.tags["run_key"] == run.run_id
        assert version.tags["airflow_run"] == run.run_id
        assert version.tags["gate_decision"] == "promoted"
    summary = {row["model"]: row for row in _xcom(run, "summary")}
    assert summary["churn"]["version"] == "1"
    assert summary["churn"]["gate_decision"] == "promoted"
    assert store_has_drift_reports(platform["store"], DAY)


def store_has_drift_reports(store: ObjectStore, day: dt.date) -> bool:
    return all(store.exists(f"reports/drift/date={day.isoformat()}/{name}.json") for name in MODELS)


def _xcom(run: Any, task_id: str) -> Any:
    ti = next(t for t in run.get_task_instances() if t.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id)


def _champion_events() -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from mlops_dags.defaults import CHAMPIONS_ASSET
    from sqlalchemy import select

    with create_session() as session:
        query = select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        found = session.scalars(query.where(AssetModel.uri == CHAMPIONS_ASSET.uri).order_by(AssetEvent.id)).all()
        return [dict(e.extra or {}) for e in found]


def test_the_gate_s_promotions_are_announced_on_the_champions_asset(platform) -> None:
    # daily_scoring runs on this Asset (tests/unit/test_dag_integrity.py) for the promoted models
    assert _champion_events() == [{"promoted": {name: "1" for name in MODELS}}]


def test_a_quiet_week_skips_retraining_visibly_and_registers_nothing(platform) -> None:
    client: MlflowClient = platform["client"]
    count = version_count(client)

    run = run_dag(platform, "drift_retraining", DAY + dt.timedelta(days=7), {"date": DAY.isoformat()})

    assert str(run.state) == "success", states(run)
    assert states(run)["no_retraining"] == ["success"]
    assert states(run)["train"] == ["skipped"]
    assert version_count(client) == count
    assert champions(client) == {name: "1" for name in MODELS}
    assert states(run)["announce_champions"] == ["skipped"]
    assert len(_champion_events()) == 1  # nothing promoted: no event, no rescoring


def test_injected_drift_retrains_registers_and_gates_every_model(platform) -> None:
    store: ObjectStore = platform["store"]
    snapshot = store.read_partition(snapshot_partition(DAY))
    drifted = {}
    for name in snapshot.column_names:
        column = snapshot.column(name)
        if name != "customer_id" and (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            column = pc.cast(pc.add(pc.multiply(pc.cast(column, pa.float64()), 3.0), 50.0), column.type, safe=False)
        drifted[name] = column
    store.write_partition(snapshot_partition(DAY), pa.table(drifted, schema=snapshot.schema))

    run = run_dag(platform, "drift_retraining", DAY + dt.timedelta(days=14), {"date": DAY.isoformat()})

    assert str(run.state) == "success", states(run)
    verdicts = {v["model"]: v for v in _xcom(run, "decide")["verdicts"]}
    assert all(v["retrain"] and v["drift_share"] >= 0.3 for name, v in verdicts.items() if name != "segmentation")
    for row in _xcom(run, "summary"):
        assert row["version"] == "2"
        assert row["gate_decision"] in ("promoted", "rejected")
        assert row["gate_reason"]


def test_a_failing_training_task_leaves_every_champion_where_it_was(platform, monkeypatch) -> None:
    client: MlflowClient = platform["client"]
    before = champions(client)

    def broken_gate(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure in the promotion gate")

    monkeypatch.setattr(registry, "decide", broken_gate)
    run = run_dag(platform, "drift_retraining", DAY + dt.timedelta(days=21), {"date": DAY.isoformat(), "force": True})

    assert str(run.state) == "failed"
    assert states(run)["train"] == ["failed"] * len(MODELS)
    assert states(run)["summary"] == ["upstream_failed"]
    assert champions(client) == before


def test_daily_scoring_scores_every_champion_on_the_newest_snapshot(platform) -> None:
    store: ObjectStore = platform["store"]
    rows = store.read_partition(snapshot_partition(DAY)).num_rows

    run = run_dag(platform, "daily_scoring", DAY + dt.timedelta(days=1))

    assert str(run.state) == "success", states(run)
    assert states(run)["score"] == ["success"] * len(MODELS)
    for name in MODELS:
        scores = store.read_partition(date_partition(f"scores/{name}", DAY))
        if name == "recommender":  # the top-N of every customer
            assert scores.num_rows == rows * load_models_settings().recommender.top_n
            assert len(set(scores.column("customer_id").to_pylist())) == rows
        else:
            assert scores.num_rows == rows


def test_daily_scoring_for_one_model_scores_only_that_model(platform) -> None:
    run = run_dag(platform, "daily_scoring", DAY + dt.timedelta(days=2), {"models": ["churn"]})

    assert str(run.state) == "success", states(run)
    assert states(run)["score"] == ["success"]
    assert _xcom(run, "plan") == [["score", "churn", "--date", DAY.isoformat()]]


def test_monthly_reevaluation_writes_its_report_and_retrains_a_degraded_champion(platform) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from mlops_platform.features.labels import DATASET as LABELS

    store: ObjectStore = platform["store"]
    client: MlflowClient = platform["client"]
    newest = store.list_dates(LABELS)[-1]
    labels = store.read_partition(labels_partition(newest))
    flipped = pc.subtract(pa.scalar(1, labels.column("churned_30d").type), labels.column("churned_30d"))
    store.write_partition(
        labels_partition(newest),
        labels.set_column(labels.schema.get_field_index("churned_30d"), "churned_30d", flipped),
    )
    with create_session() as session:
        before = len(DagRun.find(dag_id="drift_retraining", session=session))

    run = run_dag(platform, "monthly_reevaluation", DAY + dt.timedelta(days=3), {"trigger_retraining": True})

    assert str(run.state) == "success", states(run)
    assert states(run)["retrain_degraded"] == ["success"]
    assert states(run)["nothing_to_retrain"] == ["skipped"]
    summary = json.loads(store.get_bytes(f"reports/reevaluation/date={newest.isoformat()}/summary.json"))
    assert "churn" in summary["degraded"]
    assert store.exists(f"reports/reevaluation/date={newest.isoformat()}/report.md")
    champion = registry.version_by_alias(client, "churn", registry.CHAMPION)
    assert champion.tags["mlops.degraded"] == "true"
    with create_session() as session:
        triggered = DagRun.find(dag_id="drift_retraining", session=session)
    assert len(triggered) == before + 1
    newest_run = max(triggered, key=lambda r: r.id)
    assert newest_run.conf["force"] is True
    assert "churn" in newest_run.conf["models"]


def test_feature_recalculation_on_a_demo_lake_feeds_the_raw_days_it_lacks(platform) -> None:
    from mlops_platform.data.raw import raw_dates

    store: ObjectStore = platform["store"]
    newest = raw_dates(store, "transactions")[-1]
    target = newest + dt.timedelta(days=4)

    run = run_dag(platform, "feature_recalculation", target)

    assert str(run.state) == "success", states(run)
    assert raw_dates(store, "transactions")[-3:] == [target - dt.timedelta(days=i) for i in (3, 2, 1)]
    assert store.has_partition(snapshot_partition(target))
    assert "3 new raw day(s)" in _xcom(run, "demo_feed")
