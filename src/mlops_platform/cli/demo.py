"""The library walk-through (no Airflow): generate demo data, validate it, build a week of snapshots
and labels, train the zoo, summarise. ``make demo`` runs the DAGs instead (scripts/demo_airflow.py).

Run as ``python -m mlops_platform.cli.demo``; the lake is the configured one (``./lake`` by default,
``MLOPS_STORAGE_URI=s3://...`` for an S3 store). Exits non-zero on any failure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow.compute as pc
import typer
from rich.table import Table

from mlops_platform.cli.support import CliContext, configure_logging, console, out, progress, user_errors
from mlops_platform.data.generate import GeneratorConfig, generate_to_store
from mlops_platform.data.validate import ensure_valid
from mlops_platform.features.definitions import feature_names
from mlops_platform.features.labels import build_labels, read_labels
from mlops_platform.features.snapshot import build_snapshot, read_snapshot

DEMO_WEEK = 7


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    rows: int
    coverage: float
    churn_rate: float
    conversion_rate: float
    mean_revenue: float


def _generate_if_empty(context: CliContext, fresh: bool) -> None:
    store, settings = context.store, context.settings
    if store.list_dates("raw/transactions") and not fresh:
        console.print(f"reusing the raw data already in {store.uri} (pass --fresh to regenerate)")
        return
    gen = settings.generator
    config = GeneratorConfig(customers=gen.customers, days=gen.days, seed=gen.seed, start=settings.dates.start)
    with progress() as bar:
        task = bar.add_task("generating demo data", total=config.days)
        summary = generate_to_store(store, config, on_day=lambda _day: bar.advance(task))
    for line in summary.lines():
        out.print(line)


def _validate_all(context: CliContext) -> int:
    days = context.store.list_dates("raw/transactions")
    with progress() as bar:
        task = bar.add_task("validating raw partitions", total=1)
        result = ensure_valid(context.store, context.settings, days)
        bar.advance(task)
    out.print(
        f"validation passed: {len(result.validated)} day(s) checked, "
        f"{len(result.cached)} unchanged since their last check"
    )
    return len(days)


def demo_dates(context: CliContext) -> list[dt.date]:
    """The newest week whose label horizons have fully passed."""
    newest = context.store.list_dates("raw/transactions")[-1]
    last = newest - dt.timedelta(days=context.settings.labels.longest_horizon_days - 1)
    return [last - dt.timedelta(days=i) for i in reversed(range(DEMO_WEEK))]


def _summarise_day(context: CliContext, day: dt.date) -> DayRow:
    snapshot = read_snapshot(context.store, day)
    labels = read_labels(context.store, day)
    features = feature_names()
    cells = snapshot.num_rows * len(features)
    filled = sum(snapshot.num_rows - snapshot[c].null_count for c in features)
    return DayRow(
        day=day,
        rows=snapshot.num_rows,
        coverage=filled / cells if cells else 0.0,
        churn_rate=float(pc.mean(labels["churned_30d"]).as_py() or 0.0),
        conversion_rate=float(pc.mean(labels["converted_7d"]).as_py() or 0.0),
        mean_revenue=float(pc.mean(labels["revenue_30d"]).as_py() or 0.0),
    )


def _build_week(context: CliContext, dates: list[dt.date]) -> list[DayRow]:
    with progress() as bar:
        task = bar.add_task("building snapshots and labels", total=len(dates))
        for day in dates:
            build_snapshot(context.store, context.settings, day)
            build_labels(context.store, context.settings, day)
            bar.advance(task)
    return [_summarise_day(context, day) for day in dates]


def print_summary(rows: list[DayRow], raw_days: int) -> None:
    grid = Table(
        "date",
        "rows (customers)",
        "feature coverage",
        "churn 30d",
        "converted 7d",
        "mean revenue 30d (IDR)",
        "validation",
        title="demo: a week of feature snapshots and labels",
    )
    for row in rows:
        grid.add_row(
            row.day.isoformat(),
            f"{row.rows:,}",
            f"{row.coverage:.1%}",
            f"{row.churn_rate:.1%}",
            f"{row.conversion_rate:.1%}",
            f"{row.mean_revenue:,.0f}",
            "passed",
        )
    out.print(grid)
    out.print(f"validation: all {raw_days} raw days passed every contract rule")


def _train_zoo(context: CliContext, day: dt.date) -> None:
    """Train every model of the zoo as of the day after the newest raw data, then score ``day``."""
    from mlops_platform.pipelines import score as scoring
    from mlops_platform.pipelines.train import fit_and_register, prepare_from_lake
    from mlops_platform.pipelines.train_recommender import train_recommender
    from mlops_platform.registry import tracking

    as_of = context.store.list_dates("raw/transactions")[-1] + dt.timedelta(days=1)
    grid = Table(
        "model",
        "version",
        "gate metric",
        "holdout",
        "baseline",
        "seed targets",
        "gate decision",
        title=f"model zoo trained as of {as_of} (MLflow: {context.models.tracking.uri})",
    )
    with progress() as bar:
        task = bar.add_task("training the model zoo", total=len(context.models.trainable_names))
        for name in context.models.trainable_names:
            run_key = f"demo__{as_of.isoformat()}"
            if name == "recommender":
                outcome = train_recommender(context.store, context.settings, context.models, as_of, run_key)
            else:
                prepared = prepare_from_lake(context.store, context.settings, context.models, name, as_of, run_key)
                outcome = fit_and_register(context.models, name, name, prepared, run_key)
            metric = context.models.gate(name).metric
            value, base = outcome.metrics.get(metric), outcome.baseline_metrics.get(metric)
            targets = ", ".join(f"{t.target}: {'pass' if t.passed else 'MISS'}" for t in outcome.targets)
            grid.add_row(
                name,
                outcome.version,
                metric,
                "-" if value is None else f"{value:.3f}",
                "-" if base is None else f"{base:.3f}",
                targets,
                outcome.gate_summary,
            )
            bar.advance(task)
    out.print(grid)
    client, _ = tracking.client_for(context.models.tracking)
    scored = scoring.score_snapshot(client, context.store, "churn", day)
    top = context.store.read_partition(scored.partition).to_pandas().nlargest(5, "score")
    out.print(f"churn v{scored.version} scored {scored.rows:,} customers of {day}; highest risk:")
    out.print(top[["customer_id", "score", "model_version"]].to_string(index=False))
    _print_next_packs(int(top["customer_id"].iloc[0]))


def _print_next_packs(customer: int) -> None:
    """The champion recommender's top-5 with reasons for ``customer`` (what ``mlops recommend`` prints)."""
    import mlflow
    import pandas as pd

    recs = mlflow.pyfunc.load_model("models:/recommender@champion").predict(
        pd.DataFrame({"customer_id": [customer]}), params={"n": 5}
    )
    grid = Table("#", "product", "score", "why", title=f"next packs to offer customer {customer}")
    for row in recs.itertuples(index=False):
        grid.add_row(str(row.rank), row.name, f"{row.score:.2f}", row.reasons)
    out.print(grid)


@user_errors
def run(
    fresh: bool = typer.Option(False, "--fresh", help="Regenerate the demo data even if the lake has some."),
    train: bool = typer.Option(True, "--train/--no-train", help="Also train, register and gate the model zoo."),
) -> None:
    """Generate, validate, build a week of snapshots and labels, train the zoo, and summarise."""
    configure_logging(verbose=False)
    context = CliContext(config_dir=None)
    out.print(f"lake: {context.store.uri}")
    _generate_if_empty(context, fresh)
    raw_days = _validate_all(context)
    dates = demo_dates(context)
    rows = _build_week(context, dates)
    print_summary(rows, raw_days)
    if train:
        _train_zoo(context, dates[-1])


def main() -> None:
    typer.run(run)


if __name__ == "__main__":
    main()
