"""``mlops score`` refuses empty or non-finite snapshots before loading a model, and never
replaces committed scores with nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from mlops_platform import registry
from mlops_platform.errors import DataValidationError, InputError
from mlops_platform.features.definitions import SNAPSHOT_SCHEMA
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.pipelines import score as scoring
from mlops_platform.storage import ObjectStore, date_partition

DAY = dt.date(2025, 3, 10)
SCORES = date_partition("scores/churn", DAY)


def snapshot_rows(n: int, **overrides: list[Any]) -> pa.Table:
    """``n`` snapshot rows of DAY: ids 1..n, every other column null except ``overrides``."""
    columns = {
        name: pa.nulls(n, SNAPSHOT_SCHEMA.field(name).type) for name in SNAPSHOT_SCHEMA.names if name not in overrides
    }
    columns["customer_id"] = pa.array(range(1, n + 1), pa.int64())
    columns["snapshot_date"] = pa.array([DAY] * n, pa.date32())
    for name, values in overrides.items():
        columns[name] = pa.array(values, SNAPSHOT_SCHEMA.field(name).type)
    return pa.table([columns[name] for name in SNAPSHOT_SCHEMA.names], schema=SNAPSHOT_SCHEMA)


class Loaded:
    """A stand-in for a loaded pyfunc model that scores every row 0.5 (or none)."""

    def __init__(self, rows: bool = True) -> None:
        self.metadata = SimpleNamespace(get_input_schema=lambda: None)
        self.rows = rows

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        scores = pd.DataFrame({"customer_id": frame["customer_id"], "score": 0.5})
        return scores if self.rows else scores.iloc[0:0]


@pytest.fixture
def store(local_uri: str) -> ObjectStore:
    """A lake with yesterday's scores of churn for DAY (two customers)."""
    lake = ObjectStore(local_uri)
    lake.write_partition(SCORES, pa.table({"customer_id": [1, 2], "score": [0.1, 0.9]}))
    return lake


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Champion version 3 of churn; records every model load (the fake model scores 0.5)."""
    calls: list[str] = []
    monkeypatch.setattr(registry, "require_champion", lambda *a, **k: SimpleNamespace(version="3"))

    def load(uri: str) -> Loaded:
        calls.append(uri)
        return Loaded()

    monkeypatch.setattr(scoring.mlflow.pyfunc, "load_model", load)
    return calls


def test_an_empty_snapshot_is_refused_before_the_model_loads(store: ObjectStore, loads: list[str]) -> None:
    before = store.manifest(SCORES)
    store.write_partition(snapshot_partition(DAY), SNAPSHOT_SCHEMA.empty_table())
    with pytest.raises(
        InputError, match=r"features/customer/date=2025-03-10 has 0 rows: nothing to score; nothing written"
    ):
        scoring.score_snapshot(None, store, "churn", DAY)
    assert loads == []
    assert store.manifest(SCORES) == before
    assert store.read_partition(SCORES).column("score").to_pylist() == [0.1, 0.9]


def test_an_inf_snapshot_is_refused_naming_the_column(store: ObjectStore, loads: list[str]) -> None:
    before = store.manifest(SCORES)
    bad = snapshot_rows(3, usage_7d_data_mb=[1.0, float("inf"), float("inf")])
    store.write_partition(snapshot_partition(DAY), bad)
    with pytest.raises(DataValidationError, match=r"inf or -inf values in usage_7d_data_mb \(2 row\(s\)\)"):
        scoring.score_snapshot(None, store, "churn", DAY)
    assert loads == []
    assert store.manifest(SCORES) == before


def test_a_model_that_scores_no_row_writes_nothing(
    store: ObjectStore, loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.manifest(SCORES)
    store.write_partition(snapshot_partition(DAY), snapshot_rows(3))
    monkeypatch.setattr(scoring.mlflow.pyfunc, "load_model", lambda uri: Loaded(rows=False))
    with pytest.raises(InputError, match=r"churn v3 scored no row of the snapshot of 2025-03-10; nothing written"):
        scoring.score_snapshot(None, store, "churn", DAY)
    assert store.manifest(SCORES) == before


def test_a_good_snapshot_is_scored(store: ObjectStore, loads: list[str]) -> None:
    store.write_partition(snapshot_partition(DAY), snapshot_rows(3))
    result = scoring.score_snapshot(None, store, "churn", DAY)
    assert (result.rows, result.version) == (3, "3")
    assert loads == ["models:/churn@champion"]
    assert store.read_partition(SCORES).column("score").to_pylist() == [0.5, 0.5, 0.5]


def test_a_missing_snapshot_is_still_named(tmp_path: Path, loads: list[str]) -> None:
    with pytest.raises(
        InputError, match=r"no feature snapshot for 2025-03-10 .*mlops features build --date 2025-03-10"
    ):
        scoring.score_snapshot(None, ObjectStore(f"file://{tmp_path}"), "churn", DAY)
