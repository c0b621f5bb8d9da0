"""The model zoo on small synthetic data: contract, metrics, baselines, registry and pyfunc."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

from mlops_platform.errors import InputError
from mlops_platform.models.base import MODELS, TrainingData, get_model_class, split_holdout
from mlops_platform.models.churn import ChurnModel
from mlops_platform.models.conversion import STRATEGIES, ConversionModel, smote_resample
from mlops_platform.models.naming import segment_names
from mlops_platform.models.revenue import RevenueModel
from mlops_platform.models.segmentation import SegmentationModel

FAST_BOOSTER = {"n_estimators": 60, "learning_rate": 0.1, "early_stopping_rounds": 10, "n_jobs": 1}
CLASSIFIER_METRICS = {"roc_auc", "pr_auc", "f1", "precision", "recall", "brier"}
ONLINE_SHOPPERS = Path("/work/shared/data/online_shoppers/online_shoppers_intention.csv")


def _dates(n: int, periods: int = 4) -> pd.Series:
    return pd.Series(pd.date_range("2024-01-01", periods=periods, freq="7D").repeat(n // periods))


@pytest.fixture(scope="module")
def labelled() -> TrainingData:
    """800 customers, 20 % positives, one categorical, an id and four snapshot dates."""
    x, y = make_classification(
        n_samples=800, n_features=6, n_informative=4, n_redundant=0, weights=[0.8], random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    frame["plan"] = pd.Categorical(np.where(x[:, 0] > 0.3, "gold", "basic"))
    frame["customer_id"] = [f"c{i:04d}" for i in range(len(frame))]
    frame["snapshot_date"] = _dates(len(frame))
    frame["label"] = y
    features = [*(f"f{i}" for i in range(6)), "plan"]
    return TrainingData(frame, features, "label", ["plan"], "customer_id", "snapshot_date")


@pytest.fixture(scope="module")
def split(labelled: TrainingData) -> tuple[TrainingData, TrainingData]:
    return split_holdout(dataclasses.replace(labelled, time_column=None), share=0.25, seed=1)


@pytest.fixture(scope="module")
def churn(split) -> ChurnModel:
    return ChurnModel(FAST_BOOSTER, seed=1).fit(split[0])


@pytest.fixture(scope="module")
def conversion(split) -> ConversionModel:
    return ConversionModel(FAST_BOOSTER, seed=1).fit(split[0])


def test_time_based_holdout_takes_the_newest_dates_whole(labelled):
    train, holdout = split_holdout(labelled, share=0.25)

    assert train.frame["snapshot_date"].max() < holdout.frame["snapshot_date"].min()
    assert holdout.frame["snapshot_date"].nunique() == 1
    assert len(train.frame) + len(holdout.frame) == len(labelled.frame)


def test_random_holdout_is_stratified_and_seeded(split, labelled):
    train, holdout = split
    _, again = split_holdout(dataclasses.replace(labelled, time_column=None), share=0.25, seed=1)

    assert holdout.frame["label"].mean() == pytest.approx(labelled.frame["label"].mean(), abs=0.01)
    assert holdout.frame.index.equals(again.frame.index)


@pytest.mark.parametrize("model_fixture", ["churn", "conversion"], ids=["churn", "conversion"])
def test_classifier_scores_evaluates_and_beats_chance(model_fixture, split, request):
    model = request.getfixturevalue(model_fixture)
    _, holdout = split

    scores = model.predict_frame(holdout.frame)
    result = model.evaluate(holdout)

    assert list(scores.columns) == ["customer_id", "score", "label"]
    assert scores.index.equals(holdout.frame.index)
    assert scores["score"].between(0, 1).all()
    assert 0 < model.threshold_ < 1
    assert set(result.metrics) >= CLASSIFIER_METRICS
    assert set(result.baseline_metrics) >= CLASSIFIER_METRICS
    assert result.metrics["roc_auc"] > 0.7
    assert result.metrics["pr_auc"] > holdout.frame["label"].mean()
    assert set(result.figures) == {"roc", "pr", "calibration", "confusion_matrix", "feature_importance"}
    assert "baseline_comparison" in result.tables


def test_churn_weights_positives_by_the_class_ratio_of_its_training_part(churn):
    # about 20 % positives: negatives / positives is about 4
    assert churn.scale_pos_weight_ == pytest.approx(4.0, rel=0.15)
    assert churn.validation_metrics_["roc_auc"] > 0.7


def test_conversion_chooses_a_strategy_and_never_resamples_validation_or_holdout(conversion, split):
    train, holdout = split

    result = conversion.evaluate(holdout)

    assert conversion.strategy_ in STRATEGIES
    assert set(conversion.strategy_scores_) == set(STRATEGIES)
    assert conversion.n_train_rows_ + conversion.n_validation_rows_ == len(train.frame)
    assert conversion.n_resampled_rows_ > conversion.n_train_rows_
    assert result.metrics["n_rows"] == len(holdout.frame)
    assert len(conversion.predict_frame(holdout.frame)) == len(holdout.frame)
    assert "strategy_scores" in result.tables


def test_smote_keeps_the_original_rows_and_the_categorical_levels():
    x = pd.DataFrame(
        {
            "amount": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            "plan": pd.Categorical(["a", "b", None, "a", "b", "a", "a", "b", "a", "b"]),
        }
    )
    y = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])

    resampled, labels = smote_resample(x, y, seed=0, k_neighbors=2)

    pd.testing.assert_frame_equal(resampled.iloc[: len(x)], x)
    assert resampled["plan"].dtype == x["plan"].dtype
    assert np.bincount(labels).tolist() == [7, 7]
    assert resampled.iloc[len(x) :]["amount"].notna().all()


def test_an_unknown_imbalance_strategy_is_refused(split):
    with pytest.raises(InputError, match=r"unknown imbalance strategy oversample; known: none, class_weight, smote"):
        ConversionModel({**FAST_BOOSTER, "strategies": ["oversample"]}).fit(split[0])


@pytest.fixture(scope="module")
def spend_data() -> TrainingData:
    """About 35 % buyers; who buys depends on f0, how much on f1."""
    rng = np.random.default_rng(2)
    n = 1000
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["f0", "f1", "f2", "f3"])
    buys = rng.uniform(size=n) < 1 / (1 + np.exp(-(2.0 * frame["f0"] - 0.8)))
    frame["spend"] = np.where(buys, np.exp(3.0 + 0.8 * frame["f1"] + rng.normal(0, 0.3, n)), 0.0)
    return TrainingData(frame, ["f0", "f1", "f2", "f3"], "spend")


def test_revenue_predicts_p_buy_times_spend_and_beats_the_mean(spend_data):
    train, holdout = split_holdout(spend_data, seed=3)
    model = RevenueModel(FAST_BOOSTER, seed=3).fit(train)

    scores = model.predict_frame(holdout.frame)
    result = model.evaluate(holdout)

    assert list(scores.columns) == ["prediction", "buy_probability", "spend_if_buy"]
    assert np.allclose(scores["prediction"], scores["buy_probability"] * scores["spend_if_buy"])
    expected = {"rmse", "mae", "r2", "mape", "rmse_buyers", "mae_buyers", "r2_buyers", "mape_buyers"}
    assert expected <= set(result.metrics) and expected <= set(result.baseline_metrics)
    assert result.metrics["rmse"] < holdout.frame["spend"].std()
    assert result.metrics["buy_roc_auc"] > 0.75
    assert model.smearing_ >= 1.0
    assert {"residuals", "predicted_vs_actual"} <= set(result.figures)


def test_revenue_refuses_negative_spend(spend_data):
    frame = spend_data.frame.assign(spend=spend_data.frame["spend"] - 1.0)
    with pytest.raises(InputError, match=r"target 'spend' has \d+ negative value"):
        RevenueModel(FAST_BOOSTER).fit(spend_data.with_frame(frame))


@pytest.fixture(scope="module")
def behaviour() -> TrainingData:
    """Three behaviours: heavy data and spend, dormant and cheap, in between."""
    rng = np.random.default_rng(4)
    centres = {
        "data_mb": (6000, 40, 900),
        "monthly_spend": (90, 6, 35),
        "days_since_last_activity": (1, 60, 8),
    }
    size = 150
    frame = pd.DataFrame(
        {name: np.concatenate([rng.gamma(20, c / 20, size) for c in means]) for name, means in centres.items()}
    )
    frame["plan"] = pd.Categorical(rng.choice(["a", "b"], len(frame)))
    return TrainingData(frame, [*centres, "plan"], categorical=["plan"])


def test_segmentation_finds_k_in_range_with_unique_readable_names(behaviour):
    model = SegmentationModel({"k_min": 2, "k_max": 5, "silhouette_sample": 300}, seed=0).fit(behaviour)

    scores = model.predict_frame(behaviour.frame)
    result = model.evaluate(behaviour)

    assert 2 <= model.k_ <= 5
    assert model.k_ == 3
    names = list(model.segment_names_.values())
    assert len(set(names)) == len(names)
    assert {"high-data premium", "dormant low-spender"} <= set(names)
    assert list(scores.columns) == ["segment", "segment_name"]
    assert {"silhouette", "davies_bouldin", "k"} <= set(result.metrics)
    assert result.metrics["silhouette"] > 0.5
    assert result.tables["profile"]["share"].sum() == pytest.approx(1.0)


def test_segment_names_follow_the_centroid_and_are_made_unique():
    centroids = pd.DataFrame(
        {
            "data_mb": [1.2, -1.0, 1.1, 0.0],
            "spend": [1.0, -0.9, 1.3, 0.1],
            "recency_days": [-0.8, 1.5, -0.7, 0.0],
        }
    )

    names = segment_names(centroids)

    assert names[1] == "dormant low-spender"
    assert names[3] == "moderate-usage mid-spender"
    assert names[0].startswith("high-data premium (") and names[2].startswith("high-data premium (")
    assert len(set(names.values())) == 4
    assert segment_names(pd.DataFrame({"tenure": [2.0, -0.1]})) == {0: "high tenure", 1: "average"}


def test_models_are_registered_by_name():
    assert get_model_class("churn") is ChurnModel
    assert get_model_class("segmentation") is SegmentationModel
    assert MODELS["conversion"] is ConversionModel


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(
        InputError, match=r"unknown model 'chrun'; known models: churn, conversion, revenue, segmentation"
    ):
        get_model_class("chrun")


def test_an_unknown_parameter_is_refused(split):
    with pytest.raises(InputError, match=r"churn: unknown parameter\(s\) max_dept; known: .*max_depth"):
        ChurnModel({"max_dept": 3}).fit(split[0])


def test_scoring_before_fit_is_refused(split):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ChurnModel().predict_frame(split[1].frame)


def test_a_missing_feature_column_is_named(churn, split):
    with pytest.raises(InputError, match=r"churn: the input lacks feature column\(s\) f2, plan"):
        churn.predict_frame(split[1].frame.drop(columns=["f2", "plan"]))


def test_scoring_accepts_raw_text_columns(churn, split):
    raw = split[1].frame.assign(plan=split[1].frame["plan"].astype(str), f0=split[1].frame["f0"].astype(str))
    pd.testing.assert_frame_equal(churn.predict_frame(raw), churn.predict_frame(split[1].frame))


def test_pyfunc_roundtrip_predicts_like_predict_frame(churn, split, tmp_path):
    import mlflow.pyfunc

    from mlops_platform.models.pyfunc import CustomerModelPyfunc, unwrap

    holdout = split[1].frame
    path = tmp_path / "churn"
    mlflow.pyfunc.save_model(path, python_model=CustomerModelPyfunc(churn), pip_requirements=["mlops-platform"])
    loaded = mlflow.pyfunc.load_model(str(path))

    served = loaded.predict(holdout.assign(unrelated=1))

    pd.testing.assert_frame_equal(served, churn.predict_frame(holdout))
    assert isinstance(unwrap(loaded), ChurnModel)
    with pytest.raises(InputError, match=r"lacks feature column\(s\) f1"):
        loaded.predict(holdout.drop(columns=["f1"]))


@pytest.mark.skipif(not ONLINE_SHOPPERS.exists(), reason="online shoppers data set not present")
def test_conversion_on_online_shoppers_matches_the_published_auroc():
    from mlops_platform.models.tabular import prepare_table

    started = time.perf_counter()
    data, _ = prepare_table(pd.read_csv(ONLINE_SHOPPERS), target="Revenue")
    train, holdout = split_holdout(data, share=0.2, seed=7)
    params = {**FAST_BOOSTER, "n_estimators": 80}
    model = ConversionModel(params, seed=7).fit(train)
    result = model.evaluate(holdout)

    print(
        f"online shoppers: ROC-AUC {result.metrics['roc_auc']:.4f} PR-AUC {result.metrics['pr_auc']:.4f} "
        f"F1 {result.metrics['f1']:.4f} strategy {model.strategy_} {model.strategy_scores_} "
        f"baseline PR-AUC {result.baseline_metrics['pr_auc']:.4f} in {time.perf_counter() - started:.1f}s"
    )
    assert result.metrics["roc_auc"] > 0.85  # published AUROC 0.937
    assert result.metrics["pr_auc"] > result.baseline_metrics["pr_auc"] - 0.02


def test_segmentation_logs_only_skewed_non_negative_features():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"spend": rng.lognormal(3, 1, 300), "balance": rng.normal(0, 1, 300)})
    data = TrainingData(frame, ["spend", "balance"])

    model = SegmentationModel({"k_min": 2, "k_max": 3}, seed=0).fit(data)

    assert model.log_columns_ == ["spend"]
