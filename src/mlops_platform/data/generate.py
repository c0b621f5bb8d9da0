"""Seeded demo data of a prepaid telco: customers, products, usage, purchases, app events.

The simulation walks day by day and is vectorised over customers. Each customer holds a pack;
as it runs out (validity over or data quota used up) a purchase becomes likely, and the pack
chosen depends on segment, usage and recent offer clicks. A hidden disengagement process drives
churn: after its onset usage fades over a few weeks and then stops for good (some customers
leave at once). Temporary dips, and weeks-long silent spells of customers who use a second SIM,
end in recovery: churn is learnable but not trivial.
With ``drift_from`` the behaviour shifts from that day on: a data-usage surge (fewer calls and
texts), new prices, and more but less clicky app sessions.
The same config and seed always give the same tables.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mlops_platform.data.catalogue import Shoppers, build_catalogue, choose_products
from mlops_platform.data.population import Population, customers_table, draw_population
from mlops_platform.data.raw import write_raw
from mlops_platform.data.schemas import EVENT_TYPES
from mlops_platform.errors import InputError
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)

NEVER = 1 << 30
MAX_CUSTOMERS = 5_000_000
MAX_DAYS = 3660
_EPOCH = dt.date(1970, 1, 1)
_US_PER_DAY = 86_400 * 1_000_000
# Weekly profiles (Monday first): data and voice per segment, app sessions for everyone.
_WEEK_DATA = np.array(
    [[0.93, 0.93, 0.95, 0.97, 1.05, 1.1, 1.07], [1.05, 1.05, 1.05, 1.05, 1.0, 0.85, 0.8],
     [1.0, 1.0, 1.0, 1.0, 1.03, 1.05, 1.0]]
)  # fmt: skip
_WEEK_VOICE = np.array(
    [[1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.1], [1.15, 1.15, 1.15, 1.15, 1.1, 0.6, 0.5],
     [1.05, 1.05, 1.05, 1.05, 1.05, 0.9, 0.85]]
)  # fmt: skip
_WEEK_SESSIONS = np.array([0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.05])
_HOUR_SHARE = np.array(
    [1, 0.6, 0.4, 0.3, 0.4, 0.8, 1.5, 2.5, 3, 3, 3, 3.2, 3.5, 3.2, 3, 3, 3.2, 3.6, 4.2, 4.8, 5.2, 5, 4, 2.2]
)
_HOUR_SHARE = _HOUR_SHARE / _HOUR_SHARE.sum()


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate: ``customers`` over ``days`` days from ``start``, seeded by ``seed``."""

    customers: int
    days: int
    seed: int
    start: dt.date
    drift_from: dt.date | None = None

    def __post_init__(self) -> None:
        for option, value, top in (
            ("customers", self.customers, MAX_CUSTOMERS),
            ("days", self.days, MAX_DAYS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= top:
                raise InputError(f"--{option} must be a whole number from 1 to {top:,}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"--seed must be a whole number >= 0, got {self.seed!r}")
        if not isinstance(self.start, dt.date):
            raise InputError(f"--start must be a date, got {self.start!r}")
        if self.drift_from is not None and not self.start < self.drift_from <= self.last_day:
            raise InputError(
                f"--drift-from {self.drift_from} must fall after --start {self.start} and "
                f"on or before the last generated day {self.last_day}"
            )

    @property
    def last_day(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    @property
    def drift_day(self) -> int | None:
        """Index of the first drifted day, or None without drift."""
        return None if self.drift_from is None else (self.drift_from - self.start).days


@dataclass(frozen=True)
class DayTables:
    """The raw tables of one day (``products`` only on the days a catalogue comes into force)."""

    day: dt.date
    tables: dict[str, pa.Table]


@dataclass(frozen=True)
class GenerationSummary:
    """What a run produced."""

    config: GeneratorConfig
    rows: dict[str, int]
    churned: int = 0
    active_at_end: int = 0

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        cfg = self.config
        drift = f", drift from {cfg.drift_from}" if cfg.drift_from else ""
        head = [
            f"generated {cfg.start} .. {cfg.last_day} ({cfg.days} days, seed {cfg.seed}{drift})",
            f"customers: {cfg.customers:,} ({self.churned:,} churned, {self.active_at_end:,} active at the end)",
        ]
        return head + [f"  {name:<13}{count:>12,} rows" for name, count in self.rows.items()]


def _seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds into the day, following a daily rhythm (quiet nights, busy evenings)."""
    hour = rng.choice(24, size=n, p=_HOUR_SHARE)
    return hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, n)


def _timestamps(day_index: int, micros: np.ndarray) -> pa.Array:
    return pa.array(day_index * _US_PER_DAY + micros.astype(np.int64), pa.int64()).cast(pa.timestamp("us"))


class TelcoSimulator:
    """The day-by-day simulation behind :func:`generate_day_tables`.

    After a run, ``onset_day`` and ``churn_day`` (day indices, ``NEVER`` if none) hold the hidden
    truth, for tests and benchmarks.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self._rng = np.random.default_rng(config.seed)
        self.population: Population = draw_population(config.customers, config.days, self._rng)
        self.catalogue = build_catalogue()
        self._new_catalogue = self.catalogue.repriced(self._rng)
        n = config.customers
        self.onset_day = np.full(n, NEVER, dtype=np.int64)
        self.churn_day = np.full(n, NEVER, dtype=np.int64)
        self._dip_end = np.full(n, -1, dtype=np.int64)
        self._dip_depth = np.ones(n)
        self._off_until = np.full(n, -1, dtype=np.int64)
        self._pack = np.full(n, -1, dtype=np.int64)
        self._expiry = np.maximum(self.population.signup_day, 0)
        self._quota = np.zeros((n, 2))  # data MB, voice minutes of the pack held
        self._used = np.zeros((n, 2))
        self._click_day = np.full(n, -NEVER, dtype=np.int64)
        self._clicked = np.full(n, -1, dtype=np.int64)
        self._next_transaction = 1
        self._next_day = 0
        self._start_packs()
        self._start_declines()

    # -- set-up ----------------------------------------------------------------------------
    def _shoppers(self, who: np.ndarray, t: int) -> Shoppers:
        pop = self.population
        recent = t - self._click_day[who] <= 3
        return Shoppers(
            category_logit=pop.category_logit[who],
            data_mb_per_day=pop.data_mb[who] * self._surge(t, who),
            voice_min_per_day=pop.voice_min[who],
            price_sensitivity=pop.price_sensitivity[who],
            validity_taste=pop.validity_taste[who],
            current=self._pack[who],
            clicked=np.where(recent, self._clicked[who], -1),
        )

    def _start_packs(self) -> None:
        """Customers who signed up before the start hold a pack part-way through its validity."""
        who = np.flatnonzero(self.population.signup_day < 0)
        choice = choose_products(self.catalogue, self._shoppers(who, 0), self._rng)
        validity = self.catalogue.validity_days[choice]
        left = self._rng.integers(1, validity + 1)
        self._give_pack(who, choice, np.ones(len(who), dtype=np.int64), left)
        self._used[who, 0] = self.population.data_mb[who] * (validity - left)
        self._used[who, 1] = self.population.voice_min[who] * (validity - left)

    def _start_declines(self) -> None:
        """Some existing customers are already fading at the start (as if the process ran before)."""
        pop = self.population
        fading = (pop.signup_day < -30) & (self._rng.random(len(pop)) < pop.hazard * 30)
        onset = -self._rng.integers(1, 30, len(pop))
        self.onset_day[fading] = onset[fading]
        self.churn_day[fading] = np.maximum(onset + self._rng.integers(14, 43, len(pop)), 1)[fading]

    def _give_pack(self, who: np.ndarray, choice: np.ndarray, quantity: np.ndarray, until: np.ndarray) -> None:
        """A new pack replaces the one held (leftovers are lost); valid before day ``until``."""
        self._pack[who] = choice
        self._expiry[who] = until
        self._quota[who, 0] = self.catalogue.data_mb[choice] * quantity
        self._quota[who, 1] = self.catalogue.voice_min[choice] * quantity
        self._used[who] = 0.0

    # -- one day -----------------------------------------------------------------------------
    def _drifted(self, t: int) -> bool:
        drift = self.config.drift_day
        return drift is not None and t >= drift

    def _surge(self, t: int, who: np.ndarray) -> np.ndarray:
        """Data-usage multiplier of customers ``who`` on day ``t``."""
        if not self._drifted(t):
            return np.ones(len(who))
        return np.where(self.population.surge[who], 1.6, 1.0)

    def _update_churn(self, t: int) -> np.ndarray:
        """Start disengagements, dips and silent spells; return who is signed up and not churned."""
        pop, rng, n = self.population, self._rng, len(self.population)
        alive = (pop.signup_day <= t) & (self.churn_day > t)
        hazard = pop.hazard * (1.0 + 2.5 * np.exp((pop.signup_day - t) / 120.0))  # short tenure: riskier
        if self._drifted(t):
            hazard *= 1.0 + 0.8 * pop.price_sensitivity
        onset = np.flatnonzero(alive & (self.onset_day == NEVER) & (rng.random(n) < hazard))
        sudden = rng.random(len(onset)) < 0.2
        self.onset_day[onset] = t
        self.churn_day[onset] = t + np.where(sudden, 0, rng.integers(14, 43, len(onset)))
        dip = np.flatnonzero(alive & (self._dip_end < t) & (rng.random(n) < 0.003))
        self._dip_end[dip] = t + rng.integers(5, 36, len(dip))
        self._dip_depth[dip] = rng.uniform(0.0, 0.6, len(dip))
        off = np.flatnonzero(alive & pop.rotator & (self._off_until < t) & (rng.random(n) < 1.0 / 30.0))
        self._off_until[off] = t + 4 + rng.geometric(1.0 / 30.0, len(off))
        return alive & (self.churn_day > t)

    def _activity(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Activity multiplier and chance of a silent day (no usage, purchase or event)."""
        started = self.onset_day <= t
        span = np.maximum(self.churn_day - self.onset_day, 1)
        progress = np.where(started, np.clip((t - self.onset_day) / span, 0.0, 1.0), 0.0)
        in_dip = self._dip_end >= t
        depth = np.where(in_dip, self._dip_depth, 1.0)
        level = (1.0 - 0.85 * progress) * depth
        silent = 0.03 + 0.7 * progress**1.5 + np.where(in_dip, 0.9 * (1.0 - depth), 0.0)
        silent[self._off_until >= t] = 1.0
        return level, silent

    def _usage(self, t: int, who: np.ndarray, level: np.ndarray) -> pa.Table:
        pop, rng, k = self.population, self._rng, len(who)
        weekday = (self.config.start + dt.timedelta(days=t)).weekday()
        seg = pop.segment[who]
        data = pop.data_mb[who] * self._surge(t, who) * _WEEK_DATA[seg, weekday] * level[who]
        data *= rng.lognormal(-0.18, 0.6, k) * (rng.random(k) >= 0.04)
        ott = 0.9 if self._drifted(t) else 1.0  # after the drift, calls and texts move to apps
        voice = pop.voice_min[who] * ott * _WEEK_VOICE[seg, weekday]
        voice *= level[who] * rng.lognormal(-0.32, 0.8, k) * (rng.random(k) >= 0.12)
        sms = rng.poisson(pop.sms[who] * level[who] * ott**3)
        self._used[who, 0] += data
        self._used[who, 1] += voice
        day_index = (self.config.start - _EPOCH).days + t
        return pa.table(
            {
                "customer_id": pa.array(pop.customer_id[who], pa.int64()),
                "date": pa.array(np.full(k, day_index, dtype=np.int32), pa.date32()),
                "data_mb": pa.array(data.astype(np.float32), pa.float32()),
                "voice_min": pa.array(voice.astype(np.float32), pa.float32()),
                "sms": pa.array(sms.astype(np.int32), pa.int32()),
            }
        )

    def _events(self, t: int, who: np.ndarray, level: np.ndarray) -> pa.Table:
        """Sessions with views and offer impressions; some impressions are clicked."""
        pop, rng = self.population, self._rng
        weekday = (self.config.start + dt.timedelta(days=t)).weekday()
        rate = pop.sessions[who] * level[who] * _WEEK_SESSIONS[weekday] * (1.35 if self._drifted(t) else 1.0)
        owner = np.repeat(who, rng.poisson(rate))
        start = _seconds(rng, len(owner))
        views = rng.poisson(1.5, len(owner))
        shows = rng.poisson(0.8, len(owner))
        view_owner = np.repeat(owner, views)
        view_ts = np.repeat(start, views) + rng.exponential(60e6, len(view_owner)).astype(np.int64)
        show_owner = np.repeat(owner, shows)
        show_ts = np.repeat(start, shows) + rng.exponential(90e6, len(show_owner)).astype(np.int64)
        held = self._pack[show_owner]
        own = (rng.random(len(show_owner)) < 0.5) & (held >= 0)
        shown = np.where(own, held, rng.integers(0, len(self.catalogue), len(show_owner)))
        chance = pop.click_rate[show_owner] * level[show_owner] * np.where(shown == held, 1.8, 0.7)
        clicked = rng.random(len(show_owner)) < chance * (0.75 if self._drifted(t) else 1.0)
        self._click_day[show_owner[clicked]] = t
        self._clicked[show_owner[clicked]] = shown[clicked]
        click_ts = show_ts[clicked] + rng.exponential(20e6, int(clicked.sum())).astype(np.int64)
        parts = [
            (owner, start, 0, None),
            (view_owner, view_ts, 1, None),
            (show_owner[clicked], click_ts, 2, shown[clicked]),
            (show_owner, show_ts, 3, shown),
        ]
        ids = np.concatenate([pop.customer_id[p[0]] for p in parts])
        micros = np.minimum(np.concatenate([p[1] for p in parts]), _US_PER_DAY - 1)
        kinds = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
        product = np.concatenate([np.full(len(p[0]), -1) if p[3] is None else p[3] for p in parts])
        product_id = np.where(product >= 0, self.catalogue.product_id[np.maximum(product, 0)], 0)
        return pa.table(
            {
                "customer_id": pa.array(ids, pa.int64()),
                "ts": _timestamps((self.config.start - _EPOCH).days + t, micros),
                "event_type": pa.array(EVENT_TYPES, pa.string()).take(pa.array(kinds)),
                "product_id": pa.array(product_id, pa.int64(), mask=product < 0),
            }
        )

    def _purchases(self, t: int, who: np.ndarray, level: np.ndarray) -> pa.Table:
        """Buy when the pack runs out (or after a click); the choice follows taste and usage."""
        pop, rng = self.population, self._rng
        left = self._expiry[who] - t
        quota, used = self._quota[who], self._used[who]
        spent = np.where(quota[:, 0] > 0, used[:, 0] >= quota[:, 0], (quota[:, 1] > 0) & (used[:, 1] >= quota[:, 1]))
        need = (left <= 0) | spent
        logit = -5.0 + 5.5 * need + 1.6 * (~need & (left <= 1)) + 1.5 * (t - self._click_day[who] <= 3)
        logit += 0.5 * np.log(pop.engagement[who]) - 1.5 * (pop.price_sensitivity[who] - 0.4)
        logit += 1.5 * np.log(np.maximum(level[who], 0.05))
        if self._drifted(t):
            logit -= 0.3 * pop.price_sensitivity[who]
        buyers = who[rng.random(len(who)) < 1.0 / (1.0 + np.exp(-logit))]
        catalogue = self._new_catalogue if self._drifted(t) else self.catalogue
        choice = choose_products(catalogue, self._shoppers(buyers, t), rng)
        quantity = rng.choice(np.array([1, 2, 3]), size=len(buyers), p=[0.93, 0.06, 0.01])
        micros = _seconds(rng, len(buyers))
        self._give_pack(buyers, choice, quantity, t + catalogue.validity_days[choice] * quantity)
        order = np.argsort(micros, kind="stable")
        ids = np.arange(self._next_transaction, self._next_transaction + len(buyers), dtype=np.int64)
        self._next_transaction += len(buyers)
        return pa.table(
            {
                "transaction_id": pa.array(ids, pa.int64()),
                "customer_id": pa.array(pop.customer_id[buyers[order]], pa.int64()),
                "product_id": pa.array(catalogue.product_id[choice[order]], pa.int64()),
                "ts": _timestamps((self.config.start - _EPOCH).days + t, micros[order]),
                "quantity": pa.array(quantity[order].astype(np.int32), pa.int32()),
                "amount_idr": pa.array(catalogue.price_idr[choice[order]] * quantity[order], pa.float64()),
            }
        )

    def day(self, t: int) -> DayTables:
        """Simulate day ``t`` (days must be taken in order, from 0) and return its tables."""
        if t != self._next_day:
            raise ValueError(f"day {t} requested but the simulation is at day {self._next_day}")
        self._next_day += 1
        alive = self._update_churn(t)
        level, silent = self._activity(t)
        who = np.flatnonzero(alive & (self._rng.random(len(alive)) >= silent))
        signup = self.population.signup_day
        first = 0 if t == 0 else int(np.searchsorted(signup, t, side="left"))
        joined = slice(first, int(np.searchsorted(signup, t, side="right")))
        tables = {"customers": customers_table(self.population, joined, self.config.start)}
        if t == 0:
            tables["products"] = self.catalogue.to_table()
        if t == self.config.drift_day:
            tables["products"] = self._new_catalogue.to_table()
        tables["usage"] = self._usage(t, who, level)
        tables["events"] = self._events(t, who, level)
        tables["transactions"] = self._purchases(t, who, level)
        return DayTables(self.config.start + dt.timedelta(days=t), tables)

    def run(self) -> Iterator[DayTables]:
        """Every day of the period, in order."""
        for t in range(self.config.days):
            yield self.day(t)

    def summary(self, rows: dict[str, int]) -> GenerationSummary:
        days = self.config.days
        signed = self.population.signup_day < days
        return GenerationSummary(
            config=self.config,
            rows=dict(sorted(rows.items())),
            churned=int(np.sum(signed & (self.churn_day < days))),
            active_at_end=int(np.sum(signed & (self.churn_day >= days))),
        )


def generate_day_tables(config: GeneratorConfig) -> Iterator[DayTables]:
    """The demo tables of every day, in memory (no lake needed)."""
    return TelcoSimulator(config).run()


def generate_to_store(
    store: ObjectStore, config: GeneratorConfig, on_day: Callable[[dt.date], None] | None = None
) -> GenerationSummary:
    """Generate the demo data and write one raw partition per table and day.

    Args:
        store: the lake to write to; partitions of the same dates are replaced.
        config: what to generate.
        on_day: called with each date once its partitions are committed (for progress bars).

    Returns:
        Row counts per table and churn figures.
    """
    simulator = TelcoSimulator(config)
    rows: Counter[str] = Counter()
    for day_tables in simulator.run():
        for name, table in day_tables.tables.items():
            write_raw(store, name, day_tables.day, table)
            rows[name] += table.num_rows
        if on_day is not None:
            on_day(day_tables.day)
    _logger.info("generated %s rows into %s", dict(rows), store.uri)
    return simulator.summary(dict(rows))
