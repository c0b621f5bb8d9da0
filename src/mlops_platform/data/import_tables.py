"""Cleaning the source lines of ``mlops data import`` into the raw customers, products and transactions.

Cancelled lines are dropped, then lines without a customer, then unusable lines; each count is
kept in :class:`ImportCounts`. The rules of each table are described in ``importers``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_platform.data.schemas import CATEGORIES, SEGMENTS
from mlops_platform.errors import InputError

VALIDITY_DAYS = 30


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
