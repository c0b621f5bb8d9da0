"""A loaded (version, snapshot) pair, scored once into columnar arrays with an id -> row index.

:func:`score_table` feeds the snapshot to the pyfunc exactly as ``pipelines/score.py`` does (the
input schema's columns, one ``predict`` call), so every answer equals ``mlops score``'s for the
same pair. :func:`recommendation_table` asks the recommender's pyfunc for every customer it knows
in one call, plus the cold-start list an unknown id gets, as ``mlops recommend`` does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from mlops_platform.models.base import CustomerModel
from mlops_platform.models.recommender.pyfunc import REASON_SEPARATOR
from mlops_platform.models.recommender.pyfunc import unwrap as unwrap_recommender
from mlops_platform.pipelines.score import predict_snapshot

COLD_START_ID = -1  # never a customer id: the recommender answers it with the cold-start list


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ScoreTable:
    """Every customer's output of one champion version on one snapshot.

    Attributes:
        model, version: the registered model and the version that scored.
        snapshot_date: the feature snapshot scored.
        loaded_at: when the pair was loaded (UTC, ISO 8601).
        index: customer id -> row.
        outputs: output column -> its values, one per row (native Python values, JSON-ready).
        estimator: the fitted model, for ``/predict`` on rows given in a request.
        row_schema: the snapshot's Arrow types of the estimator's features.
    """

    model: str
    version: str
    snapshot_date: dt.date
    loaded_at: str
    index: dict[int, int]
    outputs: dict[str, list[Any]]
    estimator: CustomerModel
    row_schema: pa.Schema

    def lookup(self, customer: int) -> dict[str, Any] | None:
        """The outputs of ``customer`` (None when the snapshot does not hold it)."""
        row = self.index.get(customer)
        if row is None:
            return None
        return {name: values[row] for name, values in self.outputs.items()}

    @property
    def primary(self) -> str:
        """The output logged as the score: ``score``, ``prediction`` or ``segment``."""
        return next(iter(self.outputs))


def score_table(
    model: str, version: str, loaded: Any, estimator: CustomerModel, snapshot: pa.Table, day: dt.date
) -> ScoreTable:
    """Score ``snapshot`` (of ``day``) with the loaded pyfunc in one call, the way ``mlops score`` does."""
    frame = snapshot.to_pandas()
    output = predict_snapshot(loaded, frame)
    ids = frame["customer_id"].to_numpy().tolist()
    outputs = {str(c): output[c].to_numpy().tolist() for c in output.columns if c != "customer_id"}
    features = [name for name in estimator.features_ if name in snapshot.schema.names]
    return ScoreTable(
        model=model,
        version=version,
        snapshot_date=day,
        loaded_at=now_iso(),
        index={int(c): i for i, c in enumerate(ids)},
        outputs=outputs,
        estimator=estimator,
        row_schema=pa.schema([snapshot.schema.field(name) for name in features]),
    )


@dataclass(frozen=True)
class RecommendationTable:
    """Every known customer's top-N of one recommender version, and the cold-start list.

    Attributes:
        lists: customer id -> its recommendations, best first (``rank, product_id, name,
            category, score, reasons``).
        cold_start: what an unknown or new customer gets.
    """

    model: str
    version: str
    loaded_at: str
    top_n: int
    lists: dict[int, list[dict[str, Any]]]
    cold_start: list[dict[str, Any]]

    def lookup(self, customer: int, n: int) -> tuple[list[dict[str, Any]], bool]:
        """The first ``n`` recommendations of ``customer`` and whether they are the cold-start list."""
        found = self.lists.get(customer)
        if found is None:
            return self.cold_start[:n], True
        return found[:n], False


def _lists(frame: pd.DataFrame) -> dict[int, list[dict[str, Any]]]:
    """The pyfunc's output rows grouped by customer, best first, as JSON-ready dicts."""
    frame = frame.sort_values(["customer_id", "rank"], kind="stable")
    lists: dict[int, list[dict[str, Any]]] = {}
    for row in frame.itertuples(index=False):
        item = {
            "rank": int(row.rank),
            "product_id": int(row.product_id),
            "name": str(row.name),
            "category": str(row.category),
            "score": float(row.score),
            "reasons": str(row.reasons).split(REASON_SEPARATOR) if row.reasons else [],
        }
        lists.setdefault(int(row.customer_id), []).append(item)
    return lists


def recommendation_table(model: str, version: str, loaded: Any, top_n: int, exact_reasons: bool) -> RecommendationTable:
    """Ask the loaded recommender for every customer it knows (and one unknown id) in one call."""
    wrapper = unwrap_recommender(loaded)
    known = pd.unique(wrapper.recommender.stage_.frame["user_id"].to_numpy())
    ids = pd.DataFrame({"customer_id": [*known.tolist(), COLD_START_ID]})
    params = {"n": top_n, "exact_reasons": "true" if exact_reasons else "auto"}
    lists = _lists(loaded.predict(ids, params=params))
    cold_start = lists.pop(COLD_START_ID, [])
    return RecommendationTable(model, version, now_iso(), top_n, lists, cold_start)
