"""The day-by-day simulation of a prepaid telco behind ``mlops data generate``.

The simulation is vectorised over customers. Each customer holds a pack; as it runs out
(validity over or data quota used up) a purchase becomes likely, and the pack chosen depends on
segment, usage and recent offer clicks. A hidden disengagement process drives churn: after its
onset usage fades over a few weeks and then stops for good (some customers leave at once).
Temporary dips, and weeks-long silent spells of customers who use a second SIM, end in
recovery. With ``drift_from`` the behaviour shifts from that day on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from mlops_platform.data.catalogue import Shoppers, build_catalogue, choose_products
from mlops_platform.data.generator_types import DayTables, GenerationSummary, GeneratorConfig
from mlops_platform.data.population import Population, customers_table, draw_population
from mlops_platform.data.rhythm import (
    EPOCH,
    US_PER_DAY,
    WEEK_DATA,
    WEEK_SESSIONS,
    WEEK_VOICE,
    micros_in_day,
    timestamps_of_day,
)
from mlops_platform.data.schemas import EVENT_TYPES

NEVER = 1 << 30


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
        data = pop.data_mb[who] * self._surge(t, who) * WEEK_DATA[seg, weekday] * level[who]
        data *= rng.lognormal(-0.18, 0.6, k) * (rng.random(k) >= 0.04)
        ott = 0.9 if self._drifted(t) else 1.0  # after the drift, calls and texts move to apps
        voice = pop.voice_min[who] * ott * WEEK_VOICE[seg, weekday]
        voice *= level[who] * rng.lognormal(-0.32, 0.8, k) * (rng.random(k) >= 0.12)
        sms = rng.poisson(pop.sms[who] * level[who] * ott**3)
        self._used[who, 0] += data
        self._used[who, 1] += voice
        day_index = (self.config.start - EPOCH).days + t
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
        rate = pop.sessions[who] * level[who] * WEEK_SESSIONS[weekday] * (1.35 if self._drifted(t) else 1.0)
        owner = np.repeat(who, rng.poisson(rate))
        start = micros_in_day(rng, len(owner))
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
        micros = np.minimum(np.concatenate([p[1] for p in parts]), US_PER_DAY - 1)
        kinds = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
        product = np.concatenate([np.full(len(p[0]), -1) if p[3] is None else p[3] for p in parts])
        product_id = np.where(product >= 0, self.catalogue.product_id[np.maximum(product, 0)], 0)
        return pa.table(
            {
                "customer_id": pa.array(ids, pa.int64()),
                "ts": timestamps_of_day((self.config.start - EPOCH).days + t, micros),
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
        micros = micros_in_day(rng, len(buyers))
        self._give_pack(buyers, choice, quantity, t + catalogue.validity_days[choice] * quantity)
        order = np.argsort(micros, kind="stable")
        ids = np.arange(self._next_transaction, self._next_transaction + len(buyers), dtype=np.int64)
        self._next_transaction += len(buyers)
        return pa.table(
            {
                "transaction_id": pa.array(ids, pa.int64()),
                "customer_id": pa.array(pop.customer_id[buyers[order]], pa.int64()),
                "product_id": pa.array(catalogue.product_id[choice[order]], pa.int64()),
                "ts": timestamps_of_day((self.config.start - EPOCH).days + t, micros[order]),
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
