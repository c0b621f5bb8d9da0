"""``mlops score``: the champion of a model scores a feature snapshot, or a table, into the lake."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_platform.cli.support import get_context, out, parse_date, progress, user_errors


@user_errors
def score(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    date: Annotated[
        str | None, typer.Option(help="Snapshot date D (YYYY-MM-DD); with --table, the scores' date (default: today).")
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="Score this CSV/parquet table (local path or s3://) instead of a snapshot.")
    ] = None,
    out_path: Annotated[
        str | None, typer.Option("--out", help="With --table: write the scores to this .parquet/.csv path.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="With --table: score with this version.")] = None,
    alias: Annotated[str | None, typer.Option(help="With --table: score with the version holding this alias.")] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="With --table: the id column, when the model has none.")
    ] = None,
) -> None:
    """Score the snapshot of D into scores/<model>/date=D/, or a table into scores/<model>/table=<name>/date=D/."""
    from mlops_platform.pipelines import score as scoring
    from mlops_platform.registry import tracking

    context = get_context(ctx)
    if table is None:
        if out_path or version or alias or id_column:
            raise typer.BadParameter("--out/--version/--alias/--id go with --table", param_hint="--table")
        if date is None:
            raise typer.BadParameter("give --date (a snapshot) or --table", param_hint="--date")
        client, _ = tracking.client_for(context.models.tracking)
        result = scoring.score_snapshot(client, context.store, model, parse_date(date, "date"))
        where = context.store.url(result.partition)
        out.print(f"{model} v{result.version}: scored {result.rows:,} customers into {where}")
        return
    _score_table(ctx, model, table, date, out_path, version, alias, id_column)


def _score_table(
    ctx: typer.Context,
    model: str,
    table: str,
    date: str | None,
    out_path: str | None,
    version: str | None,
    alias: str | None,
    id_column: str | None,
) -> None:
    from mlops_platform.pipelines.score_table import score_table
    from mlops_platform.registry import tracking

    context = get_context(ctx)
    client, _ = tracking.client_for(context.models.tracking)
    day = parse_date(date, "date") if date is not None else None
    with progress() as bar:
        task = bar.add_task(f"scoring {table}", total=None)
        result = score_table(
            client,
            context.store,
            model,
            table,
            version=version,
            alias=alias,
            out=out_path,
            day=day,
            id_column=id_column,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    out.print(
        f"{model} v{result.version}: scored {result.rows:,} rows of {table} into {result.destination} "
        f"in {result.seconds:.1f}s"
    )
