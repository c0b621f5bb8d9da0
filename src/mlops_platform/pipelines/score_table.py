"""Score a table of one's own: a CSV or parquet file (local or s3://) scored by a registered model.

The model (the champion, or a given version or alias) takes the table's raw rows: the
preparation recorded at training is part of the model (``models/table_schema.py``). The scores
hold the id (the model's id column, else ``--id``, else the row position), the model's output
(``score`` and the threshold decision ``label`` for classifiers, ``prediction`` for regressors)
and the model version. They go to ``scores/<model>/table=<name>/date=D/`` in the lake, an atomic
partition, or to a parquet/CSV file written atomically. Every check runs before anything is
written: a bad table gets one line naming what is wrong and leaves stored scores as they were.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from mlops_platform import registry
from mlops_platform.errors import InputError
from mlops_platform.models.pyfunc import unwrap_pyfunc
from mlops_platform.models.table_schema import TableSchema
from mlops_platform.pipelines.score import scores_dataset
from mlops_platform.pipelines.train_table import read_table
from mlops_platform.storage import ObjectStore, date_partition, s3_filesystem

_logger = logging.getLogger(__name__)

CHUNK_ROWS = 250_000
ROW_COLUMN = "row"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TableScores:
    """What one table scoring wrote: how many rows, by which version, where, how fast."""

    model: str
    version: str
    rows: int
    destination: str
    seconds: float


def table_name(path: str) -> str:
    """The name of a table file for its lake folder: the file name without its suffixes."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv", ".txt", ".parquet", ".pq"):
        base = base.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base) or "table"


def table_partition(model: str, table: str, day: dt.date) -> str:
    """``scores/<model>/table=<table>/date=D``: the lake folder of a table's scores."""
    return date_partition(f"{scores_dataset(model)}/table={table}", day)


def resolve_version(client: MlflowClient, name: str, version: str | None, alias: str | None) -> ModelVersion:
    """The version to score with: ``version``, else the holder of ``alias``, else the champion."""
    if version is not None and alias is not None:
        raise InputError("give --version or --alias, not both")
    if version is not None:
        try:
            return client.get_model_version(name, str(version))
        except MlflowException:
            raise InputError(f"model {name!r} has no version {version}") from None
    if alias is not None:
        found = registry.version_by_alias(client, name, alias)
        if found is None:
            raise InputError(f"model {name!r} has no version with alias {alias!r}")
        return found
    return registry.require_champion(client, name, seen_by="mlops score")


def check_table(frame: pd.DataFrame, schema: TableSchema, path: str, who: str) -> None:
    """Refuse an empty table, missing features and features blank in every row (each named)."""
    if frame.empty:
        raise InputError(f"table {path!r} has no rows: nothing to score")
    missing = schema.missing(frame.columns)
    if missing:
        raise InputError(
            f"table {path!r} does not match {who}: it lacks feature column(s) {', '.join(missing)} "
            f"(the model reads {', '.join(schema.features)})"
        )
    blank = [name for name in schema.features if _blank(frame[name])]
    if blank:
        raise InputError(f"table {path!r}: feature column(s) {', '.join(blank)} are blank in every row")


def _blank(series: pd.Series) -> bool:
    present = series.dropna()
    if pd.api.types.is_object_dtype(present) or pd.api.types.is_string_dtype(present):
        present = present[present.astype(str).str.strip() != ""]
    return present.empty


def score_frame(
    loaded: Any,
    frame: pd.DataFrame,
    schema: TableSchema,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """``loaded.predict`` over ``frame``'s model columns in chunks (``progress(done, total)`` after each)."""
    inputs = frame[[name for name in schema.columns if name in frame.columns]]
    parts = []
    for start in range(0, len(inputs), chunk_rows):
        chunk = inputs.iloc[start : start + chunk_rows]
        try:
            parts.append(loaded.predict(chunk).reset_index(drop=True))
        except MlflowException as exc:
            raise InputError(f"the model refused the table: {exc.message}") from None
        if progress is not None:
            progress(min(start + chunk_rows, len(inputs)), len(inputs))
    return pd.concat(parts, ignore_index=True)


def _with_id(scores: pd.DataFrame, frame: pd.DataFrame, schema: TableSchema, id_column: str | None) -> pd.DataFrame:
    """Lead the scores with an id: the model's, else ``id_column`` of the table, else the row position."""
    if schema.id_column is not None and schema.id_column in scores.columns:
        return scores
    if id_column is not None:
        scores.insert(0, id_column, frame[id_column].to_numpy())
    else:
        scores.insert(0, ROW_COLUMN, range(len(scores)))
    return scores


def score_table(
    client: MlflowClient,
    store: ObjectStore,
    name: str,
    path: str,
    *,
    version: str | None = None,
    alias: str | None = None,
    out: str | None = None,
    day: dt.date | None = None,
    id_column: str | None = None,
    progress: Progress | None = None,
) -> TableScores:
    """Score the table at ``path`` with ``name`` and write the scores (see the module docstring).

    Raises:
        InputError: the table is unreadable, empty, lacks a feature, has a feature blank in every
            row or a cell that fits no kind; the version or alias does not exist; ``out`` is not
            a .parquet or .csv path. Nothing is written.
        NoChampionError: no version or alias given and ``name`` has no champion.
    """
    started = time.perf_counter()
    day = day or dt.datetime.now(dt.UTC).date()
    partition = table_partition(name, table_name(path), day)
    destination = out if out is not None else store.url(partition)
    if out is not None:
        _file_format(out)
    chosen = resolve_version(client, name, version, alias)
    who, kept = f"{name} v{chosen.version}", f"nothing written to {destination}"
    frame = read_table(path)
    if id_column is not None and id_column not in frame.columns:
        raise InputError(f"id column {id_column!r} is not in table {path!r}; {kept}")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{chosen.version}")
    schema = unwrap_pyfunc(loaded).table_schema
    try:
        check_table(frame, schema, path, who)
        scores = _with_id(score_frame(loaded, frame, schema, progress=progress), frame, schema, id_column)
    except InputError as exc:
        raise InputError(f"{exc}; {kept}") from None
    scores["model_version"] = str(chosen.version)
    table = pa.Table.from_pandas(scores, preserve_index=False)
    if out is not None:
        write_file(out, table)
    else:
        store.write_partition(partition, table, writer=f"mlops score {name} v{chosen.version} --table {path}")
    seconds = time.perf_counter() - started
    _logger.info("%s scored %d rows of %s in %.1fs", who, table.num_rows, path, seconds)
    return TableScores(name, str(chosen.version), table.num_rows, destination, seconds)


def _file_format(out: str) -> str:
    lower = out.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith(".csv"):
        return "csv"
    raise InputError(f"--out {out!r}: expected a .parquet or .csv path")


def write_file(out: str, table: pa.Table) -> None:
    """Write ``table`` to ``out`` (parquet or CSV, local or s3://) in one step: a rename, or one upload."""
    fmt = _file_format(out)
    if out.startswith("s3://"):
        fs: pafs.FileSystem = s3_filesystem()
        target = out[len("s3://") :]
        _write(fs, target, table, fmt)
        return
    local = Path(out).expanduser().resolve()
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_name(f".{local.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        _write(pafs.LocalFileSystem(), str(tmp), table, fmt)
        os.replace(tmp, local)
    finally:
        tmp.unlink(missing_ok=True)


def _write(fs: pafs.FileSystem, target: str, table: pa.Table, fmt: str) -> None:
    try:
        if fmt == "parquet":
            pq.write_table(table, target, filesystem=fs)
        else:
            with fs.open_output_stream(target) as stream:
                pacsv.write_csv(table, stream)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc}") from None
