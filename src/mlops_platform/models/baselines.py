"""The simple baselines every supervised model is measured against.

A baseline is a scikit-learn pipeline over the same coerced feature frame as the model:
numeric columns median-imputed and standardised, categorical columns one-hot encoded (missing
values as their own level, unseen levels ignored), then a linear model: logistic regression for
classifiers, Ridge regression for revenue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

MISSING_LEVEL = "__missing__"


def categories_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical cells as strings, with missing cells as their own level."""
    return frame.astype(object).where(frame.notna(), MISSING_LEVEL).astype(str)


def linear_pipeline(numeric: list[str], categorical: list[str], estimator: BaseEstimator) -> Pipeline:
    """Impute, scale and one-hot encode, then ``estimator``."""
    parts = []
    if numeric:
        numeric_steps = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
        parts.append(("numeric", numeric_steps, numeric))
    if categorical:
        categorical_steps = make_pipeline(
            FunctionTransformer(categories_as_text), OneHotEncoder(handle_unknown="ignore")
        )
        parts.append(("categorical", categorical_steps, categorical))
    return Pipeline([("prepare", ColumnTransformer(parts)), ("model", estimator)])


def logistic_baseline(numeric: list[str], categorical: list[str], seed: int = 42) -> Pipeline:
    """Logistic regression on scaled numerics and one-hot categoricals."""
    return linear_pipeline(numeric, categorical, LogisticRegression(max_iter=2000, random_state=seed))


class Log1pRidge(BaseEstimator):
    """Ridge regression fitted on ``log1p(y)``; predictions are ``expm1`` of it, clipped at 0."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> Log1pRidge:
        log_y = np.log1p(np.clip(np.asarray(y, dtype=float), 0, None))
        self.ridge_ = Ridge(alpha=self.alpha).fit(x, log_y)
        self.max_log_ = float(log_y.max()) + 1.0  # caps wild extrapolation before expm1
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.expm1(np.clip(self.ridge_.predict(x), 0.0, self.max_log_))


def ridge_log_baseline(numeric: list[str], categorical: list[str], alpha: float = 1.0) -> Pipeline:
    """Ridge regression on ``log1p`` of a non-negative target, back-transformed with ``expm1``."""
    return linear_pipeline(numeric, categorical, Log1pRidge(alpha=alpha))
