"""Recommendations on demand: the champion recommender (or a given version) asked for customers' top-N."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from mlops_platform import registry


@dataclass(frozen=True)
class Recommendations:
    """The lists of one call: ``customer_id, rank, product_id, name, category, score, reasons``."""

    model: str
    version: str
    frame: pd.DataFrame

    def of(self, customer: Any) -> pd.DataFrame:
        """The rows of one customer, best first."""
        return self.frame.loc[self.frame["customer_id"] == customer]


def recommend(
    client: MlflowClient,
    model: str,
    customer_ids: Sequence[Any],
    n: int,
    version: str | None = None,
    profile: Mapping[str, Any] | None = None,
) -> Recommendations:
    """Top-``n`` products of each customer from ``model``'s champion (or ``version``).

    ``profile`` (segment, tenure_days, arpu_30d, usage_7d_data_mb) describes the customers as they
    are now and replaces what the model knew of them. An id the model never saw gets the
    cold-start list.

    Raises:
        NoChampionError: ``model`` has no champion and no version was given.
    """
    import mlflow

    if version is None:
        how = f"run `mlops train recommender` or `mlops promote {model} VERSION`"
        version = str(registry.require_champion(client, model, seen_by="mlops recommend", how=how).version)
    loaded = mlflow.pyfunc.load_model(f"models:/{model}/{version}")
    frame = pd.DataFrame([{"customer_id": c, **(profile or {})} for c in customer_ids])
    return Recommendations(model, version, loaded.predict(frame, params={"n": n}))
