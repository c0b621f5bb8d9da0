"""What the binary classifiers (churn, conversion) share: labels, validation fold, threshold,
baseline and evaluation.

A subclass fits its booster in ``_fit_model`` and scores in ``_scores``; this class picks the F1
threshold on the validation fold, fits the logistic baseline on the same training rows and
builds the evaluation (metrics, baseline lift, figures, tables).
"""

from __future__ import annotations

import dataclasses
import logging
from abc import abstractmethod
from typing import Any, Self

import numpy as np
import pandas as pd

from mlops_platform.errors import InputError
from mlops_platform.evaluation import plots
from mlops_platform.evaluation.metrics import best_f1_threshold, classification_metrics
from mlops_platform.models.base import (
    CustomerModel,
    EvaluationResult,
    TrainingData,
    compare_with_baseline,
    split_validation,
)
from mlops_platform.models.baselines import logistic_baseline

_logger = logging.getLogger(__name__)


def binary_labels(data: TrainingData, model_name: str, both_classes: bool = True) -> np.ndarray:
    """The target as a 0/1 integer array.

    Raises:
        InputError: the target is missing, not 0/1 or (with ``both_classes``) holds one class.
    """
    y = pd.to_numeric(data.y, errors="coerce")
    if y.isna().any() or not y.isin([0, 1]).all():
        raise InputError(f"{model_name}: target {data.target!r} must hold only 0/1 (prepare the table first)")
    if both_classes and y.nunique() < 2:
        raise InputError(f"{model_name}: target {data.target!r} holds a single class ({int(y.iloc[0])})")
    return y.to_numpy(dtype=int)


def validation_fold(data: TrainingData, share: float, seed: int) -> tuple[TrainingData, TrainingData]:
    """A validation fold with both classes on each side (time-based when possible)."""
    train, validation = split_validation(data, share=share, seed=seed, stratify=True)
    if train.y.nunique() == 2 and validation.y.nunique() == 2:
        return train, validation
    _logger.warning("time-based validation fold lacks a class: using a stratified fold instead")
    untimed = dataclasses.replace(data, time_column=None)
    train, validation = split_validation(untimed, share=share, seed=seed, stratify=True)
    return data.with_frame(train.frame), data.with_frame(validation.frame)


class BinaryClassifierModel(CustomerModel):
    """A binary classifier whose ``score`` is the probability of the positive class."""

    task = "classification"
    primary_metric = "pr_auc"
    feature_importance_: pd.Series  # set by each subclass's fit

    @abstractmethod
    def _fit_model(
        self,
        params: dict[str, Any],
        x_train: pd.DataFrame,
        y_train: np.ndarray,
        x_val: pd.DataFrame,
        y_val: np.ndarray,
    ) -> None:
        """Fit the main model on the training part, using the validation fold to stop early."""

    @abstractmethod
    def _scores(self, features: pd.DataFrame) -> np.ndarray:
        """Positive-class probabilities of a coerced feature frame."""

    def fit(self, data: TrainingData) -> Self:
        """Fit the model and its baseline; choose both thresholds for F1 on the validation fold."""
        params = self.resolved_params()
        binary_labels(data, self.name)
        self._learn_schema(data)
        train, validation = validation_fold(data, float(params["validation_share"]), self.seed)
        x_train, x_val = self.feature_frame(train.frame), self.feature_frame(validation.frame)
        y_train, y_val = binary_labels(train, self.name), binary_labels(validation, self.name)
        self._fit_model(params, x_train, y_train, x_val, y_val)
        val_scores = self._scores(x_val)
        self.threshold_ = best_f1_threshold(y_val, val_scores)
        self.validation_metrics_ = classification_metrics(y_val, val_scores, self.threshold_)
        self._fit_baseline(x_train, y_train, x_val, y_val)
        self.n_train_rows_, self.n_validation_rows_ = len(train.frame), len(validation.frame)
        _logger.info(
            "%s fitted on %d rows (validation %d): threshold %.3f, validation PR-AUC %.3f",
            self.name,
            self.n_train_rows_,
            self.n_validation_rows_,
            self.threshold_,
            self.validation_metrics_["pr_auc"],
        )
        return self

    def _fit_baseline(self, x_train: pd.DataFrame, y_train: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None:
        categorical = [name for name in self.features_ if name in self.categories_]
        numeric = [name for name in self.features_ if name not in self.categories_]
        self.baseline_ = logistic_baseline(numeric, categorical, seed=self.seed).fit(x_train, y_train)
        self.baseline_threshold_ = best_f1_threshold(y_val, self.baseline_.predict_proba(x_val)[:, 1])

    def _evaluation_extras(self) -> tuple[list[str], dict[str, pd.DataFrame]]:
        """Model-specific notes and tables added to every evaluation."""
        return [], {}

    def _predict(self, features: pd.DataFrame) -> pd.DataFrame:
        scores = self._scores(features)
        return pd.DataFrame({"score": scores, "label": (scores >= self.threshold_).astype(int)})

    def evaluate(self, holdout: TrainingData) -> EvaluationResult:
        """Metrics at ``threshold_`` on ``holdout``, the baseline's, the lift and the figures."""
        self._check_fitted()
        y = binary_labels(holdout, self.name, both_classes=False)
        features = self.feature_frame(holdout.frame)
        scores = self._scores(features)
        baseline_scores = self.baseline_.predict_proba(features)[:, 1]
        metrics = classification_metrics(y, scores, self.threshold_)
        baseline = classification_metrics(y, baseline_scores, self.baseline_threshold_)
        comparison = compare_with_baseline(metrics, baseline)
        importance = self.feature_importance_.sort_values(ascending=False)
        lift = comparison.set_index("metric").loc[self.primary_metric, "improvement"]
        extra_notes, extra_tables = self._evaluation_extras()
        return EvaluationResult(
            metrics={**metrics, "threshold": self.threshold_, "n_rows": float(len(y))},
            baseline_metrics=baseline,
            figures={
                "roc": plots.roc_figure(y, scores),
                "pr": plots.pr_figure(y, scores),
                "calibration": plots.calibration_figure(y, scores),
                "confusion_matrix": plots.confusion_matrix_figure(y, scores, self.threshold_),
                "feature_importance": plots.feature_importance_figure(importance),
            },
            tables={
                "baseline_comparison": comparison,
                "feature_importance": importance.rename_axis("feature").rename("gain").reset_index(),
                **extra_tables,
            },
            notes=[
                f"holdout rows {len(y)}, positive rate {np.mean(y):.4f}",
                f"{self.primary_metric} {metrics[self.primary_metric]:.4f} vs logistic baseline "
                f"{baseline[self.primary_metric]:.4f} (lift {lift:+.4f})",
                f"decision threshold {self.threshold_:.4f} (best F1 on the validation fold)",
                *extra_notes,
            ],
        )
