"""The degradation decision of the monthly re-evaluation, on hand-computed numbers."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pyarrow as pa
import pytest
from config_copy import config_with

from mlops_platform.config import ConfigError, GateSettings, ModelSettings, load_drift_settings
from mlops_platform.errors import InputError
from mlops_platform.features.labels import labels_partition
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.monitoring.judging import judge, target_checks
from mlops_platform.monitoring.records import ModelReevaluation, ReevaluationSummary, TargetCheck
from mlops_platform.monitoring.report import render_markdown
from mlops_platform.pipelines.reevaluate import (
    Window,
    newest_label_date,
    read_summary,
    read_window,
    report_path,
)
from mlops_platform.storage import ObjectStore

AUC = GateSettings(metric="roc_auc", margin=0.0, floors={})
AUC_FLOOR = GateSettings(metric="roc_auc", margin=0.0, floors={"roc_auc": 0.65})
RMSE = GateSettings(metric="rmse", margin=0.0, floors={})


@pytest.mark.parametrize(
    ("gate", "at_training", "now", "tolerance", "degraded", "relative"),
    [
        # (0.80 - 0.75) / 0.80 = 6.25 % worse > 5 %
        pytest.param(AUC, 0.80, 0.75, 0.05, True, -0.0625, id="auc-fell-beyond-tolerance"),
        # (0.80 - 0.77) / 0.80 = 3.75 % worse <= 5 %
        pytest.param(AUC, 0.80, 0.77, 0.05, False, -0.0375, id="auc-fell-within-tolerance"),
        # (0.5 - 0.4375) / 0.5 = 0.125 exactly: "more than" the tolerance is needed
        pytest.param(AUC, 0.5, 0.4375, 0.125, False, -0.125, id="auc-fell-exactly-the-tolerance"),
        pytest.param(AUC, 0.80, 0.90, 0.0, False, 0.125, id="auc-rose"),
        # rmse: lower is better, so a rise of 6 % is worse and a fall of 10 % is better
        pytest.param(RMSE, 100.0, 106.0, 0.05, True, 0.06, id="rmse-rose-beyond-tolerance"),
        pytest.param(RMSE, 100.0, 104.0, 0.05, False, 0.04, id="rmse-rose-within-tolerance"),
        pytest.param(RMSE, 100.0, 90.0, 0.0, False, -0.1, id="rmse-fell"),
        pytest.param(AUC, 0.75, 0.75, 0.0, False, 0.0, id="unchanged-with-zero-tolerance"),
    ],
)
def test_the_gate_metric_is_judged_relative_to_training_in_its_direction(
    gate: GateSettings, at_training: float, now: float, tolerance: float, degraded: bool, relative: float
) -> None:
    verdict = judge(gate, tolerance, {gate.metric: now}, {gate.metric: at_training})
    assert verdict.degraded is degraded
    assert verdict.change == pytest.approx(now - at_training, abs=1e-12)
    assert verdict.relative_change == pytest.approx(relative, abs=1e-12)
    assert bool(verdict.reasons) is degraded
    assert verdict.notes == []


def test_the_reason_names_metric_values_and_tolerance() -> None:
    verdict = judge(RMSE, 0.05, {"rmse": 106.0}, {"rmse": 100.0})
    assert verdict.reasons == ["rmse rose from 100.0000 at training to 106.0000 (6.00% worse, tolerance 5.00%)"]
    verdict = judge(AUC, 0.05, {"roc_auc": 0.75}, {"roc_auc": 0.80})
    assert verdict.reasons == ["roc_auc fell from 0.8000 at training to 0.7500 (6.25% worse, tolerance 5.00%)"]


def test_a_broken_floor_degrades_even_within_tolerance() -> None:
    # 0.66 -> 0.64 is 3.0 % worse (within 5 %) but below the floor 0.65
    verdict = judge(AUC_FLOOR, 0.05, {"roc_auc": 0.64}, {"roc_auc": 0.66})
    assert verdict.degraded
    assert verdict.reasons == ["roc_auc 0.6400 below floor 0.65"]


def test_a_floor_on_another_metric_is_checked_too() -> None:
    gate = GateSettings(metric="pr_auc", margin=0.0, floors={"roc_auc": 0.65})
    assert not judge(gate, 0.05, {"pr_auc": 0.30, "roc_auc": 0.70}, {"pr_auc": 0.30}).degraded
    verdict = judge(gate, 0.05, {"pr_auc": 0.30, "roc_auc": 0.60}, {"pr_auc": 0.30})
    assert verdict.reasons == ["roc_auc 0.6000 below floor 0.65"]


def test_a_floor_of_a_lower_is_better_metric_is_a_ceiling() -> None:
    gate = GateSettings(metric="rmse", margin=0.0, floors={"rmse": 120.0})
    assert not judge(gate, 0.5, {"rmse": 119.0}, {"rmse": 100.0}).degraded
    assert judge(gate, 0.5, {"rmse": 121.0}, {"rmse": 100.0}).reasons == ["rmse 121.0000 above ceiling 120"]


def test_a_missing_training_metric_is_noted_not_judged() -> None:
    verdict = judge(AUC, 0.05, {"roc_auc": 0.5}, {"pr_auc": 0.4})
    assert not verdict.degraded
    assert verdict.change is None and verdict.relative_change is None
    assert verdict.notes == ["the champion's training run logged no roc_auc: the change is not judged"]


def test_a_missing_training_metric_still_lets_a_floor_degrade() -> None:
    verdict = judge(AUC_FLOOR, 0.05, {"roc_auc": 0.5}, {})
    assert verdict.degraded
    assert verdict.reasons == ["roc_auc 0.5000 below floor 0.65"]


def test_a_metric_undefined_on_the_window_is_noted_not_judged() -> None:
    # a window of one class: the AUC is NaN, so neither the change nor the floor can be judged
    verdict = judge(AUC_FLOOR, 0.05, {"roc_auc": math.nan}, {"roc_auc": 0.8})
    assert not verdict.degraded
    assert verdict.notes == [
        "roc_auc is undefined on this window (nan): the change is not judged",
        "floor roc_auc >= 0.65 not checked: roc_auc is undefined",
    ]


def test_a_training_value_of_zero_makes_any_worsening_count() -> None:
    gate = GateSettings(metric="silhouette", margin=0.0, floors={})
    assert judge(gate, 0.5, {"silhouette": -0.01}, {"silhouette": 0.0}).degraded
    assert not judge(gate, 0.5, {"silhouette": 0.0}, {"silhouette": 0.0}).degraded
    assert judge(gate, 0.5, {"silhouette": 0.0}, {"silhouette": 0.0}).relative_change is None


def test_targets_are_measured_now_and_at_training() -> None:
    settings = ModelSettings(
        target="converted_7d",
        params={},
        gate=AUC,
        targets={"roc_auc": "> 0.75", "recall": ">= 0.5", "f1": "> 0.4"},
    )
    checks = target_checks(settings, {"roc_auc": 0.74, "recall": 0.5, "f1": math.nan}, {"roc_auc": 0.8, "f1": 0.5})
    assert checks == [
        TargetCheck("roc_auc > 0.75", 0.74, False, 0.8, True),
        TargetCheck("recall >= 0.5", 0.5, True, None, False),
        TargetCheck("f1 > 0.4", None, False, 0.5, True),
    ]


def _result(model: str, status: str, degraded: bool) -> ModelReevaluation:
    return ModelReevaluation(
        model,
        status,
        "2025-07-20",
        "roc_auc",
        True,
        version="3",
        rows=500,
        value=0.7,
        value_at_training=0.8,
        change=-0.1,
        relative_change=-0.125,
        degraded=degraded,
        reasons=["roc_auc fell"] if degraded else [],
        targets=[TargetCheck("roc_auc > 0.85", 0.7, False, 0.8, False)],
        metrics={"roc_auc": 0.7, "pr_auc": None},
        metrics_at_training={"roc_auc": 0.8},
    )


@pytest.mark.parametrize(("trigger", "retrain"), [(True, ["churn"]), (False, [])])
def test_the_summary_lists_degraded_models_and_what_to_retrain(trigger: bool, retrain: list[str]) -> None:
    summary = ReevaluationSummary(
        "2025-07-20", 0.05, trigger, [_result("churn", "degraded", True), _result("conversion", "ok", False)]
    )
    data = summary.to_dict()
    assert (data["degraded"], data["retrain"]) == (["churn"], retrain)
    assert ReevaluationSummary.from_dict(json.loads(json.dumps(data))) == summary


def test_summaries_round_trip_through_the_store(tmp_path: Path) -> None:
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    with pytest.raises(InputError, match="no re-evaluation summary in"):
        read_summary(store)
    for day in ("2025-06-20", "2025-07-20"):
        summary = ReevaluationSummary(day, 0.05, True, [_result("churn", "degraded", True)], "run1", "now")
        store.put_bytes(report_path(day, "summary.json"), json.dumps(summary.to_dict()).encode())
    assert read_summary(store).date == "2025-07-20"  # the newest
    assert read_summary(store, dt.date(2025, 6, 20)).models[0].degraded
    with pytest.raises(InputError, match="no re-evaluation summary for 2025-05-01"):
        read_summary(store, dt.date(2025, 5, 1))


def test_the_markdown_report_has_a_row_per_model_and_the_reasons() -> None:
    summary = ReevaluationSummary("2025-07-20", 0.05, True, [_result("churn", "degraded", True)], "run1", "now")
    text = render_markdown(summary)
    assert "# Champion re-evaluation on 2025-07-20" in text
    assert "| churn | 3 | degraded | roc_auc | 0.8000 | 0.7000 | -0.1000 (-12.5%) | roc_auc > 0.85: MISS |" in text
    assert "- reason: roc_auc fell" in text
    assert "| pr_auc | n/a | n/a |" in text
    assert "To retrain: churn" in text


def test_the_window_needs_committed_labels_and_snapshot(tmp_path: Path) -> None:
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    day = dt.date(2025, 7, 20)
    with pytest.raises(InputError, match=r"no labels in .*mlops features labels --date D"):
        newest_label_date(store)
    with pytest.raises(InputError, match=r"no labels for 2025-07-20: partition .*labels/customer/date=2025-07-20"):
        read_window(store, day)
    store.write_partition(labels_partition(day), pa.table({"customer_id": [1, 2], "churned_30d": [1, 0]}))
    assert newest_label_date(store) == day
    with pytest.raises(InputError, match=r"no feature snapshot for 2025-07-20: .*features/customer/date=2025-07-20"):
        read_window(store, day)


def test_the_window_joins_labels_like_training_and_counts_unlabelled_rows() -> None:
    day, later = dt.date(2025, 7, 20), dt.date(2025, 8, 1)
    snapshot = pa.table({"customer_id": [3, 1, 2], "x": [30.0, 10.0, 20.0]})
    newest = pa.table({"customer_id": [4], "x": [40.0]})
    labels = pa.table({"customer_id": [1, 3], "churned_30d": [1, 0], "revenue_30d": [5.0, 6.0]})
    window = Window(day, snapshot, labels, later, newest)
    frame, unlabelled, scored = window.frame("churned_30d")
    assert frame.to_dict("list") == {"customer_id": [1, 3], "x": [10.0, 30.0], "churned_30d": [1, 0]}
    assert (unlabelled, scored) == (1, day)
    frame, unlabelled, scored = window.frame(None)  # unsupervised: the newer snapshot, whole
    assert (frame.to_dict("list"), unlabelled, scored) == ({"customer_id": [4], "x": [40.0]}, 0, later)


def test_unsupervised_models_get_the_newest_snapshot_within_the_horizon(tmp_path: Path) -> None:
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    day = dt.date(2025, 7, 20)
    store.write_partition(labels_partition(day), pa.table({"customer_id": [1], "churned_30d": [1]}))
    for offset in (-1, 0, 10, 30, 31):  # the day before, D, inside the 30-day horizon, its end, after it
        snapshot_day = day + dt.timedelta(days=offset)
        store.write_partition(snapshot_partition(snapshot_day), pa.table({"customer_id": [1], "x": [float(offset)]}))
    window = read_window(store, day, horizon_days=30)
    assert (window.day, window.snapshot["x"].to_pylist()) == (day, [0.0])
    assert (window.unsupervised_day, window.unsupervised_snapshot["x"].to_pylist()) == (day + dt.timedelta(30), [30.0])
    assert read_window(store, day).unsupervised_day == day  # no horizon: the label date itself


def test_the_reevaluation_settings_load_and_take_overrides(config_dir: Path) -> None:
    settings = load_drift_settings(config_dir, env={}).reevaluation
    assert settings.tolerance == 0.05 and settings.trigger_retraining is True
    assert settings.models == ["churn", "conversion", "revenue", "segmentation", "recommender"]
    env = {"MLOPS_REEVALUATION_TOLERANCE": "0.1", "MLOPS_REEVALUATION_TRIGGER_RETRAINING": "false"}
    overridden = load_drift_settings(config_dir, env=env).reevaluation
    assert (overridden.tolerance, overridden.trigger_retraining) == (0.1, False)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda d: d["reevaluation"].pop("tolerance"), r"reevaluation\.tolerance: missing", id="missing"),
        pytest.param(
            lambda d: d["reevaluation"].update(tolerance=-0.1),
            r"reevaluation\.tolerance: .*greater than or equal to 0",
            id="negative",
        ),
        pytest.param(lambda d: d["reevaluation"].update(models=[]), r"reevaluation\.models: ", id="no-models"),
        pytest.param(lambda d: d.pop("reevaluation"), r"reevaluation: missing", id="no-section"),
    ],
)
def test_reevaluation_config_errors_name_the_key(tmp_path: Path, config_dir: Path, edit, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_drift_settings(config_with(tmp_path, config_dir, edit, "drift.yaml"), env={})
