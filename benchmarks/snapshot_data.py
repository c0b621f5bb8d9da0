"""Synthetic raw data for the feature-snapshot benchmark: numpy, seeded, written day by day.

Every customer gets a daily usage probability, an event rate and a purchase rate; about 3% are
inactive over the whole window (they are not in the snapshot) and about 2% sign up inside it.
The lake holds the ``window`` days before the snapshot date, so every row is one the snapshot
reads. A ``bench_params.json`` in the lake records the parameters and row counts; a lake whose
parameters match is reused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from mlops_platform.data.raw import write_raw
from mlops_platform.data.schemas import CATEGORIES, EVENT_TYPES, SEGMENTS
from mlops_platform.storage import ObjectStore

PARAMS_FILE = "bench_params.json"
# Expected usage + event rows per customer and window day (0.97 active x (0.85 usage + 0.25 events)).
ROWS_PER_CUSTOMER_DAY = 0.97 * (0.85 + 0.25)
N_PRODUCTS = 30
EVENT_PROBS = (0.5, 0.25, 0.1, 0.15)  # session, view, click, offer_impression (EVENT_TYPES order)


@dataclass(frozen=True)
class LakeParams:
    customers: int
    snapshot_date: str
    window_days: int
    seed: int


def customers_for_rows(rows: int, window_days: int) -> int:
    """How many customers give about ``rows`` usage + event rows over the window."""
    return max(50, round(rows / (ROWS_PER_CUSTOMER_DAY * window_days)))


def _products(rng: np.random.Generator) -> tuple[pa.Table, np.ndarray]:
    ids = np.arange(1, N_PRODUCTS + 1, dtype=np.int64)
    prices = rng.choice(np.arange(10, 160, 5) * 1000.0, size=N_PRODUCTS)
    table = pa.table(
        {
            "product_id": ids,
            "name": [f"pack {i}" for i in ids],
            "category": [CATEGORIES[i % len(CATEGORIES)] for i in ids],
            "price_idr": prices,
            "validity_days": np.full(N_PRODUCTS, 30, dtype=np.int32),
            "data_mb": rng.uniform(500, 20000, N_PRODUCTS),
            "voice_min": rng.uniform(0, 300, N_PRODUCTS),
        }
    )
    return table, prices


@dataclass
class _Population:
    signup: np.ndarray  # day index relative to the window start (negative: before it)
    active: np.ndarray
    p_usage: np.ndarray
    mb_scale: np.ndarray
    event_rate: np.ndarray
    purchase_rate: np.ndarray


def _population(rng: np.random.Generator, n: int, window: int) -> _Population:
    signup = -rng.integers(1, 1500, n)
    late = rng.random(n) < 0.02
    signup[late] = rng.integers(0, window, late.sum())
    return _Population(
        signup=signup,
        active=rng.random(n) >= 0.03,
        p_usage=rng.uniform(0.7, 1.0, n),
        mb_scale=rng.gamma(2.0, 150.0, n).astype(np.float32),
        event_rate=rng.uniform(0.0, 0.5, n),
        purchase_rate=rng.uniform(0.0, 0.15, n),
    )


def _customers_table(ids: np.ndarray, days: np.ndarray, base: dt.date, rng: np.random.Generator) -> pa.Table:
    signup = np.datetime64(base) + days.astype("timedelta64[D]")
    return pa.table(
        {
            "customer_id": ids,
            "signup_date": pa.array(signup, pa.date32()),
            "segment": pa.array(np.array(SEGMENTS)[rng.integers(0, len(SEGMENTS), len(ids))]),
            "region": pa.array(np.full(len(ids), "jakarta")),
        }
    )


def _timestamps(day: dt.date, n: int, rng: np.random.Generator) -> pa.Array:
    seconds = rng.integers(0, 86_400, n).astype("timedelta64[s]")
    return pa.array((np.datetime64(day, "s") + seconds).astype("datetime64[us]"), pa.timestamp("us"))


def _day_tables(
    rng: np.random.Generator, pop: _Population, k: int, day: dt.date, prices: np.ndarray
) -> dict[str, pa.Table]:
    ids = np.arange(1, len(pop.signup) + 1, dtype=np.int64)
    live = pop.active & (pop.signup <= k)
    used = live & (rng.random(len(ids)) < pop.p_usage)
    u_ids = ids[used]
    usage = pa.table(
        {
            "customer_id": u_ids,
            "date": pa.array(np.full(len(u_ids), np.datetime64(day)), pa.date32()),
            "data_mb": rng.gamma(2.0, 1.0, len(u_ids)).astype(np.float32) * pop.mb_scale[used],
            "voice_min": rng.gamma(1.5, 8.0, len(u_ids)).astype(np.float32),
            "sms": rng.poisson(2.0, len(u_ids)).astype(np.int32),
        }
    )
    n_events = rng.poisson(np.where(live, pop.event_rate, 0.0))
    e_ids = np.repeat(ids, n_events)
    codes = rng.choice(len(EVENT_TYPES), size=len(e_ids), p=EVENT_PROBS).astype(np.int8)
    named = (codes == EVENT_TYPES.index("click")) | (codes == EVENT_TYPES.index("offer_impression"))
    products = np.where(named, rng.integers(1, N_PRODUCTS + 1, len(e_ids)), 0)
    events = pa.table(
        {
            "customer_id": e_ids,
            "ts": _timestamps(day, len(e_ids), rng),
            "event_type": pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(EVENT_TYPES)).cast(pa.string()),
            "product_id": pa.array(products, pa.int64(), mask=~named),
        }
    )
    n_tx = rng.poisson(np.where(live, pop.purchase_rate, 0.0))
    t_ids = np.repeat(ids, n_tx)
    t_products = rng.integers(1, N_PRODUCTS + 1, len(t_ids))
    quantity = rng.integers(1, 3, len(t_ids)).astype(np.int32)
    transactions = pa.table(
        {
            "transaction_id": np.arange(len(t_ids), dtype=np.int64) + k * 10_000_000,
            "customer_id": t_ids,
            "product_id": t_products.astype(np.int64),
            "ts": _timestamps(day, len(t_ids), rng),
            "quantity": quantity,
            "amount_idr": prices[t_products - 1] * quantity,
        }
    )
    return {"usage": usage, "events": events, "transactions": transactions}


def generate(store: ObjectStore, params: LakeParams) -> dict[str, int]:
    """Write the synthetic lake; returns the row count of every raw table."""
    rng = np.random.default_rng(params.seed)
    snapshot = dt.date.fromisoformat(params.snapshot_date)
    first = snapshot - dt.timedelta(days=params.window_days)
    counts = {"customers": 0, "products": N_PRODUCTS, "usage": 0, "events": 0, "transactions": 0}
    products, prices = _products(rng)
    write_raw(store, "products", first - dt.timedelta(days=1), products)
    pop = _population(rng, params.customers, params.window_days)
    ids = np.arange(1, params.customers + 1, dtype=np.int64)
    early = pop.signup < 0
    write_raw(
        store,
        "customers",
        first - dt.timedelta(days=1),
        _customers_table(ids[early], pop.signup[early], first, rng),
    )
    counts["customers"] += int(early.sum())
    for k in range(params.window_days):
        day = first + dt.timedelta(days=k)
        joined = pop.signup == k
        if joined.any():
            write_raw(store, "customers", day, _customers_table(ids[joined], pop.signup[joined], first, rng))
            counts["customers"] += int(joined.sum())
        for table, rows in _day_tables(rng, pop, k, day, prices).items():
            write_raw(store, table, day, rows)
            counts[table] += rows.num_rows
    store.put_bytes(PARAMS_FILE, json.dumps({"params": asdict(params), "rows": counts}, indent=2).encode())
    return counts


def existing(store: ObjectStore, params: LakeParams) -> dict[str, int] | None:
    """The row counts of a lake already generated with ``params`` (None if absent or different)."""
    if not store.exists(PARAMS_FILE):
        return None
    recorded = json.loads(store.get_bytes(PARAMS_FILE))
    return recorded["rows"] if recorded["params"] == asdict(params) else None
