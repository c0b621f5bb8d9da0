"""The MLflow pyfunc face of a fitted model: the one module under ``models/`` that imports MLflow.

``CustomerModelPyfunc`` holds the fitted ``CustomerModel`` and its raw input schema
(``TableSchema``): the preparation is part of the model. ``predict`` takes rows in the form of
the training table (or of a feature snapshot for lake models) with raw values, prepares them
as at training and returns ``predict_frame``'s output. Columns beyond the model's are ignored;
missing feature columns fail with an error naming them.

The signature lists the raw columns as optional ``Any`` columns: MLflow's schema enforcement
would refuse a column whose reader guessed another type than at training (``"3"`` vs ``3``,
``TRUE`` read as a bool, a column blank in every row read as floats), so the checks that matter
(a missing feature, a cell that fits no kind) run in ``predict`` and name the column. MLflow
passes extra columns through its enforcement by dropping them. This module never logs anything:
``registry/tracking.py`` does.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import AnyType, ColSpec, Schema

from mlops_platform.errors import InputError
from mlops_platform.models.base import CustomerModel
from mlops_platform.models.table_schema import TableSchema, schema_of

_logger = logging.getLogger(__name__)


class CustomerModelPyfunc(PythonModel):
    """A fitted ``CustomerModel`` served through ``mlflow.pyfunc`` on raw rows.

    Args:
        model: a fitted model of the zoo.
        schema: its raw input schema (default: derived from the model alone).
    """

    def __init__(self, model: CustomerModel, schema: TableSchema | None = None) -> None:
        model._check_fitted()
        self.model = model
        self.schema = schema

    @property
    def features(self) -> list[str]:
        """The input columns the model needs."""
        return list(self.model.features_)

    @property
    def table_schema(self) -> TableSchema:
        """The raw input schema (versions pickled before it existed derive it from the model)."""
        schema = getattr(self, "schema", None)
        return schema if schema is not None else schema_of(self.model, pd.DataFrame())

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Score ``model_input``: raw rows as a DataFrame, or records convertible to one.

        Returns:
            ``predict_frame``'s output for the prepared rows (led by the id column when given).

        Raises:
            InputError: a feature column is missing, or a cell fits no kind; the message names it.
        """
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.model.predict_frame(self.table_schema.prepare(frame))


def signature(schema: TableSchema, output_example: pd.DataFrame) -> ModelSignature:
    """Inputs: the raw columns of ``schema`` as optional ``Any``; outputs inferred from the example."""
    inputs = Schema([ColSpec(AnyType(), name, required=False) for name in schema.columns])
    outputs = infer_signature(model_output=output_example).outputs
    return ModelSignature(inputs=inputs, outputs=outputs)


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
    return unwrap_pyfunc(loaded).model


def unwrap_pyfunc(loaded: Any) -> CustomerModelPyfunc:
    """The ``CustomerModelPyfunc`` of a loaded pyfunc model, or InputError for another kind of model."""
    wrapper = loaded.unwrap_python_model() if hasattr(loaded, "unwrap_python_model") else loaded
    if not isinstance(wrapper, CustomerModelPyfunc):
        raise InputError(f"not a customer model: {type(wrapper).__name__}")
    return wrapper
