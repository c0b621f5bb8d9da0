"""
### feature_recalculation (daily)

Builds the customer feature snapshot of the run's date **L** from the raw data of the days
before it, and the labels whose horizon has just closed. Steps:

1. **plan**: L is the logical date (or the `date` param); the raw input day is L - 1 and the
   labels due are those of L - h (h: the longest label horizon in `config/platform.yaml`).
2. **demo_feed**: on a demo lake (one with `_demo.json`, made by `mlops data generate`) commits
   the generated raw days up to L - 1 (never past yesterday, UTC): the live feed that keeps the
   daily schedule going on a machine left running. A real lake is never touched.
3. **wait_for_raw**: waits (reschedule mode: no worker slot held) until the raw partitions of
   L - 1 are committed; times out after `sensor.timeout_minutes` of `config/orchestration.yaml`.
   On a demo lake each poke feeds the day once it is over. A day that cannot come (before the
   lake's first raw day, after today, or far past a real lake's newest raw day) fails the task
   at once with that reason.
4. **validate_raw**: `mlops data validate --date L-1`; a broken rule fails the run with its
   message and nothing is written.
5. **build_snapshot**: `mlops features build --date L`; **build_labels**: `mlops features labels`
   for the closed horizon (skipped while the lake is younger than the horizon).
6. **check_snapshot**: re-reads the committed snapshot and checks it against the contract.
7. **publish**: updates the Asset `features/customer` (its extra names the date), which starts
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
from mlops_dags.defaults import FEATURES_ASSET, START_DATE, TASK_LOG, date_param, default_args, settings
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
        TASK_LOG.info("snapshot %s, raw day %s; labels: %s", planned.snapshot_date, planned.raw_day, planned.label_note)
        return planned.to_dict()

    @task
    def demo_feed(planned: dict[str, str | None]) -> str:
        import datetime as dt

        from mlops_dags.library import lake

        from mlops_platform.orchestration.plans import feed_demo_lake

        today = dt.datetime.now(dt.UTC).date()
        note = feed_demo_lake(lake(), dt.date.fromisoformat(str(planned["raw_day"])), today)
        TASK_LOG.info("%s", note)
        return note

    @task.sensor(
        poke_interval=ORCHESTRATION.sensor.poke_interval_seconds,
        timeout=ORCHESTRATION.sensor.timeout_minutes * 60,
        mode="reschedule",
    )
    def wait_for_raw(planned: dict[str, str | None]) -> bool:
        import datetime as dt

        from airflow.sdk.exceptions import AirflowFailException
        from mlops_dags.library import lake

        from mlops_platform.orchestration.plans import feed_demo_lake, raw_day_missing, raw_day_unreachable

        store, day = lake(), dt.date.fromisoformat(str(planned["snapshot_date"]))
        today = dt.datetime.now(dt.UTC).date()
        if raw_day_missing(store, day) is not None:  # a demo lake gains the day once it is over
            TASK_LOG.info("%s", feed_demo_lake(store, day - dt.timedelta(days=1), today))
        missing = raw_day_missing(store, day)
        if missing is None:
            return True
        never = raw_day_unreachable(store, day, today)
        if never:
            raise AirflowFailException(f"{missing}; it will not come: {never}")
        TASK_LOG.info("waiting: %s", missing)
        return False

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def labels_due(planned: dict[str, str | None]) -> bool:
        TASK_LOG.info("%s", planned["label_note"])
        return planned["label_date"] is not None

    @task(outlets=[FEATURES_ASSET], trigger_rule="none_failed")
    def publish(planned: dict[str, str | None], **context: Any) -> str:
        context["outlet_events"][FEATURES_ASSET].extra = {"date": planned["snapshot_date"]}
        TASK_LOG.info("published features/customer date=%s", planned["snapshot_date"])
        return str(planned["snapshot_date"])

    planned = plan()
    validate_raw = mlops_task("validate_raw", ["data", "validate", "--date", PLAN + "['raw_day'] }}"])
    build_snapshot = mlops_task("build_snapshot", ["features", "build", "--date", PLAN + "['snapshot_date'] }}"])
    check_snapshot = mlops_task("check_snapshot", ["features", "check", "--date", PLAN + "['snapshot_date'] }}"])
    build_labels = mlops_task("build_labels", ["features", "labels", "--date", PLAN + "['label_date'] }}"])
    lake_gc = mlops_task("lake_gc", ["lake", "gc"])

    demo_feed(planned) >> wait_for_raw(planned) >> validate_raw >> build_snapshot >> check_snapshot
    labels_due(planned) >> build_labels
    validate_raw >> build_labels
    [check_snapshot, build_labels] >> publish(planned) >> lake_gc


feature_recalculation()
