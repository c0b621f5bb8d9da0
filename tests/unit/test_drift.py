"""Drift decision, retrain verdict and drift settings, on small seeded frames with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from config_copy import config_with

from mlops_platform.config import ConfigError, DriftSettings, load_drift_settings
from mlops_platform.monitoring.drift import DriftDecision, decide_retrain, drift_decision

NUMERICAL = [f"num_{i}" for i in range(8)]
CATEGORICAL = ["plan", "region"]


def _frame(rows: int, seed: int, shift: float = 0.0, plan_mix: tuple[float, ...] = (0.6, 0.3, 0.1)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {c: rng.normal(shift, 1.0, rows) for c in NUMERICAL}
    data["plan"] = rng.choice(["basic", "plus", "pro"], rows, p=plan_mix)
    data["region"] = rng.choice(["north", "south"], rows)
    return pd.DataFrame(data)


@pytest.fixture
def settings(config_dir: Path) -> DriftSettings:
    return load_drift_settings(config_dir, env={})


def _with(settings: DriftSettings, **decision: object) -> DriftSettings:
    return settings.model_copy(update={"decision": settings.decision.model_copy(update=decision)})


def test_the_same_distribution_with_other_seeds_is_no_reason_to_retrain(settings: DriftSettings) -> None:
    decision = drift_decision(_frame(3000, 1), _frame(3000, 2), NUMERICAL, CATEGORICAL, settings)
    assert not decision.should_retrain
    assert decision.drifted_columns == []
    assert set(decision.columns) == set(NUMERICAL + CATEGORICAL)
    assert decision.excluded == {}
    assert "0 of 10 tested columns drifted" in decision.reason


def test_shifted_means_and_a_new_plan_mix_call_for_retraining(settings: DriftSettings) -> None:
    current = _frame(3000, 2, plan_mix=(0.2, 0.3, 0.5))
    for column in NUMERICAL[:6]:
        current[column] += 0.5
    decision = drift_decision(_frame(3000, 1), current, NUMERICAL, CATEGORICAL, settings)
    assert decision.should_retrain
    assert set(decision.drifted_columns) == set(NUMERICAL[:6] + ["plan"])
    assert decision.share == pytest.approx(7 / 10)
    assert decision.columns["plan"].method == "jensenshannon"
    assert decision.columns["num_0"].method == "wasserstein"
    assert decision.columns["num_0"].score > decision.columns["num_0"].threshold


def test_p_value_tests_can_be_configured(settings: DriftSettings) -> None:
    conf = _with(settings, numerical_method="ks", categorical_method="chisquare", per_column_threshold=0.05)
    current = _frame(3000, 2)
    current[NUMERICAL[0]] += 0.5
    decision = drift_decision(_frame(3000, 1), current, NUMERICAL, CATEGORICAL, conf)
    assert NUMERICAL[0] in decision.drifted_columns
    assert decision.columns[NUMERICAL[0]].score < 0.05  # a p-value


def test_constant_and_all_null_columns_are_excluded_with_a_note(settings: DriftSettings) -> None:
    reference, current = _frame(3000, 1), _frame(3000, 2)
    for frame in (reference, current):
        frame["constant"] = 7.0
        frame["empty"] = np.nan
        frame["empty_plan"] = None
    current["gone"] = np.nan
    reference["gone"] = 1.5
    numerical = NUMERICAL + ["constant", "empty", "gone"]
    decision = drift_decision(reference, current, numerical, CATEGORICAL + ["empty_plan"], settings)
    assert decision.excluded == {
        "constant": "constant (one value on both sides)",
        "empty": "all null on both sides",
        "gone": "all null in the current data",
        "empty_plan": "all null on both sides",
    }
    assert len(decision.columns) == 10
    assert any("constant not tested" in note for note in decision.notes)
    assert not decision.should_retrain


def test_nothing_testable_means_no_decision_to_retrain(settings: DriftSettings) -> None:
    frame = pd.DataFrame({"x": [np.nan] * 5, "c": ["a"] * 5})
    decision = drift_decision(frame, frame, ["x"], ["c"], settings)
    assert not decision.should_retrain
    assert decision.share == 0.0
    assert decision.reason == "no testable columns: drift not measured"


def test_the_sample_cap_is_honoured_and_seeded(settings: DriftSettings) -> None:
    conf = _with(settings, sample_rows=500)
    reference, current = _frame(3000, 1), _frame(2000, 2, shift=0.05)
    first = drift_decision(reference, current, NUMERICAL, CATEGORICAL, conf)
    second = drift_decision(reference, current, NUMERICAL, CATEGORICAL, conf)
    assert (first.reference_rows, first.current_rows) == (500, 500)
    assert first == second
    other_seed = drift_decision(reference, current, NUMERICAL, CATEGORICAL, _with(conf, seed=7))
    assert other_seed.columns["num_0"].score != first.columns["num_0"].score


def test_a_missing_column_is_named(settings: DriftSettings) -> None:
    from mlops_platform.errors import InputError

    with pytest.raises(InputError, match=r"current data lacks column\(s\) \['num_7'\]"):
        drift_decision(_frame(100, 1), _frame(100, 2).drop(columns="num_7"), NUMERICAL, CATEGORICAL, settings)


def _decision(should: bool) -> DriftDecision:
    return DriftDecision(
        drifted_columns=["a"] if should else [],
        share=1.0 if should else 0.0,
        threshold=0.3,
        should_retrain=should,
        reason="1 of 1 tested columns drifted" if should else "0 of 1 tested columns drifted",
        columns={},
        excluded={},
        reference_rows=10,
        current_rows=10,
    )


@pytest.mark.parametrize(
    ("decision", "exists", "age", "forced", "retrain", "reason"),
    [
        pytest.param(_decision(False), True, 3.0, True, True, "forced", id="forced"),
        pytest.param(None, False, None, False, True, "no champion", id="no-champion"),
        pytest.param(_decision(False), True, 61.0, False, True, "champion is 61 days old (max 60)", id="too-old"),
        pytest.param(_decision(True), True, 3.0, False, True, "drift: 1 of 1", id="drifted"),
        pytest.param(_decision(False), True, 60.0, False, False, "skip: 0 of 1", id="skip"),
        pytest.param(None, True, 3.0, False, False, "skip: no drift decision", id="no-decision"),
    ],
)
def test_decide_retrain_names_its_reason(
    settings: DriftSettings,
    decision: DriftDecision | None,
    exists: bool,
    age: float | None,
    forced: bool,
    retrain: bool,
    reason: str,
) -> None:
    verdict = decide_retrain(decision, exists, age, forced, settings)
    assert verdict.retrain is retrain
    assert verdict.reason.startswith(reason)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda d: d["decision"].pop("sample_rows"), r"decision\.sample_rows: missing", id="missing"),
        pytest.param(lambda d: d["retrain"].update(max_age=3), r"retrain\.max_age: unknown key", id="unknown"),
        pytest.param(
            lambda d: d["decision"].update(drifted_share_threshold=1.5),
            r"decision\.drifted_share_threshold: .*less than or equal to 1",
            id="out-of-range",
        ),
        pytest.param(
            lambda d: d["decision"].update(numerical_method="chisquare"),
            r"decision\.numerical_method: .*must be one of wasserstein",
            id="unknown-method",
        ),
    ],
)
def test_drift_config_errors_name_the_key(tmp_path: Path, config_dir: Path, edit, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_drift_settings(config_with(tmp_path, config_dir, edit, "drift.yaml"), env={})


def test_env_overrides_reach_the_drift_settings(config_dir: Path) -> None:
    env = {"MLOPS_DECISION_SAMPLE_ROWS": "1000", "MLOPS_RETRAIN_MAX_CHAMPION_AGE_DAYS": "14"}
    settings = load_drift_settings(config_dir, env=env)
    assert settings.decision.sample_rows == 1000
    assert settings.retrain.max_champion_age_days == 14
    with pytest.raises(ConfigError, match=r"MLOPS_DECISION_SAMPLES: decision\.samples is not a known setting"):
        load_drift_settings(config_dir, env={"MLOPS_DECISION_SAMPLES": "3"})
