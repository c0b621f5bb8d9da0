"""Re-evaluation of the champion recommender: its served model, on purchases it never saw.

The champion is the model fitted up to its ``cut_off`` tag. On label date ``D`` it is asked for
the top-N of every customer who bought in ``[max(D, cut_off), D + horizon)`` (within the raw
data), and judged like the other models: its gate metric against the one its training run
logged, with the same tolerance, floors and seed targets.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.config import ModelsSettings, ReevaluationSettings
from mlops_platform.monitoring.judging import judged
from mlops_platform.monitoring.records import FAILED, SKIPPED, ModelReevaluation
from mlops_platform.registry import tracking
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

NAME = "recommender"
MIN_WINDOW_DAYS = 7


def reevaluate_recommender(
    client: MlflowClient,
    store: ObjectStore,
    models: ModelsSettings,
    settings: ReevaluationSettings,
    day: dt.date,
    horizon_days: int,
) -> ModelReevaluation:
    """Judge the champion recommender on the purchases after ``day`` (see the module doc)."""
    import mlflow

    from mlops_platform.models.recommender.evaluation import evaluate
    from mlops_platform.models.recommender.pyfunc import unwrap
    from mlops_platform.pipelines import recommender_data as lake

    conf = models.recommender
    result = ModelReevaluation(NAME, SKIPPED, day.isoformat(), conf.gate.metric, conf.gate.greater_is_better)
    registry.reconcile_aliases(client, NAME, seen_by="mlops models reevaluate")
    champion = registry.version_by_alias(client, NAME, registry.CHAMPION)
    if champion is None:
        return replace(result, reasons=["no champion: train recommender or promote a version"])
    result.version, result.training_run_id = str(champion.version), champion.run_id
    result.training_window = (champion.tags or {}).get("training_window")
    cut_off = dt.date.fromisoformat((champion.tags or {}).get("cut_off", day.isoformat()))
    raw_days = store.list_dates("raw/transactions")
    start = max(day, cut_off)
    end = min(day + dt.timedelta(days=horizon_days), (raw_days[-1] + dt.timedelta(days=1)) if raw_days else day)
    result.snapshot_date = start.isoformat()
    if (end - start).days < MIN_WINDOW_DAYS:
        reason = f"purchases of [{start}, {end}) span under {MIN_WINDOW_DAYS} days after the cut-off {cut_off}"
        return replace(result, reasons=[reason])
    try:
        rec = unwrap(mlflow.pyfunc.load_model(f"models:/{NAME}/{champion.version}")).recommender
        tables = lake.read_tables(store, end, [])
        evaluation = evaluate(rec, tables, start, end)
    except Exception as exc:  # one champion that cannot be judged must not stop the others
        _logger.warning("%s v%s cannot be re-evaluated on %s: %s", NAME, champion.version, day, exc)
        return replace(result, status=FAILED, reasons=[f"v{champion.version} cannot be re-evaluated: {exc}"])
    window = f"purchases of [{start}, {end}) by {evaluation.customers:,} customers"
    if evaluation.customers < settings.min_rows:
        return replace(result, rows=evaluation.customers, reasons=[f"{window} (< min_rows {settings.min_rows})"])
    at_training = tracking.training_metrics(client, champion.run_id)
    notes = [f"{window}; the model was fitted up to {cut_off}"]
    return replace(
        judged(result, conf, settings.tolerance, evaluation.metrics, at_training, notes), rows=evaluation.customers
    )
