"""Writing an import: the raw tables cut into daily partitions and committed by a few threads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed

import numpy as np
import pyarrow as pa

from mlops_platform.data.import_tables import RawImport
from mlops_platform.data.raw import write_raw
from mlops_platform.storage import Manifest, ObjectStore

# Partitions written at once: writes mostly wait on the disk or the network.
WRITE_WORKERS = 4
Job = tuple[str, dt.date, pa.Table]
# Wraps the partition jobs, e.g. in a progress bar: progress(jobs, total) -> jobs.
Progress = Callable[[Iterable[Job], int], Iterable[Job]]


def split_by_day(table: pa.Table, column: str) -> Iterator[tuple[dt.date, pa.Table]]:
    """Zero-copy slices of ``table`` (sorted by ``column``) per calendar day of ``column``."""
    days = table.column(column).to_numpy().astype("datetime64[D]")
    if not len(days):
        return
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    ends = np.r_[starts[1:], len(days)]
    for start, end in zip(starts, ends, strict=True):
        yield days[start].astype(dt.date), table.slice(int(start), int(end - start))


def partitions(raw: RawImport) -> list[Job]:
    """Every partition the import writes: the catalogue, the customers and transactions per day.

    A day without invoices (a closed shop, a holiday) gets an empty transactions partition:
    the source says nothing was sold that day, and label horizons need every day committed.
    """
    jobs: list[Job] = []
    if raw.counts.first_day is not None:
        jobs.append(("products", raw.counts.first_day, raw.products))
    jobs += [("customers", day, part) for day, part in split_by_day(raw.customers, "signup_date")]
    by_day = dict(split_by_day(raw.transactions, "ts"))
    if by_day:
        first, last = min(by_day), max(by_day)
        empty = raw.transactions.slice(0, 0)
        for offset in range((last - first).days + 1):
            day = first + dt.timedelta(days=offset)
            jobs.append(("transactions", day, by_day.get(day, empty)))
    return jobs


def write_import(
    store: ObjectStore,
    raw: RawImport,
    progress: Progress | None = None,
    writer: str | None = None,
    workers: int = WRITE_WORKERS,
) -> int:
    """Commit every partition of ``raw`` with a few writer threads; returns how many.

    Each partition commits atomically on its own; ``progress(done, total)`` wraps the
    partitions as they finish (e.g. in a progress bar).
    """
    jobs = partitions(raw)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {
            pool.submit(write_raw, store, name, day, part, writer): (name, day, part) for name, day, part in jobs
        }
        done = (futures[f] for f in _finished(futures))
        try:
            for _ in progress(done, len(jobs)) if progress else done:
                pass
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # stop at the first failure
            raise
    return len(jobs)


def _finished(futures: Iterable[Future[Manifest]]) -> Iterator[Future[Manifest]]:
    """The futures as they complete; the first failure is raised."""
    for future in as_completed(futures):
        future.result()
        yield future
