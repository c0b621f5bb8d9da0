"""Importers of real transaction files into the raw tables (``mlops data import``).

The ``online_retail`` source is the layout of the UCI Online Retail data set (one row per
invoice line: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country); :class:`ColumnMapping` names the columns and any of them can be renamed, so a file
of the same shape under other headers imports too. It becomes:

- ``transactions``: one row per kept invoice line, one partition per day. ``transaction_id``
  is the line's 1-based position in the file (stable for a given file); ``amount_idr`` is
  quantity x unit price **in the file's currency** (GBP for Online Retail; the value is kept,
  the column name is the contract's).
- ``customers``: ``signup_date`` is the day of the first kept purchase, ``region`` the country
  of that purchase, ``segment`` the tercile of the spend on that first day (lowest third
  ``residential``, middle ``business``, top ``premium``): it is known on the signup day, so it
  leaks nothing from later purchases. One partition per signup day.
- ``products``: ``product_id`` is the 1-based rank of the stock code among the sorted codes,
  ``name`` its most frequent description, ``price_idr`` its median unit price (file currency),
  ``category`` the price tercile mapped in order onto ``schemas.CATEGORIES`` (cheapest third
  ``data``, middle ``voice``, top ``combo``), ``validity_days`` 30, ``data_mb``/``voice_min`` 0.
  One snapshot partition on the first day.

Lines of cancelled invoices (number starting with "C") or with a quantity of zero or less are
dropped, then lines without a customer, then lines without a date, stock code or with a missing
or negative price; each count is reported. ``usage`` and ``events`` are not produced.

Reading lives in ``import_source``, cleaning into the raw tables in ``import_tables`` and the
partitioned write in ``import_partitions``; their public names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlops_platform.data.import_partitions import WRITE_WORKERS, Job, Progress, partitions, split_by_day, write_import
from mlops_platform.data.import_source import SOURCES, ColumnMapping, read_source, source_mapping
from mlops_platform.data.import_tables import VALIDITY_DAYS, ImportCounts, RawImport, to_raw_tables
from mlops_platform.storage import ObjectStore

__all__ = [
    "SOURCES",
    "VALIDITY_DAYS",
    "WRITE_WORKERS",
    "ColumnMapping",
    "ImportCounts",
    "Job",
    "Progress",
    "RawImport",
    "import_file",
    "partitions",
    "read_source",
    "source_mapping",
    "split_by_day",
    "to_raw_tables",
    "write_import",
]


def import_file(
    store: ObjectStore,
    path: Path,
    source: str = "online_retail",
    overrides: Iterable[str] = (),
    progress: Progress | None = None,
) -> ImportCounts:
    """Read ``path`` as ``source`` (with ``key=column`` overrides) and write its raw partitions."""
    mapping = source_mapping(source).with_overrides(overrides)
    raw = to_raw_tables(read_source(path, mapping))
    write_import(store, raw, progress)
    return raw.counts
