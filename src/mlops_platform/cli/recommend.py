"""``mlops recommend``: the champion recommender's top-N products, with reasons, for customers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlops_platform.cli.support import get_context, out, user_errors


def _profile(segment: str | None, tenure_days: float | None, arpu: float | None, data_mb: float | None) -> dict:
    given = {"segment": segment, "tenure_days": tenure_days, "arpu_30d": arpu, "usage_7d_data_mb": data_mb}
    return {k: v for k, v in given.items() if v is not None}


@user_errors
def recommend(
    ctx: typer.Context,
    customer_ids: Annotated[
        list[str], typer.Argument(metavar="CUSTOMER_ID", help="One or more customer ids (numbers or text).")
    ],
    n: Annotated[int, typer.Option("--n", min=1, help="Products per customer.")] = 5,
    model: Annotated[str, typer.Option(help="Registered model name.")] = "recommender",
    version: Annotated[
        str | None, typer.Option(help="Use this version instead of the champion (e.g. the challenger's).")
    ] = None,
    segment: Annotated[str | None, typer.Option(help="Profile of a new customer: segment.")] = None,
    tenure_days: Annotated[float | None, typer.Option(help="Profile: days since signup.")] = None,
    arpu: Annotated[float | None, typer.Option(help="Profile: revenue of the last 30 days (IDR).")] = None,
    data_mb: Annotated[float | None, typer.Option(help="Profile: data used in the last 7 days (MB).")] = None,
) -> None:
    """Print the top-N products of each CUSTOMER_ID from the champion recommender, with reasons.

    Ids may be text; an id the model never saw gets the cold-start list, an id that cannot be of
    the model's id type (text for integer ids) is refused, naming it.

    Profile options describe the customers as they are now and replace what the model knew of them.
    """
    from mlops_platform.errors import NoChampionError
    from mlops_platform.pipelines.recommend import recommend as recommend_for
    from mlops_platform.registry import tracking

    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    profile = _profile(segment, tenure_days, arpu, data_mb)
    try:
        recs = recommend_for(client, model, customer_ids, n, version, profile)
    except NoChampionError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None
    for customer in recs.customers:
        grid = Table("#", "product", "category", "score", "why", title=f"customer {customer}: {model} v{recs.version}")
        for row in recs.of(customer).itertuples(index=False):
            grid.add_row(str(row.rank), f"{row.name} ({row.product_id})", row.category, f"{row.score:.3f}", row.reasons)
        out.print(grid)
