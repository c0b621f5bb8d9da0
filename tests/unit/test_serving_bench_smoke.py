"""The serving benchmark runs end to end on a tiny lake in --quick mode (latencies are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_quick_serving_benchmark_writes_figures_and_swaps_without_a_failed_request(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "serving.py"),
        "--quick",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(tmp_path / "results"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "results" / "serving.json").read_text())
    kinds = {run["what"] for run in result["runs"]}
    assert {"mlops serve scores", "mlops serve predict", "mlops serve recommendations top-5"} <= kinds
    for run in result["runs"]:
        assert run["sent"] > 0 and {"p50_ms", "p99_ms", "p999_ms", "errors"} <= set(run)
    swap = result["swap"]
    assert swap["errors"] == 0, swap
    assert swap["to_version"] != swap["from_version"]
    assert swap["seconds_to_new_version"] is not None and swap["seconds_to_new_version"] < 15
    assert "Hot swap" in (tmp_path / "results" / "serving.md").read_text()
