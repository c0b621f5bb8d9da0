"""The /predict batcher: requests arriving during a call share the next call; answers keep their order."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pytest

from mlops_platform.serving.batcher import Batcher
from mlops_platform.serving.tables import ScoreTable


class Doubler:
    """A stand-in model: score = 2 x tenure_days; records the length of every call."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail
        self.gate = threading.Event()

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.calls.append(len(frame))
        if len(self.calls) == 1:
            self.gate.wait(5)  # hold the first call so the next requests queue up behind it
        if self.fail:
            raise RuntimeError("booster exploded")
        return pd.DataFrame({"score": frame["tenure_days"].to_numpy() * 2}, index=frame.index)


def table(model: Doubler) -> ScoreTable:
    schema = pa.schema([("tenure_days", pa.float64())])
    return ScoreTable("churn", "1", dt.date(2025, 3, 1), "now", {}, {}, model, schema)  # type: ignore[arg-type]


async def submit_all(batcher: Batcher, served: ScoreTable, model: Doubler, sizes: list[int]) -> list:
    """Submit the first request, let its call start, then submit the others while it runs."""
    futures = []
    for i, n in enumerate(sizes):
        futures.append(batcher.submit(served, [{"tenure_days": float(10 * i + j)} for j in range(n)]))
        if i == 0:
            await asyncio.sleep(0.1)
    model.gate.set()
    return await asyncio.gather(*futures, return_exceptions=True)


def test_requests_queued_behind_a_running_call_are_scored_together_in_order() -> None:
    model = Doubler()
    batcher = Batcher(ThreadPoolExecutor(2), max_rows=100)
    answers = asyncio.run(submit_all(batcher, table(model), model, [1, 2, 3, 1]))
    assert model.calls == [1, 6]  # the first alone (nothing was waiting), the other three in one call
    assert answers == [
        [{"score": 0.0}],
        [{"score": 20.0}, {"score": 22.0}],
        [{"score": 40.0}, {"score": 42.0}, {"score": 44.0}],
        [{"score": 60.0}],
    ]


def test_a_call_never_exceeds_max_rows_but_takes_at_least_one_request() -> None:
    model = Doubler()
    batcher = Batcher(ThreadPoolExecutor(2), max_rows=3)
    asyncio.run(submit_all(batcher, table(model), model, [1, 2, 2, 5]))
    assert model.calls == [1, 2, 2, 5]


def test_a_failing_call_fails_each_of_its_requests_and_the_batcher_recovers() -> None:
    model = Doubler(fail=True)
    batcher = Batcher(ThreadPoolExecutor(2))
    answers = asyncio.run(submit_all(batcher, table(model), model, [1, 1]))
    assert all(isinstance(a, RuntimeError) for a in answers)
    model.fail = False
    again = asyncio.run(submit_all(batcher, table(model), model, [1]))
    assert again == [[{"score": 0.0}]]


@pytest.mark.timeout(30)
def test_an_idle_batcher_adds_no_wait() -> None:
    model = Doubler()
    model.gate.set()
    batcher = Batcher(ThreadPoolExecutor(2))

    async def one() -> float:
        started = time.perf_counter()
        await batcher.submit(table(model), [{"tenure_days": 1.0}])
        return time.perf_counter() - started

    assert asyncio.run(one()) < 1.0
