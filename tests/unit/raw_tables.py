"""Tiny hand-made raw tables (one valid day of every table) for the validation and load tests."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from mlops_platform.data.raw import write_raw
from mlops_platform.storage import ObjectStore

DAY = dt.date(2025, 3, 10)
TS = dt.datetime(2025, 3, 10, 9, 30)


def customers(ids: list[int], signup: dt.date = dt.date(2025, 1, 5)) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.int64()),
            "signup_date": pa.array([signup] * n, pa.date32()),
            "segment": ["residential"] * n,
            "region": ["Jakarta"] * n,
        }
    )


def products() -> pa.Table:
    return pa.table(
        {
            "product_id": pa.array([10, 11, 12], pa.int64()),
            "name": ["Data 5GB", "Voice 100", "Combo"],
            "category": ["data", "voice", "combo"],
            "price_idr": [25000.0, 15000.0, 60000.0],
            "validity_days": pa.array([30, 30, 30], pa.int32()),
            "data_mb": [5000.0, 0.0, 8000.0],
            "voice_min": [0.0, 100.0, 200.0],
        }
    )


def transactions(**overrides: list) -> pa.Table:
    columns = {
        "transaction_id": pa.array([1, 2, 3, 4], pa.int64()),
        "customer_id": pa.array([1, 2, 3, 1], pa.int64()),
        "product_id": pa.array([10, 11, 12, 10], pa.int64()),
        "ts": pa.array([TS] * 4, pa.timestamp("us")),
        "quantity": pa.array([1, 1, 2, 1], pa.int32()),
        "amount_idr": pa.array([25000.0, 15000.0, 120000.0, 25000.0]),
    }
    for name, values in overrides.items():
        columns[name] = pa.array(values, columns[name].type)
    return pa.table(columns)


def usage() -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array([1, 2, 3], pa.int64()),
            "date": pa.array([DAY] * 3, pa.date32()),
            "data_mb": pa.array([120.5, 0.0, 900.0], pa.float32()),
            "voice_min": pa.array([3.0, 12.0, 0.0], pa.float32()),
            "sms": pa.array([0, 2, 1], pa.int32()),
        }
    )


def events() -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array([1, 1, 2, 3], pa.int64()),
            "ts": pa.array([TS] * 4, pa.timestamp("us")),
            "event_type": ["session", "offer_impression", "click", "view"],
            "product_id": pa.array([None, 10, 10, None], pa.int64()),
        }
    )


def good_lake(store: ObjectStore, day: dt.date = DAY) -> None:
    """Customers and products committed before ``day``; all five tables for ``day``."""
    write_raw(store, "customers", dt.date(2025, 1, 5), customers([1, 2]))
    write_raw(store, "customers", day, customers([3], signup=day))
    write_raw(store, "products", dt.date(2025, 1, 1), products())
    write_raw(store, "transactions", day, transactions())
    write_raw(store, "usage", day, usage())
    write_raw(store, "events", day, events())
