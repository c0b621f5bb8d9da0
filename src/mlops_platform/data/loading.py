"""``mlops data load``: a user's CSV or parquet file becomes one raw partition, or nothing.

The file is read, conformed to the table's contract and checked with the same rules as
``mlops data validate`` (against the customers and products already in the lake) before
anything is written; a file that breaks a rule leaves the lake exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlops_platform.config import PlatformSettings
from mlops_platform.data.lake_view import LakeView
from mlops_platform.data.raw import conform, write_raw
from mlops_platform.data.rules import TableCheck
from mlops_platform.data.schemas import CONTRACTS, TableContract
from mlops_platform.data.validate import check_partition
from mlops_platform.errors import DataValidationError, InputError
from mlops_platform.storage import Manifest, ObjectStore

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class LoadResult:
    """What ``load_file`` committed."""

    table: str
    day: dt.date
    manifest: Manifest
    check: TableCheck
    dropped_columns: tuple[str, ...]


def known_table(name: str) -> TableContract:
    """The contract of raw table ``name``; an unknown name lists the known ones."""
    if name not in CONTRACTS:
        raise InputError(f"unknown table {name!r}; known tables: {', '.join(CONTRACTS)}")
    return CONTRACTS[name]


def read_user_file(path: Path, spec: TableContract) -> pa.Table:
    """Read a CSV (optionally compressed) or parquet file.

    CSV columns of the contract are read as text (empty fields are missing values) and
    cast by :func:`~mlops_platform.data.raw.conform`, whose errors name the column.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    name = path.name.lower()
    try:
        if name.endswith(PARQUET_SUFFIXES):
            return pq.read_table(path)
        if name.endswith(CSV_SUFFIXES):
            options = pacsv.ConvertOptions(
                column_types={column: pa.string() for column in spec.columns}, strings_can_be_null=True
            )
            return pacsv.read_csv(path, convert_options=options)
    except (pa.ArrowInvalid, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable {'parquet' if 'parquet' in name else 'CSV'} file: {reason}") from None
    raise InputError(f"{path}: unknown file type; use one of {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}")


def failure_message(where: str, check: TableCheck) -> str:
    """One line: the first violation and how many more."""
    first = check.violations[0].message()
    more = f" (and {len(check.violations) - 1} more)" if len(check.violations) > 1 else ""
    return f"{where}: {first}{more}"


def load_file(
    store: ObjectStore,
    settings: PlatformSettings,
    table_name: str,
    path: Path,
    day: dt.date,
    writer: str | None = None,
) -> LoadResult:
    """Conform and validate ``path`` as the ``table_name`` partition of ``day``, then commit it.

    Raises:
        InputError: an unknown table, a missing or unreadable file.
        DataValidationError: the file breaks a contract rule; nothing was written.
    """
    spec = known_table(table_name)
    raw = read_user_file(path, spec)
    where = f"{path.name} not loaded into {spec.dataset}/date={day.isoformat()}"
    try:
        table = conform(raw, spec)
    except DataValidationError as exc:
        raise DataValidationError(f"{where}: {exc}") from None
    check = check_partition(LakeView(store), settings, table_name, day, table, candidate=True)
    if not check.passed:
        raise DataValidationError(failure_message(where, check))
    manifest = write_raw(store, table_name, day, table, writer)
    dropped = tuple(c for c in raw.column_names if c not in spec.columns)
    return LoadResult(table_name, day, manifest, check, dropped)
