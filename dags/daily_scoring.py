"""
### daily_scoring (on the `features/customer` Asset)

Runs whenever `feature_recalculation` publishes a snapshot, so the churn list, conversion
propensities, revenue forecasts and segments are fresh each morning. For every model that has
a `champion`, `mlops score MODEL --date D` writes `scores/<model>/date=D/` with that champion.

When a champion moves (by the promotion gate, or by hand in the MLflow UI: the alias webhook
receiver of `make run` catches it), this DAG is triggered with `models` set to that model, so
its scores follow the promotion.

**Params**
- `models`: which models to score (empty: every model with a champion).
- `date` (YYYY-MM-DD, optional): the snapshot to score; default: the date in the Asset event
  that started the run, else the newest snapshot in the lake.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from mlops_dags.defaults import FEATURES_ASSET, START_DATE, date_param, default_args, models_param, settings
from mlops_dags.runner import mlops_mapped_task

ORCHESTRATION = settings()


@dag(
    dag_id="daily_scoring",
    schedule=[FEATURES_ASSET],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    # Runs only when the features Asset updates or a champion moves: active from the start, so a
    # promotion made in the MLflow UI is followed by fresh scores without a visit to Airflow.
    is_paused_upon_creation=False,
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
        from mlops_platform.orchestration.plans import resolve_models, scoring_date, with_champion

        try:
            day = scoring_date(lake(), param_date(context["params"]), context.get("triggering_asset_events"))
        except InputError as exc:
            print(f"nothing to score: {exc}")
            return []
        models = resolve_models(context["params"].get("models"), models_settings().trainable_names)
        ready, skipped = with_champion(mlflow_client(), models)
        for name, reason in skipped.items():
            print(f"skip {name}: {reason}")
        print(f"scoring snapshot {day} with the champions of: {', '.join(ready) or 'no model'}")
        return [["score", name, "--date", day.isoformat()] for name in ready]

    mlops_mapped_task("score", plan())


daily_scoring()
