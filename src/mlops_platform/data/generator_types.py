"""What the demo-data generator is asked for and what it hands back.

:class:`GeneratorConfig` checks the options of ``mlops data generate``; :class:`DayTables` holds
the raw tables of one simulated day; :class:`GenerationSummary` reports what a run produced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from mlops_platform.errors import InputError

MAX_CUSTOMERS = 5_000_000
MAX_DAYS = 3660


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
