"""gc against writers: it never breaks a partition, never crashes on vanishing files, and after
it a plain parquet reader of a partition folder sees exactly the committed rows."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from mlops_platform.storage import MANIFEST, UNCOMMITTED_MIN_AGE, ObjectStore, date_partition

DAY = dt.date(2025, 3, 1)
PART = date_partition("features/customer", DAY)
NO_GRACE = dt.timedelta(0)


def _table(first: int, n: int) -> pa.Table:
    ids = list(range(first, first + n))
    return pa.table({"customer_id": pa.array(ids, pa.int64()), "value": pa.array([i * 0.5 for i in ids])})


def _ids(table: pa.Table) -> list[int]:
    return sorted(table.column("customer_id").to_pylist())


def _race(store: ObjectStore, seconds: float) -> tuple[list[BaseException], int, int]:
    """A writer rewriting two partitions (checking each read-back) against gc with grace 0."""
    errors: list[BaseException] = []
    removed = 0
    writes = 0
    stop = threading.Event()

    def writer() -> None:
        nonlocal writes
        round_ = 0
        while not stop.is_set():
            for offset, partition in enumerate([PART, date_partition("features/customer", DAY + dt.timedelta(1))]):
                expected = _table(round_ * 10 + offset, 5 + round_ % 3)
                store.write_partition(partition, expected)
                assert _ids(store.read_partition(partition)) == _ids(expected), partition
                writes += 1
            round_ += 1

    def collector() -> None:
        nonlocal removed
        while not stop.is_set():
            removed += len(store.gc(NO_GRACE))

    def guarded(target: object) -> None:
        try:
            target()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=guarded, args=(work,)) for work in (writer, collector)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return errors, writes, removed


def test_a_writer_racing_gc_with_no_grace_always_leaves_a_readable_partition(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    store.write_partition(PART, _table(0, 3))
    errors, writes, removed = _race(store, seconds=2.0)
    assert errors == []
    assert writes >= 4
    assert removed > 0  # gc did collect superseded attempts while the writer ran
    for day in (DAY, DAY + dt.timedelta(1)):
        manifest = store.manifest(date_partition("features/customer", day))
        assert manifest is not None
        assert store.read_partition(date_partition("features/customer", day)).num_rows == manifest.rows


def test_gc_keeps_an_uncommitted_attempt_while_its_writer_may_still_run(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    committed = store.write_partition(PART, _table(0, 3))
    in_flight = f"part-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-0123abcd-0000.parquet"
    store.put_bytes(f"{PART}/{in_flight}", b"being written")
    fresh = "features/customer/date=2025-03-02/part-20250302T000000000000-0123abcd-0000.parquet"
    store.put_bytes(fresh, b"a first write, no manifest yet")
    assert store.gc(NO_GRACE) == []
    soon = dt.datetime.now(dt.UTC) + UNCOMMITTED_MIN_AGE - dt.timedelta(minutes=1)
    assert store.gc(NO_GRACE, now=soon) == []
    later = dt.datetime.now(dt.UTC) + UNCOMMITTED_MIN_AGE + dt.timedelta(minutes=1)
    assert sorted(store.gc(NO_GRACE, now=later)) == sorted([fresh, f"{PART}/{in_flight}"])
    assert store.manifest(PART) == committed
    assert _ids(store.read_partition(PART)) == [0, 1, 2]


def test_a_file_deleted_before_the_manifest_is_rewritten_by_its_writer(
    any_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ObjectStore(any_uri)
    commit = store.put_bytes

    def foreign_gc_then_commit(path: str, data: bytes) -> None:
        for info in store.list_files(PART):
            if info.base_name.startswith("part-"):
                store.delete(f"{PART}/{info.base_name}")
        commit(path, data)

    monkeypatch.setattr(store, "put_bytes", foreign_gc_then_commit)
    store.write_partition(PART, _table(0, 4))
    monkeypatch.undo()
    assert _ids(store.read_partition(PART)) == [0, 1, 2, 3]


def test_gc_skips_files_that_vanish_under_it(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(local_uri)
    old = store.write_partition(PART, _table(0, 2))
    store.write_partition(PART, _table(0, 2))
    store.put_bytes(f"{PART}/{MANIFEST}.tmp-0badf00d", b"{}")
    listing = store.list_files("")
    for name in [old.files[0], f"{MANIFEST}.tmp-0badf00d"]:
        os.remove(Path(store.root) / PART / name)  # gone between the listing and the delete
    monkeypatch.setattr(store, "list_files", lambda prefix="": listing)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert store.gc(NO_GRACE, now=later) == []
    monkeypatch.undo()
    assert store.read_partition(PART).num_rows == 2


def test_after_a_rebuild_and_gc_a_plain_parquet_reader_sees_exactly_the_committed_rows(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    store.write_partition(PART, _table(0, 40))
    committed = store.write_partition(PART, _table(0, 40))  # the rebuild: same rows, new attempt
    folder = store.full_path(PART)
    assert len(pd.read_parquet(folder, filesystem=store.fs)) == 80  # both attempts, before gc
    removed = store.gc(NO_GRACE)
    assert len(removed) == 1 and committed.files[0] not in removed[0]
    plain = pd.read_parquet(folder, filesystem=store.fs)
    assert len(plain) == committed.rows == 40
    assert sorted(plain["customer_id"]) == _ids(store.read_partition(PART))


def test_gc_with_the_configured_grace_waits_before_removing_a_replaced_attempt(local_uri: str) -> None:
    store = ObjectStore(local_uri)
    store.write_partition(PART, _table(0, 5))
    store.write_partition(PART, _table(0, 5))
    grace = dt.timedelta(hours=24)
    assert store.gc(grace) == []
    assert len(pd.read_parquet(store.full_path(PART))) == 10
    assert len(store.gc(grace, now=dt.datetime.now(dt.UTC) + grace + dt.timedelta(minutes=1))) == 1
    assert len(pd.read_parquet(store.full_path(PART))) == 5
