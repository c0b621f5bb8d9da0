"""``mlops data ...``: generate demo data, import real data, validate raw partitions."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlops_platform.cli.support import get_context, out, parse_date, progress, track, user_errors
from mlops_platform.data.generate import MAX_DAYS, GeneratorConfig, extend_demo_lake, generate_to_store
from mlops_platform.data.importers import SOURCES, ColumnMapping, Job, import_file
from mlops_platform.data.lake_view import LakeView
from mlops_platform.data.loading import load_file
from mlops_platform.data.validate import (
    REPORT_FILE,
    REPORTS,
    ValidationReport,
    check_history_coverage,
    summary_message,
    validate_days,
)
from mlops_platform.errors import DataValidationError, InputError

app = typer.Typer(help="Raw data: generate demo data, import real files, validate.", no_args_is_help=True)


# -- generate -------------------------------------------------------------------------------------


@app.command("generate")
@user_errors
def generate_command(
    ctx: typer.Context,
    customers: Annotated[
        int | None, typer.Option("--customers", help="Number of customers (default: generator.customers).")
    ] = None,
    days: Annotated[int | None, typer.Option("--days", help="Days to simulate (default: generator.days).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default: generator.seed).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD (default: dates.start).")] = None,
    drift_from: Annotated[
        str | None,
        typer.Option("--drift-from", help="From this day on: data-usage surge, new prices, engagement shift."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end", help="Last day, YYYY-MM-DD or 'yesterday' (UTC), instead of --start: the history ends on it."
        ),
    ] = None,
) -> None:
    """Generate a seeded demo telco into the lake: one raw partition per table and day.

    The same options and seed always give the same tables; partitions of the same dates are replaced.
    The lake is marked as a demo lake (``_demo.json``), so ``mlops data extend`` may add days to it.
    """
    context = get_context(ctx)
    defaults = context.settings.generator
    n_days = defaults.days if days is None else days
    if end is not None and start is not None:
        raise typer.BadParameter("use either --start or --end", param_hint="--end")
    first = context.settings.dates.start if start is None else parse_date(start, "start")
    if end is not None and 0 < n_days <= MAX_DAYS:  # other --days values: GeneratorConfig names the error
        first = _end_date(end, "end") - dt.timedelta(days=n_days - 1)
    config = GeneratorConfig(
        customers=defaults.customers if customers is None else customers,
        days=n_days,
        seed=defaults.seed if seed is None else seed,
        start=first,
        drift_from=None if drift_from is None else parse_date(drift_from, "drift-from"),
    )
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("generating days", total=config.days)
        summary = generate_to_store(context.store, config, on_day=lambda _day: bar.advance(task))
    for line in summary.lines():
        out.print(line, highlight=False)
    out.print(f"written to {context.store.url('raw')} in {time.perf_counter() - started:.1f} s", highlight=False)


def _yesterday() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def _end_date(text: str, name: str) -> dt.date:
    """A date option that also takes ``yesterday`` (UTC)."""
    return _yesterday() if text.strip().lower() == "yesterday" else parse_date(text, name)


@app.command("extend")
@user_errors
def extend_command(
    ctx: typer.Context,
    through: Annotated[
        str, typer.Option("--through", help="Last day to add, YYYY-MM-DD or 'yesterday' (UTC; the default).")
    ] = "yesterday",
) -> None:
    """Demo lakes only: add the raw days after the newest one, up to --through (the live feed).

    A lake without ``_demo.json`` (real data) is refused and left untouched; days already in the
    lake are kept. Each added day is the one the generator's seed gives for it.
    """
    context = get_context(ctx)
    last = _end_date(through, "through")
    if last > _yesterday():
        raise InputError(f"--through {last} is after yesterday ({_yesterday()}, UTC): a day is added once it is over")
    written = extend_demo_lake(context.store, last)
    if written:
        span = f"{written[0]} .. {written[-1]}" if len(written) > 1 else str(written[0])
        out.print(f"extended {context.store.url('raw')} by {len(written)} day(s): {span}", highlight=False)
    else:
        out.print(f"{context.store.url('raw')} is up to date through {last}", highlight=False)


# -- validate, load, import ---------------------------------------------------------------------


def _option_date(text: str | None, name: str) -> dt.date | None:
    return None if text is None else parse_date(text, name)


def _days_to_validate(view: LakeView, day: dt.date | None, start: dt.date | None, end: dt.date | None) -> list[dt.date]:
    """The committed raw dates the options select (all of them by default)."""
    committed = view.all_dates()
    if day is not None:
        if day not in committed:
            raise InputError(f"no committed raw partition on {day.isoformat()}")
        return [day]
    chosen = [d for d in committed if (start is None or d >= start) and (end is None or d <= end)]
    if not chosen:
        span = f" from {start or 'the start'} to {end or 'the end'}" if start or end else ""
        raise InputError(f"no committed raw partitions{span} in {view.store.url('raw')}")
    return chosen


def _summary_table(reports: list[ValidationReport]) -> Table:
    table = Table(title="raw data validation", title_justify="left")
    for column in ("date", "rows per table", "rules", "status"):
        table.add_column(column)
    for report in reports:
        rows = ", ".join(f"{name} {check.rows:,}" for name, check in report.checks.items())
        verdicts = [ok for check in report.checks.values() for ok in check.rules.values()]
        status = "[green]passed[/]" if report.passed else f"[red]FAILED ({len(report.violations)})[/]"
        table.add_row(report.day.isoformat(), rows, f"{sum(verdicts)}/{len(verdicts)} passed", status)
    return table


def _print_violations(reports: list[ValidationReport], limit: int = 20) -> None:
    violations = [(r.day, v) for r in reports for v in r.violations]
    for day, violation in violations[:limit]:
        out.print(f"{day.isoformat()}  {violation.message()}", highlight=False, soft_wrap=True)
    if len(violations) > limit:
        out.print(f"... and {len(violations) - limit} more (see {REPORTS}/date=*/{REPORT_FILE})")


@app.command("validate")
@user_errors
def validate_command(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option("--date", help="Validate this day (YYYY-MM-DD).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="First day of a range (inclusive).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last day of a range (inclusive).")] = None,
    training_date: Annotated[
        str | None,
        typer.Option(
            "--training-date",
            help="Also check that enough transaction history lies before this day (alone: only this check).",
        ),
    ] = None,
) -> None:
    """Check raw partitions against the contracts; write one report per day to reports/validation/.

    Without --date/--start/--end every committed raw date is checked. Exits 1 on any violation.
    """
    context = get_context(ctx)
    store, settings = context.store, context.settings
    day, first, last = _option_date(date, "date"), _option_date(start, "start"), _option_date(end, "end")
    training = _option_date(training_date, "training-date")
    if day is not None and (first or last):
        raise typer.BadParameter("use either --date or --start/--end", param_hint="--date")
    errors: list[str] = []
    if training is None or day or first or last:
        view = LakeView(store)
        days = _days_to_validate(view, day, first, last)
        reports: list[ValidationReport] = []
        for one in track(days, "validating", total=len(days)):
            reports += validate_days(store, settings, [one], view=view)
        out.print(_summary_table(reports))
        _print_violations(reports)
        errors += [m for m in [summary_message(reports)] if m]
    if training is not None:
        coverage = check_history_coverage(store, settings, training)
        out.print(
            f"history before {training}: {coverage.available_days} day(s), need {coverage.required_days}; "
            f"earliest transactions {coverage.earliest or 'none'}, "
            f"{len(coverage.missing_days)} day(s) missing in between"
        )
        if coverage.violation is not None:
            errors.append(coverage.violation.message())
    if errors:
        raise DataValidationError("; ".join(errors))


@app.command("load")
@user_errors
def load_command(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="Raw table: customers, products, transactions, usage, events.")],
    file: Annotated[Path, typer.Argument(help="A .csv, .csv.gz or .parquet file with the table's columns.")],
    date: Annotated[str, typer.Option("--date", help="The partition to write (YYYY-MM-DD).")],
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Let a file without rows replace a partition that has rows."),
    ] = False,
) -> None:
    """Load a file into one raw partition: conformed and validated first; nothing is written on failure.

    A date after today (UTC) is refused, and so is an empty file that would replace committed rows
    (unless --allow-empty).
    """
    context = get_context(ctx)
    result = load_file(context.store, context.settings, table, file, parse_date(date), allow_empty=allow_empty)
    out.print(
        f"loaded {result.manifest.rows:,} rows into raw/{table}/date={result.day.isoformat()} "
        f"(attempt {result.manifest.attempt}); {len(result.check.rules)} rules passed",
        highlight=False,
    )
    if result.dropped_columns:
        out.print(f"ignored column(s) not in the contract: {', '.join(result.dropped_columns)}")


@app.command("import")
@user_errors
def import_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The source file: .csv, .csv.gz or .parquet.")],
    source: Annotated[
        str, typer.Option("--source", help=f"Layout of the file; known: {', '.join(SOURCES)}.")
    ] = "online_retail",
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--mapping",
            help="Rename a source column, key=column (repeatable); keys: " + ", ".join(ColumnMapping.field_names()),
        ),
    ] = None,
) -> None:
    """Import a real transactions file into the raw customers, products and transactions tables."""
    context = get_context(ctx)
    started = time.perf_counter()

    def bar(jobs: Iterable[Job], total: int) -> Iterable[Job]:
        return track(jobs, "writing partitions", total=total)

    counts = import_file(context.store, path, source, mapping or [], progress=bar)
    for line in counts.lines():
        out.print(line, highlight=False)
    out.print(f"imported into {context.store.url('raw')} in {time.perf_counter() - started:.1f} s")
