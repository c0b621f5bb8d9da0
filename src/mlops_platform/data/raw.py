"""Reading and writing raw partitions against their declared contracts.

``write_raw`` conforms a table to its contract (columns, order, types) before anything is
written; the content rules (missing values, duplicates, unknown ids, ...) live in
``data/validate.py``. Readers return only committed partitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from mlops_platform.data.numeric import overflow_count
from mlops_platform.data.rules import R_OVERFLOW
from mlops_platform.data.schemas import TableContract, contract
from mlops_platform.errors import DataValidationError
from mlops_platform.storage import Manifest, ObjectStore, date_partition


def conform(table: pa.Table, spec: TableContract) -> pa.Table:
    """Return ``table`` with exactly the contract's columns, in order, cast to its types.

    Raises:
        DataValidationError: a column is missing or cannot be cast, or holds finite numbers
            too large for its float type (they would become inf); the message names it.
    """
    missing = [name for name in spec.columns if name not in table.column_names]
    if missing:
        raise DataValidationError(f"{spec.name}: missing column(s) {', '.join(missing)} (rule: column presence)")
    columns = []
    for field in spec.schema:
        column = table.column(field.name)
        if column.type != field.type:
            _refuse_overflow(spec, field, column)
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataValidationError(
                    f"{spec.name}.{field.name}: type {column.type} cannot be read as {field.type} "
                    f"(rule: column types): {exc}"
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=spec.schema)


def _refuse_overflow(spec: TableContract, field: pa.Field, column: pa.ChunkedArray) -> None:
    """Raise unless ``column`` casts to ``field``'s type without a finite value becoming inf."""
    overflow = overflow_count(column, field.type)
    if overflow:
        raise DataValidationError(
            f"{spec.name}.{field.name}: {overflow:,} value(s) too large for {field.type} "
            f"(they would become inf; rule: {R_OVERFLOW})"
        )


def write_raw(
    store: ObjectStore, table_name: str, day: dt.date, table: pa.Table, writer: str | None = None
) -> Manifest:
    """Conform ``table`` to its contract and commit it as the raw partition of ``day``."""
    spec = contract(table_name)
    return store.write_partition(date_partition(spec.dataset, day), conform(table, spec), writer)


def raw_dates(store: ObjectStore, table_name: str) -> list[dt.date]:
    """Committed partition dates of a raw table, oldest first."""
    return store.list_dates(contract(table_name).dataset)


def raw_dataset(store: ObjectStore, table_name: str, start: dt.date | None, end: dt.date) -> ds.Dataset | None:
    """A lazy dataset over the committed partitions with ``start <= date < end``.

    ``start=None`` takes every partition before ``end``. Returns None when there are none.
    """
    spec = contract(table_name)
    days = [d for d in store.list_dates(spec.dataset) if (start is None or d >= start) and d < end]
    if not days:
        return None
    return store.dataset(date_partition(spec.dataset, d) for d in days)


def read_raw(
    store: ObjectStore,
    table_name: str,
    start: dt.date | None,
    end: dt.date,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Read the committed partitions with ``start <= date < end`` (an empty table if none)."""
    spec = contract(table_name)
    dataset = raw_dataset(store, table_name, start, end)
    if dataset is None:
        schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
        return schema.empty_table()
    return dataset.to_table(columns=list(columns) if columns is not None else None)


def read_products(store: ObjectStore, as_of: dt.date) -> pa.Table:
    """The product catalogue in force on ``as_of``: the newest partition on or before it."""
    spec = contract("products")
    days = [d for d in store.list_dates(spec.dataset) if d <= as_of]
    if not days:
        raise DataValidationError(f"products: no catalogue partition on or before {as_of}")
    return store.read_partition(date_partition(spec.dataset, days[-1]))


def read_customers(store: ObjectStore, before: dt.date) -> pa.Table:
    """Every customer who signed up before ``before`` (the union of the incremental partitions)."""
    table = read_raw(store, "customers", None, before)
    return table.filter(pc.less(table["signup_date"], pa.scalar(before, pa.date32())))
