"""Metrics for the model zoo: classification, regression and clustering.

Every function takes plain array-likes and returns ``dict[str, float]`` so the registry can log
the result as it is. A metric that is undefined on the given data (an AUC on a single class, a
MAPE without positive actuals) is ``nan``, never an exception: a holdout window without
positives is a fact to report, not a crash.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import ArrayLike
from sklearn import metrics as skm

_logger = logging.getLogger(__name__)

NAN = float("nan")


def _as_arrays(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return both inputs as 1-d float arrays of the same length."""
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.size} values but the predictions have {p.size}")
    return y, p


def best_f1_threshold(y_true: ArrayLike, scores: ArrayLike) -> float:
    """The score threshold that maximises F1 (a row is positive when ``score >= threshold``).

    Args:
        y_true: 0/1 labels.
        scores: predicted probabilities of the positive class.

    Returns:
        The threshold; 0.5 when the labels hold a single class (F1 is then undefined).
    """
    y, p = _as_arrays(y_true, scores)
    if np.unique(y).size < 2:
        return 0.5
    precision, recall, thresholds = skm.precision_recall_curve(y, p)
    # The last (precision, recall) pair has no threshold: it is the "predict nothing" point.
    precision, recall = precision[:-1], recall[:-1]
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(thresholds[int(np.argmax(f1))])


def classification_metrics(y_true: ArrayLike, scores: ArrayLike, threshold: float = 0.5) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), F1, precision, recall and Brier score.

    Args:
        y_true: 0/1 labels.
        scores: predicted probabilities of the positive class.
        threshold: a row is predicted positive when its score is ``>= threshold``.

    Returns:
        ``roc_auc``, ``pr_auc``, ``f1``, ``precision``, ``recall``, ``brier``; the two AUCs are
        ``nan`` when the labels hold a single class.
    """
    y, p = _as_arrays(y_true, scores)
    predicted = (p >= threshold).astype(int)
    both_classes = np.unique(y).size == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y, p)) if both_classes else NAN,
        "pr_auc": float(skm.average_precision_score(y, p)) if both_classes else NAN,
        "f1": float(skm.f1_score(y, predicted, zero_division=0)),
        "precision": float(skm.precision_score(y, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y, predicted, zero_division=0)),
        "brier": float(np.mean((p - y) ** 2)) if y.size else NAN,
    }


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """RMSE, MAE, R² and MAPE.

    MAPE is computed only on rows whose actual value is > 0 (spend of 0 makes the percentage
    error infinite) and is a fraction: 0.25 means 25 %. It is ``nan`` when no actual is > 0;
    R² is ``nan`` with fewer than two rows or a constant actual.

    Returns:
        ``rmse``, ``mae``, ``r2``, ``mape``.
    """
    y, p = _as_arrays(y_true, y_pred)
    if y.size == 0:
        return {"rmse": NAN, "mae": NAN, "r2": NAN, "mape": NAN}
    error = p - y
    positive = y > 0
    r2 = NAN
    if y.size >= 2 and np.ptp(y) > 0:
        r2 = float(skm.r2_score(y, p))
    mape = float(np.mean(np.abs(error[positive]) / y[positive])) if positive.any() else NAN
    return {
        "rmse": float(math.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": r2,
        "mape": mape,
    }


def clustering_metrics(
    x: ArrayLike, labels: ArrayLike, sample_size: int | None = 5000, seed: int = 42
) -> dict[str, float]:
    """Silhouette (on a seeded sample of at most ``sample_size`` rows) and Davies-Bouldin.

    Silhouette costs O(n²), so it is computed on a random sample drawn with ``seed`` (the same
    data and seed always give the same value); Davies-Bouldin is cheap and uses every row.

    Returns:
        ``silhouette`` (higher is better) and ``davies_bouldin`` (lower is better); both ``nan``
        unless there are at least two clusters and more rows than clusters.
    """
    matrix = np.asarray(x, dtype=float)
    groups = np.asarray(labels).ravel()
    n_clusters = np.unique(groups).size
    if n_clusters < 2 or n_clusters >= groups.size:
        return {"silhouette": NAN, "davies_bouldin": NAN}
    size = sample_size if sample_size is not None and sample_size < groups.size else None
    return {
        "silhouette": float(skm.silhouette_score(matrix, groups, sample_size=size, random_state=seed)),
        "davies_bouldin": float(skm.davies_bouldin_score(matrix, groups)),
    }
