"""Figures of the feature-snapshot benchmark: the equality check, the summary, the markdown table."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from harness import write_results

GIB = 1024**3
TARGETS = {"speedup_vs_pandas": 4.0, "ratio_vs_floor": 4.0, "build_peak_rss_bytes": 4 * GIB}
FLOORS = ("scan-arrow", "scan-duckdb")


def _compare_column(numeric: bool, a: Any, b: Any) -> str:
    import numpy as np

    if not numeric:
        same = a.fillna("<null>").astype(str) == b.fillna("<null>").astype(str)
        return "ok" if same.all() else f"{int((~same).sum())} differ"
    x, y = a.to_numpy(dtype=float, na_value=np.nan), b.to_numpy(dtype=float, na_value=np.nan)
    close = np.isclose(x, y, rtol=1e-7, atol=1e-9, equal_nan=True)
    if close.all():
        return "ok"
    worst = np.nanmax(np.abs(x - y)[~close]) if np.isfinite(x - y)[~close].any() else float("nan")
    return f"{int((~close).sum())} differ (max |diff| {worst:.3g})"


def compare(lake: str, day: dt.date, pandas_path: Path) -> dict[str, Any]:
    """Join the committed snapshot and the pandas result on customer_id; compare every feature."""
    import pandas as pd

    from mlops_platform.features.definitions import FEATURES
    from mlops_platform.features.snapshot import read_snapshot
    from mlops_platform.storage import ObjectStore

    ours = read_snapshot(ObjectStore(lake), day).to_pandas()
    base = pd.read_parquet(pandas_path)
    merged = ours.merge(base, on="customer_id", suffixes=("_build", "_pandas"))
    columns = {
        f.name: _compare_column(f.is_numeric, merged[f"{f.name}_build"], merged[f"{f.name}_pandas"]) for f in FEATURES
    }
    only_build = int((~ours["customer_id"].isin(base["customer_id"])).sum())
    only_pandas = int((~base["customer_id"].isin(ours["customer_id"])).sum())
    return {
        "passed": bool(len(merged)) and only_build == only_pandas == 0 and set(columns.values()) == {"ok"},
        "customers": len(merged),
        "only_in_build": only_build,
        "only_in_pandas": only_pandas,
        "columns": columns,
    }


def summarise(rows: dict[str, int], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Speedup over pandas, ratio over the floor (the faster bare scan), the targets."""
    fact_rows = rows["usage"] + rows["events"] + rows["transactions"]
    floor = min(FLOORS, key=lambda mode: runs[mode]["seconds"])
    build = runs["build"]
    summary: dict[str, Any] = {
        "fact_rows": fact_rows,
        "usage_event_rows": rows["usage"] + rows["events"],
        "floor": floor,
        "speedup_vs_pandas": runs["pandas"]["seconds"] / build["seconds"],
        "cpu_speedup_vs_pandas": runs["pandas"]["cpu_seconds"] / build["cpu_seconds"],
        "ratio_vs_floor": build["seconds"] / runs[floor]["seconds"],
        "contenders": {
            name: {**run, "rows_per_s": fact_rows / run["seconds"], "peak_rss_mib": run["peak_rss_bytes"] / 2**20}
            for name, run in runs.items()
        },
    }
    summary["targets"] = {
        f"speedup vs pandas >= {TARGETS['speedup_vs_pandas']:g}x": summary["speedup_vs_pandas"]
        >= TARGETS["speedup_vs_pandas"],
        f"build / bare scan <= {TARGETS['ratio_vs_floor']:g}x": summary["ratio_vs_floor"] <= TARGETS["ratio_vs_floor"],
        "build peak RSS < 4 GiB": build["peak_rss_bytes"] < TARGETS["build_peak_rss_bytes"],
    }
    return summary


def markdown(result: dict[str, Any]) -> str:
    """The figures as a short markdown page."""
    s, rows = result["summary"], result["rows"]
    lines = [
        "# Feature snapshot benchmark",
        "",
        f"Snapshot of {result['snapshot_date']}: {rows['customers']:,} customers, "
        f"{s['usage_event_rows']:,} usage+event rows and {s['fact_rows']:,} fact rows in its window "
        f"(usage {rows['usage']:,}, events {rows['events']:,}, transactions {rows['transactions']:,}). "
        f"{result['machine']['cpus']} CPU(s), duckdb {result['machine']['duckdb']}, "
        f"pandas {result['machine']['pandas']}, pyarrow {result['machine']['pyarrow']}.",
        "",
        f"Rerun: `{result['command']}`. {result['notes']}",
        "",
        "| contender | seconds (best) | CPU seconds | fact rows/s | peak RSS (MiB) | vs build |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    build_s = s["contenders"]["build"]["seconds"]
    for name, run in s["contenders"].items():
        lines.append(
            f"| {name} | {run['seconds']:.2f} | {run['cpu_seconds']:.2f} | {run['rows_per_s']:,.0f} | "
            f"{run['peak_rss_mib']:,.0f} | {run['seconds'] / build_s:.2f}x |"
        )
    verdict = "passed" if result["equality"]["passed"] else "FAILED"
    lines += [
        "",
        f"Speedup vs pandas **{s['speedup_vs_pandas']:.1f}x** (CPU time {s['cpu_speedup_vs_pandas']:.1f}x); "
        f"build / bare scan ({s['floor']}) **{s['ratio_vs_floor']:.2f}x**; build = pandas on "
        f"{result['equality']['customers']:,} customers: **{verdict}**.",
        "",
        "| target | result |",
        "| --- | --- |",
        *[f"| {name} | {'pass' if ok else 'FAIL'} |" for name, ok in s["targets"].items()],
    ]
    if result["scaling"]:
        lines += [
            "",
            "Scaling (the build alone):",
            "",
            "| fact rows | customers | seconds | fact rows/s | seconds per M rows | peak RSS (MiB) |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            *[
                f"| {p['fact_rows']:,} | {p['customers']:,} | {p['seconds']:.2f} | {p['rows_per_s']:,.0f} | "
                f"{p['seconds_per_million_rows']:.3f} | {p['peak_rss_bytes'] / 2**20:,.0f} |"
                for p in result["scaling"]
            ],
        ]
    return "\n".join(lines) + "\n"


def report(result: dict[str, Any], out: Path) -> int:
    """Write the JSON and markdown, print pass/fail per target; 1 if build and pandas disagree."""
    json_path, md_path = write_results(out, "feature_snapshot", result, markdown(result))
    s = result["summary"]
    print(f"speedup vs pandas {s['speedup_vs_pandas']:.2f}x, build / bare scan {s['ratio_vs_floor']:.2f}x")
    for name, ok in s["targets"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if result["scaling"]:
        per_million = [p["seconds_per_million_rows"] for p in result["scaling"]]
        print(f"scaling: {min(per_million):.3f} .. {max(per_million):.3f} s per million fact rows")
    print(f"wrote {json_path} and {md_path}")
    if not result["equality"]["passed"]:
        print(f"FAIL  build and pandas disagree: {json.dumps(result['equality'], indent=2)}", file=sys.stderr)
        return 1
    print("PASS  build and pandas agree on every customer and feature")
    return 0
