"""What Airflow adds to the weekly retraining: ``drift_retraining`` under ``dag.test()`` vs its own work.

In one run, on one generated lake (default: the demo size, 10,000 customers x 365 days), with
no champion yet so that every model is checked and trained:

(a) direct: the same ``mlops`` steps the DAG runs (``drift check`` and ``train`` for each
    model, with the same run key), called one after the other in a fresh process;
    (a) and (b) alternate ``--repeats`` times, each run with an empty registry; the best counts;
(b) dag: ``drift_retraining`` under ``dag.test()`` in another fresh process, with the local
    backend, against its own empty registry.

Recorded: the wall time of (a) and (b), the sum of (b)'s task-instance durations, and the
ratios (b)/(a) and (b)/(sum of task durations). Target: (b) at most 1.2x (a).
Writes benchmarks/results/dag_overhead.json and .md. Run: ``.venv/bin/python benchmarks/dag_overhead.py``;
``--quick``: a small lake, one run of each, its own work folder, figures to ``--out`` or a scratch folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import REPO, add_output_args, machine, output_dir, write_results

NAME = "dag_overhead"
WORK = REPO / "benchmarks" / ".work" / "dag_overhead"
QUICK_WORK = REPO / "benchmarks" / ".work" / "dag_overhead_quick"
MODELS = ["churn", "conversion", "revenue", "segmentation"]
RUN_KEY = "benchmark__dag_overhead"
TARGET = 1.2
FULL = {"customers": 10_000, "days": 365, "repeats": 2}
QUICK = {"customers": 400, "days": 150, "repeats": 1}

DIRECT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from mlops_dags.runner import run_mlops
day, models, key = sys.argv[2], sys.argv[3].split(","), sys.argv[4]
started = time.perf_counter()
for name in models:
    run_mlops(["drift", "check", name, "--date", day])
for name in models:
    run_mlops(["train", name, "--as-of", day, "--run-key", key])
print("RESULT " + json.dumps({"seconds": time.perf_counter() - started}))
"""

DAG = """
import datetime as dt, json, sys, time
sys.path.insert(0, sys.argv[1])
from airflow.dag_processing.dagbag import DagBag
day = dt.date.fromisoformat(sys.argv[2])
dag = DagBag(dag_folder=sys.argv[1]).dags["drift_retraining"]
started = time.perf_counter()
run = dag.test(logical_date=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), run_conf={"date": sys.argv[2]})
seconds = time.perf_counter() - started
tasks = [(ti.task_id, ti.map_index, str(ti.state), ti.duration or 0.0) for ti in run.get_task_instances()]
print("RESULT " + json.dumps({"seconds": seconds, "state": str(run.state), "tasks": tasks}))
"""


def environment(work: Path, registry: str) -> dict[str, str]:
    """The child environment: a lake, a registry named ``registry`` and an Airflow home under ``work``."""
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(
        {
            "MLOPS_CONFIG_DIR": str(REPO / "config"),
            "MLOPS_STORAGE_URI": f"file://{work / 'lake'}",
            "MLOPS_TRACKING_URI": f"sqlite:///{work / registry}.db",
            "MLOPS_TRACKING_ARTIFACT_LOCATION": str(work / f"{registry}-artifacts"),
            "MLOPS_TASKS_RETRIES": "0",
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'airflow' / 'airflow.db'}",
        }
    )
    return env


def run(script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; its ``RESULT`` line as a dict."""
    result = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True)
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(f"benchmark step failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def prepare(work: Path, customers: int, days: int) -> dt.date:
    """Generate the lake (once) and build the snapshot the DAG checks; returns its date."""
    env = environment(work, "setup")
    mlops = [sys.executable, "-m", "mlops_platform.cli"]
    if not (work / "lake").exists():
        subprocess.run(
            [*mlops, "data", "generate", "--customers", str(customers), "--days", str(days)], env=env, check=True
        )
    start = dt.date.fromisoformat(os.environ.get("MLOPS_DATES_START", "2025-01-01"))
    day = start + dt.timedelta(days=days)
    subprocess.run([*mlops, "features", "build", "--date", day.isoformat()], env=env, check=True)
    if not (work / "airflow" / "airflow.db").exists():
        (work / "airflow").mkdir(parents=True, exist_ok=True)
        subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=True)
    return day


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_args(parser, f"{QUICK['customers']} customers x {QUICK['days']} days, one run each (a smoke test)")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--repeats", type=int, help="runs of each contender; the best counts")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    args.customers, args.days = args.customers or size["customers"], args.days or size["days"]
    args.repeats = args.repeats or size["repeats"]
    work = QUICK_WORK if args.quick else WORK
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("*.db"):
        stale.unlink()
    day = prepare(work, args.customers, args.days)

    # Alternate the contenders (each with its own empty registry) and keep the best of each, so a
    # burst of load on the machine does not land on one side only.
    directs, dags = [], []
    for attempt in range(args.repeats):
        directs.append(
            run(
                DIRECT,
                [str(REPO / "dags"), day.isoformat(), ",".join(MODELS), RUN_KEY],
                environment(work, f"direct-{attempt}"),
            )
        )
        dags.append(run(DAG, [str(REPO / "dags"), day.isoformat()], environment(work, f"dag-{attempt}")))
        if dags[-1]["state"] != "success":
            raise SystemExit(f"drift_retraining did not succeed: {dags[-1]['tasks']}")
    direct = min(directs, key=lambda r: r["seconds"])
    dag = min(dags, key=lambda r: r["seconds"])
    task_sum = sum(t[3] for t in dag["tasks"])
    ratio = dag["seconds"] / direct["seconds"]
    result = {
        "machine": machine("cpus", "python"),
        "lake": {"customers": args.customers, "days": args.days, "snapshot": day.isoformat()},
        "repeats": args.repeats,
        "direct_seconds": round(direct["seconds"], 2),
        "dag_seconds": round(dag["seconds"], 2),
        "direct_all_seconds": [round(r["seconds"], 2) for r in directs],
        "dag_all_seconds": [round(r["seconds"], 2) for r in dags],
        "task_duration_sum_seconds": round(task_sum, 2),
        "ratio_dag_to_direct": round(ratio, 3),
        "ratio_dag_to_task_sum": round(dag["seconds"] / task_sum, 3),
        "target_ratio": TARGET,
        "passed": ratio <= TARGET,
        "tasks": [{"task": t[0], "map_index": t[1], "state": t[2], "seconds": round(t[3], 2)} for t in dag["tasks"]],
    }
    lines = [
        "# drift_retraining under dag.test() vs its own work",
        "",
        f"Lake: {args.customers:,} customers x {args.days} days; snapshot {day}; no champion, so all four models",
        f"are checked and trained. Both contenders run in fresh processes, alternately, {args.repeats} times each,",
        "each with an empty registry; the best run of each counts.",
        "",
        "| contender | seconds |",
        "| --- | --- |",
        f"| (a) direct: the same mlops steps | {direct['seconds']:.2f} (all: {result['direct_all_seconds']}) |",
        f"| (b) dag.test() of drift_retraining | {dag['seconds']:.2f} (all: {result['dag_all_seconds']}) |",
        f"| sum of (b)'s task durations | {task_sum:.2f} |",
        "",
        f"(b)/(a) = {ratio:.3f} (target <= {TARGET}: {'pass' if ratio <= TARGET else 'MISS'}); "
        f"(b)/task sum = {dag['seconds'] / task_sum:.3f}.",
    ]
    write_results(output_dir(args, NAME), NAME, result, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
