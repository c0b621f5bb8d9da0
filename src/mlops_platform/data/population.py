"""The demo telco's customers: who they are and the hidden traits that drive their behaviour.

Customers are numbered in signup order. About 60% signed up in the three years before the
start of the period; the rest join uniformly over it. The traits (engagement, price
sensitivity, usage appetite, taste for pack categories) never change; what changes day by day
(packs, disengagement, churn) lives in the simulator of ``data/simulator.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mlops_platform.data.schemas import SEGMENTS

FIRST_CUSTOMER_ID = 100_001
PRE_EXISTING_SHARE = 0.6
HISTORY_DAYS = 3 * 365

REGIONS = (
    "jabodetabek", "west_java", "central_java", "east_java", "sumatra",
    "kalimantan", "sulawesi", "bali_nusa_tenggara", "maluku_papua",
)  # fmt: skip
_REGION_SHARE = np.array([0.24, 0.16, 0.12, 0.14, 0.15, 0.06, 0.07, 0.04, 0.02])
_REGION_DATA = np.array([1.25, 1.1, 0.95, 1.0, 0.95, 0.85, 0.85, 1.0, 0.7])
_SEGMENT_SHARE = np.array([0.72, 0.17, 0.11])
# Per segment: median data MB/day, voice min/day, SMS/day, sessions/day.
_DATA_MB = np.array([260.0, 380.0, 750.0])
_VOICE_MIN = np.array([7.0, 24.0, 14.0])
_SMS = np.array([1.6, 1.2, 0.7])
_SESSIONS = np.array([0.35, 0.3, 0.5])
# Price sensitivity ~ Beta(a, b) per segment.
_PRICE_A = np.array([4.0, 2.0, 1.5])
_PRICE_B = np.array([3.0, 4.0, 6.0])
# Taste for data / voice / combo packs per segment, and for long validity.
_CATEGORY_SHARE = np.array([[0.55, 0.15, 0.30], [0.25, 0.35, 0.40], [0.35, 0.08, 0.57]])
_VALIDITY_TASTE = np.array([0.6, 0.9, 1.0])
# Daily hazard of starting to disengage, before the customer-level multipliers.
BASE_HAZARD = 0.0011
# Share of customers who use this SIM in spells (multi-SIM households are common in prepaid).
ROTATOR_SHARE = 0.35


@dataclass(frozen=True)
class Population:
    """One entry per customer, in signup order."""

    customer_id: np.ndarray
    signup_day: np.ndarray  # days from the start; negative: signed up before it
    segment: np.ndarray
    region: np.ndarray
    engagement: np.ndarray
    price_sensitivity: np.ndarray
    data_mb: np.ndarray  # typical data MB per day
    voice_min: np.ndarray
    sms: np.ndarray
    sessions: np.ndarray  # app sessions per day
    click_rate: np.ndarray  # chance that an offer impression is clicked
    category_logit: np.ndarray  # (customers, 3)
    validity_taste: np.ndarray
    hazard: np.ndarray  # daily disengagement hazard of a long-tenured customer
    rotator: np.ndarray  # bool: a second SIM, used in spells with weeks of silence between
    surge: np.ndarray  # bool: joins the data-usage surge of the drift scenario

    def __len__(self) -> int:
        return len(self.customer_id)


def _signup_days(n: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted signup days: ~60% in the three years before day 0, the rest uniform over the period."""
    before = rng.random(n) < PRE_EXISTING_SHARE
    day = np.where(before, -rng.integers(1, HISTORY_DAYS + 1, n), rng.integers(0, days, n))
    return np.sort(day)


def draw_population(n: int, days: int, rng: np.random.Generator) -> Population:
    """Draw ``n`` customers for a period of ``days`` days."""
    signup = _signup_days(n, days, rng)
    segment = rng.choice(3, size=n, p=_SEGMENT_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_SHARE)
    engagement = rng.lognormal(0.0, 0.5, n)
    price = rng.beta(_PRICE_A[segment], _PRICE_B[segment])
    data = _DATA_MB[segment] * _REGION_DATA[region] * engagement**0.5 * rng.lognormal(0.0, 0.6, n)
    voice = _VOICE_MIN[segment] * rng.lognormal(0.0, 0.7, n)
    taste = np.log(_CATEGORY_SHARE[segment]) + rng.normal(0.0, 0.6, (n, 3))
    taste[:, 1] += 0.6 * np.log(voice / np.median(voice))  # talkers like voice packs
    hazard = BASE_HAZARD * np.exp(1.4 * (price - 0.45)) * engagement**-0.7 * rng.lognormal(0.0, 0.3, n)
    return Population(
        customer_id=np.arange(FIRST_CUSTOMER_ID, FIRST_CUSTOMER_ID + n, dtype=np.int64),
        signup_day=signup,
        segment=segment,
        region=region,
        engagement=engagement,
        price_sensitivity=price,
        data_mb=data,
        voice_min=voice,
        sms=_SMS[segment] * rng.lognormal(0.0, 0.5, n),
        sessions=_SESSIONS[segment] * engagement,
        click_rate=np.clip(0.07 * engagement**0.4 * rng.lognormal(0.0, 0.4, n), 0.005, 0.5),
        category_logit=taste,
        validity_taste=_VALIDITY_TASTE[segment] - 0.6 * price + rng.normal(0.0, 0.2, n),
        hazard=hazard,
        rotator=rng.random(n) < ROTATOR_SHARE,
        surge=rng.random(n) < 0.7,
    )


def customers_table(population: Population, rows: slice, start: dt.date) -> pa.Table:
    """The ``customers`` rows of a slice of the population."""
    epoch_day = (start - dt.date(1970, 1, 1)).days
    return pa.table(
        {
            "customer_id": pa.array(population.customer_id[rows], pa.int64()),
            "signup_date": pa.array((population.signup_day[rows] + epoch_day).astype(np.int32), pa.date32()),
            "segment": pa.array(SEGMENTS, pa.string()).take(pa.array(population.segment[rows])),
            "region": pa.array(REGIONS, pa.string()).take(pa.array(population.region[rows])),
        }
    )
