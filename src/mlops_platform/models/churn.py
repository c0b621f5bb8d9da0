"""Churn: will this customer go quiet in the next 30 days (XGBoost, imbalance-aware).

The booster uses the histogram method with native categorical support. Churners are the rare
class, so positives are up-weighted by ``scale_pos_weight = negatives / positives`` of the
training part (``"auto"``; a number or ``None`` overrides it). Boosting stops early on a
validation fold split off the training data (time-based when there is a time column, else
stratified) and the decision threshold maximises F1 on that fold.

Note: up-weighting positives shifts the scores upwards, so ``score`` ranks customers well but is
not a calibrated probability; the calibration figure shows by how much.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from xgboost import XGBClassifier

from mlops_platform.errors import InputError
from mlops_platform.models.base import register_model
from mlops_platform.models.boosters import gain_importance
from mlops_platform.models.classifier import BinaryClassifierModel

_logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 500,
    "learning_rate": 0.05,
    "max_depth": 5,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "max_cat_to_onehot": 8,
    "scale_pos_weight": "auto",
    "early_stopping_rounds": 50,
    "eval_metric": "aucpr",
    "validation_share": 0.2,
    "n_jobs": 1,  # match the container CPU limit; OpenMP oversubscription is very slow
}

_BOOSTER_KEYS = (
    "n_estimators",
    "learning_rate",
    "max_depth",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
    "max_cat_to_onehot",
    "early_stopping_rounds",
    "eval_metric",
    "n_jobs",
)


def positive_weight(setting: Any, y: np.ndarray) -> float:
    """``negatives / positives`` for ``"auto"``, 1.0 for ``None``, else the given number."""
    if setting is None:
        return 1.0
    if setting == "auto":
        positives = int(y.sum())
        return (len(y) - positives) / positives if positives else 1.0
    try:
        return float(setting)
    except (TypeError, ValueError):
        raise InputError(f"churn: scale_pos_weight must be 'auto', null or a number, got {setting!r}") from None


@register_model("churn")
class ChurnModel(BinaryClassifierModel):
    """XGBoost churn classifier with a logistic-regression baseline."""

    name = "churn"
    default_params = DEFAULT_PARAMS

    def _fit_model(
        self,
        params: dict[str, Any],
        x_train: pd.DataFrame,
        y_train: np.ndarray,
        x_val: pd.DataFrame,
        y_val: np.ndarray,
    ) -> None:
        self.scale_pos_weight_ = positive_weight(params["scale_pos_weight"], y_train)
        booster = XGBClassifier(
            **{key: params[key] for key in _BOOSTER_KEYS},
            tree_method="hist",
            enable_categorical=True,
            scale_pos_weight=self.scale_pos_weight_,
            random_state=self.seed,
        )
        booster.fit(x_train, y_train, eval_set=[(x_val, y_val)], verbose=False)
        self.model_ = booster
        self.best_iteration_ = int(getattr(booster, "best_iteration", params["n_estimators"] - 1))
        self.feature_importance_ = gain_importance(booster, self.features_)
        _logger.info("churn: scale_pos_weight %.2f, best iteration %d", self.scale_pos_weight_, self.best_iteration_)

    def _evaluation_extras(self) -> tuple[list[str], dict[str, pd.DataFrame]]:
        return [
            f"scale_pos_weight {self.scale_pos_weight_:.3f}; best iteration {self.best_iteration_} "
            "(early stopping on the validation fold)"
        ], {}

    def _scores(self, features: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(features)[:, 1]
