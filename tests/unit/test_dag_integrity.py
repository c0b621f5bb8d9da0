"""The DAG files: they import cleanly and cheaply, and every DAG carries tags, retries and a doc."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAG_IDS = {"feature_recalculation", "daily_scoring", "drift_retraining", "monthly_reevaluation"}

# Parsed in a fresh interpreter, as Airflow's dag processor would: counts the SQL statements
# run and the connections or variables looked up while the files are imported.
PARSE = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Connection, Variable

    calls = {"queries": 0, "lookups": []}

    @event.listens_for(Engine, "before_cursor_execute")
    def count(*args, **kwargs):
        calls["queries"] += 1

    def refuse(kind):
        def lookup(*args, **kwargs):
            calls["lookups"].append(kind)
            raise RuntimeError(f"{kind} looked up at parse time")
        return lookup

    BaseHook.get_connection = classmethod(refuse("connection"))
    Connection.get = classmethod(refuse("connection"))
    Variable.get = staticmethod(refuse("variable"))
    heavy_before = {m for m in ("numpy", "pandas", "pyarrow", "mlflow", "sklearn") if m in sys.modules}
    bag = DagBag(dag_folder=sys.argv[1])
    heavy = sorted({m for m in ("numpy", "pandas", "pyarrow", "mlflow", "sklearn") if m in sys.modules} - heavy_before)
    print("RESULT " + json.dumps({
        "errors": {k: v[-400:] for k, v in bag.import_errors.items()},
        "dags": sorted(bag.dag_ids),
        "heavy": heavy,
        **calls,
    }))
    """
)


@pytest.fixture(scope="module")
def parsed() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAGS)], capture_output=True, text=True, timeout=300, env=os.environ.copy()
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(line[len("RESULT ") :])


@pytest.fixture(scope="module")
def bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    found = DagBag(dag_folder=str(DAGS))
    assert found.import_errors == {}
    return found


def test_every_dag_file_imports_without_errors(parsed) -> None:
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == DAG_IDS


def test_parsing_runs_no_query_and_looks_up_no_connection_or_variable(parsed) -> None:
    assert parsed["queries"] == 0
    assert parsed["lookups"] == []


def test_parsing_imports_none_of_the_heavy_libraries(parsed) -> None:
    assert parsed["heavy"] == []


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_every_dag_has_tags_retries_timeouts_a_doc_and_a_static_start(bag, dag_id: str) -> None:
    dag = bag.dags[dag_id]

    assert "mlops" in dag.tags and len(dag.tags) >= 2
    assert dag.doc_md and dag_id in dag.doc_md and "Params" in dag.doc_md
    assert dag.catchup is False
    assert dag.start_date == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff > 0, task.task_id
        assert task.max_retry_delay is not None, task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.on_failure_callback, task.task_id


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_every_param_has_a_title_and_a_description_for_the_trigger_form(bag, dag_id: str) -> None:
    dag = bag.dags[dag_id]

    assert dag.params
    for name, param in dag.params.items():
        assert param.schema.get("title"), name
        assert param.description, name


def test_the_features_asset_links_feature_recalculation_to_daily_scoring(bag) -> None:
    from mlops_dags.defaults import FEATURES_ASSET

    publish = bag.dags["feature_recalculation"].get_task("publish")
    assert FEATURES_ASSET in publish.outlets
    schedule = bag.dags["daily_scoring"].timetable
    assert FEATURES_ASSET.name in str(getattr(schedule, "asset_condition", schedule))


def test_feature_recalculation_ends_with_a_lake_gc_on_the_configured_grace(bag) -> None:
    dag = bag.dags["feature_recalculation"]
    gc = dag.get_task("lake_gc")

    assert gc.upstream_task_ids == {"publish"}
    assert gc.downstream_task_ids == set()
    assert list(getattr(gc, "command", None) or gc.arguments) == ["lake", "gc"]  # no --grace-hours: the config's


def test_the_sensor_waits_in_reschedule_mode_with_a_timeout(bag) -> None:
    sensor = bag.dags["feature_recalculation"].get_task("wait_for_raw")

    assert sensor.mode == "reschedule"
    assert 0 < sensor.timeout < float("inf")


def test_the_failure_callback_logs_dag_task_run_and_error(caplog) -> None:
    from types import SimpleNamespace

    from mlops_dags.defaults import log_failure

    ti = SimpleNamespace(dag_id="drift_retraining", task_id="train", map_index=2, try_number=3)
    with caplog.at_level("ERROR", logger="mlops_dags"):
        log_failure({"ti": ti, "run_id": "manual__x", "exception": ValueError("no labels for 2025-04-11")})

    assert "DAG drift_retraining, task train[2], run manual__x, try 3: no labels for 2025-04-11" in caplog.text


# -- a new user's first hour ---------------------------------------------------------------------


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_every_dag_starts_paused(bag, dag_id: str) -> None:
    assert bag.dags[dag_id].is_paused_upon_creation in (None, True)


def test_daily_scoring_runs_on_the_features_or_the_champions_asset(bag) -> None:
    from mlops_dags.defaults import CHAMPIONS_ASSET, FEATURES_ASSET

    announce = bag.dags["drift_retraining"].get_task("announce_champions")
    assert CHAMPIONS_ASSET in announce.outlets
    assert "summary" in announce.upstream_task_ids
    condition = bag.dags["daily_scoring"].timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"
    assert {a.name for a in condition.objects} == {FEATURES_ASSET.name, CHAMPIONS_ASSET.name}


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_date_params_are_plain_yyyy_mm_dd_text_and_the_empty_form_validates(bag, dag_id: str) -> None:
    params = bag.dags[dag_id].params
    params.validate()  # every param may stay empty
    if "date" in params:
        date = params.get_param("date")
        assert "format" not in date.schema  # a date picker would show mm/dd/yyyy
        assert "YYYY-MM-DD" in date.description
        assert date.resolve("2025-03-01") == "2025-03-01"
        assert date.resolve(None) is None
        with pytest.raises(Exception, match="does not match"):
            date.resolve("03/01/2025")


@pytest.mark.parametrize("dag_id", ["daily_scoring", "drift_retraining", "monthly_reevaluation"])
def test_models_and_force_may_stay_empty_on_the_trigger_form(bag, dag_id: str) -> None:
    params = bag.dags[dag_id].params
    assert params.get_param("models").resolve(None) is None
    assert params.get_param("models").resolve(["churn"]) == ["churn"]
    if "force" in params:
        assert params.get_param("force").resolve(None) is None
        assert "null" in params.get_param("force").schema["type"]


def test_the_drift_dag_waits_for_a_first_snapshot_before_planning(bag) -> None:
    dag = bag.dags["drift_retraining"]
    sensor = dag.get_task("wait_for_snapshot")

    assert sensor.mode == "reschedule" and 0 < sensor.timeout < float("inf")
    assert "plan" in sensor.downstream_task_ids
    assert dag.get_task("plan").upstream_task_ids == {"wait_for_snapshot"}


def test_the_demo_feed_runs_before_the_raw_sensor(bag) -> None:
    dag = bag.dags["feature_recalculation"]

    assert dag.get_task("wait_for_raw").upstream_task_ids >= {"demo_feed"}
    assert dag.get_task("demo_feed").upstream_task_ids == {"plan"}
