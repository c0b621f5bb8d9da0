"""The contract every model of the zoo follows, the holdout split and the registry by name.

A model looks like a scikit-learn estimator: ``__init__`` stores ``params`` and ``seed``,
``fit(TrainingData)`` returns ``self`` and leaves learned state in attributes ending in ``_``,
``predict_frame`` scores a frame and ``evaluate`` measures a holdout against the model's own
baseline. Models never log or register themselves: ``pipelines/train.py`` logs what they return.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from mlops_platform.errors import InputError
from mlops_platform.models import columns

_logger = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"brier", "rmse", "mae", "mape", "davies_bouldin", "log_loss"})

_REGRESSION = ("rmse", "mae", "r2", "mape")
# The metrics ``evaluate`` returns, by ``task``: what a gate metric, a floor or a target can name.
TASK_METRICS: dict[str, frozenset[str]] = {
    "classification": frozenset({"roc_auc", "pr_auc", "f1", "precision", "recall", "brier", "threshold", "n_rows"}),
    "regression": frozenset(
        {*_REGRESSION, *(f"{name}_buyers" for name in _REGRESSION), "buy_roc_auc", "buy_pr_auc", "n_rows"}
    ),
    "segmentation": frozenset({"silhouette", "davies_bouldin", "k", "n_rows"}),
}


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """A labelled (or, for segmentation, unlabelled) table and the roles of its columns.

    Attributes:
        frame: the rows; holds at least the features, the target, id and time columns given.
        features: the model inputs, in order.
        target: the label column; ``None`` for unsupervised models (segmentation).
        categorical: the features to treat as categories (a subset of ``features``).
        id_column: the entity key, carried to the scores but never a feature.
        time_column: when given, holdout and validation splits are time-based.
    """

    frame: pd.DataFrame
    features: list[str]
    target: str | None = None
    categorical: list[str] = dataclasses.field(default_factory=list)
    id_column: str | None = None
    time_column: str | None = None

    def __post_init__(self) -> None:
        roles = [self.target, self.id_column, self.time_column]
        needed = [*self.features, *(name for name in roles if name is not None)]
        missing = [name for name in dict.fromkeys(needed) if name not in self.frame.columns]
        if missing:
            raise InputError(f"training data: missing column(s) {', '.join(missing)}")
        clash = [name for name in roles if name is not None and name in self.features]
        if clash:
            raise InputError(f"training data: {', '.join(clash)} cannot be both a feature and a target/id/time")
        stray = [name for name in self.categorical if name not in self.features]
        if stray:
            raise InputError(f"training data: categorical column(s) {', '.join(stray)} are not features")
        if not self.features:
            raise InputError("training data: no feature columns")

    @property
    def y(self) -> pd.Series:
        """The target column (raises when the data has none)."""
        if self.target is None:
            raise InputError("training data has no target column")
        return self.frame[self.target]

    def with_frame(self, frame: pd.DataFrame) -> TrainingData:
        """The same column roles over other rows."""
        return dataclasses.replace(self, frame=frame)


def _time_split(times: pd.Series, share: float) -> np.ndarray | None:
    """A mask of the newest rows (whole time values) holding about ``share`` of the rows."""
    ordered = times.sort_values(kind="stable")
    position = min(int(np.ceil(len(ordered) * (1.0 - share))), len(ordered) - 1)
    newest = (times >= ordered.iloc[position]).to_numpy()
    if newest.all() or not newest.any():
        return None
    return newest


def split_holdout(
    data: TrainingData, share: float = 0.2, seed: int = 42, stratify: bool | None = None
) -> tuple[TrainingData, TrainingData]:
    """Split off a holdout: the newest rows when there is a time column, else a seeded sample.

    With a time column every row at or after the cut-off time goes to the holdout, so one
    snapshot date is never split across both sides. Without one (or with a single time value)
    the split is random with ``seed``, stratified on the target when ``stratify`` is true
    (``None``: stratify when the target has exactly two values).

    Returns:
        ``(train, holdout)`` with the same column roles.
    """
    if not 0.0 < share < 1.0:
        raise InputError(f"holdout share must be between 0 and 1, got {share}")
    frame = data.frame
    if len(frame) < 4:
        raise InputError(f"training data: {len(frame)} row(s) are too few to split off a holdout")
    mask = _time_split(frame[data.time_column], share) if data.time_column else None
    if data.time_column and mask is None:
        _logger.warning("time column %s has a single value: splitting at random instead", data.time_column)
    if mask is None:
        mask = _random_split(data, share, seed, stratify)
    return data.with_frame(frame.loc[~mask]), data.with_frame(frame.loc[mask])


def _random_split(data: TrainingData, share: float, seed: int, stratify: bool | None) -> np.ndarray:
    """A seeded random holdout mask, stratified on the target when asked and possible."""
    labels = data.frame[data.target] if data.target is not None else None
    if stratify is None:
        stratify = labels is not None and labels.nunique(dropna=True) == 2
    groups = labels.to_numpy() if stratify and labels is not None else None
    if groups is not None and labels is not None and labels.value_counts().min() < 2:
        _logger.warning("a class has fewer than 2 rows: splitting without stratification")
        groups = None
    positions = np.arange(len(data.frame))
    _, held = train_test_split(positions, test_size=share, random_state=seed, stratify=groups)
    mask = np.zeros(len(positions), dtype=bool)
    mask[held] = True
    return mask


def split_validation(
    data: TrainingData, share: float = 0.2, seed: int = 42, stratify: bool | None = None
) -> tuple[TrainingData, TrainingData]:
    """Split a validation fold off the training part, by the same rules as ``split_holdout``."""
    return split_holdout(data, share=share, seed=seed, stratify=stratify)


@dataclasses.dataclass
class EvaluationResult:
    """What ``evaluate`` hands to the registry: numbers, figures, tables and remarks."""

    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    baseline_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    figures: dict[str, Figure] = dataclasses.field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)


def compare_with_baseline(metrics: Mapping[str, float], baseline: Mapping[str, float]) -> pd.DataFrame:
    """One row per shared metric: model, baseline, improvement and relative lift.

    ``improvement`` is positive when the model is better (for error metrics such as RMSE or
    Brier, lower is better); ``relative_lift`` is the improvement over ``|baseline|``.
    """
    rows = []
    for name in (key for key in metrics if key in baseline):
        model_value, base_value = float(metrics[name]), float(baseline[name])
        sign = -1.0 if name.split("_buyers")[0] in LOWER_IS_BETTER else 1.0
        improvement = sign * (model_value - base_value)
        relative = improvement / abs(base_value) if base_value else float("nan")
        rows.append((name, model_value, base_value, improvement, relative))
    return pd.DataFrame(rows, columns=["metric", "model", "baseline", "improvement", "relative_lift"])


class CustomerModel(ABC):
    """Base of every model: parameters, column schema, scoring guard.

    Subclasses set ``name``, ``task``, ``default_params`` and ``primary_metric`` and implement
    ``fit``, ``evaluate`` and ``_predict`` (which receives the coerced feature frame). The metrics
    ``evaluate`` returns are those of the task (``TASK_METRICS``) unless ``metrics`` names others.
    """

    name: ClassVar[str] = ""
    task: ClassVar[str] = ""
    default_params: ClassVar[Mapping[str, Any]] = {}
    primary_metric: ClassVar[str] = ""
    metrics: ClassVar[frozenset[str] | None] = None

    @classmethod
    def measured_metrics(cls) -> frozenset[str]:
        """The metric names ``evaluate`` returns (checked against the gate before any fit)."""
        return cls.metrics if cls.metrics is not None else TASK_METRICS.get(cls.task, frozenset())

    def __init__(self, params: Mapping[str, Any] | None = None, seed: int = 42) -> None:
        self.params = dict(params or {})
        self.seed = seed

    def resolved_params(self) -> dict[str, Any]:
        """``default_params`` overridden by ``params``; an unknown key raises, naming the known ones."""
        unknown = sorted(set(self.params) - set(self.default_params))
        if unknown:
            raise InputError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.default_params))}"
            )
        return {**self.default_params, **self.params}

    @abstractmethod
    def fit(self, data: TrainingData) -> Self:
        """Learn from ``data`` and return ``self``."""

    @abstractmethod
    def evaluate(self, holdout: TrainingData) -> EvaluationResult:
        """Measure the fitted model (and its baseline) on ``holdout``."""

    @abstractmethod
    def _predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Score a feature frame already coerced by ``feature_frame``."""

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score ``frame`` (extra columns are ignored), keeping its index.

        Returns:
            The model's output columns (``score``, ``prediction`` or ``segment``/``segment_name``),
            preceded by the id column when the training data had one and ``frame`` holds it.
        """
        self._check_fitted()
        scores = self._predict(self.feature_frame(frame))
        scores.index = frame.index
        if self.id_column_ is not None and self.id_column_ in frame.columns:
            scores.insert(0, self.id_column_, frame[self.id_column_].to_numpy())
        return scores

    def _check_fitted(self) -> None:
        if not hasattr(self, "features_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def _learn_schema(self, data: TrainingData) -> None:
        """Remember the features, their kinds and category levels for scoring."""
        text = [name for name in data.features if columns.is_text(data.frame[name])]
        categorical = list(dict.fromkeys([*data.categorical, *text]))
        self.features_ = list(data.features)
        self.categories_ = {name: columns.to_category(data.frame[name]).dtype for name in categorical}
        self.target_ = data.target
        self.id_column_ = data.id_column
        self.time_column_ = data.time_column

    def feature_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The learned features of ``frame``, coerced the way they were at training.

        Raises:
            InputError: feature columns are missing (named) or a numeric one holds text.
        """
        self._check_fitted()
        missing = [name for name in self.features_ if name not in frame.columns]
        if missing:
            raise InputError(f"{self.name}: the input lacks feature column(s) {', '.join(missing)}")
        converted: dict[str, pd.Series] = {}
        for name in self.features_:
            dtype = self.categories_.get(name)
            try:
                converted[name] = (
                    columns.to_category(frame[name], dtype)
                    if dtype is not None
                    else columns.to_number(frame[name], name)
                )
            except ValueError as exc:
                raise InputError(f"{self.name}: {exc}") from None
        return pd.DataFrame(converted, index=frame.index)


MODELS: dict[str, type[CustomerModel]] = {}
_BUILTIN_MODULES = {
    "churn": "mlops_platform.models.churn",
    "conversion": "mlops_platform.models.conversion",
    "revenue": "mlops_platform.models.revenue",
    "segmentation": "mlops_platform.models.segmentation",
}


def register_model(name: str) -> Callable[[type[CustomerModel]], type[CustomerModel]]:
    """Class decorator adding a model class to ``MODELS`` under ``name``."""

    def decorate(cls: type[CustomerModel]) -> type[CustomerModel]:
        known = MODELS.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"model name {name!r} is already registered by {known.__qualname__}")
        MODELS[name] = cls
        return cls

    return decorate


def get_model_class(name: str) -> type[CustomerModel]:
    """The model class registered as ``name``, importing the built-in module on first use.

    Raises:
        InputError: the name is unknown; the message lists the known names.
    """
    if name not in MODELS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in MODELS:
        known = sorted(set(MODELS) | set(_BUILTIN_MODULES))
        raise InputError(f"unknown model {name!r}; known models: {', '.join(known)}")
    return MODELS[name]
