"""The object store on both backends: atomic partitions, manifests, interrupted writes, gc."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from mlops_platform.storage import MANIFEST, ObjectStore, StorageError, date_partition, schema_hash

DAY = dt.date(2025, 3, 1)
PART = date_partition("raw/usage", DAY)


def _table(values: list[int]) -> pa.Table:
    return pa.table({"customer_id": pa.array(values, pa.int64()), "x": pa.array([v * 1.5 for v in values])})


def test_a_written_partition_reads_back_with_its_manifest(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    manifest = store.write_partition(PART, _table([1, 2, 3]), writer="test")
    assert manifest.rows == 3
    assert manifest.writer == "test"
    assert manifest.schema_hash == schema_hash(_table([1]).schema)
    assert store.read_partition(PART).column("customer_id").to_pylist() == [1, 2, 3]
    assert store.list_dates("raw/usage") == [DAY]
    assert store.manifest(PART) == manifest


def test_a_rerun_replaces_the_partition_with_a_new_attempt(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    first = store.write_partition(PART, _table([1, 2, 3]))
    second = store.write_partition(PART, _table([1, 2, 3]))
    assert first.attempt != second.attempt
    assert set(first.files).isdisjoint(second.files)
    assert store.read_partition(PART).num_rows == 3  # not 6: the old attempt is not read


def test_an_interrupted_first_write_leaves_no_partition(any_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(any_uri)

    def crash(path: str, data: bytes) -> None:
        raise KeyboardInterrupt("killed before the manifest")

    monkeypatch.setattr(store, "put_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        store.write_partition(PART, _table([1, 2]))
    monkeypatch.undo()
    assert any(info.base_name.startswith("part-") for info in store.list_files("raw/usage"))
    assert store.list_dates("raw/usage") == []
    assert not store.has_partition(PART)
    with pytest.raises(StorageError, match="no committed partition"):
        store.read_partition(PART)


def test_an_interrupted_rerun_keeps_the_previous_content(any_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(any_uri)
    store.write_partition(PART, _table([1, 2, 3]))

    def crash(path: str, data: bytes) -> None:
        raise RuntimeError("killed before the manifest")

    monkeypatch.setattr(store, "put_bytes", crash)
    with pytest.raises(RuntimeError):
        store.write_partition(PART, _table([9, 9]))
    monkeypatch.undo()
    assert store.read_partition(PART).column("customer_id").to_pylist() == [1, 2, 3]


def test_gc_removes_only_unreferenced_files_past_the_grace_period(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    old = store.write_partition(PART, _table([1]))
    new = store.write_partition(PART, _table([1]))
    assert store.gc(dt.timedelta(hours=1)) == []  # the old attempt is garbage but too young
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert store.gc(dt.timedelta(hours=1), dry_run=True, now=later) == [f"{PART}/{old.files[0]}"]
    removed = store.gc(dt.timedelta(hours=1), now=later)
    assert removed == [f"{PART}/{old.files[0]}"]
    names = {info.base_name for info in store.list_files(PART)}
    assert names == {MANIFEST, *new.files}
    assert store.read_partition(PART).num_rows == 1


def test_a_corrupt_manifest_is_an_error_naming_it(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    store.write_partition(PART, _table([1]))
    store.put_bytes(f"{PART}/{MANIFEST}", b"{not json")
    with pytest.raises(StorageError, match="corrupt manifest"):
        store.read_partition(PART)


def test_a_corrupt_parquet_file_is_an_error_not_a_crash(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    manifest = store.write_partition(PART, _table([1, 2]))
    store.put_bytes(f"{PART}/{manifest.files[0]}", b"this is not parquet")
    with pytest.raises(StorageError, match="parquet"):
        store.read_partition(PART)


def test_large_tables_are_split_into_several_files(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mlops_platform.storage._ROWS_PER_FILE", 2)
    store = ObjectStore(local_uri)
    manifest = store.write_partition(PART, _table([1, 2, 3, 4, 5]))
    assert len(manifest.files) == 3
    assert store.read_partition(PART).column("customer_id").to_pylist() == [1, 2, 3, 4, 5]


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(StorageError, match="file:// or s3://"):
        ObjectStore("ftp://example/lake")
