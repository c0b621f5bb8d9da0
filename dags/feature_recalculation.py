"""
### feature_recalculation (daily)

Builds the customer feature snapshot of the run's date **L** from the raw data of the days
before it, and the labels whose horizon has just closed. Steps:

1. **plan**: L is the logical date (or the `date` param); the raw input day is L - 1 and the
   labels due are those of L - h (h: the longest label horizon in `config/platform.yaml`).
2. **wait_for_raw**: waits (reschedule mode: no worker slot held) until the raw partitions of
   L - 1 are committed; times out after `sensor.timeout_minutes` of `config/orchestration.yaml`.
3. **validate_raw**: `mlops data validate --date L-1`; a broken rule fails the run with its
   message and nothing is written.
4. **build_snapshot**: `mlops features build --date L`; **build_labels**: `mlops features labels`
   for the closed horizon (skipped while the lake is younger than the horizon).
5. **check_snapshot**: re-reads the committed snapshot and checks it against the contract.
6. **publish**: updates the Asset `features/customer` (its extra names the date), which starts
   `daily_scoring`.
7. **lake_gc**: `mlops lake gc` removes the attempts that newer manifests replaced (reruns,
   crashed writes) once older than `storage.gc_grace_hours` of `config/platform.yaml`, so a
   plain parquet reader of a partition folder sees only the committed rows. Never touches a
   file a manifest names or an attempt whose writer may still commit it.

A rerun of a date rewrites the same rows (idempotent).

**Params**: `date` (YYYY-MM-DD, optional): build this snapshot date instead of the logical date.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from mlops_dags.defaults import FEATURES_ASSET, START_DATE, date_param, default_args, settings
from mlops_dags.runner import mlops_task

ORCHESTRATION = settings()
PLAN = "{{ ti.xcom_pull(task_ids='plan')"


@dag(
    dag_id="feature_recalculation",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(ORCHESTRATION),
    tags=["mlops", "features", "daily"],
    doc_md=__doc__,
    params={
        "date": date_param(
            "Snapshot date", "Build the snapshot of this date instead of the run's logical date (YYYY-MM-DD)."
        ),
    },
)
def feature_recalculation() -> None:
    @task
    def plan(**context: Any) -> dict[str, str | None]:
        from mlops_dags.library import lake, logical_day, param_date, platform_settings

        from mlops_platform.orchestration.plans import feature_plan

        day = param_date(context["params"]) or logical_day(context)
        planned = feature_plan(lake(), platform_settings(), day)
        print(f"snapshot {planned.snapshot_date}, raw day {planned.raw_day}; labels: {planned.label_note}")
        return planned.to_dict()

    @task.sensor(
        poke_interval=ORCHESTRATION.sensor.poke_interval_seconds,
        timeout=ORCHESTRATION.sensor.timeout_minutes * 60,
        mode="reschedule",
    )
    def wait_for_raw(planned: dict[str, str | None]) -> bool:
        import datetime as dt

        from mlops_dags.library import lake

        from mlops_platform.orchestration.plans import raw_day_missing

        missing = raw_day_missing(lake(), dt.date.fromisoformat(str(planned["snapshot_date"])))
        if missing:
            print(f"waiting: {missing}")
        return missing is None

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def labels_due(planned: dict[str, str | None]) -> bool:
        print(planned["label_note"])
        return planned["label_date"] is not None

    @task(outlets=[FEATURES_ASSET], trigger_rule="none_failed")
    def publish(planned: dict[str, str | None], **context: Any) -> str:
        context["outlet_events"][FEATURES_ASSET].extra = {"date": planned["snapshot_date"]}
        print(f"published features/customer date={planned['snapshot_date']}")
        return str(planned["snapshot_date"])

    planned = plan()
    validate_raw = mlops_task("validate_raw", ["data", "validate", "--date", PLAN + "['raw_day'] }}"])
    build_snapshot = mlops_task("build_snapshot", ["features", "build", "--date", PLAN + "['snapshot_date'] }}"])
    check_snapshot = mlops_task("check_snapshot", ["features", "check", "--date", PLAN + "['snapshot_date'] }}"])
    build_labels = mlops_task("build_labels", ["features", "labels", "--date", PLAN + "['label_date'] }}"])
    lake_gc = mlops_task("lake_gc", ["lake", "gc"])

    wait_for_raw(planned) >> validate_raw >> build_snapshot >> check_snapshot
    labels_due(planned) >> build_labels
    validate_raw >> build_labels
    [check_snapshot, build_labels] >> publish(planned) >> lake_gc


feature_recalculation()
