"""``mlops lake``: list the committed partitions of a dataset, and collect unreferenced files."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from mlops_platform.cli.support import get_context, out, user_errors

lake_app = typer.Typer(help="Inspect and clean the object store (the lake).", no_args_is_help=True)


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
    """Remove data files that no partition manifest names (failed or replaced attempts).

    Attempts a newer manifest replaced go once older than the grace; other unnamed attempts
    (their writer may still commit them) wait at least 6 h. Named files are never removed.
    """
    context = get_context(ctx)
    hours = context.settings.storage.gc_grace_hours if grace_hours is None else grace_hours
    if hours < 0:
        raise typer.BadParameter("must not be negative", param_hint="--grace-hours")
    removed = context.store.gc(dt.timedelta(hours=hours), prefix=prefix, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for path in removed:
        out.print(f"{verb} {path}")
    out.print(f"{verb} {len(removed)} unreferenced file(s) older than {hours:g} h")
