"""
### monthly_reevaluation (monthly)

Checks that every `champion` still does what it was promoted for. Steps:

1. **plan**: the label date D (the `date` param, else the newest date whose labels have
   arrived, i.e. whose horizon has closed).
2. **reevaluate**: `mlops models reevaluate --date D` scores each champion on the snapshot of D,
   compares with its training-time holdout metrics and the targets in `config/models.yaml`,
   writes `reports/reevaluation/date=D/` (Markdown and JSON) and an MLflow run, and tags
   degraded versions `mlops.degraded=true`.
3. **degraded**: reads the summary; **retrain_degraded** triggers `drift_retraining` with
   `force` for the degraded models when `reevaluation.trigger_retraining` of
   `config/drift.yaml` (or the `trigger_retraining` param) says so; otherwise
   **nothing_to_retrain** says why.

**Params**
- `models` (optional): which champions to re-evaluate (empty: all).
- `date` (YYYY-MM-DD, optional): the label date to evaluate on.
- `trigger_retraining` (optional): overrides the config switch for this run.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task
from mlops_dags.defaults import START_DATE, TASK_LOG, date_param, default_args, log_lines, models_param, settings
from mlops_dags.runner import mlops_task

ORCHESTRATION = settings()


@dag(
    dag_id="monthly_reevaluation",
    schedule="@monthly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(ORCHESTRATION),
    tags=["mlops", "evaluation", "monthly"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    params={
        "models": models_param("Champions to re-evaluate (empty: all)."),
        "date": date_param("Label date", "Evaluate on the labels of this date (YYYY-MM-DD); default: the newest."),
        "trigger_retraining": Param(
            None,
            type=["null", "boolean"],
            title="Trigger retraining",
            description="Force-retrain degraded models (empty: reevaluation.trigger_retraining of config/drift.yaml).",
        ),
    },
)
def monthly_reevaluation() -> None:
    @task
    def plan(**context: Any) -> list[str]:
        from mlops_dags.library import lake, models_settings, param_date

        from mlops_platform.orchestration.plans import newest_label_date, resolve_models

        params = context["params"]
        day = param_date(params) or newest_label_date(lake())
        models = resolve_models(params.get("models"), models_settings().trainable_names)
        TASK_LOG.info("re-evaluating the champions of %s on the labels of %s", ", ".join(models), day)
        return ["models", "reevaluate", *models, "--date", day.isoformat()]

    @task
    def degraded(command: list[str], **context: Any) -> dict[str, Any]:
        import datetime as dt

        from mlops_dags.library import drift_settings, lake

        from mlops_platform.orchestration.plans import reevaluation_outcome

        outcome = reevaluation_outcome(lake(), dt.date.fromisoformat(command[-1]))
        log_lines(outcome.table)
        switch = context["params"].get("trigger_retraining")
        trigger = drift_settings().reevaluation.trigger_retraining if switch is None else bool(switch)
        return {"models": outcome.degraded, "trigger": trigger}

    @task.branch
    def retrain_or_not(found: dict[str, Any]) -> str:
        return "retrain_degraded" if found["models"] and found["trigger"] else "nothing_to_retrain"

    @task
    def nothing_to_retrain(found: dict[str, Any]) -> None:
        if found["models"]:
            TASK_LOG.info("degraded: %s; retraining is switched off for this run", ", ".join(found["models"]))
        else:
            TASK_LOG.info("no champion degraded")

    command = plan()
    reevaluate = mlops_task("reevaluate", command)
    found = degraded(command)
    reevaluate >> found
    retrain = TriggerDagRunOperator(
        task_id="retrain_degraded",
        trigger_dag_id="drift_retraining",
        conf={"models": "{{ ti.xcom_pull(task_ids='degraded')['models'] }}", "force": True},
        wait_for_completion=False,
    )
    retrain_or_not(found) >> [retrain, nothing_to_retrain(found)]


monthly_reevaluation()
