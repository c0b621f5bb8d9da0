"""``make demo``: the four DAGs run by real Airflow (``dag.test()``) over a compressed timeline.

Every step is a DAG run of ``dags/`` under ``dag.test()`` in this process (Airflow's SQLite
metadata in ``.airflow-demo/``), not a call of the library: the tasks call ``mlops`` exactly as
they do under a scheduler. The timeline (raw data from 2025-01-01, 3,000 customers by default):

- week 1, 2025-06-20 .. 06-29: ``feature_recalculation`` daily (from 06-20: the label date of the
  monthly run at the end needs its snapshot), then ``drift_retraining`` on snapshot 06-29 finds
  no champion and trains the first ones; ``daily_scoring`` follows, as after every week;
- week 2, .. 07-06: the weekly drift check stays under the bar: retraining is skipped;
- week 3, .. 07-13: the generator's drift starts on 07-06 (data-usage surge, new prices, more
  but less clicky sessions), so the 7-day features of snapshot 07-13 have drifted: the models
  retrain and the promotion gate decides;
- week 4, .. 07-20: ``monthly_reevaluation`` scores the champions on the newest label date
  (06-20, whose 30-day horizon closed on 07-19); a ``drift_retraining`` run it triggers for
  degraded models is run next, as a scheduler would.

Found by experiment (seed 42, 3,000 and 4,000 customers): the share of drifted columns is at
most 0.06 on 06-29 and 07-06, and 0.33-0.39 on 07-13, against the 0.3 of ``config/drift.yaml``.

Every weekly training covers the recommender too (the models of ``models.yaml`` and
``recommender``); at the end the champion recommender's top-5, with reasons, is printed for the most
frequent buyer, an id it never saw and a premium customer who signed up three days ago.

The lake is the configured one (``./lake``); it gets the demo data when it holds none.
MLflow is the tracking of ``config/models.yaml`` (``sqlite:///mlflow.db``, ``./mlruns``) unless
``MLFLOW_TRACKING_URI`` is set. Airflow's own output goes to ``.airflow-demo/demo.log``; each run
prints one line, a failed run its error. Exits 1 if any DAG run failed.

Usage: ``python scripts/demo_airflow.py [--fresh] [--customers N]``
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAGS = REPO / "dags"
HOME = REPO / ".airflow-demo"
LOG = HOME / "demo.log"

START = dt.date(2025, 1, 1)
# A Sunday (the @weekly logical date): the oldest snapshot its training set stacks (D - 81) has
# 98 days of raw history behind it, more than the longest feature window (90 days).
FIRST_TRAINING = dt.date(2025, 6, 29)
QUIET_WEEK = FIRST_TRAINING + dt.timedelta(days=7)
DRIFT_FROM = QUIET_WEEK  # first drifted raw day: the snapshot of QUIET_WEEK reads only days before it
DRIFT_WEEK = QUIET_WEEK + dt.timedelta(days=7)
END = DRIFT_WEEK + dt.timedelta(days=7)
# The monthly run evaluates the labels of END - 30 (the longest horizon) on their snapshot.
FIRST_FEATURES = END - dt.timedelta(days=30)
RAW_DAYS = (END - START).days  # raw days START .. END - 1: the input of the snapshot of END
CUSTOMERS = 3000

# Config overrides of the demo (a variable already set wins): failed tasks fail the run at
# once instead of retrying, and a missing raw day fails within a minute instead of 6 hours.
OVERRIDES = {
    "MLOPS_TASKS_RETRIES": "0",
    "MLOPS_SENSOR_POKE_INTERVAL_SECONDS": "5",
    "MLOPS_SENSOR_TIMEOUT_MINUTES": "1",
}


class Fatal(Exception):
    """Stop the demo with this message (exit 1)."""


@dataclass(frozen=True)
class Step:
    """One DAG run of the timeline."""

    dag_id: str
    day: dt.date
    conf: dict[str, Any] | None = None
    # A run queued by a trigger: its exact logical date (dag.test replaces the queued run).
    at: dt.datetime | None = None
    label: str = ""


@dataclass
class RunResult:
    """What one DAG run did, for its line and the summary table."""

    dag_id: str
    label: str
    state: str
    seconds: float
    decision: str = ""
    models: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    champions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def timeline() -> list[tuple[str, list[Step]]]:
    """The weeks of the demo, each a heading and its DAG runs in order."""
    weeks = []
    day = FIRST_FEATURES
    ends = [
        (FIRST_TRAINING, "the first training"),
        (QUIET_WEEK, "a quiet week"),
        (DRIFT_WEEK, f"drift since {DRIFT_FROM}"),
        (END, "the monthly re-evaluation"),
    ]
    for number, (sunday, story) in enumerate(ends, start=1):
        steps = []
        first = day
        while day <= sunday:
            steps.append(Step("feature_recalculation", day))
            day += dt.timedelta(days=1)
        if sunday != END:
            steps.append(Step("drift_retraining", sunday, {"date": sunday.isoformat()}))
        steps.append(Step("daily_scoring", sunday, {"date": sunday.isoformat()}))
        if sunday == END:
            steps.append(Step("monthly_reevaluation", sunday))
        weeks.append((f"week {number}, {first} .. {sunday}: {story}", steps))
    return weeks


# -- what a run decided (plain dicts from the XComs and the lake) --------------------------------
def number(value: float) -> str:
    """A metric for the table: three decimals, or whole numbers with separators from 1,000 on."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}"


def _reason_kind(verdict: dict[str, Any]) -> str:
    reason = str(verdict.get("reason") or "")
    if reason.startswith("drift"):
        share = verdict.get("drift_share")
        return "drift" if share is None else f"drift {share:.2f}"
    if "days old" in reason:
        return "champion too old"
    return reason or "?"


def drift_decision_text(verdicts: list[dict[str, Any]], trained: list[dict[str, Any]] | None) -> str:
    """One line for a ``drift_retraining`` run, e.g. ``retrained 4: drift 0.33-0.39; promoted 1, rejected 3``."""
    if not verdicts:
        return "no drift decision"
    due = [v for v in verdicts if v.get("retrain")]
    shares = [float(v["drift_share"]) for v in verdicts if v.get("drift_share") is not None]
    if not due:
        return "skipped: no drift" + (f" (share {max(shares):.2f} at most)" if shares else "")
    kinds = [_reason_kind(v) for v in due]
    drift = [float(v["drift_share"]) for v in due if _reason_kind(v).startswith("drift ")]
    others = sorted({k for k in kinds if not k.startswith("drift")})
    if drift:
        low, high = min(drift), max(drift)
        others.append(f"drift {low:.2f}" if low == high else f"drift {low:.2f}-{high:.2f}")
    verb = "trained" if all(k == "no champion" for k in kinds) else "retrained"
    text = (
        f"{verb} {len(due)} ({', '.join(others)})" if verb == "trained" else f"{verb} {len(due)}: {', '.join(others)}"
    )
    if len(due) < len(verdicts):
        text += f"; skipped {len(verdicts) - len(due)}"
    if trained is None:
        return text + "; no gate result"
    decisions = [str(r.get("gate_decision")) for r in trained]
    gate = [f"{word} {decisions.count(word)}" for word in ("promoted", "rejected") if decisions.count(word)]
    other = len(decisions) - sum(decisions.count(w) for w in ("promoted", "rejected"))
    if other:
        gate.append(f"not gated {other}")
    return text + ("; " + ", ".join(gate) if gate else "")


def drift_model_lines(verdicts: list[dict[str, Any]]) -> list[str]:
    """Per model: its drift share and whether it is retrained, e.g. ``churn 0.39 retrain``."""
    lines = []
    for v in verdicts:
        share = "-" if v.get("drift_share") is None else f"{float(v['drift_share']):.2f}"
        lines.append(f"{v['model']} {share} {'retrain' if v.get('retrain') else 'skip'}")
    return lines


def version_lines(trained: list[dict[str, Any]]) -> list[str]:
    """Per trained model: the new version and the gate's decision, e.g. ``churn v2 promoted``."""
    return [f"{r['model']} v{r.get('version') or '?'} {r.get('gate_decision') or ''}".rstrip() for r in trained]


def scoring_decision_text(commands: list[list[str]] | None) -> str:
    """One line for a ``daily_scoring`` run from its plan (``score MODEL --date D`` commands)."""
    if not commands:
        return "nothing to score: no champion"
    return f"scored {len(commands)} model(s) on snapshot {commands[0][-1]}"


def reevaluation_decision_text(summary: dict[str, Any] | None) -> str:
    """One line for a ``monthly_reevaluation`` run from its ``summary.json``."""
    if summary is None:
        return "no re-evaluation summary"
    statuses = [str(m.get("status")) for m in summary.get("models", [])]
    degraded = [str(m["model"]) for m in summary.get("models", []) if m.get("degraded")]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("ok", "degraded", "skipped", "failed") if s in statuses)
    text = f"labels of {summary.get('date')}: {counts or 'no model'}; degraded: {', '.join(degraded) or 'none'}"
    if degraded:
        text += "; forced retraining triggered" if summary.get("trigger_retraining") else "; retraining off"
    return text


def reevaluation_model_lines(summary: dict[str, Any] | None) -> list[str]:
    """Per model: status and gate metric now vs at training, e.g. ``churn ok roc_auc 0.91 (0.93)``."""
    lines = []
    for m in (summary or {}).get("models", []):
        value, before = m.get("value"), m.get("value_at_training")
        metric = "" if value is None else f" {m.get('gate_metric')} {number(value)}"
        metric += "" if value is None or before is None else f" (trained {number(before)})"
        lines.append(f"{m['model']} {m.get('status')}{metric}")
    return lines


def feature_decision_text(plan: dict[str, Any] | None) -> str:
    """One line for a ``feature_recalculation`` run from its plan."""
    if not plan:
        return "no plan"
    labels = plan.get("label_date")
    return f"snapshot {plan.get('snapshot_date')}, labels {labels or 'not due yet'}"


def error_lines(log_text: str, limit: int = 6) -> list[str]:
    """The error lines of a run's log: the failure callback's lines, else the last exception lines."""
    found = []
    for line in log_text.splitlines():
        if "mlops task failed:" in line:
            message = line.split("mlops task failed:", 1)[1]
            found.append(re.sub(r"\s+\[mlops_dags\]\s+loc=\S+\s*$", "", message).strip())
    if not found:
        pattern = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failed|Exit)\w*: ")
        found = [line.strip() for line in log_text.splitlines() if pattern.match(line)]
    return found[-limit:]


# -- the environment ---------------------------------------------------------------------------
def prepare_environment(home: Path) -> None:
    """Airflow's home, SQLite database and DAG folder, and the demo's config overrides."""
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    for name, value in OVERRIDES.items():
        os.environ.setdefault(name, value)
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def local_tracking() -> tuple[Path, Path] | None:
    """The SQLite file and artifact folder of the default tracking, or None when it points elsewhere."""
    from mlops_platform.config import load_models_settings

    if os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLOPS_TRACKING_URI"):
        return None
    tracking = load_models_settings(REPO / "config").tracking
    if not tracking.uri.startswith("sqlite:///") or tracking.uri.startswith("sqlite:////"):
        return None
    return REPO / tracking.uri.removeprefix("sqlite:///"), REPO / tracking.artifact_location


def start_over(console: Console, lake_uri: str) -> None:
    """``--fresh``: remove the demo's Airflow home, and the lake and tracking files inside the repository."""
    candidates = [HOME, *(local_tracking() or [])]
    if lake_uri.startswith("file://"):
        candidates.append(REPO / lake_uri.removeprefix("file://"))
    removed = [path for path in candidates if path.resolve().is_relative_to(REPO)]
    kept = [lake_uri] if not lake_uri.startswith("file://") else []
    kept += [str(path) for path in candidates if path not in removed]
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    console.print("removed " + ", ".join(str(path.resolve().relative_to(REPO)) for path in removed))
    if kept:
        console.print(f"left alone (outside the repository): {', '.join(kept)}; the raw data is regenerated")


def ensure_lake(console: Console, customers: int, fresh: bool) -> str:
    """Generate the demo data when the lake has none; refuse a lake that holds other data."""
    from mlops_platform.config import load_platform_settings
    from mlops_platform.storage import ObjectStore

    uri = load_platform_settings(REPO / "config").storage.uri
    store = ObjectStore(uri)
    days = store.list_dates("raw/transactions")
    if days and not fresh:
        catalogues = store.list_dates("raw/products")
        if days[0] > START or days[-1] < END - dt.timedelta(days=1) or DRIFT_FROM not in catalogues:
            raise Fatal(
                f"the lake {uri} holds other data (raw days {days[0]} .. {days[-1]}; the demo needs {START} .. "
                f"{END - dt.timedelta(days=1)} drifting from {DRIFT_FROM}): `make demo FRESH=1` starts over "
                "(it clears ./lake, ./mlflow.db, ./mlruns and .airflow-demo)"
            )
        console.print(f"lake {uri}: reusing the raw data {days[0]} .. {days[-1]} (drift from {DRIFT_FROM})")
        return uri
    command = [str(BIN / "mlops"), "data", "generate", "--customers", str(customers), "--days", str(RAW_DAYS)]
    command += ["--start", START.isoformat(), "--drift-from", DRIFT_FROM.isoformat()]
    with console.status(f"generating demo data: {customers:,} customers, {RAW_DAYS} days, drift from {DRIFT_FROM}"):
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise Fatal(f"{' '.join(command[1:])} failed:\n{(done.stdout + done.stderr)[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    console.print(f"lake {uri}: " + "; ".join(line.strip() for line in lines[:2]))
    return uri


def ensure_airflow_db(console: Console) -> None:
    """Migrate Airflow's SQLite database on first use."""
    marker = HOME / ".migrated"
    if marker.exists():
        return
    with console.status("migrating Airflow's SQLite metadata database (first use)"), LOG.open("ab") as log:
        done = subprocess.run([str(BIN / "airflow"), "db", "migrate"], stdout=log, stderr=log, check=False)
    if done.returncode != 0:
        raise Fatal(f"airflow db migrate failed (exit {done.returncode}): see {LOG}")
    marker.touch()


# -- running the DAGs --------------------------------------------------------------------------
class Demo:
    """The parsed DAGs, the lake, the registry and what each run did."""

    def __init__(self, console: Console, lake_uri: str) -> None:
        from airflow.dag_processing.dagbag import DagBag

        from mlops_platform.config import load_drift_settings, load_models_settings
        from mlops_platform.registry import tracking
        from mlops_platform.storage import ObjectStore

        self.console = console
        self.store = ObjectStore(lake_uri)
        self.models = load_models_settings(REPO / "config")
        self.threshold = load_drift_settings(REPO / "config").decision.drifted_share_threshold
        with output_to(LOG):
            self.client, _ = tracking.client_for(self.models.tracking)
            self.bag = DagBag(dag_folder=str(DAGS))
        if self.bag.import_errors:
            raise Fatal("DAG import errors: " + "; ".join(f"{k}: {v}" for k, v in self.bag.import_errors.items()))
        self.results: list[RunResult] = []

    def champion_lines(self) -> list[str]:
        """Each champion and its key metric from MLflow, e.g. ``churn v1 roc_auc 0.937``."""
        from mlops_platform import registry

        lines = []
        for name in self.models.trainable_names:
            version = registry.version_by_alias(self.client, name, registry.CHAMPION)
            if version is None:
                lines.append(f"{name}: no champion")
                continue
            metric = self.models.gate(name).metric
            value = self.client.get_run(version.run_id).data.metrics.get(metric)
            lines.append(f"{name} v{version.version} {metric} {'-' if value is None else number(value)}")
        return lines

    def run(self, step: Step) -> RunResult:
        """Run ``step`` under ``dag.test()``; Airflow's output goes to the log."""
        logical = step.at or dt.datetime.combine(step.day, dt.time(), tzinfo=dt.UTC)
        offset = LOG.stat().st_size if LOG.exists() else 0
        started = time.monotonic()
        run, crash = None, None
        label = step.label or step.day.isoformat()
        with self.console.status(f"{step.dag_id} {label} ..."), output_to(LOG):
            try:
                run = self.bag.dags[step.dag_id].test(logical_date=logical, run_conf=step.conf)
            except Exception as exc:  # a run that cannot even start is a failed run
                crash = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        state = "failed" if run is None else str(run.state)
        result = RunResult(step.dag_id, label, state, seconds)
        if run is not None:
            with output_to(LOG):
                self.describe(result, run)
        if state != "success":
            with LOG.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
            failed = (
                [] if run is None else sorted({ti.task_id for ti in run.get_task_instances() if ti.state == "failed"})
            )
            result.errors = ([f"failed tasks: {', '.join(failed)}"] if failed else []) + error_lines(text)
            result.errors += [crash] if crash else []
        self.results.append(result)
        return result

    def sample_recommendations(self) -> tuple[str, Any] | None:
        """The champion recommender's top-5 with reasons for the most frequent buyer of the last 30 days,
        an id it never saw and a premium customer who signed up three days ago."""
        import mlflow
        import pandas as pd

        from mlops_platform import registry

        champion = registry.version_by_alias(self.client, "recommender", registry.CHAMPION)
        if champion is None:
            return None
        bought = self.store.read_partitions(
            [f"raw/transactions/date={d}" for d in self.store.list_dates("raw/transactions")[-30:]],
            columns=["customer_id"],
        ).to_pandas()
        known = [int(bought["customer_id"].value_counts().index[0])]
        unknown, new = 999_999_001, 999_999_002
        frame = pd.DataFrame(
            [
                *({"customer_id": c} for c in [*known, unknown]),
                {"customer_id": new, "segment": "premium", "tenure_days": 3.0},
            ]
        )
        with output_to(LOG):
            model = mlflow.pyfunc.load_model(f"models:/recommender/{champion.version}")
            recs = model.predict(frame, params={"n": 5})
        labels = {
            **{c: "a frequent buyer" for c in known},
            unknown: "an id the model never saw",
            new: "new today, premium",
        }
        recs["customer"] = [f"{c} ({labels[c]})" for c in recs["customer_id"]]
        return f"recommender v{champion.version}", recs

    def triggered(self) -> list[Step]:
        """``drift_retraining`` runs queued by a trigger (``retrain_degraded``): a scheduler would start them."""
        from airflow.models.dagrun import DagRun
        from airflow.utils.state import DagRunState

        with output_to(LOG):
            queued = DagRun.find(dag_id="drift_retraining", state=DagRunState.QUEUED)
        return [
            Step("drift_retraining", run.logical_date.date(), dict(run.conf or {}), run.logical_date, "triggered")
            for run in queued
            if run.logical_date is not None
        ]

    def describe(self, result: RunResult, run: Any) -> None:
        """Fill the decision and the model columns from the run's XComs, the lake and MLflow."""
        pulled: dict[str, Any] = {}
        for ti in run.get_task_instances():
            if ti.task_id not in pulled and ti.map_index < 0 and ti.state == "success":
                pulled[ti.task_id] = ti.xcom_pull(task_ids=ti.task_id)
        if result.dag_id == "feature_recalculation":
            result.decision = feature_decision_text(pulled.get("plan"))
            return
        if result.dag_id == "drift_retraining":
            decided = pulled.get("decide") or {}
            verdicts = decided.get("verdicts") or []
            result.decision = drift_decision_text(verdicts, pulled.get("summary"))
            result.models = drift_model_lines(verdicts)
            result.versions = version_lines(pulled.get("summary") or [])
        elif result.dag_id == "daily_scoring":
            commands = pulled.get("plan")
            result.decision = scoring_decision_text(commands)
            result.models = [c[1] for c in commands or []]
        elif result.dag_id == "monthly_reevaluation":
            summary = self.reevaluation_summary(pulled.get("plan"))
            result.decision = reevaluation_decision_text(summary)
            result.models = reevaluation_model_lines(summary)
            result.versions = [
                f"{m['model']} v{m['version']}" for m in (summary or {}).get("models", []) if m.get("version")
            ]
        champions = self.champion_lines()
        if result.dag_id == "daily_scoring":  # the versions scored; the champions did not move
            result.versions = [" ".join(line.split()[:2]) for line in champions if line.split()[0] in result.models]
        else:
            result.champions = champions

    def reevaluation_summary(self, command: list[str] | None) -> dict[str, Any] | None:
        from mlops_platform.errors import PlatformError
        from mlops_platform.pipelines.reevaluate import read_summary

        if not command:
            return None
        try:
            return read_summary(self.store, dt.date.fromisoformat(command[-1])).to_dict()
        except PlatformError:
            return None


# -- output ------------------------------------------------------------------------------------
def run_line(result: RunResult) -> str:
    colour = "green" if result.state == "success" else "red"
    head = f"  {result.dag_id:<21} {result.label:<10}  [{colour}]{result.state:<7}[/{colour}] {result.seconds:5.0f} s  "
    return head + result.decision


def show(console: Console, result: RunResult) -> None:
    console.print(run_line(result))
    for line in result.errors:
        console.print(f"      [red]{line}[/red]")


def summary_rows(results: list[RunResult]) -> list[list[str]]:
    """Table rows; the feature runs of a week are one row (first .. last date, states counted)."""
    rows: list[list[str]] = []
    group: list[RunResult] = []

    def flush() -> None:
        if not group:
            return
        ok = sum(r.state == "success" for r in group)
        labels = [r.decision.split("labels ", 1)[1] for r in group if "labels 20" in r.decision]
        label_text = f"; labels {labels[0]} .. {labels[-1]}" if labels else ""
        rows.append(
            [
                f"feature_recalculation\n{group[0].label} .. {group[-1].label}",
                f"success {ok}/{len(group)}" if ok == len(group) else f"failed {len(group) - ok}/{len(group)}",
                f"{len(group)} daily snapshot(s){label_text}",
                "",
                "",
                "",
            ]
        )
        group.clear()

    for result in results:
        if result.dag_id == "feature_recalculation":
            group.append(result)
            continue
        flush()
        rows.append(
            [
                f"{result.dag_id}\n{result.label}",
                result.state,
                result.decision,
                "\n".join(result.models),
                "\n".join(result.versions),
                "\n".join(result.champions),
            ]
        )
    flush()
    return rows


def print_summary(console: Console, results: list[RunResult], lake_uri: str, tracking_uri: str, seconds: float) -> None:
    table = Table(
        "DAG run",
        "state",
        "decision",
        "models",
        "versions",
        "champion metrics",
        title=f"make demo: {len(results)} DAG runs under dag.test() in {seconds / 60:.1f} min",
        caption=f"lake {lake_uri}; MLflow {tracking_uri}; Airflow log {LOG.relative_to(REPO)}",
        show_lines=True,
    )
    for row in summary_rows(results):
        table.add_row(*row, style=None if row[1].startswith("success") else "red")
    console.print(table)


def print_recommendations(console: Console, sample: tuple[str, Any] | None) -> None:
    """Top-5 with reasons for the sample customers (``mlops recommend`` prints the same)."""
    if sample is None:
        console.print("[red]no champion recommender[/red]: no sample recommendations")
        return
    title, recs = sample
    table = Table("customer", "#", "product", "score", "why", title=f"{title}: top-5 with reasons", show_lines=False)
    for customer, rows in recs.groupby("customer", sort=False):
        for row in rows.itertuples(index=False):
            first = row.rank == 1
            table.add_row(customer if first else "", str(row.rank), row.name, f"{row.score:.2f}", row.reasons)
        table.add_section()
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="Start over: clear the demo's lake, MLflow and Airflow.")
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="Customers to generate (default 3000).")
    args = parser.parse_args(argv)
    # Bound to a copy of the terminal: while a DAG runs, file descriptors 1 and 2 go to the log.
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    console = Console(file=terminal, highlight=False, width=None if terminal.isatty() else 160)
    started = time.monotonic()
    os.chdir(REPO)  # relative paths of the config (./lake, sqlite:///mlflow.db) are the repository's
    prepare_environment(HOME)
    try:
        from mlops_platform.config import load_platform_settings

        if args.fresh:
            start_over(console, load_platform_settings(REPO / "config").storage.uri)
        HOME.mkdir(parents=True, exist_ok=True)
        lake_uri = ensure_lake(console, args.customers, args.fresh)
        LOG.write_bytes(b"")  # this run's Airflow output only
        ensure_airflow_db(console)
        with console.status("parsing the DAGs"):
            demo = Demo(console, lake_uri)
    except Fatal as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    tracking_uri = demo.models.tracking.uri
    console.print(f"MLflow {tracking_uri}; Airflow home {HOME.relative_to(REPO)} (its output: {LOG.relative_to(REPO)})")
    if any("no champion" not in line for line in demo.champion_lines()):
        console.print(
            "note: the registry already has champions, so week 1 checks drift against them (--fresh starts over)"
        )
    for heading, steps in timeline():
        console.rule(heading, align="left")
        for step in steps:
            show(console, demo.run(step))
    for step in demo.triggered():
        show(console, demo.run(step))
    print_summary(console, demo.results, lake_uri, tracking_uri, time.monotonic() - started)
    print_recommendations(console, demo.sample_recommendations())
    failed = [r for r in demo.results if r.state != "success"]
    if failed:
        console.print(f"[red]{len(failed)} DAG run(s) failed[/red]; Airflow's output is in {LOG}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
