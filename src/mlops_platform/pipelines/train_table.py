"""Bring your own table: any labelled CSV or parquet file (local path or s3://) trains like the lake.

String columns become categoricals, numbers stored as text are coerced (their blanks counted),
and the holdout is the newest rows when a time column is given, else a seeded stratified split.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mlops_platform.config import ModelsSettings
from mlops_platform.errors import InputError
from mlops_platform.models.base import split_holdout
from mlops_platform.models.tabular import prepare_table
from mlops_platform.pipelines.train import PreparedData
from mlops_platform.storage import s3_filesystem

_logger = logging.getLogger(__name__)


def _open(path: str) -> tuple[pafs.FileSystem, str]:
    if path.startswith("s3://"):
        return s3_filesystem(), path[len("s3://") :]
    local = Path(path).expanduser()
    if not local.is_file():
        raise InputError(f"table {path!r} not found")
    return pafs.LocalFileSystem(), str(local.resolve())


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or parquet file into pandas; the error names the file."""
    fs, location = _open(path)
    lower = location.lower()
    try:
        if lower.endswith(".parquet") or lower.endswith(".pq"):
            return pq.read_table(location, filesystem=fs).to_pandas()
        if lower.endswith((".csv", ".csv.gz", ".txt")):
            with fs.open_input_stream(location) as stream:
                data = stream.read()
            return pd.read_csv(
                io.BytesIO(data), compression="gzip" if lower.endswith(".gz") else None, low_memory=False
            )
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read table {path!r}: {exc}") from None
    raise InputError(f"table {path!r}: expected a .csv, .csv.gz or .parquet file")


def prepare_from_table(
    path: str,
    model: str,
    target: str | None,
    id_column: str | None,
    time_column: str | None,
    models: ModelsSettings,
) -> PreparedData:
    """Load ``path`` and split it into train and holdout for ``model``."""
    frame = read_table(path)
    if target is None:
        raise InputError(f"{model}: training on a table needs --target")
    data, report = prepare_table(frame, target, id_column=id_column, time_column=time_column)
    for column, blanks in report.numeric_text.items():
        _logger.warning("%s: column %s held numbers as text; %d blank value(s) became missing", path, column, blanks)
    raw = [name for name in (id_column, *data.features) if name is not None]
    seed = models.training_sets.seed
    train, holdout = split_holdout(data, share=0.2, seed=seed)
    sample = train.frame[train.features].sample(
        n=min(len(train.frame), models.training_sets.reference_rows), random_state=seed
    )
    window = f"random stratified split (seed {seed})"
    if time_column:
        window = f"{train.frame[time_column].min()}..{holdout.frame[time_column].max()}"
    manifest = {
        "source": path,
        "model": model,
        "target": target,
        "id_column": id_column,
        "time_column": time_column,
        "rows": len(frame),
        "train_rows": len(train.frame),
        "holdout_rows": len(holdout.frame),
        "features": train.features,
        "positive_rate": _rate(train, target),
        "preparation": json.loads(json.dumps(dataclasses.asdict(report), default=str)),
        "raw_columns": {str(name): str(frame[name].dtype) for name in raw},
        "raw_example": json.loads(frame[raw].head(5).to_json(orient="records", date_format="iso")),
    }
    return PreparedData(train, holdout, manifest, sample.reset_index(drop=True), window, f"table:{path}")


def _rate(data, target: str | None) -> float | None:  # noqa: ANN001
    if target is None:
        return None
    values = data.frame[target]
    if values.nunique() == 2:
        return float((values == values.max()).mean())
    return None
