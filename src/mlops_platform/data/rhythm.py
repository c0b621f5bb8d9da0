"""Calendar rhythms of the demo data: weekly usage profiles, the daily hour mix, timestamps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

EPOCH = dt.date(1970, 1, 1)
US_PER_DAY = 86_400 * 1_000_000
# Weekly profiles (Monday first): data and voice per segment, app sessions for everyone.
WEEK_DATA = np.array(
    [[0.93, 0.93, 0.95, 0.97, 1.05, 1.1, 1.07], [1.05, 1.05, 1.05, 1.05, 1.0, 0.85, 0.8],
     [1.0, 1.0, 1.0, 1.0, 1.03, 1.05, 1.0]]
)  # fmt: skip
WEEK_VOICE = np.array(
    [[1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.1], [1.15, 1.15, 1.15, 1.15, 1.1, 0.6, 0.5],
     [1.05, 1.05, 1.05, 1.05, 1.05, 0.9, 0.85]]
)  # fmt: skip
WEEK_SESSIONS = np.array([0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.05])
HOUR_SHARE = np.array(
    [1, 0.6, 0.4, 0.3, 0.4, 0.8, 1.5, 2.5, 3, 3, 3, 3.2, 3.5, 3.2, 3, 3, 3.2, 3.6, 4.2, 4.8, 5.2, 5, 4, 2.2]
)
HOUR_SHARE = HOUR_SHARE / HOUR_SHARE.sum()


def micros_in_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds into the day, following a daily rhythm (quiet nights, busy evenings)."""
    hour = rng.choice(24, size=n, p=HOUR_SHARE)
    return hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, n)


def timestamps_of_day(day_index: int, micros: np.ndarray) -> pa.Array:
    """``micros`` into day ``day_index`` (days since 1970-01-01) as ``timestamp[us]``."""
    return pa.array(day_index * US_PER_DAY + micros.astype(np.int64), pa.int64()).cast(pa.timestamp("us"))
