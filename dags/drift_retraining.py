"""
### drift_retraining (weekly)

For each model, compares the newest feature snapshot with the training reference of its
`champion` (the champion's own feature columns) using Evidently 0.7, and retrains only where
it is due. Steps:

1. **plan**: the snapshot date D (the `date` param, else the newest snapshot) and the models.
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

**Params**
- `models`: which models to check (empty: all).
- `force`: retrain the chosen models whatever the drift.
- `date` (YYYY-MM-DD, optional): the snapshot to check; default: the newest.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task
from mlops_dags.defaults import START_DATE, date_param, default_args, models_param, settings
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
        "force": Param(False, type="boolean", title="Force retraining", description="Retrain whatever the drift."),
        "date": date_param("Snapshot date", "Check this snapshot (YYYY-MM-DD); default: the newest in the lake."),
    },
)
def drift_retraining() -> None:
    @task
    def plan(**context: Any) -> dict[str, Any]:
        from mlops_dags.library import lake, models_settings, param_date

        from mlops_platform.orchestration.plans import newest_snapshot_date, resolve_models

        params = context["params"]
        day = param_date(params) or newest_snapshot_date(lake())
        models = resolve_models(params.get("models"), models_settings().trainable_names)
        print(f"checking drift of {', '.join(models)} on snapshot {day} (force: {bool(params.get('force'))})")
        return {"date": day.isoformat(), "models": models, "force": bool(params.get("force"))}

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
        print(format_rows(verdicts, ["model", "retrain", "reason", "drift_share", "champion_version"]))
        return {**planned, "verdicts": verdicts, "retrain": [v["model"] for v in verdicts if v["retrain"]]}

    @task.branch
    def retrain_or_skip(decided: dict[str, Any]) -> str:
        return "train_commands" if decided["retrain"] else "no_retraining"

    @task
    def no_retraining(decided: dict[str, Any]) -> None:
        for verdict in decided["verdicts"]:
            print(f"{verdict['model']}: not retrained ({verdict['reason']})")

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
        print(format_rows(rows, ["model", "version", "gate_decision", "gate_reason", "champion", "execution_backend"]))
        return rows

    planned = plan()
    checks = mlops_mapped_task("check_drift", drift_commands(planned))
    decided = decide(planned)
    checks >> decided
    branch = retrain_or_skip(decided)
    commands = train_commands(decided)
    branch >> [commands, no_retraining(decided)]
    trained = mlops_mapped_task("train", commands)
    trained >> summary(decided)


drift_retraining()
