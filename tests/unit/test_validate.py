"""Raw-data validation: one test per rule, the report, the cache, corrupt files, the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from raw_tables import DAY, TS, customers, events, good_lake, products, transactions, usage
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.config import PlatformSettings, load_platform_settings
from mlops_platform.data.raw import write_raw
from mlops_platform.data.rules import References, check_table
from mlops_platform.data.schemas import contract
from mlops_platform.data.validate import (
    check_history_coverage,
    ensure_history,
    ensure_valid,
    read_report,
    report_path,
    validate_day,
)
from mlops_platform.errors import DataValidationError
from mlops_platform.storage import ObjectStore, date_partition


@pytest.fixture
def settings(config_dir: Path) -> PlatformSettings:
    return load_platform_settings(config_dir, env={})


@pytest.fixture
def store(local_uri: str) -> ObjectStore:
    return ObjectStore(local_uri)


def put_bad(store: ObjectStore, table: str, table_data: pa.Table, day: dt.date = DAY) -> None:
    """Commit a partition without conforming it (as a buggy writer would)."""
    store.write_partition(date_partition(f"raw/{table}", day), table_data)


def test_a_good_day_passes_and_its_report_lands(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    report = validate_day(store, settings, DAY)
    assert report.passed, [v.message() for v in report.violations]
    stored = read_report(store, DAY)
    assert stored is not None
    assert stored["passed"] is True
    assert store.exists(report_path(DAY))
    assert report_path(DAY) == "reports/validation/date=2025-03-10/report.json"
    assert set(stored["tables"]) == {"customers", "transactions", "usage", "events"}
    assert stored["tables"]["transactions"]["rows"] == 4
    manifest = store.manifest(date_partition("raw/transactions", DAY))
    assert manifest is not None
    assert stored["tables"]["transactions"]["attempt"] == manifest.attempt
    assert "known product" in stored["tables"]["transactions"]["rules_passed"]
    assert stored["violations"] == []


def test_optional_tables_may_be_absent(store: ObjectStore, settings: PlatformSettings) -> None:
    write_raw(store, "customers", DAY, customers([1, 2, 3]))
    write_raw(store, "products", DAY, products())
    write_raw(store, "transactions", DAY, transactions())
    assert validate_day(store, settings, DAY).passed


def _fails(store: ObjectStore, settings: PlatformSettings, pattern: str) -> None:
    with pytest.raises(DataValidationError, match=pattern):
        ensure_valid(store, settings, [DAY])


def test_column_presence(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    put_bad(store, "transactions", transactions().drop(["amount_idr"]))
    _fails(store, settings, r"transactions\.amount_idr: rule 'column presence' broken by 4 row\(s\)")


def test_column_types(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    bad = transactions().set_column(5, "amount_idr", pa.array(["a", "b", "c", "d"]))
    put_bad(store, "transactions", bad)
    _fails(
        store,
        settings,
        r"transactions\.amount_idr: rule 'column types' broken by 4 row\(s\) \(stored as string",
    )


def test_missing_values_over_the_limit(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    put_bad(store, "transactions", transactions(customer_id=[1, None, None, 1]))
    _fails(
        store,
        settings,
        r"transactions\.customer_id: rule 'missing values' broken by 2 row\(s\) \(50\.0% missing.*"
        r"e\.g\. transaction_id 2, 3",
    )


def test_nullable_columns_are_exempt_from_missing_values(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    no_products = events().set_column(3, "product_id", pa.nulls(4, pa.int64()))
    write_raw(store, "events", DAY, no_products)
    assert validate_day(store, settings, DAY).passed


def test_duplicate_transaction_ids_within_the_day(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(store, "transactions", DAY, transactions(transaction_id=[1, 2, 2, 4]))
    _fails(
        store,
        settings,
        r"transactions\.transaction_id: rule 'unique key' broken by 2 row\(s\) \(repeated within the day\); "
        r"e\.g\. transaction_id 2$",
    )


def test_transaction_ids_reused_from_an_earlier_day(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    before = DAY - dt.timedelta(days=1)
    earlier = transactions(transaction_id=[7, 8, 9, 4], customer_id=[1, 2, 1, 2], ts=[TS - dt.timedelta(days=1)] * 4)
    write_raw(store, "transactions", before, earlier)
    assert validate_day(store, settings, before).passed
    _fails(store, settings, r"'unique key' broken by 1 row\(s\) \(already used on an earlier day\); .*id 4$")


def test_both_backends_see_reused_ids_and_store_the_report(any_uri: str, settings: PlatformSettings) -> None:
    store = ObjectStore(any_uri)
    good_lake(store)
    before = DAY - dt.timedelta(days=1)
    write_raw(store, "transactions", before, transactions(transaction_id=[7, 8, 9, 4], customer_id=[1, 2, 1, 2]))
    report = validate_day(store, settings, DAY)
    assert [v.message() for v in report.violations] == [
        "transactions.transaction_id: rule 'unique key' broken by 1 row(s) (already used on an earlier day); "
        "e.g. transaction_id 4"
    ]
    stored = read_report(store, DAY)
    assert stored is not None and stored["passed"] is False


def test_missing_keys_are_not_duplicates(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    ids = list(range(1, 41))
    rows = pa.table(
        {
            "transaction_id": pa.array([None, None] + ids, pa.int64()),
            "customer_id": pa.array([1] * 42, pa.int64()),
            "product_id": pa.array([10] * 42, pa.int64()),
            "ts": pa.array([TS] * 42, pa.timestamp("us")),
            "quantity": pa.array([1] * 42, pa.int32()),
            "amount_idr": [1.0] * 42,
        },
        schema=transactions().schema,
    )
    write_raw(store, "transactions", DAY, rows)
    # 2 of 42 ids missing is under the 5% limit, and two missing ids are not a repeated id.
    assert validate_day(store, settings, DAY).passed


def test_unknown_product(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(store, "transactions", DAY, transactions(product_id=[10, 99, 98, 10]))
    _fails(
        store,
        settings,
        r"transactions\.product_id: rule 'known product' broken by 2 row\(s\) "
        r"\(not in the catalogue of 2025-01-01 .*\); e\.g\. transaction_id 2, 3",
    )


def test_a_product_of_a_later_catalogue_is_unknown(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    newer = products().set_column(0, "product_id", pa.array([10, 11, 13], pa.int64()))
    write_raw(store, "products", DAY + dt.timedelta(days=1), newer)
    write_raw(store, "transactions", DAY, transactions(product_id=[13, 11, 12, 10]))
    _fails(store, settings, r"'known product' broken by 1 row\(s\).*transaction_id 1$")


def test_unknown_customer_and_one_who_signs_up_later(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(store, "customers", DAY + dt.timedelta(days=2), customers([5], signup=DAY + dt.timedelta(days=2)))
    write_raw(store, "transactions", DAY, transactions(customer_id=[1, 5, 6, 1]))
    _fails(
        store,
        settings,
        r"transactions\.customer_id: rule 'known customer' broken by 2 row\(s\) .*transaction_id 2, 3",
    )


def test_negative_amounts(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(store, "transactions", DAY, transactions(amount_idr=[-1.0, 15000.0, -3.0, 25000.0]))
    _fails(
        store,
        settings,
        r"transactions\.amount_idr: rule 'non-negative' broken by 2 row\(s\) .*e\.g\. transaction_id 1, 3",
    )


def test_timestamps_after_and_before_the_partition_date(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    later, earlier = TS + dt.timedelta(days=1), TS - dt.timedelta(days=3)
    write_raw(store, "transactions", DAY, transactions(ts=[TS, later, earlier, TS]))
    _fails(
        store,
        settings,
        r"transactions\.ts: rule 'time on partition date' broken by 2 row\(s\) \(not on 2025-03-10\); "
        r"e\.g\. transaction_id 2, 3",
    )


def test_customers_signed_up_after_their_partition(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(store, "customers", DAY, customers([3, 4], signup=DAY + dt.timedelta(days=1)))
    _fails(
        store,
        settings,
        r"customers\.signup_date: rule 'signup on or before partition date' broken by 2 row\(s\)"
        r".*customer_id 3, 4",
    )


def test_usage_dated_on_another_day(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    shifted = usage().set_column(1, "date", pa.array([DAY, DAY, DAY - dt.timedelta(days=1)], pa.date32()))
    write_raw(store, "usage", DAY, shifted)
    _fails(store, settings, r"usage\.date: rule 'time on partition date' broken by 1 row\(s\).*customer_id 3")


def test_allowed_values(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    odd = events().set_column(2, "event_type", pa.array(["session", "purchase", "click", "view"]))
    write_raw(store, "events", DAY, odd)
    _fails(store, settings, r"events\.event_type: rule 'allowed values' broken by 1 row\(s\)")


def test_every_violation_is_collected(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(
        store,
        "transactions",
        DAY,
        transactions(amount_idr=[-1.0, 1.0, 1.0, 1.0], product_id=[99, 10, 10, 10]),
    )
    report = validate_day(store, settings, DAY)
    assert {v.rule for v in report.violations} == {"non-negative", "known product"}
    stored = read_report(store, DAY)
    assert stored is not None and stored["passed"] is False
    assert len(stored["violations"]) == 2
    assert "non-negative" in stored["tables"]["transactions"]["rules_failed"]
    _fails(store, settings, r"\(and 1 more\)$")


def test_examples_are_capped_by_the_setting(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    ids = list(range(100, 120))
    many = pa.table(
        {
            "transaction_id": pa.array(ids, pa.int64()),
            "customer_id": pa.array([1] * 20, pa.int64()),
            "product_id": pa.array([77] * 20, pa.int64()),
            "ts": pa.array([TS] * 20, pa.timestamp("us")),
            "quantity": pa.array([1] * 20, pa.int32()),
            "amount_idr": [1.0] * 20,
        }
    )
    write_raw(store, "transactions", DAY, many)
    violation = validate_day(store, settings, DAY).violations[0]
    assert violation.rows == 20
    assert violation.examples == ("100", "101", "102", "103", "104")


def test_a_corrupt_parquet_file_is_named(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    partition = date_partition("raw/transactions", DAY)
    manifest = store.manifest(partition)
    assert manifest is not None
    store.put_bytes(f"{partition}/{manifest.files[0]}", b"this is not parquet")
    report = validate_day(store, settings, DAY)
    assert [v.rule for v in report.violations] == ["readable file"]
    assert manifest.files[0] in report.violations[0].message()
    _fails(store, settings, rf"transactions: rule 'readable file' broken by 4 row\(s\) .*{manifest.files[0]}")


def test_the_cache_skips_unchanged_days_and_sees_rewrites(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    assert ensure_valid(store, settings, [DAY]).validated == [DAY]
    assert ensure_valid(store, settings, [DAY]).cached == [DAY]
    write_raw(store, "usage", DAY, usage())  # same content, new attempt
    assert ensure_valid(store, settings, [DAY]).validated == [DAY]
    write_raw(store, "products", dt.date(2025, 1, 1), products().slice(0, 2))  # reference changed
    _fails(store, settings, r"transactions\.product_id: rule 'known product' broken by 1 row\(s\)")
    write_raw(store, "products", dt.date(2025, 1, 1), products())
    assert ensure_valid(store, settings, [DAY]).validated == [DAY]


def test_a_failed_report_is_not_a_cache_hit(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(store, "transactions", DAY, transactions(amount_idr=[-1.0, 1.0, 1.0, 1.0]))
    for _ in range(2):
        _fails(store, settings, "non-negative")


def test_history_coverage(store: ObjectStore, settings: PlatformSettings) -> None:
    first = dt.date(2025, 1, 1)
    for offset in (0, 1, 3):
        day = first + dt.timedelta(days=offset)
        write_raw(store, "transactions", day, transactions(ts=[dt.datetime.combine(day, TS.time())] * 4))
    short = check_history_coverage(store, settings, first + dt.timedelta(days=10))
    assert not short.passed and short.violation is not None
    assert short.missing_days[0] == dt.date(2025, 1, 3)
    assert len(short.missing_days) == 7
    assert "10 day(s) of history before 2025-01-11, need 183" in short.violation.message()
    assert "rule 'history coverage'" in short.violation.message()
    long_enough = check_history_coverage(store, settings, first + dt.timedelta(days=183))
    assert long_enough.passed and long_enough.available_days == 183
    assert ensure_history(store, settings, first + dt.timedelta(days=183)).earliest == first
    with pytest.raises(DataValidationError, match=r"transactions\.ts: rule 'history coverage' broken"):
        ensure_history(store, settings, first + dt.timedelta(days=182))


# -- the command line ----------------------------------------------------------------------------


def run_cli(tmp_path: Path, config_dir: Path, *args: str):
    env = {"MLOPS_STORAGE_URI": f"file://{tmp_path / 'lake'}"}
    return CliRunner().invoke(app, ["--config-dir", str(config_dir), *args], env=env)


def test_cli_validate_passes_and_prints_a_summary(tmp_path: Path, config_dir: Path, store: ObjectStore) -> None:
    good_lake(store)
    result = run_cli(tmp_path, config_dir, "data", "validate")
    assert result.exit_code == 0, result.output
    assert "2025-03-10" in result.output and "passed" in result.output
    assert store.exists(report_path(DAY))
    assert json.loads(store.get_bytes(report_path(dt.date(2025, 1, 5))))["passed"] is True


def test_cli_validate_fails_with_one_line(tmp_path: Path, config_dir: Path, store: ObjectStore) -> None:
    good_lake(store)
    write_raw(store, "transactions", DAY, transactions(amount_idr=[-1.0, 1.0, 1.0, 1.0]))
    result = run_cli(tmp_path, config_dir, "data", "validate", "--date", "2025-03-10")
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "transactions.amount_idr: rule 'non-negative' broken by 1 row(s)" in error[0]


def test_cli_validate_names_a_corrupt_file(tmp_path: Path, config_dir: Path, store: ObjectStore) -> None:
    good_lake(store)
    partition = date_partition("raw/customers", dt.date(2025, 1, 5))
    manifest = store.manifest(partition)
    assert manifest is not None
    store.put_bytes(f"{partition}/{manifest.files[0]}", b"\x00garbage")
    result = run_cli(tmp_path, config_dir, "data", "validate", "--start", "2025-03-01", "--end", "2025-03-31")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{partition}/{manifest.files[0]}" in result.output.replace("\n", "")


def test_cli_validate_rejects_a_bad_date(tmp_path: Path, config_dir: Path) -> None:
    result = run_cli(tmp_path, config_dir, "data", "validate", "--date", "10/03/2025")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_cli_validate_training_date(tmp_path: Path, config_dir: Path, store: ObjectStore) -> None:
    good_lake(store)
    result = run_cli(tmp_path, config_dir, "data", "validate", "--training-date", "2025-03-20")
    assert result.exit_code == 1
    assert "rule 'history coverage'" in result.output


# -- non-finite, out-of-range and overflowing numbers; partitions from the future ----------------
def test_inf_in_a_stored_partition_is_a_violation(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    bad = usage().set_column(2, "data_mb", pa.array([1.0, float("inf"), float("inf")], pa.float32()))
    write_raw(store, "usage", DAY, bad)
    before = store.manifest(date_partition("raw/usage", DAY))
    _fails(
        store,
        settings,
        r"usage\.data_mb: rule 'finite values' broken by 2 row\(s\) \(inf or -inf\); e\.g\. customer_id 2, 3",
    )
    assert store.manifest(date_partition("raw/usage", DAY)) == before


def test_values_above_the_declared_bound(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    write_raw(store, "transactions", DAY, transactions(quantity=[1, 2_000_000, 1, 1]))
    _fails(
        store,
        settings,
        r"transactions\.quantity: rule 'value range' broken by 1 row\(s\) \(value above 1,000,000\); "
        r"e\.g\. transaction_id 2",
    )


def test_a_float64_column_that_overflows_float32_is_named(store: ObjectStore, settings: PlatformSettings) -> None:
    good_lake(store)
    wide = usage().set_column(2, "data_mb", pa.array([1e300, 2.0, 3.0], pa.float64()))
    put_bad(store, "usage", wide)
    report = validate_day(store, settings, DAY)
    messages = [v.message() for v in report.violations]
    assert (
        "usage.data_mb: rule 'float32 overflow' broken by 1 row(s) (finite as double, inf as float); e.g. customer_id 1"
        in messages
    )


def test_the_conforming_writer_refuses_overflow(store: ObjectStore) -> None:
    wide = usage().set_column(2, "data_mb", pa.array([1e300, 2.0, 3e38 * 10], pa.float64()))
    with pytest.raises(
        DataValidationError, match=r"usage\.data_mb: 2 value\(s\) too large for float .*float32 overflow"
    ):
        write_raw(store, "usage", DAY, wide)
    assert store.list_dates("raw/usage") == []


def test_a_partition_dated_after_today_is_a_violation(store: ObjectStore, settings: PlatformSettings) -> None:
    today = dt.datetime.now(dt.UTC).date()
    future = today + dt.timedelta(days=1)
    write_raw(store, "customers", future, customers([7], signup=future))
    first = validate_day(store, settings, future).violations[0].message()
    assert first == (
        f"customers: rule 'partition date not in the future' broken by 1 row(s) "
        f"(partition dated {future}, after today {today} (UTC))"
    )
    with pytest.raises(DataValidationError, match=rf"raw data of {future}: customers: rule 'partition date not in"):
        ensure_valid(store, settings, [future])


def test_today_is_not_the_future() -> None:
    spec = contract("usage")
    refs = References(customer_ids=pa.array([1, 2, 3], pa.int64()))
    assert check_table(spec, usage(), DAY, refs, 0.1, 3, today=DAY).passed
    late = check_table(spec, usage(), DAY, refs, 0.1, 3, today=DAY - dt.timedelta(days=1))
    assert [v.rule for v in late.violations] == ["partition date not in the future"]


def test_cli_validate_names_a_future_partition(tmp_path: Path, config_dir: Path, store: ObjectStore) -> None:
    future = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    write_raw(store, "customers", future, customers([7], signup=future))
    result = run_cli(tmp_path, config_dir, "data", "validate", "--date", future.isoformat())
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert f"partition dated {future}, after today" in error[0]
