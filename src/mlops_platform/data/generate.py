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
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator

from mlops_platform.data.generator_types import MAX_CUSTOMERS, MAX_DAYS, DayTables, GenerationSummary, GeneratorConfig
from mlops_platform.data.raw import write_raw
from mlops_platform.data.simulator import NEVER, TelcoSimulator
from mlops_platform.storage import ObjectStore

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_DAYS",
    "NEVER",
    "DayTables",
    "GenerationSummary",
    "GeneratorConfig",
    "TelcoSimulator",
    "generate_day_tables",
    "generate_to_store",
]

_logger = logging.getLogger(__name__)


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
