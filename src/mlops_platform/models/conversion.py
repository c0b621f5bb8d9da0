"""Conversion: will this customer buy in the next 7 days (LightGBM + imbalanced-learn).

Buyers are rare, so the model tries imbalance strategies and keeps the one with the best
PR-AUC on a validation fold split off the training data (time-based when there is a time
column, else stratified):

- ``none``: the plain booster;
- ``class_weight``: LightGBM's ``class_weight="balanced"``;
- ``smote``: SMOTE (SMOTENC when there are categorical features, SMOTEN when all are) applied to
  the training part only. The validation fold and the holdout are never resampled. SMOTE needs
  complete rows, so synthetic rows are interpolated from median-imputed neighbours; the original
  rows keep their missing values.

Every candidate stops early on the validation fold; the chosen strategy and each candidate's
PR-AUC are kept in ``strategy_`` and ``strategy_scores_``. The decision threshold maximises F1 on
the validation fold.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC
from lightgbm import LGBMClassifier
from sklearn.metrics import average_precision_score

from mlops_platform.errors import InputError
from mlops_platform.models.base import register_model
from mlops_platform.models.boosters import fit_early_stopping, gain_importance
from mlops_platform.models.classifier import BinaryClassifierModel

_logger = logging.getLogger(__name__)

STRATEGIES = ("none", "class_weight", "smote")

DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 500,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "early_stopping_rounds": 50,
    "strategies": list(STRATEGIES),
    "smote_k_neighbors": 5,
    "smote_sampling_strategy": "auto",
    "validation_share": 0.2,
    "n_jobs": 1,  # match the container CPU limit; OpenMP oversubscription is very slow
}

_BOOSTER_KEYS = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "subsample",
    "subsample_freq",
    "colsample_bytree",
    "reg_lambda",
    "n_jobs",
)


def smote_resample(
    x: pd.DataFrame, y: np.ndarray, seed: int, k_neighbors: int = 5, sampling_strategy: Any = "auto"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Oversample the minority class of a training part with SMOTE, SMOTENC or SMOTEN.

    Categorical columns enter as their codes (missing as its own code) and come back with their
    original dtype; numeric gaps are median-imputed for the interpolation only.

    Returns:
        The original rows (unchanged, first) followed by the synthetic ones, and their labels.
    """
    categorical = [i for i, name in enumerate(x.columns) if isinstance(x[name].dtype, pd.CategoricalDtype)]
    matrix = pd.DataFrame(index=range(len(x)))
    for i, name in enumerate(x.columns):
        column = x[name]
        if i in categorical:
            matrix[name] = column.cat.codes.to_numpy()
        else:
            median = column.median()
            matrix[name] = column.fillna(0.0 if pd.isna(median) else median).to_numpy(dtype=float)
    k = min(k_neighbors, int(np.bincount(y).min()) - 1)
    if k < 1:
        raise InputError("conversion: SMOTE needs at least 2 rows of the minority class")
    if not categorical:
        sampler: Any = SMOTE(sampling_strategy=sampling_strategy, k_neighbors=k, random_state=seed)
    elif len(categorical) == x.shape[1]:
        sampler = SMOTEN(sampling_strategy=sampling_strategy, k_neighbors=k, random_state=seed)
    else:
        sampler = SMOTENC(categorical, sampling_strategy=sampling_strategy, k_neighbors=k, random_state=seed)
    resampled, labels = sampler.fit_resample(matrix, y)
    synthetic = pd.DataFrame(resampled).iloc[len(x) :].reset_index(drop=True)
    synthetic.columns = x.columns
    for i in categorical:
        name = x.columns[i]
        synthetic[name] = pd.Categorical.from_codes(synthetic[name].astype(int), dtype=x[name].dtype)
    originals = x.reset_index(drop=True)
    synthetic = synthetic.astype(originals.dtypes.to_dict())
    return pd.concat([originals, synthetic], ignore_index=True), np.asarray(labels)


@register_model("conversion")
class ConversionModel(BinaryClassifierModel):
    """LightGBM conversion classifier choosing its imbalance strategy by validation PR-AUC."""

    name = "conversion"
    default_params = DEFAULT_PARAMS

    def _candidate(
        self, strategy: str, params: dict[str, Any], x_train: pd.DataFrame, y_train: np.ndarray, x_val, y_val
    ) -> LGBMClassifier:
        """Fit one strategy's booster, stopping early on the validation fold."""
        if strategy == "smote":
            x_train, y_train = smote_resample(
                x_train, y_train, self.seed, params["smote_k_neighbors"], params["smote_sampling_strategy"]
            )
            self.n_resampled_rows_ = len(x_train)
        booster = LGBMClassifier(
            **{key: params[key] for key in _BOOSTER_KEYS},
            class_weight="balanced" if strategy == "class_weight" else None,
            metric="average_precision",
            random_state=self.seed,
            verbose=-1,
        )
        return fit_early_stopping(booster, x_train, y_train, x_val, y_val, params["early_stopping_rounds"])

    def _fit_model(
        self,
        params: dict[str, Any],
        x_train: pd.DataFrame,
        y_train: np.ndarray,
        x_val: pd.DataFrame,
        y_val: np.ndarray,
    ) -> None:
        strategies = list(params["strategies"])
        unknown = [name for name in strategies if name not in STRATEGIES]
        if unknown or not strategies:
            raise InputError(
                f"conversion: unknown imbalance strategy {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(STRATEGIES)}"
            )
        self.strategy_scores_: dict[str, float] = {}
        boosters: dict[str, LGBMClassifier] = {}
        for strategy in strategies:
            try:
                boosters[strategy] = self._candidate(strategy, params, x_train, y_train, x_val, y_val)
            except InputError as exc:
                _logger.warning("conversion: skipping strategy %s: %s", strategy, exc)
                continue
            scores = np.asarray(boosters[strategy].predict_proba(x_val))[:, 1]
            self.strategy_scores_[strategy] = float(average_precision_score(y_val, scores))
        if not boosters:
            raise InputError("conversion: no imbalance strategy could be fitted")
        self.strategy_ = max(self.strategy_scores_, key=self.strategy_scores_.__getitem__)
        self.model_ = boosters[self.strategy_]
        self.feature_importance_ = gain_importance(self.model_, self.features_)
        _logger.info("conversion: strategy %s chosen; validation PR-AUC %s", self.strategy_, self.strategy_scores_)

    def _evaluation_extras(self) -> tuple[list[str], dict[str, pd.DataFrame]]:
        scores = ", ".join(f"{name} {value:.4f}" for name, value in self.strategy_scores_.items())
        table = pd.DataFrame(
            {
                "strategy": list(self.strategy_scores_),
                "validation_pr_auc": list(self.strategy_scores_.values()),
            }
        )
        return [f"imbalance strategy {self.strategy_} (validation PR-AUC: {scores})"], {"strategy_scores": table}

    def _scores(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(features))[:, 1]
