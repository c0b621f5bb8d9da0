"""Your own data, end to end: train from a raw CSV, score raw rows with `mlops score --table` and
with `mlflow.pyfunc.load_model(...).predict`, and get the same scores (real MLflow on SQLite)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.storage import ObjectStore
from small_settings import SMALL

DAY = dt.date(2025, 6, 30)
CONFIG = str(Path("config").resolve())


def shop_rows(n: int, seed: int) -> pd.DataFrame:
    """Sessions as an export writes them: text ids, yes/no words, numbers as text with blanks."""
    rng = np.random.default_rng(seed)
    minutes = rng.uniform(0, 30, n).round(1)
    returning = rng.random(n) < 0.5
    pages = rng.integers(1, 40, n)
    channel = rng.choice(["ads", "search", "direct", "mail"], n)
    signal = minutes / 30 + 0.4 * returning + (channel == "search") * 0.3 - 0.6
    ordered = (signal + rng.normal(0, 0.15, n)) > 0
    pages_text = [" " if i % 29 == 0 else str(p) for i, p in enumerate(pages)]
    return pd.DataFrame(
        {
            "session": [f"AC-{20000 + seed * 1000 + i}-K" for i in range(n)],
            "returning": np.where(returning, "yes", "no"),
            "pages": pages_text,
            "minutes": minutes,
            "channel": channel,
            "ordered": np.where(ordered, "TRUE", "FALSE"),
        }
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("byo")
    return {
        "MLOPS_STORAGE_URI": f"file://{root / 'lake'}",
        "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLOPS_TRACKING_ARTIFACT_LOCATION": str(root / "mlruns"),
        "MLOPS_CONVERSION_PARAMS": SMALL["MLOPS_CONVERSION_PARAMS"],
    }


def mlops(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["--config-dir", CONFIG, *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def trained(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `shop` champion trained from a 300-row raw CSV; returns the folder of the files."""
    folder = tmp_path_factory.mktemp("tables")
    shop_rows(300, seed=1).to_csv(folder / "train.csv", index=False)
    output = mlops(env, "train", "conversion", "--table", str(folder / "train.csv"), "--target", "ordered",
                   "--id", "session", "--name", "shop", "--run-key", "byo-1")  # fmt: skip
    assert "registered version 1" in output and "promoted to champion" in output, output
    new = shop_rows(40, seed=2).drop(columns=["ordered"])
    new.loc[3, "channel"] = "tv"  # a category never seen in training
    new.loc[5, "returning"] = " "  # a blank boolean
    new["pages"] = [str(i % 9 + 1) for i in range(len(new))]  # no blank: the reader sees integers
    new["note"] = "extra column"
    new.to_csv(folder / "new_sessions.csv", index=False)
    return folder


def test_cli_and_pyfunc_score_raw_rows_alike(env, trained: Path) -> None:
    out = trained / "scores.parquet"
    mlops(env, "score", "shop", "--table", str(trained / "new_sessions.csv"), "--out", str(out))
    scored = pd.read_parquet(out)
    raw = pd.read_csv(trained / "new_sessions.csv")
    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])
    served = mlflow.pyfunc.load_model("models:/shop@champion").predict(raw)

    assert list(scored.columns) == ["session", "score", "label", "model_version"]
    assert scored["session"].tolist() == raw["session"].tolist()  # text ids travel
    assert set(scored["model_version"]) == {"1"}
    np.testing.assert_allclose(scored["score"], served["score"], rtol=0, atol=1e-9)
    assert (scored["label"] == served["label"]).all()
    assert scored["score"].between(0, 1).all() and scored["score"].std() > 0.05


def test_the_model_learned_the_signal_it_serves(env, trained: Path) -> None:
    labelled = shop_rows(200, seed=3)
    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])
    served = mlflow.pyfunc.load_model("models:/shop/1").predict(labelled.drop(columns=["ordered"]))
    truth = labelled["ordered"] == "TRUE"
    assert served.loc[truth.to_numpy(), "score"].mean() > served.loc[~truth.to_numpy(), "score"].mean() + 0.2


def test_the_signature_lists_the_raw_columns_as_optional(env, trained: Path) -> None:
    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])
    schema = mlflow.pyfunc.load_model("models:/shop/1").metadata.get_input_schema()
    assert set(schema.input_names()) == {"session", "returning", "pages", "minutes", "channel"}
    assert schema.required_input_names() == []


def test_a_missing_feature_is_named_by_the_pyfunc(env, trained: Path) -> None:
    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])
    loaded = mlflow.pyfunc.load_model("models:/shop/1")
    raw = pd.read_csv(trained / "new_sessions.csv").drop(columns=["minutes"])
    with pytest.raises(Exception, match=r"lacks feature column\(s\) minutes"):
        loaded.predict(raw)


def test_default_output_is_a_lake_partition_of_the_table(env, trained: Path) -> None:
    output = mlops(env, "score", "shop", "--table", str(trained / "new_sessions.csv"), "--date", DAY.isoformat())
    assert "scored 40 rows" in output
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    scores = store.read_partition(f"scores/shop/table=new_sessions/date={DAY}").to_pandas()
    assert len(scores) == 40 and scores["session"].str.startswith("AC-").all()


def test_a_table_without_a_feature_column_is_refused_and_nothing_is_written(env, trained: Path) -> None:
    path = trained / "no_minutes.csv"
    pd.read_csv(trained / "new_sessions.csv").drop(columns=["minutes"]).to_csv(path, index=False)
    out = trained / "never.csv"
    output = mlops(env, "score", "shop", "--table", str(path), "--out", str(out), code=1)
    assert "lacks feature column(s) minutes" in output and "nothing written" in output
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("session,returning,pages,minutes,channel\n", "has no rows", id="empty"),
        pytest.param(
            "session,returning,pages,minutes,channel\nA,yes,1,,ads\nB,no,2,,mail\n",
            "blank in every row",
            id="all-null-feature",
        ),  # fmt: skip
        pytest.param(b"\x00\xff\xfe garbage", "cannot read table", id="unreadable"),
    ],
)
def test_bad_tables_get_one_line_at_scoring(env, trained: Path, content: str | bytes, expected: str) -> None:
    path = trained / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    before = [info.path for info in store.list_files("scores/shop")]
    output = mlops(env, "score", "shop", "--table", str(path), "--date", "2025-07-01", code=1)
    assert expected in output
    assert output.strip().startswith("error:") and len(output.strip().splitlines()) <= 2
    assert [info.path for info in store.list_files("scores/shop")] == before


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(pd.DataFrame(columns=["a", "ordered"]), "no rows", id="empty"),
        pytest.param(pd.DataFrame({"a": [1, 2, 3, 4]}), "target column 'ordered' is not in the table", id="no-target"),
        pytest.param(pd.DataFrame({"a": [1, 2, 3, 4], "ordered": ["yes"] * 4}), "is constant", id="one-class"),
        pytest.param(pd.DataFrame({"a": [1, 2, 3, 4], "ordered": [" "] * 4}), "blank in every", id="no-labels"),
        pytest.param(pd.DataFrame({"a": [None] * 4, "ordered": [0, 1, 0, 1]}), "no usable feature", id="null-feature"),
    ],
)
def test_bad_tables_get_one_line_at_training(env, tmp_path: Path, frame: pd.DataFrame, expected: str) -> None:
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    output = mlops(env, "train", "conversion", "--table", str(path), "--target", "ordered", "--name", "bad", code=1)
    assert expected in output
    assert MlflowClient(env["MLOPS_TRACKING_URI"]).search_registered_models("name='bad'") == []
