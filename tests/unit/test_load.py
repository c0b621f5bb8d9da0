"""``mlops data load``: a file becomes a raw partition only if it passes every rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from raw_tables import DAY, TS, customers, products, transactions, usage
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.config import PlatformSettings, load_platform_settings
from mlops_platform.data.loading import load_file
from mlops_platform.data.raw import write_raw
from mlops_platform.errors import DataValidationError, InputError
from mlops_platform.storage import Manifest, ObjectStore, date_partition

PART = date_partition("raw/transactions", DAY)


@pytest.fixture
def settings(config_dir: Path) -> PlatformSettings:
    return load_platform_settings(config_dir, env={})


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    lake = ObjectStore(f"file://{tmp_path / 'lake'}")
    write_raw(lake, "customers", dt.date(2025, 1, 5), customers([1, 2, 3]))
    write_raw(lake, "products", dt.date(2025, 1, 1), products())
    write_raw(lake, "transactions", DAY, transactions())
    return lake


def write_csv(path: Path, rows: list[str]) -> Path:
    header = "transaction_id,customer_id,product_id,ts,quantity,amount_idr,channel"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD_ROWS = [
    "11,1,10,2025-03-10 08:00:00,1,25000,app",
    "12,2,11,2025-03-10 09:15:00,2,30000,shop",
    "13,3,12,2025-03-10 23:59:59,1,60000,",
]


def test_a_good_csv_replaces_the_partition(store: ObjectStore, settings: PlatformSettings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "day.csv", GOOD_ROWS)
    result = load_file(store, settings, "transactions", path, DAY)
    assert result.manifest.rows == 3
    assert result.dropped_columns == ("channel",)
    stored = store.read_partition(PART)
    assert stored.column("transaction_id").to_pylist() == [11, 12, 13]
    assert stored.schema.field("quantity").type == pa.int32()


def test_a_good_parquet_file_loads(store: ObjectStore, settings: PlatformSettings, tmp_path: Path) -> None:
    path = tmp_path / "day.parquet"
    pq.write_table(transactions(transaction_id=[21, 22, 23, 24]), path)
    load_file(store, settings, "transactions", path, DAY)
    assert store.read_partition(PART).column("transaction_id").to_pylist() == [21, 22, 23, 24]


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        (
            GOOD_ROWS[:2] + ["13,3,99,2025-03-10 10:00:00,1,60000,"],
            r"'known product' broken by 1 row\(s\).*id 13",
        ),
        (
            GOOD_ROWS[:2] + ["13,3,12,2025-03-11 10:00:00,1,60000,"],
            r"'time on partition date' broken by 1 row",
        ),
        (GOOD_ROWS[:2] + ["12,3,12,2025-03-10 10:00:00,1,60000,"], r"'unique key' broken by 2 row"),
        (GOOD_ROWS[:2] + ["13,3,12,2025-03-10 10:00:00,1,-5,"], r"amount_idr: rule 'non-negative'"),
        (GOOD_ROWS[:2] + ["13,8,12,2025-03-10 10:00:00,1,5,"], r"customer_id: rule 'known customer'"),
        (GOOD_ROWS[:2] + ["13,3,12,yesterday,1,5,"], r"transactions\.ts: .*rule: column types"),
    ],
)
def test_a_bad_file_leaves_the_lake_untouched(
    store: ObjectStore, settings: PlatformSettings, tmp_path: Path, rows: list[str], pattern: str
) -> None:
    before = store.manifest(PART)
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataValidationError, match=pattern):
        load_file(store, settings, "transactions", path, DAY)
    assert store.manifest(PART) == before
    assert store.read_partition(PART).equals(transactions())
    assert len(store.list_files(PART)) == 2  # the old data file and its manifest, nothing new


def test_a_reused_id_of_an_earlier_day_is_refused(
    store: ObjectStore, settings: PlatformSettings, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "next.csv", ["4,1,10,2025-03-11 08:00:00,1,25000,"])
    with pytest.raises(DataValidationError, match=r"already used on an earlier day.*transaction_id 4"):
        load_file(store, settings, "transactions", path, DAY + dt.timedelta(days=1))
    assert store.list_dates("raw/transactions") == [DAY]


def test_a_missing_column_is_named(store: ObjectStore, settings: PlatformSettings, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    pacsv.write_csv(transactions().drop(["quantity"]), path)
    with pytest.raises(DataValidationError, match=r"transactions: missing column\(s\) quantity"):
        load_file(store, settings, "transactions", path, DAY)


def test_an_unknown_table_lists_the_known_ones(store: ObjectStore, settings: PlatformSettings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "day.csv", GOOD_ROWS)
    with pytest.raises(InputError, match="unknown table 'orders'; known tables: customers, products, transactions"):
        load_file(store, settings, "orders", path, DAY)


def test_customers_must_not_repeat_earlier_ones(store: ObjectStore, settings: PlatformSettings, tmp_path: Path) -> None:
    path = tmp_path / "customers.parquet"
    pq.write_table(customers([3, 4], signup=DAY), path)
    with pytest.raises(DataValidationError, match=r"customers\.customer_id: rule 'unique key'.*customer_id 3$"):
        load_file(store, settings, "customers", path, DAY)
    pq.write_table(customers([4, 5], signup=DAY), path)
    load_file(store, settings, "customers", path, DAY)
    assert store.list_dates("raw/customers") == [dt.date(2025, 1, 5), DAY]


def _cli(tmp_path: Path, config_dir: Path, *args: str):
    env = {"MLOPS_STORAGE_URI": f"file://{tmp_path / 'lake'}"}
    return CliRunner().invoke(app, ["--config-dir", str(config_dir), "data", "load", *args], env=env)


def test_cli_load(store: ObjectStore, tmp_path: Path, config_dir: Path) -> None:
    path = write_csv(tmp_path / "day.csv", GOOD_ROWS)
    result = _cli(tmp_path, config_dir, "transactions", str(path), "--date", "2025-03-10")
    assert result.exit_code == 0, result.output
    assert "loaded 3 rows into raw/transactions/date=2025-03-10" in result.output
    assert "ignored column(s) not in the contract: channel" in result.output


def test_cli_load_failures_are_one_line(store: ObjectStore, tmp_path: Path, config_dir: Path) -> None:
    before = store.manifest(PART)
    bad = write_csv(tmp_path / "bad.csv", [f"13,3,99,{TS},1,60000,"])
    result = _cli(tmp_path, config_dir, "transactions", str(bad), "--date", "2025-03-10")
    assert result.exit_code == 1
    assert result.output.startswith("error: bad.csv not loaded into raw/transactions/date=2025-03-10: ")
    assert len(result.output.strip().splitlines()) == 1
    assert store.manifest(PART) == before
    unknown = _cli(tmp_path, config_dir, "orders", str(bad), "--date", "2025-03-10")
    assert unknown.exit_code == 1 and "known tables: customers, products" in unknown.output
    missing = _cli(tmp_path, config_dir, "transactions", str(tmp_path / "nope.csv"), "--date", "2025-03-10")
    assert missing.exit_code == 1 and "no such file" in missing.output
    bad_date = _cli(tmp_path, config_dir, "transactions", str(bad), "--date", "March 10")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output


# -- non-finite, out-of-range and overflowing numbers; empty files; future dates -----------------
USAGE_PART = date_partition("raw/usage", DAY)


@pytest.fixture
def with_usage(store: ObjectStore) -> ObjectStore:
    """The store plus a committed 3-row usage partition of DAY."""
    write_raw(store, "usage", DAY, usage())
    return store


def usage_file(path: Path, data_mb: pa.Array) -> Path:
    """A parquet usage file of DAY for customers 1-3 with the given ``data_mb`` column."""
    pq.write_table(usage().set_column(2, "data_mb", data_mb), path)
    return path


def assert_usage_unchanged(store: ObjectStore, before: Manifest | None) -> None:
    """The usage partition of DAY still has its manifest and its three rows."""
    assert before is not None
    assert store.manifest(USAGE_PART) == before
    assert store.read_partition(USAGE_PART).equals(usage())


@pytest.mark.parametrize(
    ("data_mb", "pattern"),
    [
        pytest.param(
            pa.array([1e300, 2.0, 1e39], pa.float64()),
            r"usage\.data_mb: 2 value\(s\) too large for float \(they would become inf; rule: float32 overflow\)",
            id="float64-overflows-float32",
        ),
        pytest.param(
            pa.array([float("inf"), 2.0, 3.0], pa.float32()),
            r"usage\.data_mb: rule 'finite values' broken by 1 row\(s\) \(inf or -inf\); e\.g\. customer_id 1",
            id="inf",
        ),
        pytest.param(
            pa.array([1.0, -float("inf"), float("inf")], pa.float64()),
            r"usage\.data_mb: rule 'finite values' broken by 2 row\(s\)",
            id="float64-inf-and-minus-inf",
        ),
        pytest.param(
            pa.array([1.0, 2e7, 3.0], pa.float32()),
            r"usage\.data_mb: rule 'value range' broken by 1 row\(s\) \(value above 10,000,000\); e\.g\. customer_id 2",
            id="above-the-declared-bound",
        ),
    ],
)
def test_non_finite_and_out_of_range_numbers_are_refused(
    with_usage: ObjectStore, settings: PlatformSettings, tmp_path: Path, data_mb: pa.Array, pattern: str
) -> None:
    before = with_usage.manifest(USAGE_PART)
    path = usage_file(tmp_path / "usage.parquet", data_mb)
    with pytest.raises(
        DataValidationError, match=r"usage\.parquet not loaded into raw/usage/date=2025-03-10: " + pattern
    ):
        load_file(with_usage, settings, "usage", path, DAY)
    assert_usage_unchanged(with_usage, before)


def test_an_overflowing_csv_number_is_refused(store: ObjectStore, settings: PlatformSettings, tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text("customer_id,date,data_mb,voice_min,sms\n1,2025-03-10,1e300,1,0\n2,2025-03-10,5,1,0\n")
    with pytest.raises(DataValidationError, match=r"usage\.data_mb: 1 value\(s\) too large for float"):
        load_file(store, settings, "usage", path, DAY)
    assert store.list_dates("raw/usage") == []


def test_transaction_amounts_above_the_bound_are_refused(
    store: ObjectStore, settings: PlatformSettings, tmp_path: Path
) -> None:
    before = store.manifest(PART)
    path = write_csv(tmp_path / "big.csv", GOOD_ROWS[:2] + ["13,3,12,2025-03-10 10:00:00,1,2e13,"])
    with pytest.raises(DataValidationError, match=r"transactions\.amount_idr: rule 'value range' broken by 1 row"):
        load_file(store, settings, "transactions", path, DAY)
    assert store.manifest(PART) == before
    assert store.read_partition(PART).equals(transactions())


def test_an_empty_file_does_not_replace_committed_rows(
    with_usage: ObjectStore, settings: PlatformSettings, tmp_path: Path
) -> None:
    before = with_usage.manifest(USAGE_PART)
    path = tmp_path / "empty.parquet"
    pq.write_table(usage().slice(0, 0), path)
    with pytest.raises(
        DataValidationError,
        match=r"empty\.parquet not loaded into raw/usage/date=2025-03-10: the file has no rows and would replace "
        r"the 3 committed row\(s\) .*pass --allow-empty",
    ):
        load_file(with_usage, settings, "usage", path, DAY)
    assert_usage_unchanged(with_usage, before)
    result = load_file(with_usage, settings, "usage", path, DAY, allow_empty=True)
    assert result.manifest.rows == 0
    assert with_usage.read_partition(USAGE_PART).num_rows == 0


def test_an_empty_file_may_start_a_new_partition(
    store: ObjectStore, settings: PlatformSettings, tmp_path: Path
) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(usage().slice(0, 0), path)
    assert load_file(store, settings, "usage", path, DAY).manifest.rows == 0


def _future_day() -> dt.date:
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=400)


def test_a_partition_dated_after_today_is_refused(
    store: ObjectStore, settings: PlatformSettings, tmp_path: Path
) -> None:
    future = _future_day()
    part = date_partition("raw/transactions", future)
    rows = transactions(transaction_id=[41, 42, 43, 44], ts=[dt.datetime.combine(future, dt.time(9))] * 4)
    write_raw(store, "transactions", future, rows)  # as a generator run with a wrong --start would
    before = store.manifest(part)
    path = tmp_path / "future.parquet"
    pq.write_table(
        transactions(transaction_id=[51, 52, 53, 54], ts=[dt.datetime.combine(future, dt.time(10))] * 4), path
    )
    with pytest.raises(
        DataValidationError,
        match=rf"future\.parquet not loaded into raw/transactions/date={future}: the partition date {future} "
        r"is after today \d{4}-\d\d-\d\d \(UTC\)",
    ):
        load_file(store, settings, "transactions", path, future)
    assert store.manifest(part) == before
    assert store.read_partition(part).equals(rows)


def test_cli_load_empty_needs_allow_empty(with_usage: ObjectStore, tmp_path: Path, config_dir: Path) -> None:
    before = with_usage.manifest(USAGE_PART)
    path = tmp_path / "empty.parquet"
    pq.write_table(usage().slice(0, 0), path)
    refused = _cli(tmp_path, config_dir, "usage", str(path), "--date", "2025-03-10")
    assert refused.exit_code == 1
    assert refused.output.startswith(
        "error: empty.parquet not loaded into raw/usage/date=2025-03-10: the file has no rows"
    )
    assert "--allow-empty" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert_usage_unchanged(with_usage, before)
    allowed = _cli(tmp_path, config_dir, "usage", str(path), "--date", "2025-03-10", "--allow-empty")
    assert allowed.exit_code == 0, allowed.output
    assert "loaded 0 rows into raw/usage/date=2025-03-10" in allowed.output


def test_cli_load_a_future_date_is_one_line(store: ObjectStore, tmp_path: Path, config_dir: Path) -> None:
    future = _future_day()
    path = write_csv(tmp_path / "day.csv", GOOD_ROWS)
    result = _cli(tmp_path, config_dir, "transactions", str(path), "--date", future.isoformat())
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"the partition date {future} is after today" in result.output
    assert store.list_dates("raw/transactions") == [DAY]
