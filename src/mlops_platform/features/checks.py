"""Checks a derived table (snapshot, labels) against its declared columns before it is written."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mlops_platform.errors import DataValidationError
from mlops_platform.features.definitions import Column


def _fail(dataset: str, column: str, rule: str, detail: str) -> DataValidationError:
    return DataValidationError(f"{dataset}.{column}: {detail} (rule: {rule})")


def _check_column(table: pa.Table, spec: Column, dataset: str) -> None:
    column = table.column(spec.name)
    if column.type != spec.dtype:
        raise _fail(dataset, spec.name, "column types", f"type {column.type}, expected {spec.dtype}")
    if not spec.nullable and column.null_count:
        raise _fail(dataset, spec.name, "not null", f"{column.null_count} null value(s)")
    if spec.is_numeric and pa.types.is_floating(spec.dtype):
        nan = pc.sum(pc.is_nan(column)).as_py() or 0
        if nan:
            raise _fail(dataset, spec.name, "no NaN", f"{nan} NaN value(s)")
        inf = pc.sum(pc.is_inf(column)).as_py() or 0
        if inf:
            raise _fail(dataset, spec.name, "finite values", f"{inf} inf or -inf value(s)")
    if spec.minimum is not None and column.length() > column.null_count:
        low = pc.min(column).as_py()
        if low < spec.minimum:
            raise _fail(dataset, spec.name, "range", f"value {low} below the minimum {spec.minimum}")
    if spec.maximum is not None and column.length() > column.null_count:
        high = pc.max(column).as_py()
        if high > spec.maximum:
            raise _fail(dataset, spec.name, "range", f"value {high} above the maximum {spec.maximum}")
    if spec.values is not None:
        unknown = pc.unique(column.drop_null()).to_pylist()
        bad = sorted(set(unknown) - set(spec.values))
        if bad:
            raise _fail(dataset, spec.name, "allowed values", f"unexpected value(s) {bad[:5]}")


def infinite_counts(table: pa.Table) -> dict[str, int]:
    """Per floating-point column of ``table``, how many values are inf or -inf (only columns with some)."""
    counts = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_floating(column.type):
            count = int(pc.sum(pc.is_inf(column)).as_py() or 0)
            if count:
                counts[name] = count
    return counts


def require_rows(table: pa.Table, dataset: str, what: str) -> None:
    """Raise DataValidationError if ``table`` has no rows; ``what`` names it (e.g. ``date=D``)."""
    if table.num_rows == 0:
        raise DataValidationError(f"{dataset} {what}: 0 rows (rule: not empty)")


def check_table(table: pa.Table, columns: tuple[Column, ...], dataset: str, key: str) -> None:
    """Raise DataValidationError unless ``table`` has exactly ``columns`` and keeps their rules.

    Args:
        table: the table about to be written.
        columns: its declared columns, in order.
        dataset: the dataset name used in messages, e.g. ``features/customer``.
        key: the column that must be unique.
    """
    expected = [c.name for c in columns]
    if table.column_names != expected:
        raise DataValidationError(
            f"{dataset}: columns {table.column_names} differ from the declared {expected} (rule: column presence)"
        )
    for spec in columns:
        _check_column(table, spec, dataset)
    duplicates = table.num_rows - pc.count_distinct(table.column(key)).as_py()
    if duplicates:
        raise _fail(dataset, key, "unique key", f"{duplicates} duplicate id(s)")
