"""A tiny hand-made raw lake for the feature and label tests: rows by hand, one partition a day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pyarrow as pa

from mlops_platform.data.raw import write_raw
from mlops_platform.data.schemas import contract
from mlops_platform.storage import ObjectStore

# The snapshot date of the fixtures; data starts 100 days before it.
D = dt.date(2025, 4, 11)
START = D - dt.timedelta(days=100)
FACTS = ("usage", "transactions", "events")


def day(offset: int) -> dt.date:
    """``D + offset`` (negative offsets are days before the snapshot)."""
    return D + dt.timedelta(days=offset)


def at(offset: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day(offset), dt.time(hour))


class RawLake:
    """Collects raw rows per (table, partition day) and commits them."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, dt.date], list[dict[str, Any]]] = defaultdict(list)

    def customer(self, cid: int, signup: dt.date, segment: str = "residential", loaded: dt.date | None = None) -> None:
        part = loaded or max(signup, START)
        self.rows["customers", part].append(
            {"customer_id": cid, "signup_date": signup, "segment": segment, "region": "jakarta"}
        )

    def usage(self, cid: int, offset: int, mb: float, voice: float = 0.0, sms: int = 0) -> None:
        self.rows["usage", day(offset)].append(
            {"customer_id": cid, "date": day(offset), "data_mb": mb, "voice_min": voice, "sms": sms}
        )

    def tx(self, cid: int, offset: int, product: int, amount: float, hour: int = 12) -> None:
        tid = len([k for k in self.rows if k[0] == "transactions"]) * 1000 + len(self.rows["transactions", day(offset)])
        self.rows["transactions", day(offset)].append(
            {
                "transaction_id": tid + 1,
                "customer_id": cid,
                "product_id": product,
                "ts": at(offset, hour),
                "quantity": 1,
                "amount_idr": amount,
            }
        )

    def event(self, cid: int, offset: int, event_type: str, count: int = 1, hour: int = 10) -> None:
        product = 10 if event_type in ("click", "offer_impression") else None
        for _ in range(count):
            self.rows["events", day(offset)].append(
                {"customer_id": cid, "ts": at(offset, hour), "event_type": event_type, "product_id": product}
            )

    def catalogue(self, on: dt.date, categories: dict[int, str]) -> None:
        self.rows["products", on] = [
            {
                "product_id": pid,
                "name": f"product {pid}",
                "category": category,
                "price_idr": 10000.0,
                "validity_days": 30,
                "data_mb": 1000.0,
                "voice_min": 10.0,
            }
            for pid, category in categories.items()
        ]

    def commit(self, store: ObjectStore, first: dt.date = START, last: dt.date | None = None) -> None:
        """Write every collected partition, plus an empty fact partition for each quiet day."""
        last = last or day(-1)
        for offset in range((last - first).days + 1):
            for table in FACTS:
                self.rows.setdefault((table, first + dt.timedelta(days=offset)), [])
        for (table, part), rows in sorted(self.rows.items()):
            schema = contract(table).schema
            write_raw(store, table, part, pa.Table.from_pylist(rows, schema=schema))
