"""``mlops train`` input checks that fail before any fitting: an empty --as-of, inf in a table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from raw_tables import DAY, customers, products, transactions
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.data.raw import write_raw
from mlops_platform.errors import InputError
from mlops_platform.models.tabular import prepare_table
from mlops_platform.pipelines import train as train_pipeline
from mlops_platform.storage import ObjectStore


@pytest.fixture
def lake(tmp_path: Path) -> str:
    """A lake with one day of raw transactions (so a default --as-of exists)."""
    uri = f"file://{tmp_path / 'lake'}"
    store = ObjectStore(uri)
    write_raw(store, "customers", dt.date(2025, 1, 5), customers([1, 2, 3]))
    write_raw(store, "products", dt.date(2025, 1, 1), products())
    write_raw(store, "transactions", DAY, transactions())
    return uri


@pytest.fixture
def no_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to prepare from the lake or to fit fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("reached the training pipeline")

    monkeypatch.setattr(train_pipeline, "fit_and_register", refuse)
    monkeypatch.setattr(train_pipeline, "prepare_from_lake", refuse)


def mlops(config_dir: Path, lake: str, *args: str):
    return CliRunner().invoke(app, ["--config-dir", str(config_dir), *args], env={"MLOPS_STORAGE_URI": lake})


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["train", "churn", "--as-of", ""], id="train"),
        pytest.param(["train", "recommender", "--as-of", ""], id="train-recommender"),
        pytest.param(["training-set", "build", "churn", "--as-of", ""], id="training-set-build"),
    ],
)
def test_an_empty_as_of_is_an_error_naming_it(config_dir: Path, lake: str, no_fitting: None, args: list[str]) -> None:
    result = mlops(config_dir, lake, *args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "--as-of" in text
    assert "'' is not a date in YYYY-MM-DD form" in text


def test_inf_in_a_training_table_fails_fast_naming_the_columns(
    config_dir: Path, lake: str, no_fitting: None, tmp_path: Path
) -> None:
    rows = 200
    frame = pd.DataFrame(
        {
            "minutes": [float(i % 13) for i in range(rows)],
            "pages": [str(i % 7) for i in range(rows)],
            "channel": ["ads", "search"] * (rows // 2),
            "is_ordered": [i % 2 for i in range(rows)],
        }
    )
    frame.loc[[3, 50], "minutes"] = [np.inf, -np.inf]
    frame.loc[7, "pages"] = "inf"  # numbers stored as text, one of them "inf"
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    result = mlops(config_dir, lake, "train", "conversion", "--table", str(path), "--target", "is_ordered")
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "error: the table has inf or -inf values in column(s) minutes (2 row(s)), pages (1 row(s)); "
        "replace or drop them before training"
    ]


def test_an_inf_regression_target_is_refused() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "spend": [1.5, np.inf, 2.5, 7.0]})
    with pytest.raises(InputError, match=r"inf or -inf values in column\(s\) spend \(1 row\(s\)\)"):
        prepare_table(frame, "spend")


def test_finite_tables_are_unchanged() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0], "y": [0, 1, 0, 1]})
    data, _ = prepare_table(frame, "y")
    assert data.features == ["x"]
