"""The customer features and labels, declared once: name, type, meaning and allowed range.

Models, drift reports and the snapshot validator take their columns from :data:`FEATURES`
and :data:`LABELS`; nothing else lists them. A snapshot partition holds the key columns
(:data:`SNAPSHOT_KEYS`) followed by every feature, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

ARPU_BUCKETS = ("low", "medium", "high", "premium")


@dataclass(frozen=True)
class Column:
    """One column of a derived table and the rules its values must keep."""

    name: str
    dtype: pa.DataType
    description: str
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] | None = None

    @property
    def is_numeric(self) -> bool:
        return pa.types.is_integer(self.dtype) or pa.types.is_floating(self.dtype)


# A feature is a column of the snapshot other than its keys.
Feature = Column

SNAPSHOT_KEYS: tuple[Column, ...] = (
    Column("customer_id", pa.int64(), "customer id (unique within a snapshot)"),
    Column("snapshot_date", pa.date32(), "D: every feature uses only days D-N .. D-1"),
)

FEATURES: tuple[Feature, ...] = (
    Feature("segment", pa.string(), "customer segment from the customers table"),
    Feature("tenure_days", pa.int32(), "D - signup_date", minimum=1),
    Feature(
        "recency_days",
        pa.int32(),
        "D - date of the last purchase in the RFM window; null if none",
        nullable=True,
        minimum=1,
    ),
    Feature("frequency_90d", pa.int32(), "purchases (transactions) in the RFM window", minimum=0),
    Feature("monetary_90d", pa.float64(), "spend (IDR) in the RFM window; 0 if none", minimum=0),
    Feature("arpu_30d", pa.float64(), "spend (IDR) in the ARPU window", minimum=0),
    Feature(
        "arpu_bucket",
        pa.string(),
        "arpu_30d banded by features.arpu_bucket_edges: low < e0 <= medium < e1 <= high < e2 <= premium",
        values=ARPU_BUCKETS,
    ),
    Feature("usage_7d_data_mb", pa.float64(), "data MB in the short usage window", minimum=0),
    Feature("usage_7d_voice_min", pa.float64(), "voice minutes in the short usage window", minimum=0),
    Feature("usage_7d_sms", pa.int32(), "SMS in the short usage window", minimum=0),
    Feature(
        "usage_trend",
        pa.float64(),
        "mean daily data MB over the short window / over the long window (missing days = 0); "
        "null where the long-window mean is 0",
        nullable=True,
        minimum=0,
    ),
    Feature(
        "usage_stability",
        pa.float64(),
        "coefficient of variation (population std / mean) of daily data MB over the long window "
        "(missing days = 0); null where the mean is 0",
        nullable=True,
        minimum=0,
    ),
    Feature("distinct_products_90d", pa.int32(), "distinct products bought in the RFM window", minimum=0),
    Feature(
        "favourite_category",
        pa.string(),
        "category with the most spend in the RFM window (ties: first by name); null if none",
        nullable=True,
    ),
    Feature("sessions_7d", pa.int32(), "session events in the events window", minimum=0),
    Feature("impressions_7d", pa.int32(), "offer_impression events in the events window", minimum=0),
    Feature("clicks_7d", pa.int32(), "click events in the events window", minimum=0),
    Feature(
        "ctr_7d",
        pa.float64(),
        "clicks_7d / impressions_7d, capped at 1 (clicks may also follow views); null where there were no impressions",
        nullable=True,
        minimum=0,
        maximum=1,
    ),
)

LABEL_KEYS: tuple[Column, ...] = (
    Column("customer_id", pa.int64(), "customer id (the population of the snapshot of D)"),
    Column("label_date", pa.date32(), "D: every label uses only days D .. D+horizon-1"),
)

LABELS: tuple[Column, ...] = (
    Column(
        "churned_30d",
        pa.int8(),
        "1 if the customer had no usage and no transaction in the churn horizon, else 0",
        minimum=0,
        maximum=1,
    ),
    Column(
        "converted_7d",
        pa.int8(),
        "1 if the customer bought anything in the conversion horizon",
        minimum=0,
        maximum=1,
    ),
    Column("revenue_30d", pa.float64(), "spend (IDR) in the revenue horizon", minimum=0),
)


def schema_of(columns: tuple[Column, ...]) -> pa.Schema:
    """The arrow schema of ``columns`` (nullability is checked by the validator, not here)."""
    return pa.schema([pa.field(c.name, c.dtype) for c in columns])


SNAPSHOT_SCHEMA = schema_of(SNAPSHOT_KEYS + FEATURES)
LABEL_SCHEMA = schema_of(LABEL_KEYS + LABELS)


def feature_names() -> list[str]:
    """Every feature column, in snapshot order."""
    return [f.name for f in FEATURES]


def numeric_features() -> list[str]:
    """The numeric feature columns."""
    return [f.name for f in FEATURES if f.is_numeric]


def categorical_features() -> list[str]:
    """The string (categorical) feature columns."""
    return [f.name for f in FEATURES if not f.is_numeric]


def label_names() -> list[str]:
    """Every label column."""
    return [c.name for c in LABELS]
