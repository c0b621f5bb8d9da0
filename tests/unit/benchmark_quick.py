"""Running a benchmark's ``--quick`` mode and checking what it wrote (figures are never asserted).

One test per benchmark: the script runs in a subprocess with a timeout and writes to a temporary
``--out``; the test reads the JSON back and checks what the run found (equality checks, decisions,
row counts, keys), never a wall-clock figure. A benchmark whose data (``../shared/data``) is not
there exits with ``harness.SKIP_EXIT`` and a ``SKIP:`` line, and its test is skipped with that reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
SKIP_EXIT = 77  # benchmarks/harness.py: SKIP_EXIT


@dataclass(frozen=True)
class Quick:
    """One benchmark's quick run: its script, extra arguments, the timeout and the check of its JSON."""

    name: str
    check: Callable[[dict[str, Any]], None]
    args: tuple[str, ...] = ()
    timeout: int = 300
    work: bool = False  # the script takes --work (a scratch folder of its own)


def check_feature_snapshot(result: dict[str, Any]) -> None:
    """The build equals the pandas baseline on every customer and feature."""
    assert result["equality"]["passed"] is True
    assert result["equality"]["customers"] > 0
    assert set(result["summary"]["contenders"]) == {"build", "pandas", "scan-arrow", "scan-duckdb"}


def check_drift(result: dict[str, Any]) -> None:
    """Both pairs decided; the drifted pair retrains under the floor and the platform alike."""
    pairs = {pair["pair"]: pair for pair in result["pairs"]}
    assert set(pairs) == {"no_drift", "drifted"}
    assert pairs["drifted"]["floor"]["retrain"] is True
    assert pairs["drifted"]["platform"]["retrain"] is True
    assert result["checks"]["same_decision_as_floor"] is True


def check_dag_overhead(result: dict[str, Any]) -> None:
    """drift_retraining ran under dag.test(): no task failed, and every model was checked and trained."""
    states = {(task["task"], task["state"]) for task in result["tasks"]}
    assert {state for _, state in states} <= {"success", "skipped"}, result["tasks"]
    assert {("check_drift", "success"), ("train", "success"), ("summary", "success")} <= states
    trained = [task for task in result["tasks"] if task["task"] == "train" and task["state"] == "success"]
    assert len(trained) >= 4, trained  # churn, conversion, revenue, segmentation: no champion yet
    assert {"direct_seconds", "dag_seconds", "ratio_dag_to_direct", "passed"} <= set(result)


def check_training_overhead(result: dict[str, Any]) -> None:
    """Every contender ran at both sizes on the same split, and scoring scored every row."""
    for size in ("demo", "big"):
        part = result[size]
        assert part["platform"]["exit_code"] == 0
        assert 0.5 < part["bare"]["roc_auc"] <= 1.0
        assert part["bare"]["train_rows"] > 0
        assert part["plain"]["best_iteration"] >= 0
        assert part["autolog"]["run_id"]
    assert result["big"]["table"]["rows"] == result["sizes"]["big_rows"]
    assert result["scoring"]["rows"] == result["sizes"]["score_rows"]
    assert result["scoring"]["inprocess"]["exit_code"] == 0
    assert {check["name"] for check in result["checks"]}


def check_recommender_speed(result: dict[str, Any]) -> None:
    """Three sizes served; the batch call gives the same top-5 as one call per customer."""
    assert result["demo"]["training"]["version"]
    for part in ("demo", "big", "movielens"):
        serving = result[part]["serving"]
        assert serving["batch_approx_reasons"]["rows"] > 0
        same = serving["batch_matches_single_calls"]
        assert same["customers"] > 0
        assert same["same_top5"] == same["customers"], (part, same)
    assert len(result["checks"]) == 2


def check_quality(result: dict[str, Any]) -> None:
    """The conversion model on the shopper sample and the three retail models were trained and read back."""
    assert 0.5 < result["shoppers"]["metrics"]["roc_auc"] <= 1.0
    models = result["retail"]["models"]
    assert set(models) == {"churn", "revenue", "segmentation"}
    assert all("failed" not in item for item in models.values()), models
    assert result["rows"]


def check_recommender_quality(result: dict[str, Any]) -> None:
    """Every part ran on the sample: the docs' protocol, validation, the contenders and the speed part."""
    assert set(result["docs_protocol"]) == {"warp", "bpr"}
    assert {"popularity", "lightfm_warp", "lightfm_warp+ranker", "lightfm_ensemble+ranker"} <= set(result["contenders"])
    assert set(result["validation"]) == {"draw_0", "draw_1"}
    assert result["throughput"]["users"] > 0


def check_recommender_retail(result: dict[str, Any]) -> None:
    """Both protocols ran every contender on the imported sample."""
    assert set(result["protocols"]) == {"kept", "new_items"}
    for run in result["protocols"].values():
        assert {"popularity", "lightfm_warp", "lightfm_ensemble+ranker"} <= set(run["contenders"])
        assert run["sizes"]["label_users"] > 0
    assert "own_history" in result["protocols"]["kept"]["contenders"]


QUICK_RUNS = {
    run.name: run
    for run in (
        Quick("feature_snapshot", check_feature_snapshot, ("--rows", "20000", "--no-scaling"), work=True),
        Quick("drift", check_drift),
        Quick("dag_overhead", check_dag_overhead, timeout=540),
        Quick("training_overhead", check_training_overhead, timeout=540, work=True),
        Quick("recommender_speed", check_recommender_speed, timeout=540, work=True),
        Quick("quality", check_quality, timeout=540),
        Quick("recommender_quality", check_recommender_quality),
        Quick("recommender_retail", check_recommender_retail),
    )
}


def run_quick(quick: Quick, tmp_path: Path) -> None:
    """Run ``quick``'s script in a subprocess, skip when its data is missing, check its JSON and report."""
    out = tmp_path / "results"
    record = BENCHMARKS / "results" / f"{quick.name}.json"
    recorded = record.read_bytes() if record.exists() else None
    command = [sys.executable, str(BENCHMARKS / f"{quick.name}.py"), "--quick", *quick.args, "--out", str(out)]
    if quick.work:
        command += ["--work", str(tmp_path / "work")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=quick.timeout)
    if done.returncode == SKIP_EXIT:
        reason = [line for line in done.stdout.splitlines() if line.startswith("SKIP:")]
        pytest.skip(reason[-1] if reason else "the benchmark's data is not there")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    quick.check(json.loads((out / f"{quick.name}.json").read_text()))
    assert (out / f"{quick.name}.md").read_text().strip()
    assert (record.read_bytes() if record.exists() else None) == recorded, "a quick run replaced the record"
