"""The ``mlops`` command line: the one entry point that DAG tasks and containers run.

Each command group lives next to the library it drives (``data/cli.py``, ``features/cli.py``,
...); this module only assembles them and holds the small ``lake`` group.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from mlops_platform import __version__, cli_drift, cli_models
from mlops_platform.cli_recommend import recommend
from mlops_platform.cli_support import CliContext, configure_logging, get_context, out, user_errors
from mlops_platform.data.cli import app as data_app
from mlops_platform.features.cli import app as features_app

app = typer.Typer(
    name="mlops",
    help="Keep a zoo of customer models fresh: data, features, training, registry, scoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
lake_app = typer.Typer(help="Inspect and clean the object store (the lake).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(lake_app, name="lake")
cli_models.register(app)
cli_drift.register(app)
app.command("recommend")(recommend)


def _version(value: bool) -> None:
    if value:
        out.print(f"mlops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Folder with platform.yaml (default: $MLOPS_CONFIG_DIR or ./config)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Keep a zoo of customer models fresh: data, features, training, registry, scoring."""
    configure_logging(verbose)
    ctx.obj = CliContext(config_dir=config_dir)


@lake_app.command("ls")
@user_errors
def lake_ls(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset folder, e.g. raw/usage or features/customer.")],
) -> None:
    """List the committed date partitions of a dataset with their row counts."""
    store = get_context(ctx).store
    dates = store.list_dates(dataset)
    if not dates:
        out.print(f"no committed partitions under {store.url(dataset)}")
        return
    for day in dates:
        manifest = store.manifest(f"{dataset}/date={day.isoformat()}")
        assert manifest is not None
        out.print(f"{day.isoformat()}  {manifest.rows:>10,} rows  {manifest.written_at}  {manifest.writer}")


@lake_app.command("gc")
@user_errors
def lake_gc(
    ctx: typer.Context,
    grace_hours: Annotated[
        float | None, typer.Option(help="Keep garbage younger than this (default: storage.gc_grace_hours).")
    ] = None,
    prefix: Annotated[str, typer.Option(help="Only collect under this folder.")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed.")] = False,
) -> None:
    """Remove data files that no partition manifest names (failed or replaced attempts)."""
    context = get_context(ctx)
    hours = context.settings.storage.gc_grace_hours if grace_hours is None else grace_hours
    if hours < 0:
        raise typer.BadParameter("must not be negative", param_hint="--grace-hours")
    removed = context.store.gc(dt.timedelta(hours=hours), prefix=prefix, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for path in removed:
        out.print(f"{verb} {path}")
    out.print(f"{verb} {len(removed)} unreferenced file(s) older than {hours:g} h")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
