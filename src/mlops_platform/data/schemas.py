"""Declared schemas of the raw tables: declared once here, checked on every write and read.

Layout in the lake: ``raw/<table>/date=YYYY-MM-DD/``.

- ``customers`` is incremental: the partition of D holds the customers registered on D
  (their ``signup_date`` is on or before D; a first load puts everyone in one partition).
- ``products`` is a full catalogue: the partition of D is the catalogue in force from D on;
  a reader takes the newest partition on or before the day it needs.
- ``transactions``, ``usage`` and ``events`` are facts: the partition of D holds what
  happened on D.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

SEGMENTS = ("residential", "business", "premium")
CATEGORIES = ("data", "voice", "combo")
EVENT_TYPES = ("session", "view", "click", "offer_impression")


@dataclass(frozen=True)
class TableContract:
    """One raw table: its columns, its key, and how it is partitioned."""

    name: str
    schema: pa.Schema
    key: str
    # Column whose value must fall on the partition date (None: no such rule).
    time_column: str | None
    # "fact": one partition per day of activity; "incremental": rows added on a day;
    # "snapshot": the full table as of a day.
    kind: str
    required: bool
    # Columns that must not be negative.
    non_negative: tuple[str, ...] = ()
    # Generous upper bounds of numeric columns, (column, largest allowed value): a value above
    # one is a unit mix-up or a corrupt export, never a real day of a telco.
    upper_bounds: tuple[tuple[str, float], ...] = ()
    # Columns that may be null without counting against the missing-value rule.
    nullable: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def float_columns(self) -> list[str]:
        """The floating-point columns (the ones that can hold inf or NaN)."""
        return [f.name for f in self.schema if pa.types.is_floating(f.type)]

    @property
    def dataset(self) -> str:
        return f"raw/{self.name}"


CUSTOMERS = TableContract(
    name="customers",
    schema=pa.schema(
        [
            ("customer_id", pa.int64()),
            ("signup_date", pa.date32()),
            ("segment", pa.string()),
            ("region", pa.string()),
        ]
    ),
    key="customer_id",
    time_column="signup_date",
    kind="incremental",
    required=True,
)

PRODUCTS = TableContract(
    name="products",
    schema=pa.schema(
        [
            ("product_id", pa.int64()),
            ("name", pa.string()),
            ("category", pa.string()),
            ("price_idr", pa.float64()),
            ("validity_days", pa.int32()),
            ("data_mb", pa.float64()),
            ("voice_min", pa.float64()),
        ]
    ),
    key="product_id",
    time_column=None,
    kind="snapshot",
    required=True,
    non_negative=("price_idr", "validity_days", "data_mb", "voice_min"),
    # A trillion rupiah, ten years, a petabyte, 100 million minutes.
    upper_bounds=(("price_idr", 1e12), ("validity_days", 3_660), ("data_mb", 1e9), ("voice_min", 1e8)),
)

TRANSACTIONS = TableContract(
    name="transactions",
    schema=pa.schema(
        [
            ("transaction_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("product_id", pa.int64()),
            ("ts", pa.timestamp("us")),
            ("quantity", pa.int32()),
            ("amount_idr", pa.float64()),
        ]
    ),
    key="transaction_id",
    time_column="ts",
    kind="fact",
    required=True,
    non_negative=("quantity", "amount_idr"),
    # A million packs, ten trillion rupiah in one transaction.
    upper_bounds=(("quantity", 1_000_000), ("amount_idr", 1e13)),
)

USAGE = TableContract(
    name="usage",
    schema=pa.schema(
        [
            ("customer_id", pa.int64()),
            ("date", pa.date32()),
            ("data_mb", pa.float32()),
            ("voice_min", pa.float32()),
            ("sms", pa.int32()),
        ]
    ),
    key="customer_id",
    time_column="date",
    kind="fact",
    required=False,
    non_negative=("data_mb", "voice_min", "sms"),
    # Per customer and day: 10 TB, 100,000 minutes (many lines of a business), a million SMS.
    upper_bounds=(("data_mb", 1e7), ("voice_min", 1e5), ("sms", 1_000_000)),
)

EVENTS = TableContract(
    name="events",
    schema=pa.schema(
        [
            ("customer_id", pa.int64()),
            ("ts", pa.timestamp("us")),
            ("event_type", pa.string()),
            ("product_id", pa.int64()),
        ]
    ),
    key="customer_id",
    time_column="ts",
    kind="fact",
    required=False,
    # Only offer impressions and clicks name a product.
    nullable=("product_id",),
)

CONTRACTS: dict[str, TableContract] = {c.name: c for c in (CUSTOMERS, PRODUCTS, TRANSACTIONS, USAGE, EVENTS)}


def contract(name: str) -> TableContract:
    """The contract of raw table ``name``; an unknown name is an error that lists the known ones."""
    try:
        return CONTRACTS[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(CONTRACTS)}") from None
