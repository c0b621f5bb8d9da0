"""Building and early-stopping gradient-boosted trees (LightGBM or XGBoost) with one vocabulary.

The shared hyper-parameters (``n_estimators``, ``learning_rate``, ``max_depth``, ``subsample``,
``colsample_bytree``, ``reg_lambda``, ``n_jobs``) mean the same in both libraries; categorical
pandas columns are used natively by both.
"""

from __future__ import annotations

import inspect
from typing import Any, cast

import lightgbm
import numpy as np
import pandas as pd
from xgboost import XGBClassifier, XGBRegressor

from mlops_platform.errors import InputError

LIBRARIES = ("lightgbm", "xgboost")
SHARED_KEYS = (
    "n_estimators",
    "learning_rate",
    "max_depth",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
    "n_jobs",
)


def make_booster(library: str, kind: str, params: dict[str, Any], seed: int, **extra: Any) -> Any:
    """An unfitted ``kind`` (``"classifier"`` or ``"regressor"``) of ``library``.

    Raises:
        InputError: the library is not one of ``LIBRARIES``.
    """
    shared = {key: params[key] for key in SHARED_KEYS if key in params}
    if library == "lightgbm":
        cls = lightgbm.LGBMClassifier if kind == "classifier" else lightgbm.LGBMRegressor
        if shared.get("subsample", 1.0) < 1.0:
            extra.setdefault("subsample_freq", 1)
        return cls(**shared, **extra, random_state=seed, verbose=-1)
    if library == "xgboost":
        cls = XGBClassifier if kind == "classifier" else XGBRegressor
        stopping = params.get("early_stopping_rounds")
        return cls(
            **shared,
            **extra,
            tree_method="hist",
            enable_categorical=True,
            early_stopping_rounds=stopping,
            random_state=seed,
        )
    raise InputError(f"unknown booster library {library!r}; known: {', '.join(LIBRARIES)}")


def fit_early_stopping(
    booster: Any, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray, rounds: int
) -> Any:
    """Fit ``booster`` on ``(x, y)``, stopping after ``rounds`` rounds without gain on the validation fold."""
    if isinstance(booster, XGBClassifier | XGBRegressor):
        return booster.fit(x, y, eval_set=[(x_val, y_val)], verbose=False)
    stop = lightgbm.early_stopping(rounds, first_metric_only=True, verbose=False)
    if "eval_X" in inspect.signature(booster.fit).parameters:
        return booster.fit(x, y, eval_X=x_val, eval_y=y_val, callbacks=[stop])
    return booster.fit(x, y, eval_set=[(x_val, y_val)], callbacks=[stop])


def gain_importance(booster: Any, features: list[str]) -> pd.Series:
    """Total gain of each feature (0 for unused ones), in ``features`` order."""
    if isinstance(booster, XGBClassifier | XGBRegressor):
        gains = booster.get_booster().get_score(importance_type="total_gain")
        return pd.Series({name: float(cast(float, gains.get(name, 0.0))) for name in features})
    values = booster.booster_.feature_importance(importance_type="gain")
    return pd.Series(np.asarray(values, dtype=float), index=features)
