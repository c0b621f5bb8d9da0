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

The options and results live in ``generator_types``, the simulation in ``simulator`` (its
calendar profiles in ``rhythm``); this module runs it in memory or into the lake.

A generated lake is marked as a demo lake by ``_demo.json`` at its root (the options it was
generated with). Only a marked lake is ever extended (``extend_demo_lake``: the same simulation
run on past its last day, so each new day is the same whatever day it is added on); a lake
without the marker is real data and is never touched here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator

from mlops_platform.data.generator_types import MAX_CUSTOMERS, MAX_DAYS, DayTables, GenerationSummary, GeneratorConfig
from mlops_platform.data.raw import raw_dates, write_raw
from mlops_platform.data.simulator import NEVER, TelcoSimulator
from mlops_platform.errors import InputError
from mlops_platform.storage import ObjectStore

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_DAYS",
    "NEVER",
    "DayTables",
    "GenerationSummary",
    "GeneratorConfig",
    "DEMO_MARKER",
    "TelcoSimulator",
    "demo_config",
    "extend_demo_lake",
    "generate_day_tables",
    "generate_to_store",
]

_logger = logging.getLogger(__name__)

DEMO_MARKER = "_demo.json"


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
    write_demo_marker(store, config)
    _logger.info("generated %s rows into %s", dict(rows), store.uri)
    return simulator.summary(dict(rows))


def write_demo_marker(store: ObjectStore, config: GeneratorConfig) -> None:
    """Mark ``store`` as a demo lake generated with ``config`` (``_demo.json`` at its root)."""
    payload = {
        "generator": "mlops data generate",
        "customers": config.customers,
        "days": config.days,
        "seed": config.seed,
        "start": config.start.isoformat(),
        "drift_from": None if config.drift_from is None else config.drift_from.isoformat(),
    }
    store.put_bytes(DEMO_MARKER, json.dumps(payload, indent=1).encode())


def demo_config(store: ObjectStore) -> GeneratorConfig | None:
    """The options a demo lake was generated with; None for a lake without ``_demo.json`` (real data).

    Raises:
        InputError: the marker is there but unreadable.
    """
    raw = store.get_bytes_if_exists(DEMO_MARKER)
    if raw is None:
        return None
    try:
        payload = json.loads(raw)
        drift = payload.get("drift_from")
        return GeneratorConfig(
            customers=int(payload["customers"]),
            days=int(payload["days"]),
            seed=int(payload["seed"]),
            start=dt.date.fromisoformat(payload["start"]),
            drift_from=None if drift is None else dt.date.fromisoformat(drift),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{store.url(DEMO_MARKER)} is not a demo-lake marker: {exc}") from None


def extend_demo_lake(
    store: ObjectStore, through: dt.date, on_day: Callable[[dt.date], None] | None = None
) -> list[dt.date]:
    """Add the raw days after a demo lake's newest one, up to ``through``; return the days written.

    The simulation of the marker's options is run from its first day on (it continues past its
    last generated day), and only the days after the newest committed ``raw/transactions``
    partition are written: days already in the lake are left as they are.

    Raises:
        InputError: ``store`` has no demo marker (a real lake is never extended).
    """
    config = demo_config(store)
    if config is None:
        raise InputError(f"{store.url('')} has no {DEMO_MARKER}: not a demo lake, so it is not extended")
    committed = raw_dates(store, "transactions")
    newest = committed[-1] if committed else config.start - dt.timedelta(days=1)
    if through <= newest:
        return []
    simulator = TelcoSimulator(config)
    written: list[dt.date] = []
    for t in range((through - config.start).days + 1):
        day_tables = simulator.day(t)
        if day_tables.day <= newest:
            continue
        for name, table in day_tables.tables.items():
            write_raw(store, name, day_tables.day, table)
        written.append(day_tables.day)
        if on_day is not None:
            on_day(day_tables.day)
    _logger.info("extended the demo lake %s by %d day(s) through %s", store.uri, len(written), through)
    return written
