"""Reading a transaction file for ``mlops data import``: the column mapping and the typed read.

:class:`ColumnMapping` names the source column of each field (defaults: UCI Online Retail) and
takes ``key=column`` overrides; :func:`read_source` reads those columns of a CSV (optionally
gzipped) or parquet file, renamed to the mapping keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlops_platform.errors import InputError


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the source file holds each field (defaults: UCI Online Retail)."""

    invoice: str = "InvoiceNo"
    stock_code: str = "StockCode"
    description: str = "Description"
    quantity: str = "Quantity"
    invoice_date: str = "InvoiceDate"
    unit_price: str = "UnitPrice"
    customer_id: str = "CustomerID"
    country: str = "Country"

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_overrides(self, pairs: Iterable[str]) -> ColumnMapping:
        """Apply ``key=column`` overrides; an unknown key or a bad pair is an InputError."""
        changes: dict[str, str] = {}
        for pair in pairs:
            key, sep, column = pair.partition("=")
            key, column = key.strip(), column.strip()
            if not sep or not column:
                raise InputError(f"--mapping {pair!r}: expected key=column, e.g. customer_id=Customer ID")
            if key not in self.field_names():
                raise InputError(f"--mapping {pair!r}: unknown key {key!r}; keys: {', '.join(self.field_names())}")
            changes[key] = column
        return replace(self, **changes)


SOURCES: dict[str, ColumnMapping] = {"online_retail": ColumnMapping()}

_CSV_TYPES = {
    "invoice": pa.string(),
    "stock_code": pa.string(),
    "description": pa.string(),
    "quantity": pa.float64(),
    "invoice_date": pa.timestamp("us"),
    "unit_price": pa.float64(),
    "customer_id": pa.float64(),
    "country": pa.string(),
}
_TIMESTAMP_FORMATS = [pacsv.ISO8601, "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M"]


def source_mapping(source: str) -> ColumnMapping:
    """The default mapping of ``source``; an unknown source lists the known ones."""
    if source not in SOURCES:
        raise InputError(f"unknown source {source!r}; known sources: {', '.join(SOURCES)}")
    return SOURCES[source]


def read_source(path: Path, mapping: ColumnMapping) -> pa.Table:
    """Read the mapped columns of a CSV (optionally .gz) or parquet file, named by mapping key."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    wanted = {key: getattr(mapping, key) for key in mapping.field_names()}
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            available = pq.read_schema(path).names
            _check_columns(path, wanted, available)
            table = pq.read_table(path, columns=list(wanted.values()))
        elif name.endswith((".csv", ".csv.gz")):
            with pacsv.open_csv(path) as reader:
                available = reader.schema.names
            _check_columns(path, wanted, available)
            convert = pacsv.ConvertOptions(
                column_types={wanted[k]: t for k, t in _CSV_TYPES.items()},
                include_columns=list(wanted.values()),
                timestamp_parsers=_TIMESTAMP_FORMATS,
                strings_can_be_null=True,
            )
            table = pacsv.read_csv(path, convert_options=convert)
        else:
            raise InputError(f"{path}: unknown file type; use .csv, .csv.gz or .parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read the source file: {reason}") from None
    return table.rename_columns(list(wanted))


def _check_columns(path: Path, wanted: dict[str, str], available: list[str]) -> None:
    missing = [f"{column!r} (mapping key {key})" for key, column in wanted.items() if column not in available]
    if missing:
        raise InputError(
            f"{path.name}: column(s) {', '.join(missing)} not in the file; its columns: "
            f"{', '.join(available)}; rename with --mapping key=column"
        )
