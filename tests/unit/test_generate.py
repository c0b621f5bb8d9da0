"""The seeded demo-data generator: determinism, contracts, behaviour, drift, the CLI command."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.data.generate import GeneratorConfig, TelcoSimulator, generate_day_tables
from mlops_platform.data.raw import raw_dates, read_products, read_raw
from mlops_platform.data.schemas import CATEGORIES, CONTRACTS, EVENT_TYPES, SEGMENTS
from mlops_platform.errors import InputError
from mlops_platform.storage import ObjectStore

START = dt.date(2025, 1, 1)
SMALL = GeneratorConfig(customers=300, days=60, seed=11, start=START)


def collect(config: GeneratorConfig) -> tuple[dict[str, pa.Table], dict[str, list[dt.date]]]:
    """All tables of a run concatenated, and the partition date of every row."""
    tables: dict[str, list[pa.Table]] = defaultdict(list)
    days: dict[str, list[dt.date]] = defaultdict(list)
    for day in generate_day_tables(config):
        for name, table in day.tables.items():
            tables[name].append(table)
            days[name] += [day.day] * table.num_rows
    return {name: pa.concat_tables(parts) for name, parts in tables.items()}, dict(days)


@pytest.fixture(scope="module")
def small() -> tuple[dict[str, pa.Table], dict[str, list[dt.date]]]:
    return collect(SMALL)


def test_same_seed_gives_identical_tables_and_another_seed_does_not(small):
    again, _ = collect(SMALL)
    other, _ = collect(GeneratorConfig(customers=300, days=60, seed=12, start=START))
    tables, _ = small
    assert set(again) == set(tables) == set(CONTRACTS)
    for name, table in tables.items():
        assert again[name].equals(table), name
    assert not other["usage"].equals(tables["usage"])
    assert not other["transactions"].equals(tables["transactions"])


def test_every_table_matches_its_contract(small):
    tables, _ = small
    for name, table in tables.items():
        assert table.schema.equals(CONTRACTS[name].schema), name
    assert set(pc.unique(tables["customers"]["segment"]).to_pylist()) == set(SEGMENTS)
    assert set(pc.unique(tables["events"]["event_type"]).to_pylist()) == set(EVENT_TYPES)


def test_catalogue_has_fifty_priced_products_in_every_category(small):
    products = small[0]["products"].to_pandas()
    assert len(products) >= 50 and products.product_id.is_unique
    assert set(products.category) == set(CATEGORIES)
    assert products.price_idr.between(5_000, 400_000).all()
    assert set(products.validity_days) <= {1, 3, 7, 14, 30}
    assert (products.query("category == 'data'").data_mb > 0).all()
    assert (products.query("category == 'voice'").voice_min > 0).all()


def test_customers_join_over_time_and_sit_in_their_signup_partition(small):
    tables, days = small
    customers = tables["customers"].to_pandas()
    customers["partition"] = days["customers"]
    assert customers.customer_id.is_unique and len(customers) == SMALL.customers
    before = customers.signup_date < START
    assert 0.45 < before.mean() < 0.75  # ~60% signed up before the period
    assert customers.loc[before, "signup_date"].min() < START - dt.timedelta(days=700)
    assert (customers.loc[before, "partition"] == START).all()
    joined = customers[~before]
    assert joined.signup_date.nunique() > 20  # brand-new customers keep arriving
    assert (joined.signup_date == joined.partition).all()


def test_every_row_lies_in_its_partition_and_names_known_ids(small):
    tables, days = small
    for name in ("transactions", "events"):
        ts_day = pc.cast(tables[name]["ts"], pa.date32()).to_pylist()
        assert ts_day == days[name], name
    assert tables["usage"]["date"].to_pylist() == days["usage"]
    customers = tables["customers"].to_pandas().set_index("customer_id")
    products = tables["products"].to_pandas().drop_duplicates("product_id").set_index("product_id")
    for name in ("transactions", "usage", "events"):
        facts = tables[name].to_pandas()
        facts["day"] = days[name]
        assert facts.customer_id.isin(customers.index).all(), name
        signup = customers.loc[facts.customer_id, "signup_date"].to_numpy()
        assert (signup <= np.array(facts["day"])).all(), f"{name} before signup"
    transactions = tables["transactions"].to_pandas()
    assert transactions.transaction_id.is_unique
    assert transactions.product_id.isin(products.index).all()
    assert (transactions.quantity >= 1).all() and (transactions.quantity == 1).mean() > 0.85
    prices = products.loc[transactions.product_id, "price_idr"].to_numpy()
    assert np.allclose(transactions.amount_idr, prices * transactions.quantity)
    events = tables["events"].to_pandas()
    with_product = events.event_type.isin(["click", "offer_impression"])
    assert events.loc[with_product, "product_id"].notna().all()
    assert events.loc[~with_product, "product_id"].isna().all()


def test_churned_customers_stop_all_activity():
    simulator = TelcoSimulator(SMALL)
    days = list(simulator.run())
    churn = dict(zip(simulator.population.customer_id, simulator.churn_day, strict=True))
    churned = [c for c, d in churn.items() if d < SMALL.days]
    assert len(churned) >= 10
    for t, day in enumerate(days):
        for name in ("usage", "transactions", "events"):
            active = pc.unique(day.tables[name]["customer_id"]).to_pylist()
            assert all(churn[c] > t for c in active), f"{name} of a churned customer on {day.day}"
    # Churners who fade use much less in their last week than in the week before the onset.
    usage = pa.concat_tables(d.tables["usage"] for d in days).to_pandas()
    usage["t"] = (pd.to_datetime(usage["date"]) - pd.Timestamp(START)).dt.days
    onset = dict(zip(simulator.population.customer_id, simulator.onset_day, strict=True))
    fading = [c for c in churned if 7 <= onset[c] <= churn[c] - 14]
    assert len(fading) >= 5
    usage = usage[usage.customer_id.isin(fading)]
    t_onset, t_churn = usage.customer_id.map(onset), usage.customer_id.map(churn)
    before = usage[(usage.t >= t_onset - 7) & (usage.t < t_onset)].data_mb.sum()
    last = usage[usage.t >= t_churn - 7].data_mb.sum()
    assert last < 0.5 * before


def test_drift_raises_data_usage_and_prices_from_its_date_only():
    drift_day = START + dt.timedelta(days=40)
    plain, _ = collect(SMALL)
    drifted, _ = collect(GeneratorConfig(customers=300, days=60, seed=11, start=START, drift_from=drift_day))

    def mean_data(tables: dict[str, pa.Table], after: bool) -> float:
        usage = tables["usage"]
        keep = pc.greater_equal(usage["date"], pa.scalar(drift_day, pa.date32()))
        return float(pc.mean(usage.filter(keep if after else pc.invert(keep))["data_mb"]).as_py())

    assert mean_data(drifted, after=False) == mean_data(plain, after=False)
    assert mean_data(drifted, after=True) > 1.3 * mean_data(plain, after=True)
    assert drifted["products"].num_rows == 2 * plain["products"].num_rows
    prices = drifted["products"]["price_idr"].to_numpy()
    assert not np.array_equal(prices[:50], prices[50:])


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        pytest.param({"customers": 0}, "--customers", id="no-customers"),
        pytest.param({"days": -5}, "--days", id="negative-days"),
        pytest.param({"seed": -1}, "--seed", id="negative-seed"),
        pytest.param({"drift_from": START}, "--drift-from", id="drift-on-start"),
        pytest.param({"drift_from": START + dt.timedelta(days=60)}, "--drift-from", id="drift-after-end"),
    ],
)
def test_invalid_options_raise_an_error_naming_the_option(changes, option):
    values = {"customers": 300, "days": 60, "seed": 1, "start": START, **changes}
    with pytest.raises(InputError, match=option):
        GeneratorConfig(**values)


def test_cli_generates_into_the_lake(config_dir: Path, local_uri: str):
    env = {"MLOPS_STORAGE_URI": local_uri}
    args = ["--config-dir", str(config_dir), "data", "generate", "--customers", "200", "--days", "20"]
    result = CliRunner().invoke(
        app, [*args, "--seed", "5", "--start", "2025-02-01", "--drift-from", "2025-02-15"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "customers: 200" in result.output and "transactions" in result.output
    store = ObjectStore(local_uri)
    days = raw_dates(store, "usage")
    assert days[0] == dt.date(2025, 2, 1) and len(days) == 20
    assert raw_dates(store, "products") == [dt.date(2025, 2, 1), dt.date(2025, 2, 15)]
    assert read_products(store, dt.date(2025, 2, 20)).num_rows >= 50
    expected, _ = collect(
        GeneratorConfig(customers=200, days=20, seed=5, start=dt.date(2025, 2, 1), drift_from=dt.date(2025, 2, 15))
    )
    stored = read_raw(store, "transactions", None, dt.date(2025, 3, 1)).sort_by("transaction_id")
    assert stored.equals(expected["transactions"])
    bad = CliRunner().invoke(app, [*args[:4], "--customers", "0"], env=env)
    assert bad.exit_code == 1 and "--customers" in bad.output


def churn_frame(config: GeneratorConfig, cutoff: int) -> pd.DataFrame:
    """Simple per-customer features before ``cutoff`` (a day index) and the churn_30d label."""
    tables, _ = collect(config)
    frames = {}
    for name, column in (("usage", "date"), ("transactions", "ts"), ("events", "ts")):
        frame = tables[name].to_pandas()
        frame["t"] = (pd.to_datetime(frame[column]) - pd.Timestamp(config.start)).dt.days
        frames[name] = frame
    usage, transactions = frames["usage"], frames["transactions"]

    def window(frame: pd.DataFrame, first: int, end: int) -> pd.DataFrame:
        return frame[(frame.t >= first) & (frame.t < end)]

    recent = pd.concat([window(f, cutoff - 90, cutoff).customer_id for f in frames.values()]).unique()
    customers = tables["customers"].to_pandas().set_index("customer_id")
    out = pd.DataFrame(index=pd.Index(np.sort(recent), name="customer_id"))
    out["tenure"] = (config.start + dt.timedelta(days=cutoff) - customers.loc[out.index, "signup_date"]).apply(
        lambda d: d.days
    )
    for days in (7, 28):
        out[f"data_{days}d"] = np.log1p(window(usage, cutoff - days, cutoff).groupby("customer_id").data_mb.sum())
    out = out.fillna(0.0)
    out["trend"] = out.data_7d - out.data_28d
    bought = window(transactions, cutoff - 90, cutoff).groupby("customer_id")
    out["recency"] = (cutoff - bought.t.max()).reindex(out.index).fillna(120)
    out["frequency"] = bought.size().reindex(out.index).fillna(0)
    out["monetary"] = np.log1p(bought.amount_idr.sum().reindex(out.index).fillna(0))
    active_after = pd.concat([window(f, cutoff, cutoff + 30).customer_id for f in (usage, transactions)])
    out["churn_30d"] = (~out.index.isin(active_after)).astype(int)
    return out


def test_churn_is_learnable_but_not_trivial():
    frame = churn_frame(GeneratorConfig(customers=2000, days=200, seed=3, start=START), cutoff=150)
    features = frame.drop(columns="churn_30d")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    auc = cross_val_score(model, features, frame.churn_30d, cv=5, scoring="roc_auc").mean()
    assert 0.05 < frame.churn_30d.mean() < 0.35
    assert 0.7 < auc < 0.97
