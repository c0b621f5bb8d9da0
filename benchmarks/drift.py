"""Drift-decision speed: the platform's drift_decision against a plain scipy floor and Evidently's default report.

On a seeded 100,000 x 30 snapshot pair (25 numeric, 5 categorical columns), twice (a no-drift
pair and a drifted pair), in one process:

(a) floor: a plain per-column scipy test on the full data (KS for numeric, chi-square for
    categorical columns), drifted where p < 0.05, retrain where the drifted share >= the threshold;
(b) Evidently's default ``DataDriftPreset`` report on the full data, as a user would write it;
(c) the platform's ``drift_decision`` with ``config/drift.yaml``.

Targets: (c) at most 2x (a), at least 8x faster than (b), same decision as (a) on both pairs.
Writes benchmarks/results/drift.json and drift.md. Run: ``.venv/bin/python benchmarks/drift.py``;
``--quick``: 5,000 rows a side, one repeat, figures to ``--out`` or a scratch folder (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from harness import REPO, Clock, add_output_args, machine, output_dir, write_results
from scipy import stats

NAME = "drift"
ROWS, QUICK_ROWS = 100_000, 5_000
REPEAT, QUICK_REPEAT = 3, 1
NUMERICAL = [f"num_{i:02d}" for i in range(25)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
LEVELS = np.array(["a", "b", "c", "d", "e"])
BASE_MIX = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
DRIFT_MIX = np.array([0.15, 0.2, 0.25, 0.2, 0.2])


def snapshot(seed: int, drifted: bool, rows: int = ROWS) -> pd.DataFrame:
    """A synthetic snapshot of ``rows`` rows; the drifted one shifts 20 of 25 means and 3 of 5 category mixes."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, column in enumerate(NUMERICAL):
        shift = 0.4 if drifted and i < 20 else 0.0
        data[column] = rng.lognormal(mean=1.0 + shift, sigma=0.6, size=rows) if i % 2 else rng.normal(shift, 1, rows)
    for i, column in enumerate(CATEGORICAL):
        mix = DRIFT_MIX if drifted and i < 3 else BASE_MIX
        data[column] = LEVELS[rng.choice(len(LEVELS), size=rows, p=mix)]
    return pd.DataFrame(data)


def floor_decision(reference: pd.DataFrame, current: pd.DataFrame, share_threshold: float) -> dict:
    """(a): KS / chi-square on every row, p < 0.05."""
    drifted = []
    for column in NUMERICAL:
        if stats.ks_2samp(reference[column].to_numpy(), current[column].to_numpy()).pvalue < 0.05:
            drifted.append(column)
    for column in CATEGORICAL:
        both = pd.Categorical(np.concatenate([reference[column].to_numpy(), current[column].to_numpy()]))
        codes = both.codes
        table = np.vstack(
            [
                np.bincount(codes[: len(reference)], minlength=len(both.categories)),
                np.bincount(codes[len(reference) :], minlength=len(both.categories)),
            ]
        )
        if stats.chi2_contingency(table).pvalue < 0.05:
            drifted.append(column)
    share = len(drifted) / (len(NUMERICAL) + len(CATEGORICAL))
    return {"drifted": len(drifted), "share": share, "retrain": share >= share_threshold}


def evidently_default(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    """(b): the report a user would write by hand (default preset, full data)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    snap = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    count = next(m for m in snap.dict()["metrics"] if m["metric_name"].startswith("DriftedColumnsCount"))
    return {"drifted": int(count["value"]["count"]), "share": float(count["value"]["share"])}


def timed(func: Callable[..., Any], *args: Any, repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls (the machine is shared) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        with Clock() as clock:
            result = func(*args)
        best = min(best, clock.seconds)
    return best, result


def main() -> int:
    from mlops_platform.config import load_drift_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_args(parser, f"{QUICK_ROWS:,} rows a side, one repeat (a smoke test, not recorded)")
    args = parser.parse_args()
    size, repeat = (QUICK_ROWS, QUICK_REPEAT) if args.quick else (ROWS, REPEAT)
    settings = load_drift_settings(REPO / "config", env={})
    with Clock() as warmup:
        from mlops_platform.monitoring.drift import drift_decision

        drift_decision(snapshot(0, False).head(200), snapshot(1, False).head(200), NUMERICAL, CATEGORICAL, settings)
    import_seconds = warmup.seconds  # Evidently's import, paid once per process
    threshold = settings.decision.drifted_share_threshold
    reference = snapshot(1, False, size)
    pairs = {"no_drift": snapshot(2, False, size), "drifted": snapshot(3, True, size)}
    rows = []
    for name, current in pairs.items():
        floor_s, floor = timed(floor_decision, reference, current, threshold, repeat=repeat)
        platform_s, decision = timed(
            drift_decision, reference, current, NUMERICAL, CATEGORICAL, settings, repeat=repeat
        )
        evidently_s, default = timed(evidently_default, reference, current)
        rows.append(
            {
                "pair": name,
                "floor_scipy_full_s": round(floor_s, 3),
                "evidently_default_full_s": round(evidently_s, 3),
                "platform_drift_decision_s": round(platform_s, 3),
                "vs_floor": round(platform_s / floor_s, 2),
                "speedup_vs_evidently_default": round(evidently_s / platform_s, 1),
                "floor": floor,
                "evidently_default": default,
                "platform": {
                    "drifted": len(decision.drifted_columns),
                    "share": round(decision.share, 4),
                    "retrain": decision.should_retrain,
                },
                "same_decision_as_floor": decision.should_retrain == floor["retrain"],
            }
        )
    checks = {
        "at_most_2x_floor": all(r["vs_floor"] <= 2.0 for r in rows),
        "at_least_8x_faster_than_evidently_default": all(r["speedup_vs_evidently_default"] >= 8 for r in rows),
        "same_decision_as_floor": all(r["same_decision_as_floor"] for r in rows),
    }
    result = {
        "rows": size,
        "columns": {"numerical": len(NUMERICAL), "categorical": len(CATEGORICAL)},
        "settings": settings.decision.model_dump(),
        "evidently_import_and_warmup_s": round(import_seconds, 2),
        "python": machine("python")["python"],
        "pairs": rows,
        "checks": checks,
        "passed": all(checks.values()),
    }
    if args.quick:
        result["repeat"] = repeat
    write_results(output_dir(args, NAME), NAME, result, markdown(result))
    print(markdown(result))
    return 0


def markdown(result: dict) -> str:
    lines = [
        "# Drift decision benchmark",
        "",
        f"{result['rows']:,} rows x {result['columns']['numerical']} numeric + "
        f"{result['columns']['categorical']} categorical columns per side; settings: "
        f"`{json.dumps(result['settings'])}`. One process; Evidently import and warm-up "
        f"({result['evidently_import_and_warmup_s']} s) paid once before timing; (a) and (c) best of "
        f"{result.get('repeat', REPEAT)}, "
        "(b) one run.",
        "",
        "| pair | (a) scipy floor, full | (b) Evidently default preset, full | (c) drift_decision | "
        "(c)/(a) | (b)/(c) | drifted (a / b / c) | retrain (a / c) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["pairs"]:
        lines.append(
            f"| {r['pair']} | {r['floor_scipy_full_s']} s | {r['evidently_default_full_s']} s | "
            f"{r['platform_drift_decision_s']} s | {r['vs_floor']}x | {r['speedup_vs_evidently_default']}x | "
            f"{r['floor']['drifted']} / {r['evidently_default']['drifted']} / {r['platform']['drifted']} | "
            f"{r['floor']['retrain']} / {r['platform']['retrain']} |"
        )
    lines += ["", "| target | result |", "| --- | --- |"]
    lines += [f"| {name.replace('_', ' ')} | {'pass' if ok else 'FAIL'} |" for name, ok in result["checks"].items()]
    lines += ["", f"Overall: {'PASS' if result['passed'] else 'FAIL'}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
