"""Metrics against hand-computed answers, and the evaluation figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mlops_platform.evaluation import plots
from mlops_platform.evaluation.metrics import (
    best_f1_threshold,
    classification_metrics,
    clustering_metrics,
    regression_metrics,
)

Y = [0, 0, 1, 1]
P = [0.1, 0.4, 0.35, 0.8]


def test_classification_metrics_match_hand_computed_values():
    result = classification_metrics(Y, P, threshold=0.5)

    # ranks: 3 of the 4 (positive, negative) pairs are ordered correctly
    assert result["roc_auc"] == pytest.approx(0.75)
    # AP = 0.5 * 1 (at 0.8) + 0.5 * 2/3 (at 0.35)
    assert result["pr_auc"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    # only 0.8 is >= 0.5: TP 1, FP 0, FN 1
    assert result["precision"] == pytest.approx(1.0)
    assert result["recall"] == pytest.approx(0.5)
    assert result["f1"] == pytest.approx(2 / 3)
    assert result["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)


def test_best_f1_threshold_picks_the_score_that_maximises_f1():
    # at 0.35: TP 2, FP 1 -> precision 2/3, recall 1, F1 0.8 (the best of the four cuts)
    assert best_f1_threshold(Y, P) == pytest.approx(0.35)
    assert classification_metrics(Y, P, threshold=0.35)["f1"] == pytest.approx(0.8)


def test_single_class_labels_give_nan_aucs_and_a_default_threshold():
    result = classification_metrics([0, 0, 0], [0.2, 0.4, 0.9])

    assert math.isnan(result["roc_auc"]) and math.isnan(result["pr_auc"])
    assert best_f1_threshold([1, 1], [0.3, 0.6]) == 0.5


def test_regression_metrics_match_hand_computed_values():
    result = regression_metrics([0.0, 2.0, 4.0], [1.0, 2.0, 2.0])

    assert result["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert result["mae"] == pytest.approx(1.0)
    assert result["r2"] == pytest.approx(1 - 5 / 8)
    # MAPE only on actuals > 0: (0/2 + 2/4) / 2
    assert result["mape"] == pytest.approx(0.25)


def test_mape_is_nan_without_positive_actuals():
    assert math.isnan(regression_metrics([0.0, 0.0], [1.0, 2.0])["mape"])


def test_clustering_metrics_match_hand_computed_values():
    x = [[0.0], [1.0], [10.0], [11.0]]
    result = clustering_metrics(x, [0, 0, 1, 1])

    expected_silhouette = ((1 - 1 / 10.5) + (1 - 1 / 9.5)) / 2
    assert result["silhouette"] == pytest.approx(expected_silhouette, abs=1e-9)
    # scatter 0.5 in each cluster, centroids 10 apart
    assert result["davies_bouldin"] == pytest.approx(0.1)


def test_sampled_silhouette_is_reproducible_with_the_same_seed():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(6, 1, (300, 2))])
    labels = np.repeat([0, 1], 300)

    first = clustering_metrics(x, labels, sample_size=100, seed=3)
    second = clustering_metrics(x, labels, sample_size=100, seed=3)

    assert first == second
    assert first["silhouette"] > 0.6


def test_a_single_cluster_has_nan_clustering_metrics():
    result = clustering_metrics([[0.0], [1.0], [2.0]], [0, 0, 0])
    assert math.isnan(result["silhouette"]) and math.isnan(result["davies_bouldin"])


def test_every_figure_function_returns_a_figure_and_save_figures_writes_pngs(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.4 + rng.uniform(0, 0.6, 200), 0, 1)
    spend = rng.gamma(2.0, 10.0, 200)
    figures = {
        "roc": plots.roc_figure(y, p),
        "pr": plots.pr_figure(y, p),
        "calibration": plots.calibration_figure(y, p),
        "confusion_matrix": plots.confusion_matrix_figure(y, p, 0.5),
        "feature_importance": plots.feature_importance_figure(pd.Series({"a": 3.0, "b": 1.0})),
        "residuals": plots.residuals_figure(spend, spend * 0.9),
        "predicted_vs_actual": plots.predicted_vs_actual_figure(spend, spend * 1.1),
        "bars": plots.bar_figure({"2": 0.3, "3": 0.5}, "title", "k", "silhouette"),
    }
    assert all(isinstance(figure, Figure) for figure in figures.values())

    paths = plots.save_figures(figures, tmp_path / "figures")

    assert [path.name for path in paths] == [f"{name}.png" for name in figures]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in paths)
