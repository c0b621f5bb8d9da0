"""The demo telco's product catalogue and how a customer picks a pack from it.

The catalogue is fixed (no randomness): prepaid data, voice and combo packs with validities of
1 to 30 days and prices in IDR from a simple tariff curve (bigger packs are cheaper per GB).
A price change (the drift scenario) is a repriced copy of the same products.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from mlops_platform.data.schemas import CATEGORIES

DATA, VOICE, COMBO = range(3)
FIRST_PRODUCT_ID = 1001

# (validity days, data GB) of the data packs.
_DATA_PACKS = [
    (1, 0.5), (1, 1), (1, 2), (1, 5),
    (3, 1.5), (3, 3), (3, 6),
    (7, 2), (7, 5), (7, 10), (7, 15),
    (14, 5), (14, 10), (14, 20),
    (30, 5), (30, 10), (30, 20), (30, 35), (30, 50), (30, 75), (30, 100),
]  # fmt: skip
# (validity days, voice minutes) of the voice packs.
_VOICE_PACKS = [
    (1, 30), (1, 60), (3, 60), (3, 120), (7, 100), (7, 250),
    (14, 200), (14, 500), (30, 300), (30, 600), (30, 1000), (30, 2000),
]  # fmt: skip
# (validity days, data GB, voice minutes) of the combo packs.
_COMBO_PACKS = [
    (1, 1, 20), (3, 2, 30), (7, 3, 60), (7, 8, 150), (14, 8, 100), (14, 15, 250),
    (30, 8, 100), (30, 15, 200), (30, 25, 400), (30, 40, 600), (30, 60, 1000), (30, 100, 1500),
    (30, 12, 60), (30, 30, 120), (14, 4, 60), (7, 1.5, 30), (3, 1, 15),
]  # fmt: skip
# Longer validity costs a little more for the same quota.
_VALIDITY_FACTOR = {1: 0.85, 3: 0.95, 7: 1.05, 14: 1.12, 30: 1.2}


def _round_price(price: np.ndarray) -> np.ndarray:
    """Round to whole thousands of rupiah, as prepaid tariffs are."""
    return np.maximum(np.round(price / 1000.0) * 1000.0, 1000.0)


def _data_price(gb: float, validity: int) -> float:
    return 6000.0 + 6500.0 * gb**0.8 * _VALIDITY_FACTOR[validity]


def _voice_price(minutes: float, validity: int) -> float:
    return 8000.0 + 95.0 * minutes**0.85 * _VALIDITY_FACTOR[validity]


@dataclass(frozen=True)
class ChoiceTerms:
    """Product-side parts of the choice score."""

    has_data: np.ndarray
    has_voice: np.ndarray
    log_data_per_day: np.ndarray
    log_voice_per_day: np.ndarray
    log_validity: np.ndarray
    log_price: np.ndarray


@dataclass(frozen=True)
class Catalogue:
    """Products as parallel arrays (index i is product ``product_id[i]``)."""

    product_id: np.ndarray
    name: tuple[str, ...]
    category: np.ndarray
    price_idr: np.ndarray
    validity_days: np.ndarray
    data_mb: np.ndarray
    voice_min: np.ndarray

    def __len__(self) -> int:
        return len(self.product_id)

    @functools.cached_property
    def choice_terms(self) -> ChoiceTerms:
        """Per-product terms of :func:`choose_products`, computed once."""
        validity = self.validity_days.astype(np.float64)
        return ChoiceTerms(
            has_data=self.data_mb > 0,
            has_voice=self.voice_min > 0,
            log_data_per_day=np.log(self.data_mb / validity + 1.0),
            log_voice_per_day=np.log(self.voice_min / validity + 1.0),
            log_validity=np.log(validity),
            log_price=np.log(self.price_idr / 10_000.0),
        )

    def to_table(self) -> pa.Table:
        """The catalogue as a ``products`` table."""
        return pa.table(
            {
                "product_id": pa.array(self.product_id, pa.int64()),
                "name": pa.array(self.name, pa.string()),
                "category": pa.array([CATEGORIES[c] for c in self.category], pa.string()),
                "price_idr": pa.array(self.price_idr, pa.float64()),
                "validity_days": pa.array(self.validity_days, pa.int32()),
                "data_mb": pa.array(self.data_mb, pa.float64()),
                "voice_min": pa.array(self.voice_min, pa.float64()),
            }
        )

    def repriced(self, rng: np.random.Generator) -> Catalogue:
        """A price change: data packs dearer, voice cheaper, combos a little dearer, with noise."""
        factor = np.array([1.18, 0.92, 1.10])[self.category] * rng.lognormal(0.0, 0.05, len(self))
        return replace(self, price_idr=_round_price(self.price_idr * factor))


def build_catalogue() -> Catalogue:
    """The fixed demo catalogue: 50 packs over the three categories."""
    rows: list[tuple[str, int, float, int, float, float]] = []
    for validity, gb in _DATA_PACKS:
        rows.append((f"Data {gb:g}GB {validity}d", DATA, _data_price(gb, validity), validity, gb * 1024, 0.0))
    for validity, minutes in _VOICE_PACKS:
        price = _voice_price(minutes, validity)
        rows.append((f"Voice {minutes}min {validity}d", VOICE, price, validity, 0.0, float(minutes)))
    for validity, gb, minutes in _COMBO_PACKS:
        price = 0.9 * _data_price(gb, validity) + 0.5 * _voice_price(minutes, validity)
        rows.append((f"Combo {gb:g}GB+{minutes}min {validity}d", COMBO, price, validity, gb * 1024, minutes))
    names, cats, prices, validities, data_mb, voice = zip(*rows, strict=True)
    return Catalogue(
        product_id=np.arange(FIRST_PRODUCT_ID, FIRST_PRODUCT_ID + len(rows), dtype=np.int64),
        name=tuple(names),
        category=np.array(cats, dtype=np.int64),
        price_idr=_round_price(np.array(prices, dtype=np.float64)),
        validity_days=np.array(validities, dtype=np.int64),
        data_mb=np.array(data_mb, dtype=np.float64),
        voice_min=np.array(voice, dtype=np.float64),
    )


@dataclass(frozen=True)
class Shoppers:
    """What drives the pack choice of the customers buying today (one entry per buyer)."""

    category_logit: np.ndarray  # (buyers, 3): taste for data / voice / combo
    data_mb_per_day: np.ndarray
    voice_min_per_day: np.ndarray
    price_sensitivity: np.ndarray
    validity_taste: np.ndarray  # > 0 prefers long validity
    current: np.ndarray  # product index of the pack held (or -1)
    clicked: np.ndarray  # product index clicked recently (or -1)


def _fit(log_quota: np.ndarray, need: np.ndarray, weight: float) -> np.ndarray:
    """Score of daily quotas against daily needs: 0 at a perfect match, falling with the log ratio."""
    return -weight * (log_quota[None, :] - np.log(need * 1.1 + 1.0)[:, None]) ** 2


def choose_products(catalogue: Catalogue, shoppers: Shoppers, rng: np.random.Generator) -> np.ndarray:
    """Pick one product index per shopper: taste, fit to usage, price, habit, clicks and noise."""
    n = len(shoppers.current)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    terms = catalogue.choice_terms
    data_fit = np.where(
        terms.has_data,
        _fit(terms.log_data_per_day, shoppers.data_mb_per_day, 0.6),
        -0.5 * np.log1p(shoppers.data_mb_per_day / 100.0)[:, None],
    )
    voice_fit = np.where(
        terms.has_voice,
        _fit(terms.log_voice_per_day, shoppers.voice_min_per_day, 0.4),
        -0.3 * np.log1p(shoppers.voice_min_per_day / 10.0)[:, None],
    )
    score = shoppers.category_logit[:, catalogue.category] + data_fit + voice_fit
    score += shoppers.validity_taste[:, None] * terms.log_validity[None, :]
    score -= 0.8 * shoppers.price_sensitivity[:, None] * terms.log_price[None, :]
    rows = np.arange(n)
    held = shoppers.current >= 0
    score[rows[held], shoppers.current[held]] += 3.0
    clicked = shoppers.clicked >= 0
    score[rows[clicked], shoppers.clicked[clicked]] += 2.5
    score += rng.gumbel(scale=0.6, size=score.shape)
    return np.argmax(score, axis=1)
