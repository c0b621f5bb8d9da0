"""Benchmark: the customer feature snapshot against plain pandas and against a bare scan.

    .venv/bin/python benchmarks/feature_snapshot.py            # 50M usage+event rows (the record)
    .venv/bin/python benchmarks/feature_snapshot.py --quick    # seconds; a smoke test

Synthesises a seeded raw lake under ``benchmarks/.work/`` (reused when its parameters match),
then runs, each in its own process so that peak RSS is per contender:

1. ``build``: the platform snapshot build, ``build_snapshot`` (what ``mlops features build`` runs;
   raw validation is excluded: it is the validator's own cost, measured elsewhere);
2. ``pandas``: the same features with pyarrow -> pandas and ``groupby`` (the baseline);
3. ``scan-arrow`` / ``scan-duckdb``: a bare read of every partition and column the build reads
   (streamed arrow batches; a DuckDB scan with one trivial aggregate per column). The faster
   is the floor.

The build and pandas results must agree on every customer and feature, or the script exits 1.
A scaling series times the build alone at several sizes. Figures go to
``benchmarks/results/feature_snapshot.{json,md}``. The lake is read hot from the page cache
(it was just written), the same for every contender.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

SNAPSHOT_DATE = dt.date(2025, 4, 1)
GIB = 1024**3
TARGETS = {"speedup_vs_pandas": 4.0, "ratio_vs_floor": 4.0, "build_peak_rss_bytes": 4 * GIB}
FULL = {"rows": 50_000_000, "scaling": [5_000_000, 10_000_000, 25_000_000, 50_000_000], "repeat": 3}
QUICK = {"rows": 100_000, "scaling": [25_000, 50_000, 100_000], "repeat": 1}


# -- child processes -------------------------------------------------------------------------------
def _settings(lake: str) -> Any:
    from mlops_platform.config import load_platform_settings

    return load_platform_settings(REPO / "config", env={"MLOPS_STORAGE_URI": lake})


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(func: Any, repeat: int) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds (all threads) of ``repeat`` calls, and the last result."""
    runs, cpu, result = [], [], None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), _cpu()
        result = func()
        runs.append(time.perf_counter() - began)
        cpu.append(_cpu() - began_cpu)
    return runs, cpu, result


def child_generate(lake: str, customers: int, window: int) -> dict[str, Any]:
    from snapshot_data import LakeParams, generate

    from mlops_platform.storage import ObjectStore

    params = LakeParams(
        customers=customers, snapshot_date=SNAPSHOT_DATE.isoformat(), window_days=window, seed=7
    )
    began = time.perf_counter()
    counts = generate(ObjectStore(lake), params)
    return {"rows": counts, "seconds": time.perf_counter() - began}


def child_build(lake: str, repeat: int) -> dict[str, Any]:
    from mlops_platform.features.snapshot import build_snapshot
    from mlops_platform.storage import ObjectStore

    settings, store = _settings(lake), ObjectStore(lake)
    runs, cpu, manifest = _timed(
        lambda: build_snapshot(store, settings, SNAPSHOT_DATE, validate_raw=False), repeat
    )
    return {"runs": runs, "seconds": min(runs), "cpu_seconds": min(cpu), "snapshot_rows": manifest.rows}


def child_pandas(lake: str, out: str) -> dict[str, Any]:
    from snapshot_pandas import pandas_snapshot

    from mlops_platform.storage import ObjectStore

    settings, store = _settings(lake), ObjectStore(lake)
    runs, cpu, frame = _timed(lambda: pandas_snapshot(store, settings.features, SNAPSHOT_DATE), 1)
    frame.to_parquet(out, index=False)
    return {"runs": runs, "seconds": min(runs), "cpu_seconds": min(cpu), "snapshot_rows": len(frame)}


def _scan_inputs(lake: str) -> list[tuple[str, Any, list[str]]]:
    """(view, lazy dataset, columns) of every raw read of the build: its partitions, its columns."""
    from mlops_platform.data.raw import raw_dataset
    from mlops_platform.features.snapshot_sql import scan_plan
    from mlops_platform.storage import ObjectStore, date_partition

    settings, store = _settings(lake), ObjectStore(lake)
    inputs = [
        (scan.view, raw_dataset(store, scan.table, scan.start, scan.end), list(scan.columns))
        for scan in scan_plan(settings.features, SNAPSHOT_DATE)
    ]
    customers = raw_dataset(store, "customers", None, SNAPSHOT_DATE)
    inputs.append(("customers", customers, ["customer_id", "signup_date", "segment"]))
    products_day = max(d for d in store.list_dates("raw/products") if d < SNAPSHOT_DATE)
    products = store.dataset([date_partition("raw/products", products_day)])
    inputs.append(("products", products, ["product_id", "category"]))
    return [(view, data, columns) for view, data, columns in inputs if data is not None]


def child_scan_arrow(lake: str, repeat: int) -> dict[str, Any]:
    inputs = _scan_inputs(lake)

    def scan() -> int:
        return sum(batch.num_rows for _, data, cols in inputs for batch in data.to_batches(columns=cols))

    runs, cpu, rows = _timed(scan, repeat)
    return {"runs": runs, "seconds": min(runs), "cpu_seconds": min(cpu), "rows_read": rows}


def child_scan_duckdb(lake: str, repeat: int) -> dict[str, Any]:
    from mlops_platform.features.engine import connect

    inputs = _scan_inputs(lake)
    con = connect()
    for table, data, _ in inputs:
        con.register(table, data)

    def scan() -> int:
        total = 0
        for table, _, cols in inputs:
            aggregates = ", ".join(f"MAX({c})" for c in cols)
            total += con.sql(f"SELECT COUNT(*), {aggregates} FROM {table}").fetchall()[0][0]
        return total

    runs, cpu, rows = _timed(scan, repeat)
    return {"runs": runs, "seconds": min(runs), "cpu_seconds": min(cpu), "rows_read": rows}


def run_child(args: argparse.Namespace) -> None:
    modes = {
        "generate": lambda: child_generate(args.lake, args.customers, args.window),
        "build": lambda: child_build(args.lake, args.repeat),
        "pandas": lambda: child_pandas(args.lake, args.pandas_out),
        "scan-arrow": lambda: child_scan_arrow(args.lake, args.repeat),
        "scan-duckdb": lambda: child_scan_duckdb(args.lake, args.repeat),
    }
    result = modes[args.mode]()
    result["peak_rss_bytes"] = _peak_rss()
    print(json.dumps(result))


# -- the parent ------------------------------------------------------------------------------------
def spawn(mode: str, lake: str, **options: Any) -> dict[str, Any]:
    """Run one mode of this script in a fresh interpreter; returns its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--mode", mode, "--lake", lake]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"{mode} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_lake(folder: Path, customers: int, window: int) -> dict[str, int]:
    """Generate the lake in ``folder`` unless one with the same parameters is there."""
    from snapshot_data import LakeParams, existing

    from mlops_platform.storage import ObjectStore

    lake = f"file://{folder}"
    params = LakeParams(
        customers=customers, snapshot_date=SNAPSHOT_DATE.isoformat(), window_days=window, seed=7
    )
    rows = existing(ObjectStore(lake), params) if folder.exists() else None
    if rows is not None:
        print(f"reusing {folder} ({customers:,} customers)", flush=True)
        return rows
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating {folder} ({customers:,} customers) ...", flush=True)
    result = spawn("generate", lake, customers=customers, window=window)
    print(f"  generated in {result['seconds']:.1f} s: {result['rows']}", flush=True)
    return result["rows"]


def compare(lake: str, pandas_path: Path) -> dict[str, Any]:
    """Join the build and the pandas result on customer_id and compare every feature."""
    import numpy as np
    import pandas as pd

    from mlops_platform.features.definitions import FEATURES
    from mlops_platform.features.snapshot import read_snapshot
    from mlops_platform.storage import ObjectStore

    ours = read_snapshot(ObjectStore(lake), SNAPSHOT_DATE).to_pandas()
    base = pd.read_parquet(pandas_path)
    only_build = int((~ours["customer_id"].isin(base["customer_id"])).sum())
    only_pandas = int((~base["customer_id"].isin(ours["customer_id"])).sum())
    merged = ours.merge(base, on="customer_id", suffixes=("_build", "_pandas"))
    columns: dict[str, str] = {}
    for feature in FEATURES:
        a, b = merged[f"{feature.name}_build"], merged[f"{feature.name}_pandas"]
        if feature.is_numeric:
            x, y = a.to_numpy(dtype=float, na_value=np.nan), b.to_numpy(dtype=float, na_value=np.nan)
            close = np.isclose(x, y, rtol=1e-7, atol=1e-9, equal_nan=True)
            diff = np.nanmax(np.abs(x - y)) if len(x) and not np.isnan(x - y).all() else 0.0
            columns[feature.name] = (
                "ok" if close.all() else f"{(~close).sum()} differ (max |diff| {diff:.3g})"
            )
        else:
            same = a.fillna("<null>").astype(str) == b.fillna("<null>").astype(str)
            columns[feature.name] = "ok" if same.all() else f"{(~same).sum()} differ"
    passed = (
        only_build == 0 and only_pandas == 0 and all(v == "ok" for v in columns.values()) and len(merged) > 0
    )
    return {
        "passed": passed,
        "customers": len(merged),
        "only_in_build": only_build,
        "only_in_pandas": only_pandas,
        "columns": columns,
    }


def scaling_series(
    work: Path, sizes: list[int], window: int, repeat: int, known: dict[int, Any]
) -> list[dict[str, Any]]:
    """Build time alone at several sizes (a lake each, reused when present)."""
    from snapshot_data import customers_for_rows

    series = []
    for target in sizes:
        customers = customers_for_rows(target, window)
        folder = work / f"lake-{customers}"
        rows = ensure_lake(folder, customers, window)
        build = known.get(customers) or spawn("build", f"file://{folder}", repeat=repeat)
        fact_rows = rows["usage"] + rows["events"] + rows["transactions"]
        series.append(
            {
                "target_rows": target,
                "customers": customers,
                "usage_event_rows": rows["usage"] + rows["events"],
                "fact_rows": fact_rows,
                "seconds": build["seconds"],
                "rows_per_s": fact_rows / build["seconds"],
                "seconds_per_million_rows": build["seconds"] / (fact_rows / 1e6),
                "peak_rss_bytes": build["peak_rss_bytes"],
            }
        )
        print(f"  scaling {fact_rows:>12,} rows: {build['seconds']:.2f} s", flush=True)
    return series


def summarise(rows: dict[str, int], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    fact_rows = rows["usage"] + rows["events"] + rows["transactions"]
    floor_name = min(("scan-arrow", "scan-duckdb"), key=lambda m: runs[m]["seconds"])
    build = runs["build"]
    summary = {
        "fact_rows": fact_rows,
        "usage_event_rows": rows["usage"] + rows["events"],
        "floor": floor_name,
        "speedup_vs_pandas": runs["pandas"]["seconds"] / build["seconds"],
        "ratio_vs_floor": build["seconds"] / runs[floor_name]["seconds"],
        "contenders": {
            name: {
                **run,
                "rows_per_s": fact_rows / run["seconds"],
                "peak_rss_mib": run["peak_rss_bytes"] / 2**20,
            }
            for name, run in runs.items()
        },
    }
    summary["targets"] = {
        "speedup_vs_pandas >= 4": summary["speedup_vs_pandas"] >= TARGETS["speedup_vs_pandas"],
        "ratio_vs_floor <= 4": summary["ratio_vs_floor"] <= TARGETS["ratio_vs_floor"],
        "build peak RSS < 4 GiB": build["peak_rss_bytes"] < TARGETS["build_peak_rss_bytes"],
    }
    return summary


def markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [
        "# Feature snapshot benchmark",
        "",
        f"Snapshot {result['snapshot_date']}, {result['rows']['customers']:,} customers, "
        f"{s['usage_event_rows']:,} usage+event rows, {s['fact_rows']:,} fact rows read "
        f"(usage {result['rows']['usage']:,}, events {result['rows']['events']:,}, "
        f"transactions {result['rows']['transactions']:,}); {result['machine']['cpus']} CPU(s). "
        f"Command: `{result['command']}`",
        "",
        "| contender | seconds (best) | rows/s | peak RSS (MiB) | vs build |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    build_s = s["contenders"]["build"]["seconds"]
    for name, run in s["contenders"].items():
        lines.append(
            f"| {name} | {run['seconds']:.2f} | {run['rows_per_s']:,.0f} | {run['peak_rss_mib']:,.0f} | "
            f"{run['seconds'] / build_s:.2f}x |"
        )
    lines += [
        "",
        f"Speedup vs pandas: **{s['speedup_vs_pandas']:.1f}x**; build / floor ({s['floor']}): "
        f"**{s['ratio_vs_floor']:.2f}x**; equality check: **{'passed' if result['equality']['passed'] else 'FAILED'}**.",
        "",
    ]
    lines += ["| target | result |", "| --- | --- |"]
    lines += [f"| {name} | {'pass' if ok else 'FAIL'} |" for name, ok in s["targets"].items()]
    lines += [
        "",
        "Scaling (build only):",
        "",
        "| fact rows | customers | seconds | rows/s | s per M rows |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for point in result["scaling"]:
        lines.append(
            f"| {point['fact_rows']:,} | {point['customers']:,} | {point['seconds']:.2f} | "
            f"{point['rows_per_s']:,.0f} | {point['seconds_per_million_rows']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    import duckdb
    import pandas
    import pyarrow

    from mlops_platform.features.engine import cpu_count

    return {
        "cpus": cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pandas.__version__,
    }


def run_parent(args: argparse.Namespace) -> int:
    from snapshot_data import customers_for_rows

    preset = QUICK if args.quick else FULL
    window = _settings("file:///tmp").features.longest_window_days
    customers = args.customers or customers_for_rows(args.rows or preset["rows"], window)
    repeat = args.repeat or preset["repeat"]
    work, out = Path(args.work).resolve(), Path(args.out).resolve()
    work.mkdir(parents=True, exist_ok=True)
    folder = work / f"lake-{customers}"
    lake = f"file://{folder}"
    rows = ensure_lake(folder, customers, window)
    runs = {}
    for mode, options in (
        ("build", {"repeat": repeat}),
        ("pandas", {"pandas_out": work / "pandas_snapshot.parquet"}),
        ("scan-arrow", {"repeat": repeat}),
        ("scan-duckdb", {"repeat": repeat}),
    ):
        runs[mode] = spawn(mode, lake, **options)
        print(
            f"  {mode:<12} {runs[mode]['seconds']:8.2f} s  peak RSS {runs[mode]['peak_rss_bytes'] / 2**20:,.0f} MiB",
            flush=True,
        )
    equality = compare(lake, work / "pandas_snapshot.parquet")
    scaling = (
        []
        if args.no_scaling
        else scaling_series(work, preset["scaling"], window, repeat, {customers: runs["build"]})
    )
    result = {
        "benchmark": "feature_snapshot",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/feature_snapshot.py", *sys.argv[1:]]),
        "snapshot_date": SNAPSHOT_DATE.isoformat(),
        "machine": machine(),
        "rows": rows,
        "repeat": repeat,
        "summary": summarise(rows, runs),
        "equality": equality,
        "scaling": scaling,
        "notes": "timings are the best of `repeat` runs in a fresh process each; data hot in the page cache; "
        "raw validation excluded from the build",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "feature_snapshot.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "feature_snapshot.md").write_text(markdown(result))
    return report(result, out)


def report(result: dict[str, Any], out: Path) -> int:
    s = result["summary"]
    print(f"speedup vs pandas {s['speedup_vs_pandas']:.2f}x, build / floor {s['ratio_vs_floor']:.2f}x")
    for name, ok in s["targets"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if result["scaling"]:
        per_m = [p["seconds_per_million_rows"] for p in result["scaling"]]
        print(f"scaling: {min(per_m):.3f} .. {max(per_m):.3f} s per million rows")
    print(f"wrote {out / 'feature_snapshot.json'} and {out / 'feature_snapshot.md'}")
    if not result["equality"]["passed"]:
        print(f"FAIL  build and pandas disagree: {json.dumps(result['equality'], indent=2)}", file=sys.stderr)
        return 1
    print("PASS  build and pandas agree on every customer and feature")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, help="usage+event rows to synthesise (default 50M; --quick 100k)")
    parser.add_argument("--customers", type=int, help="customers (default: derived from --rows)")
    parser.add_argument("--quick", action="store_true", help="a small lake and a short scaling series")
    parser.add_argument("--repeat", type=int, help="runs per timed contender, best taken (pandas runs once)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling series")
    parser.add_argument("--work", default=str(HERE / ".work"), help="where the synthetic lakes go")
    parser.add_argument("--out", default=str(HERE / "results"), help="where the figures go")
    # Internal: one contender in a child process.
    parser.add_argument(
        "--mode", choices=["generate", "build", "pandas", "scan-arrow", "scan-duckdb"], help=argparse.SUPPRESS
    )
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--window", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pandas-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if args.mode:
        run_child(args)
        return 0
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
