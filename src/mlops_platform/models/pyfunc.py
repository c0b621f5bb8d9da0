"""The MLflow pyfunc face of a fitted model: the one module under ``models/`` that imports MLflow.

``CustomerModelPyfunc`` holds the fitted ``CustomerModel`` itself; MLflow pickles the wrapper
(and with it the model) with cloudpickle when the registry logs it, and loading it back gives a
``predict`` that takes a feature frame and returns ``predict_frame``'s output. Columns beyond
the model's features are ignored; missing feature columns fail with an error naming them. This
module never logs anything: ``registry/tracking.py`` does.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from mlops_platform.errors import InputError
from mlops_platform.models.base import CustomerModel

_logger = logging.getLogger(__name__)


class CustomerModelPyfunc(PythonModel):
    """A fitted ``CustomerModel`` served through ``mlflow.pyfunc``.

    Args:
        model: a fitted model of the zoo.
    """

    def __init__(self, model: CustomerModel) -> None:
        model._check_fitted()
        self.model = model

    @property
    def features(self) -> list[str]:
        """The input columns the model needs."""
        return list(self.model.features_)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Score ``model_input`` (a DataFrame, or records convertible to one).

        Returns:
            ``predict_frame``'s output for ``model_input``.

        Raises:
            InputError: a feature column is missing; the message names it.
        """
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [name for name in self.model.features_ if name not in frame.columns]
        if missing:
            raise InputError(f"{self.model.name}: the input lacks feature column(s) {', '.join(missing)}")
        return self.model.predict_frame(frame)


def input_example(model: CustomerModel, frame: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    """The first ``rows`` rows of ``frame``'s feature columns, as an MLflow input example.

    Args:
        model: the fitted model whose features to keep.
        frame: a frame holding at least those features.
        rows: how many rows to keep.

    Returns:
        A small frame the registry can pass as ``input_example`` (signatures are inferred from it).
    """
    model._check_fitted()
    return frame.loc[:, list(model.features_)].head(rows).reset_index(drop=True)


def unwrap(loaded: Any) -> CustomerModel:
    """The ``CustomerModel`` inside a loaded pyfunc model (``mlflow.pyfunc.load_model``'s result)."""
    wrapper = loaded.unwrap_python_model() if hasattr(loaded, "unwrap_python_model") else loaded
    if not isinstance(wrapper, CustomerModelPyfunc):
        raise InputError(f"not a customer model: {type(wrapper).__name__}")
    return wrapper.model
