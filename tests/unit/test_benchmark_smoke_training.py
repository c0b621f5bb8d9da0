"""The ``--quick`` modes of the training benchmarks run end to end and write their figures.

The benchmarks are split over three test files so that ``make test``'s workers (``--dist loadfile``)
share them; each run and its checks live in :mod:`benchmark_quick`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_quick import QUICK_RUNS, run_quick

NAMES = ["training_overhead", "recommender_quality"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", NAMES)
def test_quick_mode_runs_end_to_end_and_writes_its_figures(name: str, tmp_path: Path) -> None:
    run_quick(QUICK_RUNS[name], tmp_path)
