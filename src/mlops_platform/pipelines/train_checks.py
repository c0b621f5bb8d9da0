"""Settings of a training checked before anything is read, fitted or registered.

The gate metric and floors must be metrics the model measures; the hyper-parameters whose
meaning is known (the boosters', the clustering's) must have the right type and range. Each
problem is one line naming the model, the key and what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_platform.config import ModelSettings
from mlops_platform.errors import InputError
from mlops_platform.models.base import CustomerModel, get_model_class
from mlops_platform.registry.gate import check_gate


@dataclass(frozen=True)
class Rule:
    """The type and range a parameter must have."""

    integer: bool
    low: float
    low_open: bool = False
    high: float | None = None
    high_open: bool = False

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return False
        if self.integer and not isinstance(value, int):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        bounds = [f"{'>' if self.low_open else '>='} {self.low:g}"]
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return f"{'an integer' if self.integer else 'a number'} {' and '.join(bounds)}"


_POSITIVE_INT = Rule(integer=True, low=1)
_POSITIVE = Rule(integer=False, low=0, low_open=True)
_NON_NEGATIVE = Rule(integer=False, low=0)
_SHARE = Rule(integer=False, low=0, low_open=True, high=1)

# Parameters of the zoo whose meaning is known (XGBoost, LightGBM, k-means), by key.
PARAM_RULES: dict[str, Rule] = {
    "n_estimators": _POSITIVE_INT,
    "max_depth": _POSITIVE_INT,
    "learning_rate": _POSITIVE,
    "early_stopping_rounds": _POSITIVE_INT,
    "num_leaves": Rule(integer=True, low=2),
    "min_child_weight": _NON_NEGATIVE,
    "min_child_samples": Rule(integer=True, low=0),
    "subsample": _SHARE,
    "colsample_bytree": _SHARE,
    "reg_lambda": _NON_NEGATIVE,
    "validation_share": Rule(integer=False, low=0, low_open=True, high=1, high_open=True),
    "smote_k_neighbors": _POSITIVE_INT,
    "k_min": Rule(integer=True, low=2),
    "k_max": Rule(integer=True, low=2),
    "silhouette_sample": _POSITIVE_INT,
    "n_init": _POSITIVE_INT,
    "max_iter": _POSITIVE_INT,
    "seed": Rule(integer=True, low=0),
}


def check_params(model: str, params: dict[str, Any]) -> None:
    """Refuse a known parameter of the wrong type or range.

    Raises:
        InputError: ``<model>: params.<key> must be <rule>, got <value>``.
    """
    for key, value in params.items():
        rule = PARAM_RULES.get(key)
        if rule is not None and not rule.holds(value):
            raise InputError(f"{model}: params.{key} must be {rule}, got {value!r}")
    low, high = params.get("k_min"), params.get("k_max")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        raise InputError(f"{model}: params.k_min {params['k_min']} is above params.k_max {params['k_max']}")


def check_training_settings(name: str, settings: ModelSettings) -> type[CustomerModel]:
    """The model class of ``name`` once its gate and parameters are checked (before any fit).

    Raises:
        InputError: an unknown model, a gate metric or floor it does not measure, an unknown
            parameter, or a parameter of the wrong type or range.
    """
    model_class = get_model_class(name)
    check_gate(settings.gate, model_class.measured_metrics(), name)
    check_params(name, settings.params)
    model_class(params={k: v for k, v in settings.params.items() if k != "seed"}).resolved_params()
    return model_class
