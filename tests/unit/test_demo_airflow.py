"""The Airflow demo's timeline and the lines it prints (scripts/demo_airflow.py; no Airflow run here)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_airflow.py"


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo_airflow", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_airflow"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("demo_airflow", None)


def verdict(model: str, retrain: bool, reason: str, share: float | None) -> dict:
    return {"model": model, "retrain": retrain, "reason": reason, "drift_share": share, "champion_version": "1"}


def test_the_timeline_runs_features_daily_and_the_weekly_runs_after_them(demo) -> None:
    steps = [step for _, week in demo.timeline() for step in week]
    features = [s.day for s in steps if s.dag_id == "feature_recalculation"]
    weekly = [s.day for s in steps if s.dag_id == "drift_retraining"]

    assert features == [demo.FIRST_FEATURES + dt.timedelta(days=i) for i in range(len(features))]
    assert features[-1] == demo.END
    assert weekly == [demo.FIRST_TRAINING, demo.QUIET_WEEK, demo.DRIFT_WEEK]
    assert all(d.weekday() == 6 for d in weekly)  # Sundays, the @weekly logical dates
    for day in weekly:
        index = steps.index(next(s for s in steps if s.dag_id == "drift_retraining" and s.day == day))
        assert steps[index - 1] == demo.Step("feature_recalculation", day)
        assert steps[index + 1].dag_id == "daily_scoring"
    assert steps[-1].dag_id == "monthly_reevaluation"


def test_the_drift_starts_after_the_quiet_snapshot_and_a_week_before_the_drift_check(demo) -> None:
    drifted_days = (demo.DRIFT_WEEK - demo.DRIFT_FROM).days
    last_raw_day = demo.START + dt.timedelta(days=demo.RAW_DAYS - 1)

    assert demo.FIRST_TRAINING < demo.QUIET_WEEK <= demo.DRIFT_FROM < demo.DRIFT_WEEK
    assert drifted_days >= 7  # the 7-day windows of the drift check's snapshot have fully drifted
    assert last_raw_day == demo.END - dt.timedelta(days=1)  # the input of the last snapshot
    assert (demo.END - demo.FIRST_FEATURES).days == 30  # the monthly run's label date has its snapshot


@pytest.mark.parametrize(
    ("verdicts", "trained", "expected"),
    [
        pytest.param(
            [verdict(m, True, "no champion", None) for m in ("churn", "revenue")],
            [{"gate_decision": "promoted"}, {"gate_decision": "promoted"}],
            "trained 2 (no champion); promoted 2",
            id="first-training",
        ),
        pytest.param(
            [verdict("churn", False, "skip: ...", 0.06), verdict("revenue", False, "skip: ...", 0.0)],
            None,
            "skipped: no drift (share 0.06 at most)",
            id="quiet-week",
        ),
        pytest.param(
            [verdict("churn", True, "drift: 7 of 18", 0.39), verdict("segmentation", True, "drift: 6 of 18", 0.33)],
            [{"gate_decision": "rejected"}, {"gate_decision": "promoted"}],
            "retrained 2: drift 0.33-0.39; promoted 1, rejected 1",
            id="drift",
        ),
        pytest.param(
            [verdict("churn", True, "drift: 7 of 18", 0.39), verdict("revenue", False, "skip: ...", 0.28)],
            [{"gate_decision": "rejected"}],
            "retrained 1: drift 0.39; skipped 1; rejected 1",
            id="drift-for-one",
        ),
        pytest.param(
            [verdict("revenue", True, "forced", None)],
            [{"gate_decision": "pending"}],
            "retrained 1: forced; not gated 1",
            id="forced-by-the-monthly-run",
        ),
        pytest.param(
            [verdict("churn", True, "champion is 65 days old (max 60)", 0.1)],
            None,
            "retrained 1: champion too old; no gate result",
            id="training-failed",
        ),
    ],
)
def test_a_drift_run_reads_as_one_line(demo, verdicts, trained, expected) -> None:
    assert demo.drift_decision_text(verdicts, trained) == expected


def test_the_model_lines_name_share_decision_version_and_gate(demo) -> None:
    verdicts = [verdict("churn", True, "drift", 0.39), verdict("revenue", False, "no champion", None)]

    assert demo.drift_model_lines(verdicts) == ["churn 0.39 retrain", "revenue - skip"]
    assert demo.version_lines([{"model": "churn", "version": "2", "gate_decision": "rejected"}]) == [
        "churn v2 rejected"
    ]


def test_a_reevaluation_reads_as_counts_and_degraded_models(demo) -> None:
    summary = {
        "date": "2025-06-20",
        "trigger_retraining": True,
        "models": [
            {"model": "churn", "status": "ok", "gate_metric": "roc_auc", "value": 0.9412, "value_at_training": 0.944},
            {"model": "revenue", "status": "degraded", "degraded": True, "gate_metric": "rmse", "value": 69469.4},
            {"model": "segmentation", "status": "skipped", "gate_metric": "silhouette", "value": None},
        ],
    }

    assert demo.reevaluation_decision_text(summary) == (
        "labels of 2025-06-20: 1 ok, 1 degraded, 1 skipped; degraded: revenue; forced retraining triggered"
    )
    assert demo.reevaluation_model_lines(summary) == [
        "churn ok roc_auc 0.941 (trained 0.944)",
        "revenue degraded rmse 69,469",
        "segmentation skipped",
    ]
    assert demo.reevaluation_decision_text({**summary, "models": summary["models"][:1]}).endswith("degraded: none")


def test_scoring_and_feature_runs_read_as_one_line(demo) -> None:
    assert demo.scoring_decision_text([["score", "churn", "--date", "2025-07-13"]]) == (
        "scored 1 model(s) on snapshot 2025-07-13"
    )
    assert demo.scoring_decision_text([]) == "nothing to score: no champion"
    plan = {"snapshot_date": "2025-06-20", "label_date": None}
    assert demo.feature_decision_text(plan) == "snapshot 2025-06-20, labels not due yet"


def test_a_failed_run_shows_the_failure_callback_line_without_the_log_decoration(demo) -> None:
    log = (
        "2026-11-26T16:08:12Z [info     ] mlops score churn --date 2025-01-15\n"
        "mlops_dags.runner.MlopsCommandFailed: mlops score churn failed: error: no feature snapshot\n"
        "2026-11-26T16:08:12Z [error    ] mlops task failed: DAG daily_scoring, task score[0], run r, try 1: "
        "mlops score churn failed: error: no feature snapshot [mlops_dags] loc=defaults.py:42\n"
    )

    assert demo.error_lines(log) == [
        "DAG daily_scoring, task score[0], run r, try 1: mlops score churn failed: error: no feature snapshot"
    ]


def test_without_a_callback_line_the_exception_lines_are_shown(demo) -> None:
    log = "Traceback (most recent call last):\n  File x\nKeyError: 'verdicts'\n[info] done\n"

    assert demo.error_lines(log) == ["KeyError: 'verdicts'"]


def test_the_summary_folds_the_feature_runs_of_a_week_into_one_row(demo) -> None:
    results = [
        demo.RunResult("feature_recalculation", "2025-06-28", "success", 7.0, "snapshot 2025-06-28, labels 2025-05-29"),
        demo.RunResult("feature_recalculation", "2025-06-29", "failed", 7.0, "snapshot 2025-06-29, labels 2025-05-30"),
        demo.RunResult("daily_scoring", "2025-06-29", "success", 5.0, "scored 1", ["churn"], ["churn v1"]),
    ]

    rows = demo.summary_rows(results)

    assert rows[0][:3] == [
        "feature_recalculation\n2025-06-28 .. 2025-06-29",
        "failed 1/2",
        "2 daily snapshot(s); labels 2025-05-29 .. 2025-05-30",
    ]
    assert rows[1][:5] == ["daily_scoring\n2025-06-29", "success", "scored 1", "churn", "churn v1"]
