"""The feature windows of a snapshot date and the raw reads they need (the scan plan).

Each raw fact table is split at the start of its feature windows: the recent partitions (the
last 28 days of usage, the last 7 of events, the 90 of transactions) feed the features; the
older partitions of the activity window are read only for the population rule (customer ids,
and usage values to skip all-zero rows). Every partition is read once, with only the columns
its part of the snapshot needs, and none dated D or later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mlops_platform.config import FeatureSettings


@dataclass(frozen=True)
class Windows:
    """The first day of each feature window of snapshot date ``day`` (every window ends at day-1)."""

    day: dt.date
    activity: dt.date
    rfm: dt.date
    arpu: dt.date
    short: dt.date
    long: dt.date
    events: dt.date

    @classmethod
    def of(cls, settings: FeatureSettings, day: dt.date) -> Windows:
        def back(days: int) -> dt.date:
            return day - dt.timedelta(days=days)

        return cls(
            day=day,
            activity=back(settings.activity_window_days),
            rfm=back(settings.rfm_window_days),
            arpu=back(settings.arpu_window_days),
            short=back(settings.usage_short_days),
            long=back(settings.usage_long_days),
            events=back(settings.events_window_days),
        )

    @property
    def usage_recent(self) -> dt.date:
        """First day of the usage feature windows (earlier usage only decides the population)."""
        return min(self.short, self.long)

    @property
    def transactions_start(self) -> dt.date:
        """First day of transactions read (all of them feed features)."""
        return min(self.activity, self.rfm, self.arpu)


@dataclass(frozen=True)
class Scan:
    """One read of the snapshot: partitions ``start <= date < end`` of ``table`` as view ``view``."""

    view: str
    table: str
    columns: tuple[str, ...]
    start: dt.date
    end: dt.date


def scan_plan(settings: FeatureSettings, day: dt.date) -> list[Scan]:
    """Every raw read of the snapshot of ``day``; together they cover days D-N .. D-1 only."""
    w = Windows.of(settings, day)
    older_usage_end = max(w.activity, w.usage_recent)
    older_events_end = max(w.activity, w.events)
    return [
        Scan("usage", "usage", ("customer_id", "date", "data_mb", "voice_min", "sms"), w.usage_recent, day),
        Scan(
            "usage_older",
            "usage",
            ("customer_id", "data_mb", "voice_min", "sms"),
            w.activity,
            older_usage_end,
        ),
        Scan("events", "events", ("customer_id", "ts", "event_type"), w.events, day),
        Scan("events_older", "events", ("customer_id",), w.activity, older_events_end),
        Scan(
            "transactions",
            "transactions",
            ("customer_id", "product_id", "ts", "amount_idr"),
            w.transactions_start,
            day,
        ),
    ]
