"""Feature drift: is the newest snapshot far enough from the champion's training reference to retrain?

Two steps, kept apart so the decision stays cheap:

- :func:`drift_decision` caps both sides at a seeded sample, declares every column numerical or
  categorical, and runs Evidently's registered stat test on each testable column (the same
  per-column test that Evidently's ``DriftedColumnsCount`` runs, without the report rendering).
  Columns that are all null or hold a single value on both sides cannot be tested; they are
  excluded with a note instead of failing the run.
- :func:`drift_report` renders Evidently's ``DataDriftPreset`` (HTML and JSON) for people to
  read; callers run it after deciding, off the decision's critical path.

:func:`decide_retrain` folds the drift decision together with the champion's presence, age and a
manual override into one retrain verdict with a reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_platform.config import DriftDecisionSettings, DriftSettings
from mlops_platform.errors import InputError

REPORTS = "reports/drift"


def report_prefix(day: dt.date, model: str) -> str:
    """Where ``mlops drift check`` stores MODEL's decision on ``day``: ``<prefix>.json`` and ``.html``."""
    return f"{REPORTS}/date={day.isoformat()}/{model}"


_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnDrift:
    """The stat test of one column: a distance (drifted when >= threshold) or a p-value (< threshold)."""

    column: str
    kind: str
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftDecision:
    """What the drift check found; ``share`` counts tested columns only."""

    drifted_columns: list[str]
    share: float
    threshold: float
    should_retrain: bool
    reason: str
    columns: dict[str, ColumnDrift]
    excluded: dict[str, str]
    reference_rows: int
    current_rows: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite scores become None)."""
        data = asdict(self)
        for entry in data["columns"].values():
            if not math.isfinite(entry["score"]):
                entry["score"] = None
        return data


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to retrain a model now, and why."""

    retrain: bool
    reason: str


def _check_columns(reference: pd.DataFrame, current: pd.DataFrame, numerical: list[str], categorical: list[str]):
    both = set(numerical) & set(categorical)
    if both:
        raise InputError(f"drift: columns declared both numerical and categorical: {sorted(both)}")
    for side, frame in (("reference", reference), ("current", current)):
        missing = [c for c in [*numerical, *categorical] if c not in frame.columns]
        if missing:
            raise InputError(f"drift: {side} data lacks column(s) {missing}")
    for column in numerical:
        for side, frame in (("reference", reference), ("current", current)):
            dtype = frame[column].dtype
            if not (pd.api.types.is_numeric_dtype(dtype) or frame[column].isna().all()):
                raise InputError(f"drift: numerical column {column!r} of the {side} data has type {dtype}")


def sample_rows(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``rows`` rows (all of them, in order, when there are fewer)."""
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    picks = np.sort(np.random.default_rng(seed).choice(len(frame), size=rows, replace=False))
    return frame.take(picks).reset_index(drop=True)


def _prepare(series: pd.Series, kind: str) -> pd.Series:
    """Finite, non-null values; categories as strings (so int-coded and str-coded levels compare)."""
    if kind == "numerical":
        values = pd.to_numeric(series, errors="coerce").astype("float64")
        return values[np.isfinite(values.to_numpy())]
    values = series.dropna()
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    return values if pd.api.types.is_object_dtype(values.dtype) else values.astype(str)


def _untestable(ref: pd.Series, cur: pd.Series) -> str | None:
    if ref.empty and cur.empty:
        return "all null on both sides"
    if ref.empty:
        return "all null in the reference"
    if cur.empty:
        return "all null in the current data"
    first = ref.iloc[0]
    if bool((ref == first).all()) and bool((cur == first).all()):
        return "constant (one value on both sides)"
    return None


def _column_drift(column: str, kind: str, ref: pd.Series, cur: pd.Series, settings: DriftDecisionSettings):
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.core import ColumnType

    column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    method = settings.numerical_method if kind == "numerical" else settings.categorical_method
    test = get_stattest(ref, cur, column_type, method)
    result = test(ref, cur, column_type, settings.per_column_threshold)
    return ColumnDrift(column, kind, method, float(result.drift_score), result.actual_threshold, bool(result.drifted))


def drift_decision(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str],
    categorical: list[str],
    settings: DriftSettings | DriftDecisionSettings,
) -> DriftDecision:
    """Test every declared column for drift on seeded samples and decide whether drift calls for retraining.

    Args:
        reference: the champion's training reference sample.
        current: the newest feature snapshot.
        numerical: numeric feature columns.
        categorical: categorical feature columns.
        settings: the drift settings (or just their ``decision`` section).

    Returns:
        The decision; ``should_retrain`` when the share of drifted tested columns reaches
        ``drifted_share_threshold``.

    Raises:
        InputError: a declared column is missing or a numerical column holds non-numbers.
    """
    conf = settings.decision if isinstance(settings, DriftSettings) else settings
    _check_columns(reference, current, numerical, categorical)
    columns = [*numerical, *categorical]
    ref_sample = sample_rows(reference[columns], conf.sample_rows, conf.seed)
    cur_sample = sample_rows(current[columns], conf.sample_rows, conf.seed + 1)
    results: dict[str, ColumnDrift] = {}
    excluded: dict[str, str] = {}
    for column in columns:
        kind = "numerical" if column in numerical else "categorical"
        ref, cur = _prepare(ref_sample[column], kind), _prepare(cur_sample[column], kind)
        why = _untestable(ref, cur)
        if why is not None:
            excluded[column] = why
            continue
        results[column] = _column_drift(column, kind, ref, cur, conf)
    drifted = [c for c, r in results.items() if r.drifted]
    share = len(drifted) / len(results) if results else 0.0
    notes = [f"{c} not tested: {why}" for c, why in excluded.items()]
    for note in notes:
        _logger.warning("drift: %s", note)
    should = bool(results) and share >= conf.drifted_share_threshold
    if not results:
        reason = "no testable columns: drift not measured"
    else:
        verb = ">=" if should else "<"
        reason = (
            f"{len(drifted)} of {len(results)} tested columns drifted (share {share:.2f} {verb} "
            f"{conf.drifted_share_threshold:g})"
        )
        if drifted:
            reason += ": " + ", ".join(drifted[:8]) + (" ..." if len(drifted) > 8 else "")
    return DriftDecision(
        drifted_columns=drifted,
        share=share,
        threshold=conf.drifted_share_threshold,
        should_retrain=should,
        reason=reason,
        columns=results,
        excluded=excluded,
        reference_rows=len(ref_sample),
        current_rows=len(cur_sample),
        notes=notes,
    )


def decide_retrain(
    decision: DriftDecision | None,
    champion_exists: bool,
    champion_age_days: float | None,
    forced: bool,
    settings: DriftSettings,
) -> RetrainDecision:
    """Retrain when forced, when there is no champion, when it is too old, or when drift passes the bar.

    Args:
        decision: the drift decision (None when none could be made, e.g. without a champion).
        champion_exists: whether the model has a champion.
        champion_age_days: days between the champion's training data and the snapshot (None: unknown).
        forced: a manual override (always retrain).
        settings: the drift settings (``retrain.max_champion_age_days``).
    """
    max_age = settings.retrain.max_champion_age_days
    if forced:
        return RetrainDecision(True, "forced")
    if not champion_exists:
        return RetrainDecision(True, "no champion")
    if champion_age_days is not None and champion_age_days > max_age:
        return RetrainDecision(True, f"champion is {champion_age_days:g} days old (max {max_age})")
    if decision is None:
        return RetrainDecision(False, "skip: no drift decision was made")
    if decision.should_retrain:
        return RetrainDecision(True, f"drift: {decision.reason}")
    age = "unknown age" if champion_age_days is None else f"{champion_age_days:g} days old (max {max_age})"
    return RetrainDecision(False, f"skip: {decision.reason}; champion {age}")


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str],
    categorical: list[str],
    settings: DriftSettings | DriftDecisionSettings,
) -> tuple[str, dict[str, Any]]:
    """Evidently's ``DataDriftPreset`` on the same seeded samples and tests as the decision.

    Columns the decision could not test are left out. Slow next to :func:`drift_decision`
    (plots for every column): run it after deciding.

    Returns:
        The standalone HTML report and the snapshot as a JSON-ready dict.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    conf = settings.decision if isinstance(settings, DriftSettings) else settings
    _check_columns(reference, current, numerical, categorical)
    columns = [*numerical, *categorical]
    ref = sample_rows(reference[columns], conf.sample_rows, conf.seed)
    cur = sample_rows(current[columns], conf.sample_rows, conf.seed + 1)
    keep_num: list[str] = []
    keep_cat: list[str] = []
    for column in columns:
        kind = "numerical" if column in numerical else "categorical"
        if _untestable(_prepare(ref[column], kind), _prepare(cur[column], kind)) is None:
            (keep_num if kind == "numerical" else keep_cat).append(column)
    if not keep_num and not keep_cat:
        raise InputError("drift report: no testable columns (all null or constant)")
    ref, cur = ref[keep_num + keep_cat].copy(), cur[keep_num + keep_cat].copy()
    for frame in (ref, cur):
        for column in keep_num:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        for column in keep_cat:
            frame[column] = frame[column].astype("string").astype(object).where(frame[column].notna(), None)
    definition = DataDefinition(numerical_columns=keep_num, categorical_columns=keep_cat)
    preset = DataDriftPreset(
        columns=keep_num + keep_cat,
        drift_share=conf.drifted_share_threshold,
        num_method=conf.numerical_method,
        cat_method=conf.categorical_method,
        threshold=conf.per_column_threshold,
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    return snapshot.get_html_str(as_iframe=False), json.loads(snapshot.json())
