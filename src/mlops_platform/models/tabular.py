"""Bring your own table: turn any labelled table into ``TrainingData`` for the zoo's models.

Column rules (every decision is recorded in the returned ``PrepReport``):

- the id and time columns are kept but never features; a text time column is parsed as dates;
- bool columns, and text columns holding only boolean words (``TRUE``/``FALSE``, ``yes``/``no``,
  ...), become 0/1;
- text columns whose non-blank cells are all numbers (numbers exported as text, with blanks such
  as ``""`` or ``" "`` for missing) are parsed with ``pd.to_numeric``; their missing counts are
  reported;
- other text columns become pandas categoricals, except identifier-like ones (every value
  distinct), which are dropped;
- datetime columns other than the time column become numbers: days since 1970-01-01;
- empty and constant columns are dropped.

The target: rows without one are dropped (and counted). Bools and boolean words become 0/1
(classification); numeric 0/1 is classification; other numbers are regression; two text levels
are classification with ``positive_label`` (default: the rarer level) as 1.

Numbers must be finite: a feature or target column holding inf or -inf is refused (naming the
columns) before anything is fitted.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd

from mlops_platform.errors import InputError
from mlops_platform.models import columns
from mlops_platform.models.base import TrainingData

_logger = logging.getLogger(__name__)

TASKS = ("auto", "classification", "regression")


@dataclasses.dataclass
class PrepReport:
    """What ``prepare_table`` did to each column."""

    task: str
    n_rows: int
    n_dropped_rows: int = 0
    numeric_text: dict[str, int] = dataclasses.field(default_factory=dict)
    categorical: list[str] = dataclasses.field(default_factory=list)
    boolean: list[str] = dataclasses.field(default_factory=list)
    datetime_as_days: list[str] = dataclasses.field(default_factory=list)
    dropped: dict[str, str] = dataclasses.field(default_factory=dict)
    target_mapping: dict[str, int] = dataclasses.field(default_factory=dict)

    def lines(self) -> list[str]:
        """One human-readable line per decision."""
        out = [f"task {self.task}, {self.n_rows} rows ({self.n_dropped_rows} dropped: missing target)"]
        out += [f"{name}: numbers stored as text, {n} missing after parsing" for name, n in self.numeric_text.items()]
        out += [f"{name}: dropped ({reason})" for name, reason in self.dropped.items()]
        if self.target_mapping:
            out.append(f"target mapping {self.target_mapping}")
        if self.datetime_as_days:
            out.append(f"dates as days since 1970-01-01: {', '.join(self.datetime_as_days)}")
        return out


def _classes(labels: pd.Series, positive_label: object | None, target: str) -> tuple[pd.Series, dict[str, int]]:
    """Two text/numeric levels as 0/1, ``positive_label`` (default: the rarer level) as 1."""
    counts = labels.value_counts()
    if len(counts) > 2:
        raise InputError(
            f"target {target!r} has {len(counts)} classes; the zoo supports binary classification and regression"
        )
    if positive_label is None:
        positive = counts.index[-1]
    elif positive_label in counts.index or str(positive_label) in counts.index:
        positive = positive_label if positive_label in counts.index else str(positive_label)
    else:
        raise InputError(f"positive_label {positive_label!r} is not a value of target {target!r}")
    mapping = {str(level): int(level == positive) for level in counts.index}
    return (labels == positive).astype(int), mapping


def _prepare_target(
    series: pd.Series, target: str, task: str, positive_label: object | None
) -> tuple[pd.Series, str, dict[str, int]]:
    """The target as 0/1 (classification) or floats (regression), the task and any mapping."""
    values = series
    if columns.is_text(series):
        words = columns.boolean_words(series)
        parsed = columns.numeric_text(series)
        values = words if words is not None else parsed[0] if parsed is not None else series.astype(str).str.strip()
    elif pd.api.types.is_bool_dtype(series):
        values = series.astype(int)
    levels = values.dropna().unique()
    if len(levels) < 2:
        shown = repr(series.dropna().iloc[0]) if series.notna().any() else "missing"
        raise InputError(f"target {target!r} is constant (every row is {shown}): nothing to learn")
    numeric = pd.api.types.is_numeric_dtype(values)
    if task == "regression" or (task == "auto" and numeric and not set(levels) <= {0, 1}):
        if not numeric:
            raise InputError(f"target {target!r} is text and cannot be a regression target")
        return values.astype(float), "regression", {}
    if numeric and set(levels) <= {0, 1}:
        return values.astype(int), "classification", {}
    labels, mapping = _classes(values, positive_label, target)
    return labels, "classification", mapping


def _prepare_feature(series: pd.Series, name: str, report: PrepReport) -> pd.Series | None:
    """The model-ready column, or ``None`` when it is dropped; decisions go to ``report``."""
    present = series.dropna()
    if columns.is_text(series):
        present = present[present.astype(str).str.strip() != ""]
    if present.empty:
        report.dropped[name] = "empty"
        return None
    if present.nunique() < 2:
        report.dropped[name] = "constant"
        return None
    if pd.api.types.is_bool_dtype(series):
        report.boolean.append(name)
        return series.astype(int)
    if pd.api.types.is_datetime64_any_dtype(series):
        report.datetime_as_days.append(name)
        return columns.datetime_to_days(series)
    if not columns.is_text(series):
        return series
    words = columns.boolean_words(series)
    if words is not None:
        report.boolean.append(name)
        return words
    parsed = columns.numeric_text(series)
    if parsed is not None:
        report.numeric_text[name] = parsed[1]
        return parsed[0]
    if len(present) > 20 and present.nunique() == len(present):
        report.dropped[name] = "identifier-like text: every value is distinct"
        return None
    report.categorical.append(name)
    return columns.to_category(series)


def _check_columns(df: pd.DataFrame, target: str, id_column: str | None, time_column: str | None) -> None:
    known = ", ".join(map(str, df.columns))
    if target not in df.columns:
        raise InputError(f"target column {target!r} is not in the table; its columns are: {known}")
    for role, name in (("id", id_column), ("time", time_column)):
        if name is not None and name not in df.columns:
            raise InputError(f"{role} column {name!r} is not in the table; its columns are: {known}")
    roles = [name for name in (target, id_column, time_column) if name is not None]
    if len(set(roles)) < len(roles):
        raise InputError("target, id and time columns must be different columns")


def prepare_table(
    df: pd.DataFrame,
    target: str,
    id_column: str | None = None,
    time_column: str | None = None,
    task: str = "auto",
    positive_label: object | None = None,
) -> tuple[TrainingData, PrepReport]:
    """Prepare a labelled table for a classifier or a regressor of the zoo.

    Args:
        df: the table, as read from CSV or parquet; it is not modified.
        target: the label column.
        id_column: the entity key (kept, not a feature).
        time_column: the time of each row (kept, not a feature; splits become time-based).
        task: ``"auto"``, ``"classification"`` or ``"regression"``.
        positive_label: for a two-level text target, the level that becomes 1.

    Returns:
        The training data and a report of every column decision.

    Raises:
        InputError: the table has no rows, a named column is missing, the target is blank,
            constant or has more than two classes, no feature is left, or a feature or the
            target holds inf or -inf.
    """
    if task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if df.empty:
        raise InputError("the table has no rows: nothing to learn")
    _check_columns(df, target, id_column, time_column)
    raw_target = df[target]
    keep = raw_target.notna() & (raw_target.astype(str).str.strip() != "")
    if not keep.any():
        raise InputError(f"target {target!r} is blank in every one of the {len(df):,} rows: nothing to learn")
    frame = df.loc[keep].reset_index(drop=True)
    labels, task, mapping = _prepare_target(frame[target], target, task, positive_label)
    report = PrepReport(task=task, n_rows=len(frame), n_dropped_rows=int((~keep).sum()), target_mapping=mapping)
    prepared: dict[str, pd.Series] = {}
    for name in df.columns:
        if name in (target, id_column, time_column):
            continue
        column = _prepare_feature(frame[name], str(name), report)
        if column is not None:
            prepared[name] = column
    if not prepared:
        raise InputError(f"no usable feature column left besides {target!r}: {report.dropped}")
    roles = {name: frame[name] for name in (id_column, time_column) if name is not None}
    if time_column is not None and columns.is_text(frame[time_column]):
        roles[time_column] = _parse_times(frame[time_column], time_column)
    out = pd.DataFrame({**prepared, **roles, target: labels})
    refuse_infinite(out, [*prepared, target])
    data = TrainingData(out, list(prepared), target, list(report.categorical), id_column, time_column)
    for line in report.lines():
        _logger.info("prepare_table: %s", line)
    return data, report


def infinite_counts(frame: pd.DataFrame, names: list[str]) -> dict[str, int]:
    """Per numeric column of ``names``, how many values are inf or -inf (only columns with some)."""
    counts: dict[str, int] = {}
    for name in names:
        column = frame[name]
        if pd.api.types.is_float_dtype(column):
            count = int(np.isinf(column.to_numpy(dtype=float, na_value=np.nan)).sum())
            if count:
                counts[str(name)] = count
    return counts


def refuse_infinite(frame: pd.DataFrame, names: list[str]) -> None:
    """Raise InputError naming every column of ``names`` that holds inf or -inf."""
    counts = infinite_counts(frame, names)
    if counts:
        named = ", ".join(f"{name} ({count:,} row(s))" for name, count in counts.items())
        raise InputError(f"the table has inf or -inf values in column(s) {named}; replace or drop them before training")


def _parse_times(series: pd.Series, name: str) -> pd.Series:
    """ISO dates fast, other layouts parsed one by one."""
    try:
        return pd.to_datetime(series, format="ISO8601")
    except (ValueError, TypeError):
        pass
    try:
        return pd.to_datetime(series, format="mixed")
    except (ValueError, TypeError) as exc:
        raise InputError(f"time column {name!r} cannot be read as dates: {exc}") from None
