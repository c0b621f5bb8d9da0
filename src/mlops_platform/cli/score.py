"""``mlops score``: the champion of a model scores a feature snapshot into the lake."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_platform.cli.support import get_context, out, parse_date, user_errors


@user_errors
def score(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    date: Annotated[str, typer.Option(help="Snapshot date D (YYYY-MM-DD).")],
) -> None:
    """Score the snapshot of D with the champion into scores/<model>/date=D/."""
    from mlops_platform.pipelines import score as scoring
    from mlops_platform.registry import tracking

    context = get_context(ctx)
    client, _ = tracking.client_for(context.models.tracking)
    result = scoring.score_snapshot(client, context.store, model, parse_date(date, "date"))
    out.print(f"{model} v{result.version}: scored {result.rows:,} customers into {context.store.url(result.partition)}")
