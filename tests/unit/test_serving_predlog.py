"""The prediction log: batches as distinct atomic partitions, nothing lost on a failed write or at close."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mlops_platform.serving.metrics import ServingMetrics
from mlops_platform.serving.predlog import PredictionLog, Row, read_log, row_hash
from mlops_platform.storage import ObjectStore

DAY = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)


def rows(n: int, start: int = 0, when: dt.datetime = DAY) -> list[Row]:
    return [(f"r{i}", i, None, "3", i / 100, None, 0.2, when) for i in range(start, start + n)]


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(f"file://{tmp_path / 'lake'}")


def test_each_flush_writes_a_new_batch_and_replaces_none(store: ObjectStore) -> None:
    log = PredictionLog(store, ServingMetrics())
    log.append("churn", rows(3))
    assert log.flush() == 3
    log.append("churn", rows(2, start=3))
    assert log.flush() == 2
    assert log.flush() == 0
    batches = store.list_dirs("predictions/churn/date=2025-03-01")
    assert len(batches) == 2 and all(b.startswith("batch=") for b in batches)
    table = read_log(store, "churn", DAY.date())
    assert sorted(table.column("customer_id").to_pylist()) == [0, 1, 2, 3, 4]
    assert table.column("version").to_pylist() == ["3"] * 5


def test_answers_are_partitioned_by_their_utc_day_and_model(store: ObjectStore) -> None:
    log = PredictionLog(store, ServingMetrics())
    log.append("churn", rows(2) + rows(1, start=9, when=DAY + dt.timedelta(days=1)))
    log.append("recommender", rows(4))
    assert log.flush() == 7
    assert read_log(store, "churn", DAY.date()).num_rows == 2
    assert read_log(store, "churn", DAY.date() + dt.timedelta(days=1)).num_rows == 1
    assert read_log(store, "recommender", DAY.date()).num_rows == 4
    assert read_log(store, "conversion", DAY.date()).num_rows == 0


def test_rows_of_a_failed_write_stay_buffered_and_are_written_next_time(store: ObjectStore, monkeypatch) -> None:
    metrics = ServingMetrics()
    log = PredictionLog(store, metrics)
    log.append("churn", rows(3))
    real = store.write_partition

    def failing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(store, "write_partition", failing)
    assert log.flush() == 0
    assert log.pending == 3
    log.append("churn", rows(1, start=3))
    monkeypatch.setattr(store, "write_partition", real)
    assert log.close() == 4
    assert log.pending == 0
    assert sorted(read_log(store, "churn", DAY.date()).column("customer_id").to_pylist()) == [0, 1, 2, 3]
    assert metrics.pending._value.get() == 0
    assert metrics.logged._value.get() == 4


def test_close_writes_what_the_flush_thread_did_not(store: ObjectStore) -> None:
    log = PredictionLog(store, ServingMetrics(), flush_seconds=3600).start()
    log.append("churn", rows(5))
    assert log.close() == 5
    assert read_log(store, "churn", DAY.date()).num_rows == 5


def test_a_row_hash_ignores_key_order() -> None:
    assert row_hash({"a": 1, "b": "x"}) == row_hash({"b": "x", "a": 1})
    assert row_hash({"a": 1}) != row_hash({"a": 2})
