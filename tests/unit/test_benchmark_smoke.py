"""The feature-snapshot benchmark runs end to end on a tiny lake (figures are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_figures_and_the_build_matches_pandas(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "feature_snapshot.py"),
        "--quick",
        "--rows",
        "20000",
        "--no-scaling",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(tmp_path / "results"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "results" / "feature_snapshot.json").read_text())
    assert result["equality"]["passed"] is True
    assert result["equality"]["customers"] > 0
    assert set(result["summary"]["contenders"]) == {"build", "pandas", "scan-arrow", "scan-duckdb"}
    assert (tmp_path / "results" / "feature_snapshot.md").is_file()
