"""``mlops training-set build`` and ``mlops train``: build a training set; train, register and gate a model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from mlops_platform.cli.support import CliContext, get_context, out, parse_date, user_errors

training_set_app = typer.Typer(help="Point-in-time training sets under training/.", no_args_is_help=True)


def _default_as_of(context: CliContext) -> dt.date:
    """The day after the newest committed raw transactions partition."""
    dates = context.store.list_dates("raw/transactions")
    if not dates:
        raise typer.BadParameter("no raw transactions in the lake; give --as-of", param_hint="--as-of")
    return dates[-1] + dt.timedelta(days=1)


def _run_name(as_of: dt.date, run_key: str | None) -> str:
    suffix = run_key or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{as_of.isoformat()}_{''.join(c if c.isalnum() or c in '-_.' else '_' for c in suffix)}"


@training_set_app.command("build")
@user_errors
def training_set_build(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="churn, conversion, revenue or segmentation.")],
    as_of: Annotated[
        str | None, typer.Option(help="Training date D (YYYY-MM-DD); default: after the newest raw day.")
    ] = None,
    run: Annotated[str | None, typer.Option(help="Name of the stored set (default: <as-of>_<time>).")] = None,
) -> None:
    """Stack snapshots and labels of past dates into training/<model>/<run>/, newest held out."""
    from mlops_platform.pipelines.train import prepare_from_lake

    context = get_context(ctx)
    context.models.model(model)
    day = parse_date(as_of, "as-of") if as_of is not None else _default_as_of(context)
    name = run or _run_name(day, None)
    prepared = prepare_from_lake(context.store, context.settings, context.models, model, day, name)
    manifest = prepared.manifest
    out.print(
        f"training set {model}/{name}: train {manifest['train_rows']:,} rows on {', '.join(manifest['train_dates'])}; "
        f"holdout {manifest['holdout_rows']:,} rows on {', '.join(manifest['holdout_dates'])}; "
        f"positive rate {manifest['positive_rate']}"
    )


@user_errors
def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="churn, conversion, revenue, segmentation or recommender.")],
    as_of: Annotated[
        str | None,
        typer.Option(help="Training date D for a lake training set (default: after the newest raw day)."),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(help="Train on this labelled CSV/parquet (local path or s3://) instead of the lake."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column of --table.")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Id column of --table (never a feature).")] = None,
    time_column: Annotated[
        str | None, typer.Option("--time", help="Time column of --table: the holdout is its newest rows.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Register under this name (default: the model name).")] = None,
    run_key: Annotated[
        str | None,
        typer.Option(help="Idempotency key (DAGs pass their run id): a key already registered is reused."),
    ] = None,
) -> None:
    """Train MODEL, log it to MLflow, register it as challenger and run the promotion gate.

    The recommender trains from the lake's transactions and snapshots only (no --table): its recipe
    is measured on the purchases of the last ranker horizon before the training date, then refitted
    up to that date and registered.
    """
    from mlops_platform.pipelines.train import fit_and_register, prepare_from_lake
    from mlops_platform.pipelines.train_table import prepare_from_table

    context = get_context(ctx)
    context.models.check_trainable(model)
    if model == "recommender":
        _train_recommender(context, as_of, table or target or id_column or time_column, name, run_key)
        return
    if table is not None:
        if target is None and model != "segmentation":
            raise typer.BadParameter("--table needs --target", param_hint="--target")
        prepared = prepare_from_table(table, model, target, id_column, time_column, context.models)
    else:
        if target or id_column or time_column:
            raise typer.BadParameter("--target/--id/--time go with --table", param_hint="--table")
        day = parse_date(as_of, "as-of") if as_of is not None else _default_as_of(context)
        prepared = prepare_from_lake(
            context.store, context.settings, context.models, model, day, _run_name(day, run_key)
        )
    outcome = fit_and_register(context.models, model, name or model, prepared, run_key)
    _print_outcome(outcome)


def _train_recommender(
    context: CliContext, as_of: str | None, table_option: str | None, name: str | None, run_key: str | None
) -> None:
    from mlops_platform.pipelines.train_recommender import train_recommender

    if table_option:
        raise typer.BadParameter(
            "the recommender trains from the lake's transactions: --table/--target/--id/--time do not apply",
            param_hint="--table",
        )
    day = parse_date(as_of, "as-of") if as_of is not None else _default_as_of(context)
    outcome = train_recommender(
        context.store, context.settings, context.models, day, run_key, name=name or "recommender"
    )
    _print_outcome(outcome)


def _print_outcome(outcome) -> None:  # noqa: ANN001 - a TrainingOutcome
    verb = "reused" if outcome.reused else "registered"
    out.print(f"{outcome.model}: {verb} version {outcome.version} (run {outcome.run_id})")
    if outcome.metrics:
        grid = Table("metric", "model", "baseline", title=f"{outcome.model} v{outcome.version} on the holdout")
        for key, value in outcome.metrics.items():
            base = outcome.baseline_metrics.get(key)
            grid.add_row(key, f"{value:.4f}", "" if base is None else f"{base:.4f}")
        out.print(grid)
    if outcome.targets:
        grid = Table("target", "measured", "result", title="seed targets")
        for line in outcome.targets:
            measured = "n/a" if line.measured is None else f"{line.measured:.4f}"
            grid.add_row(line.target, measured, "pass" if line.passed else "MISS")
        out.print(grid)
    out.print(outcome.gate_summary)
