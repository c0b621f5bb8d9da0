"""Recommendations on demand: the champion recommender (or a given version) asked for customers' top-N.

Customer ids arrive as text (a command line, a table): they are converted to the type of the
model's ids (integers for a recommender trained on the lake), and an id that cannot be one is
refused with a message naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.errors import InputError

INTEGER_TYPES = frozenset({"long", "integer"})


@dataclass(frozen=True)
class Recommendations:
    """The lists of one call: ``customer_id, rank, product_id, name, category, score, reasons``.

    ``customers`` are the ids asked for, in order, in the model's id type.
    """

    model: str
    version: str
    frame: pd.DataFrame
    customers: tuple[Any, ...] = field(default=())

    def of(self, customer: Any) -> pd.DataFrame:
        """The rows of one customer, best first."""
        return self.frame.loc[self.frame["customer_id"] == customer]


def id_type(loaded: Any) -> str | None:
    """The MLflow type of the ``customer_id`` input of a loaded model (``None`` when not declared)."""
    schema = loaded.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return None
    spec = schema.input_dict().get("customer_id")
    kind = getattr(spec, "type", None)
    return getattr(kind, "name", None) if kind is not None else None


def as_model_ids(customer_ids: Sequence[Any], kind: str | None, who: str) -> list[Any]:
    """``customer_ids`` (text or numbers) in the model's id type; integers are parsed strictly.

    Raises:
        InputError: the model's ids are integers and an id is not one; the message names it.
    """
    if kind not in INTEGER_TYPES:
        return [str(c).strip() if isinstance(c, str) else c for c in customer_ids]
    converted = []
    for customer in customer_ids:
        text = str(customer).strip()
        try:
            converted.append(int(text))
        except ValueError:
            raise InputError(f"customer id {text!r} is not an integer, and {who} knows integer customer ids") from None
    return converted


def recommend(
    client: MlflowClient,
    model: str,
    customer_ids: Sequence[Any],
    n: int,
    version: str | None = None,
    profile: Mapping[str, Any] | None = None,
) -> Recommendations:
    """Top-``n`` products of each customer from ``model``'s champion (or ``version``).

    ``customer_ids`` may be text (``"100258"``, ``"AC-20931-K"``): they are converted to the
    model's id type. ``profile`` (segment, tenure_days, arpu_30d, usage_7d_data_mb) describes the
    customers as they are now and replaces what the model knew of them. An id the model never
    saw gets the cold-start list.

    Raises:
        NoChampionError: ``model`` has no champion and no version was given.
        InputError: an id is not of the model's id type (named).
    """
    import mlflow

    if version is None:
        how = f"run `mlops train recommender` or `mlops promote {model} VERSION`"
        version = str(registry.require_champion(client, model, seen_by="mlops recommend", how=how).version)
    loaded = mlflow.pyfunc.load_model(f"models:/{model}/{version}")
    customers = as_model_ids(customer_ids, id_type(loaded), f"{model} v{version}")
    frame = pd.DataFrame([{"customer_id": c, **(profile or {})} for c in customers])
    return Recommendations(model, version, loaded.predict(frame, params={"n": n}), tuple(customers))
