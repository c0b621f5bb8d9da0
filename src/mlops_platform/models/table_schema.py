"""The raw columns a fitted model takes, and the preparation that turns them into its features.

A model trained from a table (or from the lake's snapshots) is served on rows in the form of
that table: the same column names with raw values (text booleans, numbers stored as text,
blanks, dates as text, categories never seen in training). ``TableSchema`` records, per feature,
the kind the training saw and prepares such rows before the model's own coercion
(``CustomerModel.feature_frame``) runs:

- ``number``: numbers, numbers stored as text (blanks are missing), bools and dates as numbers;
- ``boolean``: boolean words (true/false, yes/no, t/f, y/n, 1/0, any case) or bools, as 0/1;
- ``category``: text kept as it is; levels unseen in training become missing in the model;
- ``date``: dates or date text, as days since 1970-01-01.

Columns that are not features (the id excepted) are ignored; a missing feature is an error that
names it. A cell that does not fit its column's kind is an error naming the column and the cell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from mlops_platform.errors import InputError
from mlops_platform.models import columns
from mlops_platform.models.base import CustomerModel

KINDS = ("number", "boolean", "category", "date")


@dataclasses.dataclass(frozen=True)
class TableSchema:
    """The raw input of a model: its features with their kinds, and the id column it passes on.

    Attributes:
        model: the model's name, for messages.
        features: the feature columns, in the model's order.
        kinds: the kind (one of ``KINDS``) of each feature.
        id_column: the entity key carried into the scores, if the training data had one.
    """

    model: str
    features: tuple[str, ...]
    kinds: Mapping[str, str]
    id_column: str | None = None

    def __post_init__(self) -> None:
        unknown = {name: kind for name, kind in self.kinds.items() if kind not in KINDS}
        if unknown or set(self.kinds) != set(self.features):
            raise ValueError(f"table schema of {self.model}: every feature needs one kind of {KINDS}, got {unknown}")

    @property
    def columns(self) -> list[str]:
        """The raw columns the model reads: the id (when it has one), then the features."""
        return [*([self.id_column] if self.id_column else []), *self.features]

    def missing(self, names: Iterable[Any]) -> list[str]:
        """The features absent from ``names`` (a table's columns), in the model's order."""
        present = {str(name) for name in names}
        return [name for name in self.features if name not in present]

    def check_columns(self, names: Iterable[Any]) -> None:
        """Raise InputError naming the features absent from ``names``."""
        missing = self.missing(names)
        if missing:
            raise InputError(f"{self.model}: the input lacks feature column(s) {', '.join(missing)}")

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The id and the features of raw ``frame``, coerced by kind, with ``frame``'s index.

        Raises:
            InputError: a feature column is missing, or a cell does not fit its column's kind.
        """
        self.check_columns(frame.columns)
        prepared: dict[str, pd.Series] = {}
        if self.id_column and self.id_column in frame.columns:
            prepared[self.id_column] = frame[self.id_column]
        for name in self.features:
            prepared[name] = self._column(frame[name], name)
        return pd.DataFrame(prepared, index=frame.index)

    def _column(self, series: pd.Series, name: str) -> pd.Series:
        kind = self.kinds[name]
        if kind == "category":
            return series
        if kind == "date" and not pd.api.types.is_datetime64_any_dtype(series):
            series = _dates(series, name, self.model)
        if kind == "boolean" and columns.is_text(series) and columns.boolean_words(series) is None:
            _refuse_non_boolean(series, name, self.model)
        try:
            return columns.to_number(series, name)
        except ValueError as exc:
            expected = "a boolean (true/false, yes/no, 1/0)" if kind == "boolean" else "a number"
            raise InputError(f"{self.model}: {exc}; each cell should be {expected} or blank") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (logged beside the model)."""
        return {"model": self.model, "features": list(self.features), "kinds": dict(self.kinds), "id": self.id_column}


def _refuse_non_boolean(series: pd.Series, name: str, model: str) -> None:
    """Raise InputError naming the first cell of text column ``series`` that is not a boolean word."""
    text = series.dropna().astype(str).str.strip()
    words = columns.TRUE_WORDS | columns.FALSE_WORDS
    bad = text[(text != "") & ~text.str.lower().isin(words)]
    if not bad.empty:
        raise InputError(
            f"{model}: column {name!r} holds {bad.iloc[0]!r}; each cell should be a boolean "
            "(true/false, yes/no, 1/0) or blank"
        )


def _dates(series: pd.Series, name: str, model: str) -> pd.Series:
    """Date text (blanks are missing) as datetimes; a cell that is not a date is an error naming it."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise InputError(f"{model}: column {name!r} should hold dates but holds numbers")
    text = series.astype("string").str.strip().replace("", pd.NA)
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    bad = text[parsed.isna() & text.notna()]
    if not bad.empty:
        raise InputError(f"{model}: column {name!r} should hold dates but holds {bad.iloc[0]!r}")
    return parsed


def schema_of(model: CustomerModel, frame: pd.DataFrame, preparation: Mapping[str, Any] | None = None) -> TableSchema:
    """The raw schema of fitted ``model``, from its training frame and any table preparation.

    Args:
        model: the fitted model (its features, categories and id column).
        frame: rows of its training data (to tell dates from numbers).
        preparation: ``PrepReport`` as a dict (``prepare_table``'s decisions) for a table model.
    """
    model._check_fitted()
    prep = preparation or {}
    booleans, dates = set(prep.get("boolean", [])), set(prep.get("datetime_as_days", []))
    kinds: dict[str, str] = {}
    for name in model.features_:
        if name in model.categories_:
            kinds[name] = "category"
        elif name in dates or (name in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[name])):
            kinds[name] = "date"
        elif name in booleans:
            kinds[name] = "boolean"
        else:
            kinds[name] = "number"
    return TableSchema(model.name, tuple(model.features_), kinds, model.id_column_)
