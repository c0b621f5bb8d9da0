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
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness

HERE, REPO = harness.HERE, harness.REPO

SNAPSHOT_DATE = dt.date(2025, 4, 1)
PACKAGES = ("duckdb", "pyarrow", "pandas")  # their versions go with the figures
FULL_ROWS, QUICK_ROWS = 50_000_000, 100_000
# The scaling series, as fractions of --rows (5M, 10M, 25M, 50M by default).
SCALING = (0.1, 0.2, 0.5, 1.0)
NOTES = (
    "Seconds are the best of the repeats, each contender in a fresh process (peak RSS per process); "
    "the lake is hot in the page cache for all. The build is `build_snapshot` (what `mlops features "
    "build` runs) without raw validation, which is the validator's own cost. pandas reads each "
    "table's window once with every column its features use; the build reads the older part of "
    "the activity window with fewer columns. The bare scans read exactly the build's partitions "
    "and columns (arrow: streamed batches; duckdb: one trivial aggregate per column)."
)


# -- child processes -------------------------------------------------------------------------------
def _settings(lake: str) -> Any:
    from mlops_platform.config import load_platform_settings

    return load_platform_settings(REPO / "config", env={"MLOPS_STORAGE_URI": lake})


def child_generate(lake: str, customers: int, window: int) -> dict[str, Any]:
    from snapshot_data import LakeParams, generate

    from mlops_platform.storage import ObjectStore

    params = LakeParams(customers=customers, snapshot_date=SNAPSHOT_DATE.isoformat(), window_days=window, seed=7)
    with harness.Clock() as clock:
        counts = generate(ObjectStore(lake), params)
    return {"rows": counts, "seconds": clock.seconds}


def child_build(lake: str, repeat: int) -> dict[str, Any]:
    from mlops_platform.features.snapshot import build_snapshot
    from mlops_platform.storage import ObjectStore

    settings, store = _settings(lake), ObjectStore(lake)
    runs, cpu, manifest = harness.repeat_timed(
        lambda: build_snapshot(store, settings, SNAPSHOT_DATE, validate_raw=False), repeat
    )
    return {"runs": runs, "seconds": min(runs), "cpu_seconds": min(cpu), "snapshot_rows": manifest.rows}


def child_pandas(lake: str, out: str) -> dict[str, Any]:
    from snapshot_pandas import pandas_snapshot

    from mlops_platform.storage import ObjectStore

    settings, store = _settings(lake), ObjectStore(lake)
    runs, cpu, frame = harness.repeat_timed(lambda: pandas_snapshot(store, settings.features, SNAPSHOT_DATE), 1)
    frame.to_parquet(out, index=False)
    return {"runs": runs, "seconds": min(runs), "cpu_seconds": min(cpu), "snapshot_rows": len(frame)}


def _scan_inputs(lake: str) -> list[tuple[str, Any, list[str]]]:
    """(view, lazy dataset, columns) of every raw read of the build: its partitions, its columns."""
    from mlops_platform.data.raw import raw_dataset
    from mlops_platform.features.windows import scan_plan
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

    runs, cpu, rows = harness.repeat_timed(scan, repeat)
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

    runs, cpu, rows = harness.repeat_timed(scan, repeat)
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
    result["peak_rss_bytes"] = harness.peak_rss_bytes()
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
    return harness.last_json_line(done.stdout)


def ensure_lake(folder: Path, customers: int, window: int) -> dict[str, int]:
    """Generate the lake in ``folder`` unless one with the same parameters is there."""
    from snapshot_data import LakeParams, existing

    from mlops_platform.storage import ObjectStore

    lake = f"file://{folder}"
    params = LakeParams(customers=customers, snapshot_date=SNAPSHOT_DATE.isoformat(), window_days=window, seed=7)
    rows = existing(ObjectStore(lake), params) if folder.exists() else None
    if rows is not None:
        print(f"reusing {folder} ({customers:,} customers)", flush=True)
        return rows
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating {folder} ({customers:,} customers) ...", flush=True)
    result = spawn("generate", lake, customers=customers, window=window)
    print(f"  generated in {result['seconds']:.1f} s: {result['rows']}", flush=True)
    return result["rows"]


def scaling_series(
    work: Path, sizes: list[int], window: int, repeat: int, known: dict[int, Any]
) -> list[dict[str, Any]]:
    """Build time alone at several sizes (a lake each, reused when present)."""
    from snapshot_data import customers_for_rows

    series: list[dict[str, Any]] = []
    for target in sizes:
        customers = customers_for_rows(target, window)
        if any(point["customers"] == customers for point in series):
            continue  # tiny sizes round to the same lake
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


def run_contenders(lake: str, work: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """Each contender in its own process, on the same lake."""
    runs = {}
    for mode, options in (
        ("build", {"repeat": repeat}),
        ("pandas", {"pandas_out": work / "pandas_snapshot.parquet"}),
        ("scan-arrow", {"repeat": repeat}),
        ("scan-duckdb", {"repeat": repeat}),
    ):
        runs[mode] = spawn(mode, lake, **options)
        rss = runs[mode]["peak_rss_bytes"] / 2**20
        print(f"  {mode:<12} {runs[mode]['seconds']:8.2f} s  peak RSS {rss:,.0f} MiB", flush=True)
    return runs


def run_parent(args: argparse.Namespace) -> int:
    from snapshot_data import customers_for_rows
    from snapshot_report import compare, report, summarise

    from mlops_platform.features.engine import cpu_count

    window = _settings("file:///tmp").features.longest_window_days
    target = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    customers = args.customers or customers_for_rows(target, window)
    repeat = args.repeat or (1 if args.quick else 3)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    folder = work / f"lake-{customers}"
    rows = ensure_lake(folder, customers, window)
    runs = run_contenders(f"file://{folder}", work, repeat)
    equality = compare(f"file://{folder}", SNAPSHOT_DATE, work / "pandas_snapshot.parquet")
    sizes = [round(target * share) for share in SCALING]
    scaling = [] if args.no_scaling else scaling_series(work, sizes, window, repeat, {customers: runs["build"]})
    result = {
        "benchmark": "feature_snapshot",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "benchmarks/feature_snapshot.py", *sys.argv[1:]]),
        "snapshot_date": SNAPSHOT_DATE.isoformat(),
        "machine": harness.machine("cpus", "platform", "python", packages=PACKAGES, cpus=cpu_count()),
        "rows": rows,
        "repeat": repeat,
        "summary": summarise(rows, runs),
        "equality": equality,
        "scaling": scaling,
        "notes": NOTES,
    }
    return report(result, harness.output_dir(args, "feature_snapshot"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, help="usage+event rows to synthesise (default 50M; --quick 100k)")
    parser.add_argument("--customers", type=int, help="customers (default: derived from --rows)")
    harness.add_output_args(parser, "a small lake and a short scaling series (figures to --out or a scratch folder)")
    parser.add_argument("--repeat", type=int, help="runs per timed contender, best taken (pandas runs once)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling series")
    parser.add_argument("--work", default=str(HERE / ".work"), help="where the synthetic lakes go")
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
