"""Batch scoring: the champion of a model scores one feature snapshot into ``scores/<model>/``.

Whatever moved the ``champion`` alias (the gate, ``mlops promote``, a hand in the MLflow UI),
scoring loads ``models:/<name>@champion``, so the scores follow the alias. A rerun with the same
champion writes the same rows through the atomic partition writer. An empty snapshot, or one
with inf values, is refused before the model is loaded, and existing scores are never replaced by
an empty table.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import mlflow
import pandas as pd
import pyarrow as pa
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.errors import DataValidationError, InputError
from mlops_platform.features.checks import infinite_counts
from mlops_platform.features.snapshot import DATASET as FEATURES_DATASET
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.storage import ObjectStore, date_partition

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreResult:
    model: str
    version: str
    day: dt.date
    rows: int
    partition: str


def scores_dataset(name: str) -> str:
    return f"scores/{name}"


def read_scorable_snapshot(store: ObjectStore, day: dt.date, kept: str) -> pa.Table:
    """The committed snapshot of ``day``, refused if it is missing, empty or holds inf values.

    Raises:
        InputError: no snapshot of ``day``, or one without rows.
        DataValidationError: a feature column holds inf or -inf; the message names it.
    """
    partition = snapshot_partition(day)
    manifest = store.manifest(partition)
    if manifest is None:
        raise InputError(
            f"no feature snapshot for {day} in {store.url(FEATURES_DATASET)}: run `mlops features build --date {day}`"
        )
    if manifest.rows == 0:
        raise InputError(f"the feature snapshot {store.url(partition)} has 0 rows: nothing to score; {kept}")
    snapshot = store.read_partition(partition)
    infinite = infinite_counts(snapshot)
    if infinite:
        named = ", ".join(f"{column} ({count:,} row(s))" for column, count in infinite.items())
        raise DataValidationError(f"{store.url(partition)}: inf or -inf values in {named}; {kept}")
    return snapshot


def predict_snapshot(loaded: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The loaded pyfunc's output for snapshot rows, one row each, with ``customer_id`` first.

    Only the columns of the model's input schema are passed (a snapshot has more); used by
    ``mlops score`` and by the online service, so both give the same numbers.
    """
    schema = loaded.metadata.get_input_schema()
    inputs = frame[[c for c in schema.input_names() if c in frame.columns]] if schema is not None else frame
    output = loaded.predict(inputs).reset_index(drop=True)
    if "customer_id" not in output.columns:
        output.insert(0, "customer_id", frame["customer_id"].to_numpy())
    return output


def score_snapshot(client: MlflowClient, store: ObjectStore, name: str, day: dt.date) -> ScoreResult:
    """Score the snapshot of ``day`` with the champion of ``name`` and write ``scores/<name>/date=D``.

    Raises:
        InputError: the snapshot is missing or empty, or the model scored no row; nothing is written.
        DataValidationError: the snapshot holds inf values; nothing is written.
    """
    champion = registry.require_champion(client, name, seen_by="mlops score")
    out_partition = date_partition(scores_dataset(name), day)
    kept = f"nothing written to {store.url(out_partition)}"
    frame = read_scorable_snapshot(store, day, kept).to_pandas()
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@{registry.CHAMPION}")
    output = predict_snapshot(loaded, frame)
    output["model_version"] = str(champion.version)
    output["snapshot_date"] = day
    table = pa.Table.from_pandas(output, preserve_index=False)
    if table.num_rows == 0:
        raise InputError(f"{name} v{champion.version} scored no row of the snapshot of {day}; {kept}")
    store.write_partition(out_partition, table, writer=f"mlops score {name} v{champion.version}")
    return ScoreResult(name, str(champion.version), day, table.num_rows, out_partition)
