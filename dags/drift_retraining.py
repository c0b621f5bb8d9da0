"""
### drift_retraining (weekly)

For each model, compares the newest feature snapshot with the training reference of its
`champion` (the champion's own feature columns) using Evidently 0.7, and retrains only where
it is due. Steps:

1. **wait_for_snapshot**: on a lake without a snapshot yet (or without the one the `date` param
   names) waits (reschedule mode) for `feature_recalculation` to build it, saying so in the log;
   a snapshot that cannot come (its raw day is before the lake, or after today) fails at once.
   **plan**: the snapshot date D (the `date` param, else the newest snapshot) and the models.
2. **check_drift** (one task per model): `mlops drift check MODEL --date D` stores
   `reports/drift/date=D/<model>.json` and `.html` in the lake and logs them to MLflow.
3. **decide**: retrain a model if the share of drifted columns reaches
   `decision.drifted_share_threshold` of `config/drift.yaml`, its champion is missing or older
   than `retrain.max_champion_age_days`, or the run is forced; the log lists every reason.
4. **retrain_or_skip**: goes to **no_retraining** (visible in the grid) when nothing is due.
5. **train** (one task per model, in parallel): `mlops train MODEL --as-of D --run-key <run id>`
   builds the point-in-time training set, trains, evaluates on the time-based holdout,
   registers the version as `challenger` and runs the promotion gate. The run id as key means a
   retried task registers no duplicate version.
6. **summary**: per model, the new version, the gate decision and its reason.
7. **announce_champions**: when the gate promoted a model, updates the Asset
   `registry/champions` (its extra: `{"promoted": {model: version}}`), which starts
   `daily_scoring` for those models, exactly as a champion moved in the MLflow UI does; skipped
   when nothing was promoted.

**Params**
- `models` (optional): which models to check (empty: all).
- `force` (optional): retrain the chosen models whatever the drift (empty: no).
- `date` (YYYY-MM-DD, optional): the snapshot to check; default: the newest.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from mlops_dags.defaults import (
    CHAMPIONS_ASSET,
    START_DATE,
    TASK_LOG,
    date_param,
    default_args,
    force_param,
    log_lines,
    models_param,
    settings,
)
from mlops_dags.runner import mlops_mapped_task

ORCHESTRATION = settings()


@dag(
    dag_id="drift_retraining",
    schedule="@weekly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(ORCHESTRATION),
    tags=["mlops", "drift", "training", "weekly"],
    doc_md=__doc__,
    params={
        "models": models_param("Models to check and retrain when due (empty: all)."),
        "force": force_param("Retrain whatever the drift (empty: only where due)."),
        "date": date_param("Snapshot date", "Check this snapshot (YYYY-MM-DD); default: the newest in the lake."),
    },
)
def drift_retraining() -> None:
    @task.sensor(
        poke_interval=min(ORCHESTRATION.sensor.poke_interval_seconds, 60),
        timeout=ORCHESTRATION.sensor.timeout_minutes * 60,
        mode="reschedule",
    )
    def wait_for_snapshot(**context: Any) -> bool:
        import datetime as dt

        from airflow.sdk.exceptions import AirflowFailException
        from mlops_dags.library import lake, param_date

        from mlops_platform.orchestration.plans import raw_day_unreachable, snapshot_missing

        store = lake()
        try:
            asked = param_date(context["params"])
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None
        missing = snapshot_missing(store, asked)
        if missing is None:
            return True
        today = dt.datetime.now(dt.UTC).date()
        never = raw_day_unreachable(store, asked or today, today)
        if never:
            raise AirflowFailException(f"{missing}; it cannot be built: {never}")
        TASK_LOG.info("%s (unpause or trigger feature_recalculation)", missing)
        return False

    @task
    def plan(**context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException
        from mlops_dags.library import lake, models_settings, param_date

        from mlops_platform.errors import InputError
        from mlops_platform.orchestration.plans import newest_snapshot_date, resolve_models

        params = context["params"]
        try:
            day = param_date(params) or newest_snapshot_date(lake())
            models = resolve_models(params.get("models"), models_settings().trainable_names)
        except (InputError, ValueError) as exc:  # a wrong param or an empty lake: a retry cannot help
            raise AirflowFailException(str(exc)) from None
        force = bool(params.get("force"))
        TASK_LOG.info("checking drift of %s on snapshot %s (force: %s)", ", ".join(models), day, force)
        return {"date": day.isoformat(), "models": models, "force": force}

    @task
    def drift_commands(planned: dict[str, Any]) -> list[list[str]]:
        force = ["--force"] if planned["force"] else []
        return [["drift", "check", name, "--date", planned["date"], *force] for name in planned["models"]]

    @task
    def decide(planned: dict[str, Any]) -> dict[str, Any]:
        import datetime as dt

        from mlops_dags.library import lake

        from mlops_platform.orchestration.plans import format_rows, read_drift_verdicts, verdicts_to_dicts

        day = dt.date.fromisoformat(planned["date"])
        verdicts = verdicts_to_dicts(read_drift_verdicts(lake(), day, planned["models"]))
        log_lines(format_rows(verdicts, ["model", "retrain", "reason", "drift_share", "champion_version"]))
        retrain = [v["model"] for v in verdicts if v["retrain"]]
        TASK_LOG.info("decision: retrain %s", ", ".join(retrain) if retrain else "nothing")
        return {**planned, "verdicts": verdicts, "retrain": retrain}

    @task.branch
    def retrain_or_skip(decided: dict[str, Any]) -> str:
        return "train_commands" if decided["retrain"] else "no_retraining"

    @task
    def no_retraining(decided: dict[str, Any]) -> None:
        for verdict in decided["verdicts"]:
            TASK_LOG.info("%s: not retrained (%s)", verdict["model"], verdict["reason"])

    @task
    def train_commands(decided: dict[str, Any], **context: Any) -> list[list[str]]:
        run_key = context["run_id"]
        return [["train", name, "--as-of", decided["date"], "--run-key", run_key] for name in decided["retrain"]]

    @task
    def summary(decided: dict[str, Any], **context: Any) -> list[dict[str, Any]]:
        from dataclasses import asdict

        from mlops_dags.library import mlflow_client

        from mlops_platform.orchestration.plans import format_rows, training_summary

        rows = [asdict(r) for r in training_summary(mlflow_client(), decided["retrain"], context["run_id"])]
        log_lines(
            format_rows(rows, ["model", "version", "gate_decision", "gate_reason", "champion", "execution_backend"])
        )
        for row in rows:
            TASK_LOG.info(
                "%s: version %s %s (%s); champion now %s",
                row["model"],
                row["version"],
                row["gate_decision"],
                row["gate_reason"] or "no reason recorded",
                row["champion"],
            )
        return rows

    @task(outlets=[CHAMPIONS_ASSET])
    def announce_champions(rows: list[dict[str, Any]], **context: Any) -> dict[str, str]:
        from airflow.sdk.exceptions import AirflowSkipException

        from mlops_platform.orchestration.plans import promoted_models

        promoted = promoted_models(rows)
        if not promoted:
            raise AirflowSkipException("the gate promoted no model: no champion moved, nothing to rescore")
        context["outlet_events"][CHAMPIONS_ASSET].extra = {"promoted": promoted}
        TASK_LOG.info("champions moved: %s; daily_scoring follows", ", ".join(f"{m} v{v}" for m, v in promoted.items()))
        return promoted

    planned = plan()
    wait_for_snapshot() >> planned
    checks = mlops_mapped_task("check_drift", drift_commands(planned))
    decided = decide(planned)
    checks >> decided
    branch = retrain_or_skip(decided)
    commands = train_commands(decided)
    branch >> [commands, no_retraining(decided)]
    trained = mlops_mapped_task("train", commands)
    rows = summary(decided)
    trained >> rows
    announce_champions(rows)


drift_retraining()
