"""The preparation is part of the model: a saved pyfunc takes raw rows of its table, tolerantly,
and names what is wrong; text ids reach the recommender in the model's id type."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.types.schema import ColSpec, Schema
from typer.testing import CliRunner

from mlops_platform.errors import InputError
from mlops_platform.models.base import split_holdout
from mlops_platform.models.churn import ChurnModel
from mlops_platform.models.pyfunc import CustomerModelPyfunc, signature
from mlops_platform.models.table_schema import schema_of
from mlops_platform.models.tabular import prepare_table
from mlops_platform.pipelines import recommend as recommending

PARAMS = {"n_estimators": 30, "learning_rate": 0.2, "early_stopping_rounds": 5, "n_jobs": 1}


def export(n: int, seed: int) -> pd.DataFrame:
    """Raw rows as a CSV reader gives them: words, numbers as text with blanks, dates as text."""
    rng = np.random.default_rng(seed)
    spend = rng.uniform(0, 100, n).round(2)
    vip = rng.random(n) < 0.4
    churned = (spend < 40) ^ (rng.random(n) < 0.1)
    return pd.DataFrame(
        {
            "account": [f"AC-{i:05d}-K" for i in range(n)],
            "vip": np.where(vip, "Yes", "No"),
            "spend": [" " if i % 17 == 0 else f"{s:.2f}" for i, s in enumerate(spend)],
            "plan": rng.choice(["basic", "plus", "max"], n),
            "since": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
            "left": churned.astype(int),
        }
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChurnModel, str]:
    data, report = prepare_table(export(240, seed=1), target="left", id_column="account")
    train, holdout = split_holdout(data, share=0.25, seed=1)
    model = ChurnModel(PARAMS, seed=1).fit(train)
    schema = schema_of(model, train.frame, {"boolean": report.boolean, "datetime_as_days": report.datetime_as_days})
    path = str(tmp_path_factory.mktemp("pyfunc") / "model")
    output = model.predict_frame(holdout.frame.head(5))
    mlflow.pyfunc.save_model(
        path,
        python_model=CustomerModelPyfunc(model, schema),
        signature=signature(schema, output),
        pip_requirements=["mlops-platform"],
    )
    return model, path


def test_raw_rows_are_prepared_like_the_training_table(saved) -> None:
    model, path = saved
    raw = export(30, seed=2).drop(columns=["left"])
    served = mlflow.pyfunc.load_model(path).predict(raw)
    prepared, _ = prepare_table(export(30, seed=2), target="left", id_column="account")
    expected = model.predict_frame(prepared.frame)
    assert served["account"].tolist() == raw["account"].tolist()
    np.testing.assert_allclose(served["score"], expected["score"], atol=1e-12)


def test_types_another_reader_guessed_are_accepted(saved) -> None:
    _, path = saved
    loaded = mlflow.pyfunc.load_model(path)
    raw = export(30, seed=2).drop(columns=["left"])
    reference = loaded.predict(raw)["score"]
    guessed = raw.assign(
        spend=pd.to_numeric(raw["spend"].str.strip().replace("", np.nan)),  # floats, not text
        vip=raw["vip"] == "Yes",  # bools, not words
        since=raw["since"].dt.strftime("%Y-%m-%d"),  # date text, not datetimes
        note="an extra column",
    )
    np.testing.assert_allclose(loaded.predict(guessed)["score"], reference, atol=1e-12)
    whole = guessed.assign(spend=guessed["spend"].fillna(0).round().astype(int))  # ints where floats were seen
    assert loaded.predict(whole)["score"].notna().all()


def test_unseen_categories_and_blanks_are_missing_values_not_errors(saved) -> None:
    _, path = saved
    raw = export(5, seed=3).drop(columns=["left"]).assign(plan=["enterprise", "", None, "basic", "max"])
    raw.loc[0, "vip"] = " "
    assert len(mlflow.pyfunc.load_model(path).predict(raw)) == 5


def test_the_signature_is_the_raw_columns_all_optional(saved) -> None:
    _, path = saved
    schema = mlflow.pyfunc.load_model(path).metadata.get_input_schema()
    assert schema.input_names() == ["account", "vip", "spend", "plan", "since"]
    assert schema.required_input_names() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"drop": "spend"}, r"lacks feature column\(s\) spend", id="missing"),
        pytest.param({"vip": "maybe"}, r"'vip'.*'maybe'.*a boolean", id="bad-boolean"),
        pytest.param({"spend": "lots"}, r"'spend'.*'lots'.*a number", id="bad-number"),
        pytest.param({"since": "someday"}, r"'since' should hold dates but holds 'someday'", id="bad-date"),
    ],
)
def test_bad_cells_and_missing_columns_are_named(saved, change: dict[str, str], message: str) -> None:
    _, path = saved
    raw = export(5, seed=4).drop(columns=["left"])
    if "drop" in change:
        raw = raw.drop(columns=[change["drop"]])
    else:
        raw = raw.astype({name: object for name in change})
        for name, value in change.items():
            raw.loc[2, name] = value
    with pytest.raises(InputError, match=message):
        mlflow.pyfunc.load_model(path).predict(raw)


def test_a_wrapper_pickled_without_a_schema_derives_it(saved) -> None:
    model, _ = saved
    wrapper = CustomerModelPyfunc(model)
    del wrapper.schema  # as unpickled from a version logged before schemas existed
    assert wrapper.table_schema.features == tuple(model.features_)


def loaded_recommender(kind: str, seen: list[pd.DataFrame]) -> SimpleNamespace:
    """A stand-in for a loaded recommender whose ids are of MLflow type ``kind``."""

    def predict(frame: pd.DataFrame, params: dict) -> pd.DataFrame:
        seen.append(frame)
        return frame.assign(rank=1, product_id=7, name="pack", category="data", score=0.5, reasons="r")

    schema = Schema([ColSpec(kind, "customer_id")])
    return SimpleNamespace(metadata=SimpleNamespace(get_input_schema=lambda: schema), predict=predict)


def test_text_ids_become_the_models_integer_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[pd.DataFrame] = []
    monkeypatch.setattr(mlflow.pyfunc, "load_model", lambda uri: loaded_recommender("long", seen))
    recs = recommending.recommend(None, "recommender", [" 100258", "7"], 3, version="2")  # type: ignore[arg-type]
    assert recs.customers == (100258, 7)
    assert seen[0]["customer_id"].tolist() == [100258, 7]
    assert len(recs.of(100258)) == 1


def test_text_ids_stay_text_for_a_model_with_text_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[pd.DataFrame] = []
    monkeypatch.setattr(mlflow.pyfunc, "load_model", lambda uri: loaded_recommender("string", seen))
    recs = recommending.recommend(None, "recommender", ["AC-20931-K"], 3, version="2")  # type: ignore[arg-type]
    assert recs.customers == ("AC-20931-K",)


def test_mlops_recommend_names_a_text_id_an_integer_model_cannot_know(monkeypatch, tmp_path: Path) -> None:
    from mlops_platform.cli import app
    from mlops_platform.registry import tracking

    monkeypatch.setattr(mlflow.pyfunc, "load_model", lambda uri: loaded_recommender("long", []))
    monkeypatch.setattr(tracking, "client_for", lambda settings: (None, "0"))
    result = CliRunner().invoke(app, ["--config-dir", "config", "recommend", "AC-20931-K", "--version", "2"])
    assert result.exit_code == 1, result.output
    assert "customer id 'AC-20931-K' is not an integer, and recommender v2 knows integer customer ids" in result.output
