"""Column coercions shared by table preparation (``tabular.py``) and scoring (``base.py``).

Real exports carry numbers as text with blanks (``""``, ``" "``), booleans as ``"TRUE"`` /
``"FALSE"`` and dates as strings; the same rules turn them into model inputs at training and at
scoring time, so a model scores the raw export it was trained on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
EPOCH = pd.Timestamp("1970-01-01")


def _stripped_text(series: pd.Series) -> pd.Series:
    """The series as stripped strings, with blank or missing cells as ``NaN``.

    The string work runs on the distinct values only and is mapped back through their codes,
    so a million-row column with a few levels costs one factorisation, not a million strips.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object)).astype("string").str.strip()
    blank = text.isna() | (text == "").fillna(True)
    cleaned = text.astype(object).where(~blank, np.nan).to_numpy(dtype=object)
    values = np.append(cleaned, np.nan)[codes]  # code -1 (missing) picks the trailing NaN
    return pd.Series(values, index=series.index, dtype=object)


def is_text(series: pd.Series) -> bool:
    """True for object, string and categorical columns."""
    return bool(
        pd.api.types.is_object_dtype(series)
        or pd.api.types.is_string_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
    )


def _per_distinct(text: pd.Series, values: pd.Series) -> pd.Series:
    """Spread ``values`` (computed once per distinct non-missing value of ``text``) over its rows."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    lookup = values.reindex(pd.Index(uniques)).to_numpy(dtype=float)
    return pd.Series(np.append(lookup, np.nan)[codes], index=text.index)


def boolean_words(series: pd.Series) -> pd.Series | None:
    """0/1 floats when every non-blank cell is a boolean word (true/false, yes/no, ...), else None."""
    text = _stripped_text(series)
    distinct = pd.Series(text.dropna().unique(), dtype=object)
    lowered = distinct.str.lower()
    if distinct.empty or not lowered.isin(TRUE_WORDS | FALSE_WORDS).all():
        return None
    return _per_distinct(text, pd.Series(lowered.isin(TRUE_WORDS).astype(float).to_numpy(), index=distinct))


def numeric_text(series: pd.Series) -> tuple[pd.Series, int] | None:
    """Numbers parsed from text, when every non-blank cell parses.

    Returns:
        ``(numbers, n_missing)`` where blank cells became ``NaN``; ``None`` when some non-blank
        cell is not a number (the column is then categorical text).
    """
    text = _stripped_text(series)
    distinct = pd.Series(text.dropna().unique(), dtype=object)
    if distinct.empty:
        return None
    parsed = pd.to_numeric(distinct, errors="coerce")
    if parsed.isna().any():
        return None
    numbers = _per_distinct(text, pd.Series(parsed.astype(float).to_numpy(), index=distinct))
    return numbers, int(numbers.isna().sum())


def datetime_to_days(series: pd.Series) -> pd.Series:
    """Days since 1970-01-01 as floats (time zones are dropped), ``NaN`` where missing."""
    values = pd.to_datetime(series, errors="coerce")
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    return (values - EPOCH) / pd.Timedelta(days=1)


def to_category(series: pd.Series, dtype: pd.CategoricalDtype | None = None) -> pd.Series:
    """Text as a pandas categorical; with ``dtype``, levels unseen in it become ``NaN``."""
    text = _stripped_text(series)
    if dtype is None:
        levels = sorted(text.dropna().unique().tolist())
        dtype = pd.CategoricalDtype(levels)
    return text.astype(dtype)


def to_number(series: pd.Series, column: str) -> pd.Series:
    """A numeric feature from whatever a scoring frame holds (numbers, bools, dates, text).

    Raises:
        ValueError: a non-blank text cell is not a number; the message names the column.
    """
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_datetime64_any_dtype(series):
        return datetime_to_days(series)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    words = boolean_words(series)
    if words is not None:
        return words
    parsed = numeric_text(series)
    if parsed is None and _stripped_text(series).notna().any():
        bad = _stripped_text(series).dropna()
        bad = bad[pd.to_numeric(bad, errors="coerce").isna()]
        raise ValueError(f"column {column!r} should be numeric but holds text such as {bad.iloc[0]!r}")
    return parsed[0] if parsed is not None else pd.Series(np.nan, index=series.index, dtype=float)
