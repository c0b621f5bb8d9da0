"""Batch scoring: the champion of a model scores one feature snapshot into ``scores/<model>/``.

Whatever moved the ``champion`` alias (the gate, ``mlops promote``, a hand in the MLflow UI),
scoring loads ``models:/<name>@champion``, so the scores follow the alias. A rerun with the same
champion writes the same rows through the atomic partition writer.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import mlflow
import pyarrow as pa
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.errors import InputError
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


def score_snapshot(client: MlflowClient, store: ObjectStore, name: str, day: dt.date) -> ScoreResult:
    """Score the snapshot of ``day`` with the champion of ``name`` and write ``scores/<name>/date=D``."""
    champion = registry.require_champion(client, name, seen_by="mlops score")
    partition = snapshot_partition(day)
    if not store.has_partition(partition):
        raise InputError(
            f"no feature snapshot for {day} in {store.url(FEATURES_DATASET)}: run `mlops features build --date {day}`"
        )
    frame = store.read_partition(partition).to_pandas()
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@{registry.CHAMPION}")
    schema = loaded.metadata.get_input_schema()
    inputs = frame[[c for c in schema.input_names() if c in frame.columns]] if schema is not None else frame
    output = loaded.predict(inputs)
    output = output.reset_index(drop=True)
    if "customer_id" not in output.columns:
        output.insert(0, "customer_id", frame["customer_id"].to_numpy())
    output["model_version"] = str(champion.version)
    output["snapshot_date"] = day
    table = pa.Table.from_pandas(output, preserve_index=False)
    out_partition = date_partition(scores_dataset(name), day)
    store.write_partition(out_partition, table, writer=f"mlops score {name} v{champion.version}")
    return ScoreResult(name, str(champion.version), day, table.num_rows, out_partition)
