"""Every path the lake takes stays inside its root: ``..``, absolute paths, URIs, symlinks out."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.errors import InputError
from mlops_platform.storage import ObjectStore, OutsideLakeError, StorageError, date_partition

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
PART = date_partition("raw/usage", dt.date(2025, 3, 1))
TABLE = pa.table({"customer_id": pa.array([1, 2], pa.int64())})
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp()

ESCAPES = [
    pytest.param("../outside", id="parent"),
    pytest.param("../../../etc", id="far-parent"),
    pytest.param("raw/../../outside", id="parent-in-the-middle"),
    pytest.param("/etc", id="absolute"),
    pytest.param("s3://another-bucket/lake", id="s3-uri"),
    pytest.param("file:///etc", id="file-uri"),
]

CALLS: dict[str, Callable[[ObjectStore, str], Any]] = {
    "full_path": lambda store, path: store.full_path(path),
    "exists": lambda store, path: store.exists(path),
    "get_bytes": lambda store, path: store.get_bytes(path),
    "get_bytes_if_exists": lambda store, path: store.get_bytes_if_exists(path),
    "put_bytes": lambda store, path: store.put_bytes(f"{path}/x.json", b"{}"),
    "delete": lambda store, path: store.delete(f"{path}/part-x.parquet"),
    "list_files": lambda store, path: store.list_files(path),
    "list_dirs": lambda store, path: store.list_dirs(path),
    "write_partition": lambda store, path: store.write_partition(path, TABLE),
    "manifest": lambda store, path: store.manifest(path),
    "has_partition": lambda store, path: store.has_partition(path),
    "read_partition": lambda store, path: store.read_partition(path),
    "list_dates": lambda store, path: store.list_dates(path),
    "gc": lambda store, path: store.gc(dt.timedelta(0), prefix=path),
}


def _outside_files(lake: Path) -> list[Path]:
    """Old gc-looking files in a folder beside the lake (what the escapes must not touch)."""
    outside = lake.parent / "outside"
    outside.mkdir(parents=True, exist_ok=True)
    files = [outside / "part-20200101T000000-deadbeef-0000.parquet", outside / "x.json.tmp-12345678"]
    for path in files:
        path.write_bytes(b"not yours")
        os.utime(path, (LONG_AGO, LONG_AGO))
    return files


@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize("method", sorted(CALLS))
def test_a_path_leading_out_of_a_local_lake_is_refused(local_uri: str, method: str, path: str) -> None:
    store = ObjectStore(local_uri)
    outside = _outside_files(Path(store.root))
    with pytest.raises(OutsideLakeError, match="is outside the lake") as caught:
        CALLS[method](store, path)
    assert path in str(caught.value) and "\n" not in str(caught.value)
    assert all(file.read_bytes() == b"not yours" for file in outside)


@pytest.mark.parametrize("path", ["../outside", "/lake/raw", "raw/../../x", "s3://other/lake"])
@pytest.mark.parametrize("method", ["get_bytes", "put_bytes", "delete", "list_files", "write_partition", "gc"])
def test_a_key_leading_out_of_an_s3_lake_is_refused(s3_uri: str, method: str, path: str) -> None:
    store = ObjectStore(s3_uri)
    store.write_partition(PART, TABLE)
    with pytest.raises(OutsideLakeError, match="is outside the lake"):
        CALLS[method](store, path)
    assert store.read_partition(PART).num_rows == 2


def test_the_refusal_is_both_a_storage_and_an_input_error(local_uri: str) -> None:
    with pytest.raises(StorageError):
        ObjectStore(local_uri).list_files("..")
    with pytest.raises(InputError):
        ObjectStore(local_uri).list_files("..")


def test_harmless_spellings_of_a_path_inside_the_lake_still_work(any_uri: str) -> None:
    store = ObjectStore(any_uri)
    store.write_partition(PART, TABLE)
    assert store.full_path(f"./{PART}/") == store.full_path(PART)
    assert store.full_path("raw//usage") == store.full_path("raw/usage")
    assert store.read_partition(f"{PART}/").num_rows == 2
    store.put_bytes("reports/v1..v2/a.json", b"{}")  # ".." inside a name is not a parent step
    assert store.get_bytes("reports/v1..v2/a.json") == b"{}"


def test_a_symlink_out_of_the_lake_is_refused_and_gc_leaves_its_target_alone(local_uri: str) -> None:
    store = ObjectStore(local_uri)
    store.write_partition(PART, TABLE)
    outside = _outside_files(Path(store.root))
    link = Path(store.root) / "raw" / "elsewhere"
    link.symlink_to(outside[0].parent, target_is_directory=True)
    with pytest.raises(OutsideLakeError, match="resolves to"):
        store.list_files("raw/elsewhere")
    with pytest.raises(OutsideLakeError):
        store.delete(f"raw/elsewhere/{outside[0].name}")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
    assert store.gc(dt.timedelta(0), now=later) == []
    assert all(file.read_bytes() == b"not yours" for file in outside)
    assert store.read_partition(PART).num_rows == 2


def test_a_symlink_that_stays_inside_the_lake_is_followed(local_uri: str) -> None:
    store = ObjectStore(local_uri)
    store.write_partition(PART, TABLE)
    (Path(store.root) / "latest").symlink_to(Path(store.root) / "raw", target_is_directory=True)
    assert store.read_partition("latest/usage/date=2025-03-01").num_rows == 2


def _lake(store: ObjectStore, *args: str) -> Any:
    env = {"MLOPS_STORAGE_URI": store.uri}
    return CliRunner().invoke(app, ["--config-dir", str(CONFIG), "lake", *args], env=env)


def test_lake_gc_refuses_a_prefix_outside_the_lake_and_deletes_nothing(local_uri: str) -> None:
    store = ObjectStore(local_uri)
    store.write_partition(PART, TABLE)
    outside = _outside_files(Path(store.root))
    result = _lake(store, "gc", "--prefix", "../outside", "--grace-hours", "0")
    assert result.exit_code == 1
    assert "error: path '../outside' is outside the lake" in result.output
    assert all(file.read_bytes() == b"not yours" for file in outside)


def test_lake_ls_refuses_a_dataset_outside_the_lake(local_uri: str) -> None:
    store = ObjectStore(local_uri)
    result = _lake(store, "ls", "../../../etc")
    assert result.exit_code == 1
    assert "error: path '../../../etc' is outside the lake" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_lake_ls_and_gc_work_inside_the_lake(local_uri: str) -> None:
    store = ObjectStore(local_uri)
    store.write_partition(PART, TABLE)
    listed = _lake(store, "ls", "raw/usage")
    assert listed.exit_code == 0, listed.output
    assert "2025-03-01" in listed.output and "2 rows" in listed.output
    collected = _lake(store, "gc", "--prefix", "raw", "--grace-hours", "0")
    assert collected.exit_code == 0, collected.output
    assert "removed 0 unreferenced file(s)" in collected.output
