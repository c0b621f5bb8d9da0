"""``mlops features ...``: daily customer feature snapshots and their labels."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from mlops_platform.cli.support import get_context, out, parse_date, track, user_errors

app = typer.Typer(help="Point-in-time customer feature snapshots and labels.", no_args_is_help=True)

DateOpt = Annotated[str | None, typer.Option("--date", help="One date, YYYY-MM-DD.")]
StartOpt = Annotated[str | None, typer.Option("--start", help="First date of a range (with --end).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date of a range, inclusive.")]


def resolve_dates(date: str | None, start: str | None, end: str | None) -> list[dt.date]:
    """The dates a command runs for: ``--date D``, or ``--start S --end E`` (inclusive)."""
    if date is not None:
        if start is not None or end is not None:
            raise typer.BadParameter("give either --date or --start/--end, not both", param_hint="--date")
        return [parse_date(date)]
    if start is None or end is None:
        raise typer.BadParameter("give --date D, or both --start and --end", param_hint="--date")
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if last < first:
        raise typer.BadParameter(f"{last} is before --start {first}", param_hint="--end")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


@app.command("build")
@user_errors
def build(
    ctx: typer.Context,
    date: DateOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    validate_raw: Annotated[
        bool,
        typer.Option("--validate-raw/--no-validate-raw", help="Validate the raw days of the window first."),
    ] = True,
) -> None:
    """Build the customer feature snapshot of each date (raw days D-90 .. D-1 only)."""
    from mlops_platform.features.snapshot import build_snapshot, snapshot_partition

    days = resolve_dates(date, start, end)
    context = get_context(ctx)
    for day in track(days, "feature snapshots", total=len(days)):
        manifest = build_snapshot(context.store, context.settings, day, validate_raw=validate_raw)
        out.print(f"{snapshot_partition(day)}: {manifest.rows:,} customers (attempt {manifest.attempt})")


@app.command("labels")
@user_errors
def labels(ctx: typer.Context, date: DateOpt = None, start: StartOpt = None, end: EndOpt = None) -> None:
    """Build the labels of each date from its horizon (raw days D .. D+h-1 only)."""
    from mlops_platform.features.labels import build_labels, labels_partition

    days = resolve_dates(date, start, end)
    context = get_context(ctx)
    for day in track(days, "labels", total=len(days)):
        manifest = build_labels(context.store, context.settings, day)
        out.print(f"{labels_partition(day)}: {manifest.rows:,} customers (attempt {manifest.attempt})")


@app.command("check")
@user_errors
def check(ctx: typer.Context, date: DateOpt = None, start: StartOpt = None, end: EndOpt = None) -> None:
    """Re-read the committed snapshot of each date and check it against the feature contract."""
    from mlops_platform.features.snapshot import check_snapshot, read_snapshot, snapshot_partition

    days = resolve_dates(date, start, end)
    context = get_context(ctx)
    for day in days:
        partition = snapshot_partition(day)
        if not context.store.has_partition(partition):
            raise typer.BadParameter(f"{context.store.url(partition)} is not committed", param_hint="--date")
        table = read_snapshot(context.store, day)
        check_snapshot(table, day)
        out.print(f"{partition}: {table.num_rows:,} customers pass the feature contract")
