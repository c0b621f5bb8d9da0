"""``mlops data load``: a user's CSV or parquet file becomes one raw partition, or nothing.

The file is read, conformed to the table's contract and checked with the same rules as
``mlops data validate`` (against the customers and products already in the lake) before
anything is written; a file that breaks a rule leaves the lake exactly as it was. A partition
dated after today (UTC) is refused, and so is an empty file that would replace rows already
committed, unless the caller allows it (``--allow-empty``).
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
from mlops_platform.data.rules import R_FUTURE, TableCheck, utc_today
from mlops_platform.data.schemas import CONTRACTS, TableContract
from mlops_platform.data.validate import check_partition
from mlops_platform.errors import DataValidationError, InputError
from mlops_platform.storage import Manifest, ObjectStore, date_partition

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


def refuse_future(where: str, day: dt.date) -> None:
    """Raise unless ``day`` is today (UTC) or earlier: raw data of a later day cannot exist yet."""
    today = utc_today()
    if day > today:
        raise DataValidationError(
            f"{where}: the partition date {day.isoformat()} is after today {today.isoformat()} (UTC) (rule: {R_FUTURE})"
        )


def refuse_emptying(store: ObjectStore, spec: TableContract, day: dt.date, where: str) -> None:
    """Raise if the committed partition of ``day`` has rows (an empty file would replace them)."""
    committed = store.manifest(date_partition(spec.dataset, day))
    if committed is not None and committed.rows > 0:
        raise DataValidationError(
            f"{where}: the file has no rows and would replace the {committed.rows:,} committed row(s) "
            f"(attempt {committed.attempt}); pass --allow-empty to empty the partition"
        )


def load_file(
    store: ObjectStore,
    settings: PlatformSettings,
    table_name: str,
    path: Path,
    day: dt.date,
    writer: str | None = None,
    *,
    allow_empty: bool = False,
) -> LoadResult:
    """Conform and validate ``path`` as the ``table_name`` partition of ``day``, then commit it.

    Args:
        allow_empty: let a file without rows replace a partition that has rows.

    Raises:
        InputError: an unknown table, a missing or unreadable file.
        DataValidationError: the file breaks a contract rule, ``day`` is after today (UTC), or an
            empty file would replace committed rows; nothing was written.
    """
    spec = known_table(table_name)
    where = f"{path.name} not loaded into {spec.dataset}/date={day.isoformat()}"
    refuse_future(where, day)
    raw = read_user_file(path, spec)
    try:
        table = conform(raw, spec)
    except DataValidationError as exc:
        raise DataValidationError(f"{where}: {exc}") from None
    if table.num_rows == 0 and not allow_empty:
        refuse_emptying(store, spec, day, where)
    check = check_partition(LakeView(store), settings, table_name, day, table, candidate=True)
    if not check.passed:
        raise DataValidationError(failure_message(where, check))
    manifest = write_raw(store, table_name, day, table, writer)
    dropped = tuple(c for c in raw.column_names if c not in spec.columns)
    return LoadResult(table_name, day, manifest, check, dropped)
