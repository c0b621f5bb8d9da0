"""
### daily_scoring (on the `features/customer` and `registry/champions` Assets)

Runs whenever `feature_recalculation` publishes a snapshot, so the churn list, conversion
propensities, revenue forecasts and segments are fresh each morning. For every model that has
a `champion`, `mlops score MODEL --date D` writes `scores/<model>/date=D/` with that champion.

When a champion moves its scores follow: a promotion by the gate of `drift_retraining` updates
the Asset `registry/champions`, and a run started by that event alone scores only the promoted
models on the newest snapshot; a move by hand in the MLflow UI (the alias webhook receiver of
`make run` catches it) triggers this DAG with `models` set to that model.

Like every DAG here it starts paused: unpause it once, and it then runs on every event.

**Params**
- `models` (optional): which models to score (empty: every model with a champion, or the
  promoted ones for a `registry/champions` event).
- `date` (YYYY-MM-DD, optional): the snapshot to score; default: the date in the Asset event
  that started the run, else the newest snapshot in the lake.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from mlops_dags.defaults import (
    CHAMPIONS_ASSET,
    FEATURES_ASSET,
    START_DATE,
    TASK_LOG,
    date_param,
    default_args,
    models_param,
    settings,
)
from mlops_dags.runner import mlops_mapped_task

ORCHESTRATION = settings()


@dag(
    dag_id="daily_scoring",
    schedule=FEATURES_ASSET | CHAMPIONS_ASSET,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(ORCHESTRATION),
    tags=["mlops", "scoring", "daily"],
    doc_md=__doc__,
    params={
        "models": models_param("Models to score (empty: every model with a champion)."),
        "date": date_param(
            "Snapshot date", "Score this snapshot (YYYY-MM-DD); default: the Asset event's date, else the newest."
        ),
    },
)
def daily_scoring() -> None:
    @task
    def plan(**context: Any) -> list[list[str]]:
        from mlops_dags.library import lake, mlflow_client, models_settings, param_date

        from mlops_platform.errors import InputError
        from mlops_platform.orchestration.plans import (
            champion_event_models,
            resolve_models,
            scoring_date,
            with_champion,
        )

        events = context.get("triggering_asset_events")
        try:
            day = scoring_date(lake(), param_date(context["params"]), events)
        except InputError as exc:
            TASK_LOG.info("nothing to score: %s", exc)
            return []
        requested = context["params"].get("models") or champion_event_models(events)
        models = resolve_models(requested, models_settings().trainable_names)
        ready, skipped = with_champion(mlflow_client(), models)
        for name, reason in skipped.items():
            TASK_LOG.info("skip %s: %s", name, reason)
        TASK_LOG.info("scoring snapshot %s with the champions of: %s", day, ", ".join(ready) or "no model")
        return [["score", name, "--date", day.isoformat()] for name in ready]

    mlops_mapped_task("score", plan())


daily_scoring()
