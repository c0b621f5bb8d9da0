"""Labels of the snapshot population, from the horizon that starts on the snapshot date."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from feature_lake import SNAPSHOT_IDS, D, RawLake, add_horizon, day, scenario, spy_raw_reads
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.config import PlatformSettings, load_platform_settings
from mlops_platform.data.raw import write_raw
from mlops_platform.data.schemas import contract
from mlops_platform.errors import DataValidationError
from mlops_platform.features.definitions import LABEL_SCHEMA
from mlops_platform.features.labels import build_labels, compute_labels, labels_partition, read_labels
from mlops_platform.features.snapshot import build_snapshot, compute_snapshot, snapshot_partition
from mlops_platform.storage import ObjectStore

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


@pytest.fixture(scope="module")
def platform() -> PlatformSettings:
    return load_platform_settings(CONFIG, env={})


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario plus its label horizon, committed up to D+30."""
    folder = tmp_path_factory.mktemp("labels") / "lake"
    lake = scenario()
    add_horizon(lake)
    lake.commit(ObjectStore(f"file://{folder}"), last=day(30))
    return folder


@pytest.fixture
def store(lake_dir: Path, tmp_path: Path) -> ObjectStore:
    shutil.copytree(lake_dir, tmp_path / "lake")
    return ObjectStore(f"file://{tmp_path / 'lake'}")


@pytest.fixture(scope="module")
def labels(lake_dir: Path, platform: PlatformSettings) -> pa.Table:
    return compute_labels(ObjectStore(f"file://{lake_dir}"), platform, D)


def label(table: pa.Table, customer_id: int) -> dict[str, Any]:
    rows = table.filter(pc.equal(table["customer_id"], customer_id)).to_pylist()
    assert len(rows) == 1
    return {k: rows[0][k] for k in ("churned_30d", "converted_7d", "revenue_30d")}


def test_labels_have_the_declared_schema_and_the_snapshot_population(labels: pa.Table) -> None:
    assert labels.schema.equals(LABEL_SCHEMA)
    assert labels["customer_id"].to_pylist() == sorted(SNAPSHOT_IDS)  # Dan (signed up on D) is not there
    assert set(labels["label_date"].to_pylist()) == {D}


@pytest.mark.parametrize(
    ("customer_id", "expected"),
    [
        pytest.param(1, (0, 1, 70_000.0), id="usage-and-purchases"),
        pytest.param(2, (0, 0, 30_000.0), id="purchase-after-the-conversion-horizon"),
        pytest.param(3, (1, 0, 0.0), id="purchase-the-day-after-the-horizon"),
        pytest.param(6, (1, 0, 0.0), id="all-zero-usage-is-churn"),
        pytest.param(9, (1, 0, 0.0), id="events-do-not-count"),
        pytest.param(10, (0, 1, 15_000.0), id="conversion-horizon-edges"),
        pytest.param(11, (0, 0, 1_000.0), id="last-day-of-the-horizon-not-the-day-before-d"),
    ],
)
def test_labels_by_hand(labels: pa.Table, customer_id: int, expected: tuple[int, int, float]) -> None:
    churned, converted, revenue = expected
    assert label(labels, customer_id) == {
        "churned_30d": churned,
        "converted_7d": converted,
        "revenue_30d": pytest.approx(revenue),
    }


def test_the_committed_snapshot_gives_the_population(store: ObjectStore, platform: PlatformSettings) -> None:
    snapshot = compute_snapshot(store, platform.features, D).filter(
        pc.is_in(pc.field("customer_id"), pa.array([1, 2, 3]))
    )
    store.write_partition(snapshot_partition(D), snapshot)
    assert compute_labels(store, platform, D)["customer_id"].to_pylist() == [1, 2, 3]


def test_no_day_is_read_by_both_features_and_labels(
    store: ObjectStore, platform: PlatformSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_snapshot(store, platform, D, validate_raw=False)
    reads = spy_raw_reads(monkeypatch)
    compute_snapshot(store, platform.features, D)
    feature_reads, reads[:] = list(reads), []
    compute_labels(store, platform, D)
    assert feature_reads and all(end <= D for _, _, end in feature_reads)
    assert reads and all(start is not None and start >= D for _, start, _ in reads)
    assert all(end <= day(30) for _, _, end in reads)


def test_labels_ignore_changes_before_d(store: ObjectStore, platform: PlatformSettings, labels: pa.Table) -> None:
    extra = RawLake()
    extra.tx(3, -1, 10, 1_000_000.0)  # a big purchase on D-1 changes Carol's features, not her labels
    rows = extra.rows["transactions", day(-1)]
    old = store.read_partition(f"raw/transactions/date={day(-1)}")
    new = pa.concat_tables([old, pa.Table.from_pylist(rows, schema=contract("transactions").schema)])
    write_raw(store, "transactions", day(-1), new)
    assert compute_labels(store, platform, D).equals(labels)


def test_a_horizon_that_has_not_passed_is_refused(store: ObjectStore, platform: PlatformSettings) -> None:
    # Committed up to D+30: the 30-day horizon of D+2 ends on D+31.
    with pytest.raises(DataValidationError, match=r"has not passed: it needs raw/\w+ up to 2025-05-12"):
        build_labels(store, platform, day(2))
    assert not store.has_partition(labels_partition(day(2)))


def test_a_gap_in_the_horizon_is_refused(store: ObjectStore, platform: PlatformSettings) -> None:
    store.delete(f"raw/usage/date={day(12)}/_SUCCESS.json")
    with pytest.raises(DataValidationError, match=r"raw/usage misses 1 day\(s\) of the horizon, first 2025-04-23"):
        build_labels(store, platform, D)


def test_rerun_gives_the_same_labels_with_a_new_attempt(store: ObjectStore, platform: PlatformSettings) -> None:
    first = build_labels(store, platform, D)
    rows = read_labels(store, D)
    second = build_labels(store, platform, D)
    assert second.attempt != first.attempt
    assert read_labels(store, D).equals(rows)


# -- the command line ---------------------------------------------------------------------------
def run(store: ObjectStore, *args: str) -> Any:
    env = {"MLOPS_STORAGE_URI": store.uri}
    return CliRunner().invoke(app, ["--config-dir", str(CONFIG), "features", *args], env=env)


def test_cli_builds_a_snapshot_and_its_labels(store: ObjectStore) -> None:
    built = run(store, "build", "--date", D.isoformat(), "--no-validate-raw")
    assert built.exit_code == 0, built.output
    assert f"features/customer/date={D}: {len(SNAPSHOT_IDS)} customers" in built.output
    labelled = run(store, "labels", "--date", D.isoformat())
    assert labelled.exit_code == 0, labelled.output
    assert f"labels/customer/date={D}: {len(SNAPSHOT_IDS)} customers" in labelled.output
    assert read_labels(store, D)["customer_id"].to_pylist() == sorted(SNAPSHOT_IDS)


def test_cli_builds_a_range_of_dates(store: ObjectStore) -> None:
    built = run(store, "build", "--start", D.isoformat(), "--end", day(2).isoformat(), "--no-validate-raw")
    assert built.exit_code == 0, built.output
    assert store.list_dates("features/customer") == [D, day(1), day(2)]
    labelled = run(store, "labels", "--start", D.isoformat(), "--end", day(1).isoformat())
    assert labelled.exit_code == 0, labelled.output
    assert store.list_dates("labels/customer") == [D, day(1)]


def test_cli_rerun_is_idempotent(store: ObjectStore) -> None:
    attempts, tables = [], []
    for _ in range(2):
        assert run(store, "build", "--date", D.isoformat(), "--no-validate-raw").exit_code == 0
        manifest = store.manifest(snapshot_partition(D))
        assert manifest is not None
        attempts.append(manifest.attempt)
        tables.append(store.read_partition(snapshot_partition(D)))
    assert attempts[0] != attempts[1]
    assert tables[0].equals(tables[1])


def test_cli_reports_a_refused_date_in_one_line(store: ObjectStore) -> None:
    result = run(store, "labels", "--date", day(5).isoformat())
    assert result.exit_code == 1
    assert "error:" in result.output and "has not passed" in result.output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--date", "2025-04-11", "--start", "2025-04-10"], id="date-and-range"),
        pytest.param([], id="no-date"),
        pytest.param(["--start", "2025-04-11"], id="start-without-end"),
        pytest.param(["--start", "2025-04-11", "--end", "2025-04-10"], id="end-before-start"),
        pytest.param(["--date", "11/04/2025"], id="not-iso"),
    ],
)
def test_cli_rejects_bad_dates(store: ObjectStore, args: list[str]) -> None:
    result = run(store, "build", *args)
    assert result.exit_code == 2, result.output
