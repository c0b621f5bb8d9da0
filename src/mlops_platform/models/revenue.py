"""Revenue: how much will this customer spend in the next 30 days (two-stage model).

``prediction = P(buy) x E[spend | buy]``:

1. a classifier (LightGBM or XGBoost) estimates ``P(spend > 0)`` on every row;
2. a regressor of the same library learns ``log1p(spend)`` on buyers only. Back-transforming
   with ``expm1`` gives roughly the median spend of buyers, not their mean; with ``smearing``
   (default) Duan's smearing factor ``S = mean(exp(residual))`` of the log-scale residuals on the
   validation buyers corrects that: ``E[spend | buy] = exp(prediction) * S - 1``.

Both stages stop early on a validation fold split off the training data (time-based when there
is a time column, else random). The baseline is a Ridge regression on ``log1p(spend)`` of all
rows, back-transformed with ``expm1``.
"""

from __future__ import annotations

import logging
from typing import Any, Self

import numpy as np
import pandas as pd

from mlops_platform.errors import InputError
from mlops_platform.evaluation import plots
from mlops_platform.evaluation.metrics import classification_metrics, regression_metrics
from mlops_platform.models.base import (
    CustomerModel,
    EvaluationResult,
    TrainingData,
    compare_with_baseline,
    register_model,
    split_validation,
)
from mlops_platform.models.baselines import ridge_log_baseline
from mlops_platform.models.boosters import fit_early_stopping, gain_importance, make_booster

_logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {
    "library": "lightgbm",
    "n_estimators": 400,
    "learning_rate": 0.05,
    "max_depth": 6,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "early_stopping_rounds": 40,
    "smearing": True,
    "baseline_alpha": 1.0,
    "validation_share": 0.2,
    "n_jobs": 1,  # match the container CPU limit; OpenMP oversubscription is very slow
}


def spend_values(data: TrainingData) -> np.ndarray:
    """The target as non-negative floats.

    Raises:
        InputError: the target has missing, non-numeric or negative values, or no buyer.
    """
    spend = pd.to_numeric(data.y, errors="coerce")
    if spend.isna().any():
        raise InputError(
            f"revenue: target {data.target!r} has {int(spend.isna().sum())} missing or non-numeric value(s)"
        )
    if (spend < 0).any():
        raise InputError(f"revenue: target {data.target!r} has {int((spend < 0).sum())} negative value(s)")
    return spend.to_numpy(dtype=float)


@register_model("revenue")
class RevenueModel(CustomerModel):
    """Two-stage spend model: P(buy) times E[spend | buy]."""

    name = "revenue"
    task = "regression"
    default_params = DEFAULT_PARAMS
    primary_metric = "rmse"

    def fit(self, data: TrainingData) -> Self:
        """Fit the purchase classifier, the spend regressor on buyers and the Ridge baseline."""
        params = self.resolved_params()
        spend = spend_values(data)
        if not (spend > 0).any():
            raise InputError(f"revenue: target {data.target!r} has no row with spend > 0")
        self._learn_schema(data)
        train, validation = split_validation(data, float(params["validation_share"]), self.seed, stratify=False)
        x_train, x_val = self.feature_frame(train.frame), self.feature_frame(validation.frame)
        y_train, y_val = spend_values(train), spend_values(validation)
        self._fit_buy_stage(params, x_train, y_train, x_val, y_val)
        self._fit_spend_stage(params, x_train, y_train, x_val, y_val)
        categorical = [name for name in self.features_ if name in self.categories_]
        numeric = [name for name in self.features_ if name not in self.categories_]
        self.baseline_ = ridge_log_baseline(numeric, categorical, params["baseline_alpha"]).fit(x_train, y_train)
        self.n_train_rows_, self.n_validation_rows_ = len(train.frame), len(validation.frame)
        return self

    def _fit_buy_stage(
        self, params: dict[str, Any], x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray
    ) -> None:
        """P(spend > 0); a constant when every training row (or none) bought."""
        buys, val_buys = (y > 0).astype(int), (y_val > 0).astype(int)
        self.buy_model_ = None
        self.buy_rate_ = float(buys.mean())
        if 0 < buys.sum() < len(buys):
            booster = make_booster(params["library"], "classifier", params, self.seed)
            self.buy_model_ = fit_early_stopping(booster, x, buys, x_val, val_buys, params["early_stopping_rounds"])

    def _fit_spend_stage(
        self, params: dict[str, Any], x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray
    ) -> None:
        """log1p(spend) of buyers, with the smearing factor from the validation buyers."""
        buyers, val_buyers = y > 0, y_val > 0
        if not val_buyers.any():  # nothing to stop on: validate on the training buyers
            x_val, y_val, val_buyers = x, y, buyers
        booster = make_booster(params["library"], "regressor", params, self.seed)
        self.spend_model_ = fit_early_stopping(
            booster,
            x.loc[buyers],
            np.log1p(y[buyers]),
            x_val.loc[val_buyers],
            np.log1p(y_val[val_buyers]),
            params["early_stopping_rounds"],
        )
        residuals = np.log1p(y_val[val_buyers]) - self.spend_model_.predict(x_val.loc[val_buyers])
        self.smearing_ = float(np.mean(np.exp(residuals))) if params["smearing"] else 1.0
        self.feature_importance_ = gain_importance(self.spend_model_, self.features_)
        _logger.info("revenue: buy rate %.3f, smearing factor %.3f", self.buy_rate_, self.smearing_)

    def _predict(self, features: pd.DataFrame) -> pd.DataFrame:
        if self.buy_model_ is None:
            p_buy = np.full(len(features), self.buy_rate_)
        else:
            p_buy = self.buy_model_.predict_proba(features)[:, 1]
        spend_if_buy = np.clip(np.exp(self.spend_model_.predict(features)) * self.smearing_ - 1.0, 0.0, None)
        return pd.DataFrame(
            {"prediction": p_buy * spend_if_buy, "buy_probability": p_buy, "spend_if_buy": spend_if_buy}
        )

    def evaluate(self, holdout: TrainingData) -> EvaluationResult:
        """Overall and buyers-only regression metrics, the purchase stage's AUCs and the baseline."""
        self._check_fitted()
        spend = spend_values(holdout)
        features = self.feature_frame(holdout.frame)
        scored = self._predict(features)
        predicted = scored["prediction"].to_numpy()
        metrics = _spend_metrics(spend, predicted)
        buy_metrics = classification_metrics((spend > 0).astype(int), scored["buy_probability"])
        metrics.update({"buy_roc_auc": buy_metrics["roc_auc"], "buy_pr_auc": buy_metrics["pr_auc"]})
        baseline = _spend_metrics(spend, self.baseline_.predict(features))
        comparison = compare_with_baseline(metrics, baseline)
        lift = comparison.set_index("metric").loc["rmse", "improvement"]
        return EvaluationResult(
            metrics={**metrics, "n_rows": float(len(spend))},
            baseline_metrics=baseline,
            figures={
                "residuals": plots.residuals_figure(spend, predicted),
                "predicted_vs_actual": plots.predicted_vs_actual_figure(spend, predicted),
                "feature_importance": plots.feature_importance_figure(self.feature_importance_),
            },
            tables={
                "baseline_comparison": comparison,
                "feature_importance": self.feature_importance_.rename_axis("feature").rename("gain").reset_index(),
            },
            notes=[
                f"holdout rows {len(spend)}, buyers {int((spend > 0).sum())}",
                f"rmse {metrics['rmse']:.4f} vs Ridge-on-log1p baseline {baseline['rmse']:.4f} (lower by {lift:+.4f})",
                f"smearing factor {self.smearing_:.4f}; mape is computed on rows with spend > 0",
            ],
        )


def _spend_metrics(spend: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Regression metrics on all rows and, suffixed ``_buyers``, on rows with spend > 0."""
    buyers = spend > 0
    overall = regression_metrics(spend, predicted)
    on_buyers = regression_metrics(spend[buyers], predicted[buyers])
    return {**overall, **{f"{name}_buyers": value for name, value in on_buyers.items()}}
