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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlops_platform.data.raw import write_raw
from mlops_platform.data.schemas import CATEGORIES, SEGMENTS
from mlops_platform.errors import InputError
from mlops_platform.storage import Manifest, ObjectStore

VALIDITY_DAYS = 30
# Partitions written at once: writes mostly wait on the disk or the network.
WRITE_WORKERS = 4
Job = tuple[str, dt.date, pa.Table]
# Wraps the partition jobs, e.g. in a progress bar: progress(jobs, total) -> jobs.
Progress = Callable[[Iterable[Job], int], Iterable[Job]]


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


@dataclass(frozen=True)
class ImportCounts:
    """What an import read, dropped and wrote."""

    rows_read: int
    cancelled: int
    missing_customer: int
    invalid: int
    rows_written: int
    customers: int
    products: int
    days: int
    first_day: dt.date | None
    last_day: dt.date | None

    def lines(self) -> list[str]:
        span = f"{self.first_day} .. {self.last_day}" if self.first_day else "none"
        rows = [
            ("rows read", self.rows_read, ""),
            ("cancellations", self.cancelled, "invoice 'C...' or quantity <= 0; dropped"),
            ("missing customer", self.missing_customer, "dropped"),
            ("invalid", self.invalid, "no date, stock code or quantity, or a negative price; dropped"),
            ("transactions written", self.rows_written, ""),
            ("customers", self.customers, ""),
            ("products", self.products, ""),
            ("days", self.days, span),
        ]
        return [f"{label:<21}{count:>10,}" + (f"  ({note})" if note else "") for label, count, note in rows]


@dataclass(frozen=True)
class RawImport:
    """The raw tables built from a source file, ready to be partitioned."""

    customers: pa.Table
    products: pa.Table
    transactions: pa.Table
    counts: ImportCounts


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


def _frame(table: pa.Table) -> pd.DataFrame:
    """The source as pandas: trimmed text as categoricals, numbers as floats, the date as
    timestamp[us], and ``credit`` (the invoice number starts with "C"), computed in arrow."""
    columns: dict[str, pa.ChunkedArray] = {}
    name = ""
    try:
        for name in ("invoice", "stock_code", "description", "country"):
            columns[name] = pc.utf8_trim_whitespace(table.column(name).cast(pa.string()))
        for name in ("quantity", "unit_price", "customer_id"):
            columns[name] = table.column(name).cast(pa.float64())
        name = "invoice_date"
        columns[name] = table.column(name).cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"source column {name!r} has values of an unexpected type: {exc}") from None
    columns["credit"] = pc.fill_null(pc.starts_with(pc.utf8_upper(columns.pop("invoice")), "C"), False)
    columns["description"] = pc.coalesce(columns["description"], columns["stock_code"])
    columns["country"] = pc.fill_null(columns["country"], "unknown")
    for name in ("stock_code", "description", "country"):
        columns[name] = pc.dictionary_encode(columns[name])
    return pa.table(columns).to_pandas()


def _terciles(values: pd.Series) -> np.ndarray:
    """0, 1 or 2: which third of ``values`` each value falls in (ties go to the lower third)."""
    if values.empty:
        return np.zeros(0, dtype=np.int64)
    edges = np.quantile(values.to_numpy(dtype=float), [1 / 3, 2 / 3])
    return np.searchsorted(edges, values.to_numpy(dtype=float), side="left").astype(np.int64)


def _products(lines: pd.DataFrame, codes: np.ndarray) -> pa.Table:
    """One product per stock code (``codes`` sorted: the id is the 1-based rank)."""
    names = lines.groupby(["stock_code", "description"], observed=True).size().rename("n").reset_index()
    names = names.astype({"stock_code": str, "description": str})
    names = names.sort_values(["stock_code", "n", "description"], ascending=[True, False, True])
    names = names.drop_duplicates("stock_code").set_index("stock_code")["description"]
    price = lines.groupby("stock_code", observed=True)["unit_price"].median()
    price.index = price.index.astype(str)
    price = price.reindex(codes)
    tier = _terciles(price)
    n = len(codes)
    return pa.table(
        {
            "product_id": pa.array(np.arange(1, n + 1), pa.int64()),
            "name": pa.array(names.reindex(codes).to_numpy(dtype=object), pa.string()),
            "category": pa.array(np.array(CATEGORIES, dtype=object)[tier], pa.string()),
            "price_idr": pa.array(price.to_numpy(dtype=float), pa.float64()),
            "validity_days": pa.array(np.full(n, VALIDITY_DAYS), pa.int32()),
            "data_mb": pa.array(np.zeros(n), pa.float64()),
            "voice_min": pa.array(np.zeros(n), pa.float64()),
        }
    )


def _customers(lines: pd.DataFrame) -> pa.Table:
    """One customer per id: first purchase day, its country, the first day's spend tercile."""
    ordered = lines.sort_values(["customer_id", "invoice_date", "transaction_id"])
    first = ordered.drop_duplicates("customer_id").set_index("customer_id")
    first_day = first["invoice_date"].dt.floor("D")
    on_first_day = lines["invoice_date"].dt.floor("D").to_numpy() == first_day.reindex(lines["customer_id"]).to_numpy()
    spend = lines[on_first_day].groupby("customer_id")["amount"].sum().reindex(first.index)
    order = np.lexsort((first.index.to_numpy(), first_day.to_numpy()))
    return pa.table(
        {
            "customer_id": pa.array(first.index.to_numpy(dtype=np.int64)[order], pa.int64()),
            "signup_date": pa.array(first_day.to_numpy().astype("datetime64[D]")[order], pa.date32()),
            "segment": pa.array(np.array(SEGMENTS, dtype=object)[_terciles(spend)][order], pa.string()),
            "region": pa.array(first["country"].to_numpy(dtype=object)[order], pa.string()),
        }
    )


def to_raw_tables(source: pa.Table) -> RawImport:
    """Build customers, products and transactions from the source lines (vectorised)."""
    frame = _frame(source)
    frame["transaction_id"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    cancelled = frame["credit"].to_numpy(dtype=bool) | (frame["quantity"] <= 0).to_numpy()
    no_customer = ~cancelled & frame["customer_id"].isna().to_numpy()
    unusable = (
        frame["invoice_date"].isna()
        | frame["stock_code"].isna()
        | frame["quantity"].isna()
        | ~(frame["unit_price"] >= 0)
    )
    invalid = ~cancelled & ~no_customer & unusable.to_numpy()
    lines = frame[~(cancelled | no_customer | invalid)].copy()
    lines["customer_id"] = lines["customer_id"].astype(np.int64)
    lines["quantity"] = lines["quantity"].astype(np.int32)
    lines["amount"] = lines["quantity"].astype(float) * lines["unit_price"]
    stock = lines["stock_code"].cat.remove_unused_categories()
    categories = stock.cat.categories.to_numpy(dtype=str)
    codes = np.sort(categories)
    lines["product_id"] = np.searchsorted(codes, categories)[stock.cat.codes.to_numpy()] + 1
    lines = lines.sort_values(["invoice_date", "transaction_id"], kind="stable")
    transactions = pa.table(
        {
            "transaction_id": pa.array(lines["transaction_id"].to_numpy(), pa.int64()),
            "customer_id": pa.array(lines["customer_id"].to_numpy(), pa.int64()),
            "product_id": pa.array(lines["product_id"].to_numpy(), pa.int64()),
            "ts": pa.array(lines["invoice_date"].to_numpy(), pa.timestamp("us")),
            "quantity": pa.array(lines["quantity"].to_numpy(), pa.int32()),
            "amount_idr": pa.array(lines["amount"].to_numpy(), pa.float64()),
        }
    )
    days = lines["invoice_date"].dt.floor("D")
    counts = ImportCounts(
        rows_read=len(frame),
        cancelled=int(cancelled.sum()),
        missing_customer=int(no_customer.sum()),
        invalid=int(invalid.sum()),
        rows_written=len(lines),
        customers=int(lines["customer_id"].nunique()),
        products=len(codes),
        days=int(days.nunique()),
        first_day=days.min().date() if len(lines) else None,
        last_day=days.max().date() if len(lines) else None,
    )
    return RawImport(_customers(lines), _products(lines, codes), transactions, counts)


def split_by_day(table: pa.Table, column: str) -> Iterator[tuple[dt.date, pa.Table]]:
    """Zero-copy slices of ``table`` (sorted by ``column``) per calendar day of ``column``."""
    days = table.column(column).to_numpy().astype("datetime64[D]")
    if not len(days):
        return
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    ends = np.r_[starts[1:], len(days)]
    for start, end in zip(starts, ends, strict=True):
        yield days[start].astype(dt.date), table.slice(int(start), int(end - start))


def partitions(raw: RawImport) -> list[Job]:
    """Every partition the import writes: the catalogue, the customers and transactions per day.

    A day without invoices (a closed shop, a holiday) gets an empty transactions partition:
    the source says nothing was sold that day, and label horizons need every day committed.
    """
    jobs: list[Job] = []
    if raw.counts.first_day is not None:
        jobs.append(("products", raw.counts.first_day, raw.products))
    jobs += [("customers", day, part) for day, part in split_by_day(raw.customers, "signup_date")]
    by_day = dict(split_by_day(raw.transactions, "ts"))
    if by_day:
        first, last = min(by_day), max(by_day)
        empty = raw.transactions.slice(0, 0)
        for offset in range((last - first).days + 1):
            day = first + dt.timedelta(days=offset)
            jobs.append(("transactions", day, by_day.get(day, empty)))
    return jobs


def write_import(
    store: ObjectStore,
    raw: RawImport,
    progress: Progress | None = None,
    writer: str | None = None,
    workers: int = WRITE_WORKERS,
) -> int:
    """Commit every partition of ``raw`` with a few writer threads; returns how many.

    Each partition commits atomically on its own; ``progress(done, total)`` wraps the
    partitions as they finish (e.g. in a progress bar).
    """
    jobs = partitions(raw)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {
            pool.submit(write_raw, store, name, day, part, writer): (name, day, part) for name, day, part in jobs
        }
        done = (futures[f] for f in _finished(futures))
        try:
            for _ in progress(done, len(jobs)) if progress else done:
                pass
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # stop at the first failure
            raise
    return len(jobs)


def _finished(futures: Iterable[Future[Manifest]]) -> Iterator[Future[Manifest]]:
    """The futures as they complete; the first failure is raised."""
    for future in as_completed(futures):
        future.result()
        yield future


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
