"""The recommender as an MLflow pyfunc: customer ids (and optional context) in, top-N with reasons out.

The input is a frame with ``customer_id`` and, optionally, the customer's current profile in the
feature snapshot's column names (``segment``, ``arpu_30d``, ``arpu_bucket``,
``usage_7d_data_mb``, ``usage_7d_voice_min``, ``tenure_days``). A row with a profile replaces
what the model knew of that customer at its cut-off; that is how a brand-new customer gets
recommendations from features alone. An id the model never saw, without a profile, gets the
cold-start list; it never raises.

The output has one row per recommendation: ``customer_id, rank, product_id, name, category,
score, reasons`` (the reasons joined with "; "). Params: ``n`` (list length, default the
config's ``top_n``) and ``exact_reasons`` (exact SHAP contributions, about 1 ms per row; the
default takes them for up to 1,000 customers and XGBoost's approximate ones beyond that).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from mlops_platform.errors import InputError
from mlops_platform.models.recommender import interactions as ia
from mlops_platform.models.recommender.model import Recommender

CONTEXT_TYPES = {
    "segment": "string",
    "arpu_30d": "double",
    "arpu_bucket": "string",
    "usage_7d_data_mb": "double",
    "usage_7d_voice_min": "double",
    "tenure_days": "double",
}
OUTPUT_TYPES = {
    "customer_id": "long",
    "rank": "long",
    "product_id": "long",
    "name": "string",
    "category": "string",
    "score": "double",
    "reasons": "string",
}
EXACT_REASONS_UP_TO = 1_000
REASON_SEPARATOR = "; "


def signature(top_n: int) -> ModelSignature:
    """Inputs: ``customer_id`` plus the optional profile columns; params ``n`` and ``exact_reasons``."""
    inputs = Schema(
        [ColSpec("long", "customer_id"), *(ColSpec(kind, name, required=False) for name, kind in CONTEXT_TYPES.items())]
    )
    outputs = Schema([ColSpec(kind, name) for name, kind in OUTPUT_TYPES.items()])
    params = ParamSchema([ParamSpec("n", "long", top_n), ParamSpec("exact_reasons", "string", "auto")])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def _context_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` that carry a profile, as snapshot-shaped rows (one per customer)."""
    present = [c for c in CONTEXT_TYPES if c in frame.columns]
    if not present:
        return frame.iloc[0:0]
    rows = frame.loc[frame[present].notna().any(axis=1), ["customer_id", *present]]
    return rows.drop_duplicates("customer_id", keep="last")


def _exact(value: Any, customers: int) -> bool:
    if value is None or str(value).lower() == "auto":
        return customers <= EXACT_REASONS_UP_TO
    text = str(value).lower()
    if text not in {"true", "false"}:
        raise InputError(f"exact_reasons must be true, false or auto, got {value!r}")
    return text == "true"


def with_profiles(
    recommender: Recommender, context: pd.DataFrame, requested: np.ndarray | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fitted users and LightFM tokens, with the customers of ``context`` replaced by their profile.

    Args:
        recommender: a fitted recommender.
        context: snapshot-shaped rows (``customer_id`` and profile columns), one per customer.
        requested: keep the rows of these customers only (None: every customer).
    """
    fitted = recommender.stage_
    users, tokens = fitted.frame, fitted.tokens
    if requested is not None:
        users, tokens = users.loc[users["user_id"].isin(requested)], tokens.loc[tokens["id"].isin(requested)]
    if context.empty:
        return users, tokens
    given = set(context["customer_id"].tolist())
    users = pd.concat([users.loc[~users["user_id"].isin(given)], ia.telco_users(context)], ignore_index=True)
    kept = tokens.loc[~tokens["id"].isin(given)]
    return users, pd.concat([kept, ia.telco_user_tokens(context)], ignore_index=True)


class RecommenderPyfunc(PythonModel):
    """A fitted :class:`~mlops_platform.models.recommender.model.Recommender` served through ``mlflow.pyfunc``.

    Args:
        recommender: the fitted recommender (the serving fit).
        names: product id -> product name, for the output.
    """

    def __init__(self, recommender: Recommender, names: dict[int, str]) -> None:
        if not hasattr(recommender, "stage_"):
            raise InputError("the recommender is not fitted: fit it before wrapping it")
        self.recommender = recommender
        self.names = names

    def recommend(self, model_input: pd.DataFrame, n: int | None = None, exact_reasons: Any = "auto") -> pd.DataFrame:
        """Top-``n`` products with reasons for every customer of ``model_input`` (see the module doc)."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if "customer_id" not in frame.columns:
            raise InputError(f"recommender input needs a customer_id column; got {', '.join(map(str, frame.columns))}")
        if n is not None and int(n) <= 0:
            raise InputError(f"n must be a positive number of recommendations, got {n}")
        ids = pd.to_numeric(frame["customer_id"], errors="coerce")
        if ids.isna().any():
            bad = frame.loc[ids.isna(), "customer_id"].head(3).tolist()
            raise InputError(f"customer_id must be an integer id, got {bad}")
        frame = frame.assign(customer_id=ids.astype(np.int64))
        customers = frame["customer_id"].drop_duplicates()
        users, tokens = with_profiles(self.recommender, _context_rows(frame), customers.to_numpy())
        exact = _exact(exact_reasons, len(customers))
        recs = self.recommender.recommend(
            customers, users, tokens, n=None if n is None else int(n), exact_reasons=exact
        )
        out = pd.DataFrame(
            {
                "customer_id": recs["user_id"].to_numpy(np.int64),
                "rank": recs["rank"].to_numpy(np.int64),
                "product_id": recs["item_id"].to_numpy(np.int64),
                "name": [self.names.get(int(i), str(i)) for i in recs["item_id"]],
                "category": recs["category"].astype(str).to_numpy(),
                "score": recs["score"].to_numpy(np.float64),
                "reasons": [REASON_SEPARATOR.join(r) for r in recs["reasons"]],
            }
        )
        return out

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        params = params or {}
        return self.recommend(model_input, params.get("n"), params.get("exact_reasons", "auto"))


def unwrap(loaded: Any) -> RecommenderPyfunc:
    """The :class:`RecommenderPyfunc` inside a loaded pyfunc model."""
    wrapper = loaded.unwrap_python_model() if hasattr(loaded, "unwrap_python_model") else loaded
    if not isinstance(wrapper, RecommenderPyfunc):
        raise InputError(f"not a recommender model: {type(wrapper).__name__}")
    return wrapper
