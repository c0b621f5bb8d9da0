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
        self.next_transaction = 1

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
        self.rows["transactions", day(offset)].append(
            {
                "transaction_id": self.next_transaction,
                "customer_id": cid,
                "product_id": product,
                "ts": at(offset, hour),
                "quantity": 1,
                "amount_idr": amount,
            }
        )
        self.next_transaction += 1

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

    def commit(
        self, store: ObjectStore, first: dt.date = START, last: dt.date | None = None, quiet_days: bool = True
    ) -> None:
        """Write every collected partition, plus (``quiet_days``) an empty fact partition for each quiet day."""
        last = last or day(-1)
        for offset in range((last - first).days + 1 if quiet_days else 0):
            for table in FACTS:
                self.rows.setdefault((table, first + dt.timedelta(days=offset)), [])
        for (table, part), rows in sorted(self.rows.items()):
            schema = contract(table).schema
            write_raw(store, table, part, pa.Table.from_pylist(rows, schema=schema))


# ARPU bucket edges of config/platform.yaml: one customer (id 20 + i) per amount.
BUCKET_CASES = {
    21: (1.0, "low"),
    22: (49_999.99, "low"),
    23: (50_000.0, "medium"),
    24: (99_999.99, "medium"),
    25: (100_000.0, "high"),
    26: (199_999.99, "high"),
    27: (200_000.0, "premium"),
}


def scenario() -> RawLake:
    """The hand-made customers of the tests; the comments give what each one checks."""
    lake = RawLake()
    lake.catalogue(START, {10: "data", 20: "voice", 30: "combo"})
    lake.catalogue(D, {10: "voice", 20: "voice", 30: "voice"})  # in force from D on: never used for D
    # 1 Alice: a bit of everything.
    lake.customer(1, dt.date(2024, 1, 1))
    for offset in range(1, 8):
        lake.usage(1, -offset, 100.0, 10.0, 2)
    lake.usage(1, -14, 700.0)
    lake.tx(1, -1, 10, 60_000.0)
    lake.tx(1, -20, 20, 30_000.0)
    lake.tx(1, -60, 10, 25_000.0)
    lake.tx(1, -95, 30, 999_999.0)  # before the window
    lake.event(1, -1, "session", 2)
    lake.event(1, -1, "offer_impression", 4)
    lake.event(1, -1, "click")
    lake.event(1, -8, "session")  # before the events window
    lake.event(1, -8, "click")
    # 2 Bob: signed up recently, one purchase, nothing else.
    lake.customer(2, dt.date(2025, 3, 1))
    lake.tx(2, -10, 30, 100_000.0)
    # 3 Carol: constant usage, more clicks than impressions, no purchase.
    lake.customer(3, dt.date(2023, 6, 1))
    for offset in range(1, 29):
        lake.usage(3, -offset, 50.0)
    lake.event(3, -3, "click", 3)
    lake.event(3, -3, "offer_impression", 2)
    # 4 Dan: signs up on D (customers partition of D): not in the snapshot of D.
    lake.customer(4, D)
    lake.usage(4, -2, 10.0)
    # 5 Eve: usage before the window, and only all-zero usage in it: not in the snapshot.
    lake.customer(5, dt.date(2024, 6, 1))
    lake.usage(5, -91, 500.0)
    lake.usage(5, -5, 0.0, 0.0, 0)
    # 6 Frank: one purchase on the first day of the window.
    lake.customer(6, dt.date(2024, 2, 1))
    lake.tx(6, -90, 20, 40_000.0)
    # 7 Grace: premium ARPU, a spend tie between combo and data (combo wins by name).
    lake.customer(7, dt.date(2024, 3, 1))
    lake.tx(7, -2, 30, 100_000.0)
    lake.tx(7, -3, 10, 100_000.0)
    # 9 Ivan: a single session in the older part of the activity window.
    lake.customer(9, dt.date(2024, 4, 1))
    lake.event(9, -50, "session")
    # 10 Judy: usage only in the older part of the activity window.
    lake.customer(10, dt.date(2024, 5, 1))
    lake.usage(10, -40, 10.0)
    # 11 Ken: one day of usage inside the long window, none in the short one.
    lake.customer(11, dt.date(2024, 5, 2))
    lake.usage(11, -20, 280.0)
    # 12 Leo: a product missing from the catalogue.
    lake.customer(12, dt.date(2024, 5, 3))
    lake.tx(12, -4, 99, 5_000.0)
    for cid, (amount, _) in BUCKET_CASES.items():
        lake.customer(cid, dt.date(2024, 7, 1))
        lake.tx(cid, -5, 20, amount)
    return lake


def add_horizon(lake: RawLake) -> None:
    """Rows in the label horizon D .. D+29 (and one just after it)."""
    lake.usage(1, 5, 10.0)
    lake.tx(1, 3, 10, 50_000.0)
    lake.tx(1, 20, 20, 20_000.0)
    lake.tx(2, 10, 30, 30_000.0)
    lake.tx(3, 30, 10, 70_000.0)  # the day after the horizon
    lake.usage(6, 1, 0.0, 0.0, 0)  # all-zero usage is no usage
    lake.event(9, 2, "session", 5)  # events do not count against churn
    lake.tx(10, 6, 20, 10_000.0)  # the last day of the conversion horizon
    lake.tx(10, 7, 20, 5_000.0)  # the first day after it
    lake.tx(11, 29, 10, 1_000.0)  # the last day of the churn and revenue horizons
    lake.tx(11, -1, 10, 999.0)  # before D: a feature, never a label


SNAPSHOT_IDS = [1, 2, 3, 6, 7, 9, 10, 11, 12, *BUCKET_CASES]


Read = tuple[str, dt.date | None, dt.date]


def spy_raw_reads(monkeypatch: Any) -> list[Read]:
    """Record (table, start, end) of every raw read of the feature and label code."""
    from mlops_platform.data import raw
    from mlops_platform.features import engine, reduce

    reads: list[Read] = []
    real = raw.raw_dataset

    def spy(store: ObjectStore, table: str, start: dt.date | None, end: dt.date) -> Any:
        reads.append((table, start, end))
        return real(store, table, start, end)

    for module in (raw, reduce, engine):
        monkeypatch.setattr(module, "raw_dataset", spy)
    return reads
