"""Training-set date plans: labels never reach into the holdout; the newest labelled date is held out."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from mlops_platform.config import TrainingSetSettings
from mlops_platform.features.training_set import plan_dates


def test_a_hand_checked_plan() -> None:
    settings = TrainingSetSettings(dates=3, step_days=7, holdout_dates=1, reference_rows=100, seed=1)
    plan = plan_dates(dt.date(2025, 12, 1), 30, settings)
    assert plan.holdout == [dt.date(2025, 11, 1)]
    assert plan.train == [dt.date(2025, 9, 18), dt.date(2025, 9, 25), dt.date(2025, 10, 2)]


@given(
    as_of=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 1, 1)),
    horizon=st.integers(min_value=1, max_value=90),
    dates=st.integers(min_value=1, max_value=8),
    step=st.integers(min_value=1, max_value=30),
    holdout=st.integers(min_value=1, max_value=3),
)
def test_no_training_label_day_falls_in_a_holdout_window(as_of, horizon, dates, step, holdout) -> None:
    settings = TrainingSetSettings(dates=dates, step_days=step, holdout_dates=holdout, reference_rows=10, seed=1)
    plan = plan_dates(as_of, horizon, settings)
    last_label_day = max(plan.holdout) + dt.timedelta(days=horizon - 1)
    assert last_label_day < as_of  # every label is known on the training date
    for day in plan.train:
        assert day + dt.timedelta(days=horizon - 1) < min(plan.holdout)
    assert len(plan.train) == dates and len(plan.holdout) == holdout
