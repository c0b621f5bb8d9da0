"""The customer feature snapshot, checked against hand-computed values on a tiny lake."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from feature_lake import BUCKET_CASES, SNAPSHOT_IDS, D, RawLake, day, scenario, spy_raw_reads
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.config import PlatformSettings, load_platform_settings
from mlops_platform.data.raw import write_raw
from mlops_platform.data.schemas import contract
from mlops_platform.errors import DataValidationError
from mlops_platform.features import purchases as purchases_module
from mlops_platform.features import snapshot as snapshot_module
from mlops_platform.features.definitions import FEATURES, SNAPSHOT_SCHEMA, feature_names
from mlops_platform.features.reduce import CustomerIndex
from mlops_platform.features.snapshot import (
    build_snapshot,
    check_snapshot,
    compute_snapshot,
    read_snapshot,
    snapshot_partition,
)
from mlops_platform.storage import ObjectStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def platform() -> PlatformSettings:
    return load_platform_settings(REPO / "config", env={})


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario lake, written once per module; tests that write copy it first."""
    folder = tmp_path_factory.mktemp("features") / "lake"
    scenario().commit(ObjectStore(f"file://{folder}"))
    return folder


@pytest.fixture(scope="module")
def snapshot(lake_dir: Path, platform: PlatformSettings) -> pa.Table:
    return compute_snapshot(ObjectStore(f"file://{lake_dir}"), platform.features, D)


@pytest.fixture
def store(lake_dir: Path, tmp_path: Path) -> ObjectStore:
    """A private copy of the scenario lake."""
    shutil.copytree(lake_dir, tmp_path / "lake")
    return ObjectStore(f"file://{tmp_path / 'lake'}")


def row(table: pa.Table, customer_id: int) -> dict[str, Any]:
    rows = table.filter(pc.equal(table["customer_id"], customer_id)).to_pylist()
    assert len(rows) == 1, f"customer {customer_id}: {len(rows)} rows"
    return rows[0]


def test_snapshot_has_the_declared_schema(snapshot: pa.Table) -> None:
    assert snapshot.schema.equals(SNAPSHOT_SCHEMA)
    assert snapshot.column_names[2:] == feature_names() == [f.name for f in FEATURES]
    assert set(snapshot["snapshot_date"].to_pylist()) == {D}


def test_population_is_signed_up_before_d_and_active_in_the_window(snapshot: pa.Table) -> None:
    # Dan signs up on D, Eve's only usage in the window is all zeros.
    assert snapshot["customer_id"].to_pylist() == sorted(SNAPSHOT_IDS)


def test_mixed_customer_by_hand(snapshot: pa.Table) -> None:
    alice = row(snapshot, 1)
    assert alice["segment"] == "residential"
    assert alice["tenure_days"] == (D - dt.date(2024, 1, 1)).days == 466
    assert alice["recency_days"] == 1
    assert alice["frequency_90d"] == 3  # the purchase of D-95 is outside the window
    assert alice["monetary_90d"] == pytest.approx(115_000.0)
    assert alice["arpu_30d"] == pytest.approx(90_000.0)
    assert alice["arpu_bucket"] == "medium"
    assert alice["usage_7d_data_mb"] == pytest.approx(700.0)
    assert alice["usage_7d_voice_min"] == pytest.approx(70.0)
    assert alice["usage_7d_sms"] == 14
    # 28 days: seven of 100 MB, one of 700, twenty of 0 -> mean 50, population variance 17500.
    assert alice["usage_trend"] == pytest.approx(100.0 / 50.0)
    assert alice["usage_stability"] == pytest.approx(math.sqrt(17_500.0) / 50.0)
    assert alice["distinct_products_90d"] == 2
    assert alice["favourite_category"] == "data"  # 85000 on data, 30000 on voice
    assert (alice["sessions_7d"], alice["impressions_7d"], alice["clicks_7d"]) == (2, 4, 1)
    assert alice["ctr_7d"] == pytest.approx(0.25)


def test_purchase_only_customer_gets_zeros_and_nulls(snapshot: pa.Table) -> None:
    bob = row(snapshot, 2)
    assert bob["tenure_days"] == 41
    assert (bob["recency_days"], bob["frequency_90d"], bob["monetary_90d"]) == (10, 1, 100_000.0)
    assert bob["arpu_bucket"] == "high"
    assert (bob["usage_7d_data_mb"], bob["usage_7d_voice_min"], bob["usage_7d_sms"]) == (0.0, 0.0, 0)
    assert bob["usage_trend"] is None
    assert bob["usage_stability"] is None
    assert bob["favourite_category"] == "combo"
    assert (bob["sessions_7d"], bob["impressions_7d"], bob["clicks_7d"]) == (0, 0, 0)
    assert bob["ctr_7d"] is None


def test_constant_usage_is_perfectly_stable_and_ctr_is_capped(snapshot: pa.Table) -> None:
    carol = row(snapshot, 3)
    assert carol["usage_7d_data_mb"] == pytest.approx(350.0)
    assert carol["usage_trend"] == pytest.approx(1.0)
    assert carol["usage_stability"] == pytest.approx(0.0, abs=1e-12)
    assert carol["ctr_7d"] == 1.0  # 3 clicks on 2 impressions
    assert carol["recency_days"] is None
    assert (carol["frequency_90d"], carol["monetary_90d"], carol["arpu_30d"]) == (0, 0.0, 0.0)
    assert carol["arpu_bucket"] == "low"
    assert carol["distinct_products_90d"] == 0
    assert carol["favourite_category"] is None


def test_single_usage_day_in_the_long_window(snapshot: pa.Table) -> None:
    ken = row(snapshot, 11)
    # One day of 280 MB in 28: mean 10, variance 280^2/28 - 10^2 = 2700.
    assert ken["usage_trend"] == pytest.approx(0.0)
    assert ken["usage_stability"] == pytest.approx(math.sqrt(2700.0) / 10.0)
    assert ken["usage_7d_data_mb"] == 0.0


def test_activity_in_the_older_part_of_the_window_is_enough(snapshot: pa.Table) -> None:
    ivan, judy = row(snapshot, 9), row(snapshot, 10)
    assert ivan["sessions_7d"] == 0
    assert judy["usage_7d_data_mb"] == 0.0
    assert judy["usage_trend"] is None  # no usage in the long window
    assert judy["usage_stability"] is None


def test_window_edges_and_unknown_products(snapshot: pa.Table) -> None:
    frank = row(snapshot, 6)
    assert (frank["recency_days"], frank["frequency_90d"], frank["arpu_30d"]) == (90, 1, 0.0)
    assert frank["favourite_category"] == "voice"  # the catalogue of D (all voice) is not used
    leo = row(snapshot, 12)
    assert (leo["distinct_products_90d"], leo["frequency_90d"]) == (1, 1)
    assert leo["favourite_category"] is None


def test_spend_tie_breaks_by_category_name(snapshot: pa.Table) -> None:
    grace = row(snapshot, 7)
    assert grace["favourite_category"] == "combo"
    assert grace["arpu_30d"] == pytest.approx(200_000.0)
    assert grace["arpu_bucket"] == "premium"


@pytest.mark.parametrize(("customer_id", "case"), list(BUCKET_CASES.items()), ids=str)
def test_arpu_bucket_edges(snapshot: pa.Table, customer_id: int, case: tuple[float, str]) -> None:
    amount, bucket = case
    got = row(snapshot, customer_id)
    assert got["arpu_30d"] == pytest.approx(amount)
    assert got["arpu_bucket"] == bucket


def test_bucket_edges_follow_the_settings(lake_dir: Path, platform: PlatformSettings) -> None:
    features = platform.features.model_copy(update={"arpu_bucket_edges": (10.0, 60_000.0, 150_000.0)})
    table = compute_snapshot(ObjectStore(f"file://{lake_dir}"), features, D)
    buckets = {cid: row(table, cid)["arpu_bucket"] for cid in (21, 22, 24, 25, 27)}
    assert buckets == {21: "low", 22: "medium", 24: "high", 25: "high", 27: "premium"}


# -- point in time -------------------------------------------------------------------------------
FACT_ROW = st.tuples(
    st.sampled_from(["usage", "transactions", "events"]),
    st.one_of(st.integers(0, 2), st.integers(0, 40)),  # days after D, often right at D
    st.sampled_from([1, 2, 3, 5, 6, 9, 10, 100, 101]),  # known customers and new ones
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
)


def _append_future(store: ObjectStore, facts: list[tuple[str, int, int, float]], signups: list[int]) -> None:
    """Rows dated D or later, merged into whatever partitions those days already have."""
    extra = RawLake()
    for table, offset, cid, value in facts:
        if table == "usage":
            extra.usage(cid, offset, value, value / 10, int(value) % 50)
        elif table == "transactions":
            extra.tx(cid, offset, 10 + 10 * (cid % 3), value)
        else:
            extra.event(cid, offset, ("session", "click", "offer_impression")[int(value) % 3])
    for index, offset in enumerate(signups):
        extra.customer(200 + index, day(offset), loaded=day(offset))
    extra.catalogue(day(3), {10: "combo", 20: "combo", 30: "data"})
    for (table, part), rows in extra.rows.items():
        new = pa.Table.from_pylist(rows, schema=contract(table).schema)
        partition = f"raw/{table}/date={part}"
        if table != "products" and store.has_partition(partition):
            new = pa.concat_tables([store.read_partition(partition), new])
        write_raw(store, table, part, new)


@settings(max_examples=10, deadline=None)
@given(facts=st.lists(FACT_ROW, min_size=1, max_size=25), signups=st.lists(st.integers(0, 10), max_size=3))
def test_rows_dated_d_or_later_never_change_the_snapshot(
    lake_dir: Path, snapshot: pa.Table, platform: PlatformSettings, facts: list, signups: list[int]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(lake_dir, f"{tmp}/lake")
        store = ObjectStore(f"file://{tmp}/lake")
        _append_future(store, facts, signups)
        assert compute_snapshot(store, platform.features, D).equals(snapshot)


def test_the_snapshot_reads_no_partition_of_d_or_later(
    store: ObjectStore, platform: PlatformSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = spy_raw_reads(monkeypatch)
    compute_snapshot(store, platform.features, D)
    assert reads and all(end <= D for _, _, end in reads)
    assert {table for table, _, _ in reads} >= {"customers", "usage", "events", "transactions"}


def test_the_snapshot_is_the_same_on_s3(s3_uri: str, tmp_path: Path, platform: PlatformSettings) -> None:
    local = ObjectStore(f"file://{tmp_path / 'lake'}")
    remote = ObjectStore(s3_uri)
    for store in (local, remote):
        scenario().commit(store, quiet_days=False)  # only the days with rows: fewer requests
    expected = compute_snapshot(local, platform.features, D)
    assert expected.num_rows == len(SNAPSHOT_IDS)
    assert compute_snapshot(remote, platform.features, D).equals(expected)


# -- build: refusal, validation, idempotency -----------------------------------------------------
def test_a_date_whose_input_day_is_missing_is_refused(store: ObjectStore, platform: PlatformSettings) -> None:
    with pytest.raises(DataValidationError, match=r"raw input day 2025-04-11 has no committed partition"):
        build_snapshot(store, platform, day(1), validate_raw=False)
    assert not store.has_partition(snapshot_partition(day(1)))


def test_raw_days_of_the_window_are_validated_first(
    store: ObjectStore, platform: PlatformSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[dt.date]] = []

    def refuse(store: ObjectStore, settings: PlatformSettings, days: list[dt.date]) -> None:
        calls.append(list(days))
        raise DataValidationError("usage.data_mb: 3 negative value(s) (rule: non-negative)")

    monkeypatch.setattr(snapshot_module, "validate_raw_days", refuse)
    with pytest.raises(DataValidationError, match="non-negative"):
        build_snapshot(store, platform, D)
    assert calls == [[day(-n) for n in range(90, 0, -1)]]
    assert not store.has_partition(snapshot_partition(D))


def test_validation_uses_ensure_valid_of_the_data_package(
    store: ObjectStore, platform: PlatformSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    validate = pytest.importorskip("mlops_platform.data.validate")
    seen: list[list[dt.date]] = []
    monkeypatch.setattr(validate, "ensure_valid", lambda s, cfg, days: seen.append(sorted(days)))
    build_snapshot(store, platform, D)
    assert seen and seen[0][0] == day(-90) and seen[0][-1] == day(-1)


def test_rerun_gives_the_same_rows_with_a_new_attempt(store: ObjectStore, platform: PlatformSettings) -> None:
    first = build_snapshot(store, platform, D, validate_raw=False)
    rows = read_snapshot(store, D)
    second = build_snapshot(store, platform, D, validate_raw=False)
    assert second.attempt != first.attempt
    assert store.manifest(snapshot_partition(D)) == second
    assert read_snapshot(store, D).equals(rows)
    assert second.rows == first.rows == len(SNAPSHOT_IDS)


# -- checks before writing -------------------------------------------------------------------------
def _with(table: pa.Table, column: str, values: list[Any]) -> pa.Table:
    index = table.column_names.index(column)
    return table.set_column(index, column, pa.array(values, table.schema.field(column).type))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        pytest.param("frequency_90d", -1, "below the minimum", id="negative-count"),
        pytest.param("ctr_7d", 1.5, "above the maximum", id="ctr-above-one"),
        pytest.param("segment", None, "null value", id="null-segment"),
        pytest.param("arpu_bucket", "gold", "unexpected value", id="unknown-bucket"),
        pytest.param("usage_trend", float("nan"), "NaN", id="nan"),
    ],
)
def test_bad_snapshots_are_refused(snapshot: pa.Table, column: str, value: Any, message: str) -> None:
    values = snapshot.column(column).to_pylist()
    values[0] = value
    with pytest.raises(DataValidationError, match=f"features/customer.{column}: .*{message}"):
        check_snapshot(_with(snapshot, column, values), D)


def test_duplicate_customers_are_refused(snapshot: pa.Table) -> None:
    doubled = pa.concat_tables([snapshot, snapshot.slice(0, 1)])
    with pytest.raises(DataValidationError, match=r"customer_id: 1 duplicate id\(s\)"):
        check_snapshot(doubled, D)


def test_a_wrong_snapshot_date_is_refused(snapshot: pa.Table) -> None:
    with pytest.raises(DataValidationError, match="snapshot_date"):
        check_snapshot(snapshot, day(1))


# -- the reductions -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ids",
    [
        pytest.param([3, 4, 7, 9], id="compact-ids-lookup-table"),
        pytest.param([-(10**15), 5, 10**12, 2**62], id="sparse-ids-binary-search"),
    ],
)
def test_customer_index_maps_unknown_and_null_ids_to_the_spill_slot(ids: list[int]) -> None:
    index = CustomerIndex(np.array(ids))
    probe = pa.array([ids[2], ids[0], None, ids[3], 8, ids[1], -(2**63), 2**63 - 1])
    assert index.positions(probe).tolist() == [2, 0, 4, 3, 4, 1, 4, 4]


def test_dense_and_sparse_favourites_agree() -> None:
    rng = np.random.default_rng(3)
    pos, codes = rng.integers(0, 50, 400), rng.integers(0, 4, 400)
    spend = rng.choice([0.0, 10.0, 20.0], 400)  # many exact ties
    dense = purchases_module._dense_favourite(pos, codes, spend, 60, 4)
    assert dense.tolist() == purchases_module._sparse_favourite(pos, codes, spend, 60, 4).tolist()
    assert (dense[50:] == -1).all()
    totals = np.zeros((60, 4))
    np.add.at(totals, (pos, codes), spend)
    seen = np.zeros((60, 4), dtype=bool)
    seen[pos, codes] = True
    for customer in range(50):
        if seen[customer].any():
            best = max(totals[customer][seen[customer]])
            first = min(c for c in range(4) if seen[customer, c] and totals[customer, c] == best)
            assert dense[customer] == first


# -- non-finite features and empty snapshots -------------------------------------------------------
def test_an_inf_feature_is_refused_naming_the_column_and_count(snapshot: pa.Table) -> None:
    values = snapshot.column("monetary_90d").to_pylist()
    values[0], values[1] = float("inf"), float("-inf")
    with pytest.raises(
        DataValidationError,
        match=r"features/customer\.monetary_90d: 2 inf or -inf value\(s\) \(rule: finite values\)",
    ):
        check_snapshot(_with(snapshot, "monetary_90d", values), D)


def test_an_empty_snapshot_is_refused(snapshot: pa.Table) -> None:
    with pytest.raises(DataValidationError, match=r"features/customer date=2025-04-11: 0 rows \(rule: not empty\)"):
        check_snapshot(snapshot.slice(0, 0), D)


def _inf_usage(store: ObjectStore) -> None:
    """Customer 1's data MB on D-1 becomes inf (as a float64 1e300 cast to float32 once did)."""
    partition = f"raw/usage/date={day(-1)}"
    usage = store.read_partition(partition)
    values = [
        float("inf") if cid == 1 else mb
        for cid, mb in zip(usage["customer_id"].to_pylist(), usage["data_mb"].to_pylist(), strict=True)
    ]
    store.write_partition(partition, usage.set_column(2, "data_mb", pa.array(values, pa.float32())))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_inf_usage_never_reaches_a_committed_snapshot(store: ObjectStore, platform: PlatformSettings) -> None:
    good = build_snapshot(store, platform, D, validate_raw=False)
    rows = read_snapshot(store, D)
    _inf_usage(store)
    with pytest.raises(
        DataValidationError,
        match=r"features/customer\.usage_7d_data_mb: 1 inf or -inf value\(s\) \(rule: finite values\)",
    ):
        build_snapshot(store, platform, D, validate_raw=False)
    assert store.manifest(snapshot_partition(D)) == good
    assert read_snapshot(store, D).equals(rows)


def test_a_build_without_rows_keeps_the_committed_snapshot(
    store: ObjectStore, platform: PlatformSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = build_snapshot(store, platform, D, validate_raw=False)
    monkeypatch.setattr(snapshot_module, "compute_snapshot", lambda *args: SNAPSHOT_SCHEMA.empty_table())
    with pytest.raises(DataValidationError, match=r"0 rows \(rule: not empty\)"):
        build_snapshot(store, platform, D, validate_raw=False)
    assert store.manifest(snapshot_partition(D)) == good
    assert read_snapshot(store, D).num_rows == good.rows == len(SNAPSHOT_IDS)


def _features_check(store: ObjectStore, *args: str):
    env = {"MLOPS_STORAGE_URI": store.url("")}
    return CliRunner().invoke(app, ["--config-dir", str(REPO / "config"), "features", "check", *args], env=env)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(
            lambda t: t.slice(0, 0),
            "error: features/customer date=2025-04-11: 0 rows (rule: not empty)",
            id="empty",
        ),
        pytest.param(
            lambda t: _with(t, "usage_7d_data_mb", [float("inf")] * t.num_rows),
            f"error: features/customer.usage_7d_data_mb: {len(SNAPSHOT_IDS)} inf or -inf value(s) "
            "(rule: finite values)",
            id="inf",
        ),
    ],
)
def test_cli_check_fails_an_empty_or_inf_snapshot(
    store: ObjectStore, snapshot: pa.Table, bad: Any, message: str
) -> None:
    manifest = store.write_partition(snapshot_partition(D), bad(snapshot))
    result = _features_check(store, "--date", D.isoformat())
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [message]
    assert store.manifest(snapshot_partition(D)) == manifest


def test_cli_check_passes_a_good_snapshot(store: ObjectStore, snapshot: pa.Table) -> None:
    store.write_partition(snapshot_partition(D), snapshot)
    result = _features_check(store, "--date", D.isoformat())
    assert result.exit_code == 0, result.output
    assert f"{len(SNAPSHOT_IDS)} customers pass the feature contract" in result.output
