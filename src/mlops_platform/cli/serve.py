"""``mlops serve``: the champions' scores and the recommender's lists over HTTP (see ``serving/``)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from mlops_platform.cli.support import get_context, out, user_errors


@user_errors
def serve(
    ctx: typer.Context,
    models: Annotated[
        str, typer.Option(help="Models whose champions score customers, comma-separated ('' for none).")
    ] = "churn,conversion,revenue,segmentation",
    recommender: Annotated[str, typer.Option(help="The registered recommender ('' for none).")] = "recommender",
    host: Annotated[str, typer.Option(help="Address to bind; off loopback needs MLOPS_SERVE_TOKEN.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    poll_seconds: Annotated[
        float, typer.Option(help="How often champion aliases and the newest snapshot are checked.")
    ] = 15.0,
    max_body_bytes: Annotated[int, typer.Option(help="Larger request bodies get 413.")] = 1_000_000,
    timeout_seconds: Annotated[float, typer.Option(help="Longer requests get 504.")] = 2.0,
    max_rows: Annotated[int, typer.Option(help="Rows per /predict request at most.")] = 1_000,
    top_n: Annotated[int, typer.Option(help="Recommendations kept per customer (the largest n).")] = 10,
    flush_seconds: Annotated[float, typer.Option(help="How often the prediction log is written.")] = 5.0,
) -> None:
    """Serve scores, predictions and recommendations of the champions; hot-swaps when an alias moves.

    GET /v1/customers/{id}/scores, POST /v1/models/{name}/predict, GET
    /v1/customers/{id}/recommendations, GET /v1/models, /healthz, /readyz, /metrics; POST /v1/notify
    takes MLflow's signed alias webhook (MLOPS_WEBHOOK_SECRET). Every answer goes to
    predictions/<model>/ in the lake.
    """
    import logging

    from mlops_platform.registry import tracking
    from mlops_platform.serving import server
    from mlops_platform.serving.settings import SECRET_ENV, TOKEN_ENV, ServeSettings, parse_models

    settings = ServeSettings(
        models=parse_models(models),
        recommender=recommender.strip() or None,
        host=host,
        port=port,
        token=os.environ.get(TOKEN_ENV) or None,
        secret=os.environ.get(SECRET_ENV) or None,
        poll_seconds=poll_seconds,
        max_body_bytes=max_body_bytes,
        timeout_seconds=timeout_seconds,
        max_rows=max_rows,
        top_n=top_n,
        flush_seconds=flush_seconds,
    )
    logging.getLogger("mlops_platform.serving").setLevel(logging.INFO)  # loads and swaps are worth a line
    context = get_context(ctx)
    client, _ = tracking.client_for(context.models.tracking)
    service = server.build_service(client, context.store, settings)
    out.print(f"serving {', '.join(settings.served)} on http://{host}:{port} (Ctrl-C or SIGTERM stops)")
    server.run(service)
