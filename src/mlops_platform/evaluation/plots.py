"""Evaluation figures for the model zoo.

Every function builds a fresh :class:`matplotlib.figure.Figure` with an Agg canvas attached
inside the function: nothing touches ``pyplot`` or the process-wide backend, so the figures work
in a headless container and never accumulate in pyplot's figure list. Callers keep or save the
returned figure (``save_figures`` writes PNGs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklearn import metrics as skm

_logger = logging.getLogger(__name__)


def _new_figure(title: str, size: tuple[float, float] = (5.5, 4.5)) -> tuple[Figure, Axes]:
    """A figure drawn by the Agg backend, with one axes titled ``title``."""
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title)
    return figure, axes


def _arrays(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y_true, dtype=float).ravel(), np.asarray(y_pred, dtype=float).ravel()


def roc_figure(y_true: ArrayLike, scores: ArrayLike, title: str = "ROC curve") -> Figure:
    """ROC curve with its AUC and the chance diagonal."""
    y, p = _arrays(y_true, scores)
    figure, axes = _new_figure(title)
    if np.unique(y).size == 2:
        fpr, tpr, _ = skm.roc_curve(y, p)
        axes.plot(fpr, tpr, label=f"model (AUC = {skm.roc_auc_score(y, p):.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower right")
    return figure


def pr_figure(y_true: ArrayLike, scores: ArrayLike, title: str = "Precision-recall curve") -> Figure:
    """Precision-recall curve with its average precision and the positive-rate baseline."""
    y, p = _arrays(y_true, scores)
    figure, axes = _new_figure(title)
    if np.unique(y).size == 2:
        precision, recall, _ = skm.precision_recall_curve(y, p)
        ap = skm.average_precision_score(y, p)
        axes.step(recall, precision, where="post", label=f"model (AP = {ap:.3f})")
    if y.size:
        axes.axhline(y.mean(), linestyle="--", color="grey", label=f"positive rate = {y.mean():.3f}")
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="upper right")
    return figure


def calibration_figure(y_true: ArrayLike, scores: ArrayLike, n_bins: int = 10, title: str = "Calibration") -> Figure:
    """Mean predicted probability against the observed positive rate in quantile bins."""
    y, p = _arrays(y_true, scores)
    figure, axes = _new_figure(title)
    if y.size:
        bins = pd.qcut(pd.Series(p), q=min(n_bins, y.size), duplicates="drop")
        table = pd.DataFrame({"p": p, "y": y}).groupby(bins.to_numpy(), observed=True).mean()
        axes.plot(table["p"], table["y"], marker="o", label="model")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.set(xlabel="mean predicted probability", ylabel="observed positive rate", xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="upper left")
    return figure


def confusion_matrix_figure(
    y_true: ArrayLike, scores: ArrayLike, threshold: float = 0.5, title: str = "Confusion matrix"
) -> Figure:
    """Counts of true/false positives/negatives at ``threshold`` (positive when ``score >= threshold``)."""
    y, p = _arrays(y_true, scores)
    matrix = skm.confusion_matrix(y.astype(int), (p >= threshold).astype(int), labels=[0, 1])
    figure, axes = _new_figure(f"{title} (threshold {threshold:.3f})", size=(4.5, 4.0))
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(col, row, f"{count:,}", ha="center", va="center", color=colour)
    axes.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual")
    axes.set_xticklabels(["0", "1"])
    axes.set_yticklabels(["0", "1"])
    return figure


def feature_importance_figure(
    importance: Mapping[str, float] | pd.Series, top: int = 20, title: str = "Feature importance"
) -> Figure:
    """Horizontal bars of the ``top`` most important features, largest at the top."""
    values = pd.Series(importance, dtype=float).sort_values(ascending=False).head(top)[::-1]
    figure, axes = _new_figure(title, size=(6.0, max(3.0, 0.3 * len(values) + 1.0)))
    positions = np.arange(len(values))
    axes.barh(positions, values.to_numpy())
    axes.set_yticks(positions, values.index.astype(str))
    axes.set(xlabel="importance")
    return figure


def residuals_figure(y_true: ArrayLike, y_pred: ArrayLike, title: str = "Residuals") -> Figure:
    """Residual (actual - predicted) against the prediction, with the zero line."""
    y, p = _arrays(y_true, y_pred)
    figure, axes = _new_figure(title)
    axes.scatter(p, y - p, s=6, alpha=0.4)
    axes.axhline(0.0, color="grey", linestyle="--")
    axes.set(xlabel="predicted", ylabel="actual - predicted")
    return figure


def predicted_vs_actual_figure(y_true: ArrayLike, y_pred: ArrayLike, title: str = "Predicted vs actual") -> Figure:
    """Scatter of predictions against actuals, with the identity line."""
    y, p = _arrays(y_true, y_pred)
    figure, axes = _new_figure(title)
    axes.scatter(y, p, s=6, alpha=0.4)
    if y.size:
        low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        axes.plot([low, high], [low, high], color="grey", linestyle="--", label="perfect")
        axes.legend(loc="upper left")
    axes.set(xlabel="actual", ylabel="predicted")
    return figure


def bar_figure(values: Mapping[str, float] | pd.Series, title: str, xlabel: str, ylabel: str) -> Figure:
    """Vertical bars of ``values`` in their given order (segment sizes, scores by k, ...)."""
    series = pd.Series(values, dtype=float)
    figure, axes = _new_figure(title)
    positions = np.arange(len(series))
    axes.bar(positions, series.to_numpy())
    axes.set_xticks(positions, series.index.astype(str), rotation=30, ha="right")
    axes.set(xlabel=xlabel, ylabel=ylabel)
    return figure


def save_figures(figures: Mapping[str, Figure], folder: str | Path, dpi: int = 110) -> list[Path]:
    """Write each figure as ``<folder>/<name>.png``.

    Args:
        figures: figure by file stem (``"roc"`` -> ``roc.png``).
        folder: created if missing.
        dpi: resolution of the PNGs.

    Returns:
        The written paths, in the order of ``figures``.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = target / f"{name}.png"
        figure.savefig(path, dpi=dpi)
        paths.append(path)
    _logger.debug("wrote %d figure(s) to %s", len(paths), target)
    return paths
