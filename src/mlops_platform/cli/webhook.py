"""``mlops webhook serve`` and ``register``: catch alias moves made in the MLflow UI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_platform.cli.support import get_context, out, user_errors

webhook_app = typer.Typer(
    help="Catch alias moves made in the MLflow UI (SQL-backed MLflow server).", no_args_is_help=True
)
_SECRET_ENV = "MLOPS_WEBHOOK_SECRET"


def _secret() -> str:
    """The shared HMAC secret from the environment; one clear line if it is missing or too short."""
    import os

    from mlops_platform.errors import InputError
    from mlops_platform.registry import webhooks

    secret = os.environ.get(_SECRET_ENV, "")
    if not secret:
        raise typer.BadParameter(f"set {_SECRET_ENV} to the shared HMAC secret", param_hint=_SECRET_ENV)
    try:
        return webhooks.check_secret(secret)
    except InputError as exc:
        raise InputError(f"{_SECRET_ENV}: {exc}") from None


@webhook_app.command("serve")
@user_errors
def webhook_serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to bind (keep it on loopback unless behind a proxy).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    register: Annotated[bool, typer.Option(help="Also register the webhook with the MLflow server.")] = True,
    deliveries: Annotated[
        Path | None,
        typer.Option(
            help="File of the delivery ids answered in the last minutes, so a replay is recorded once across restarts.",
            show_default="~/.mlops/webhook-deliveries.log",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Receive MLflow's alias events (HMAC-checked) and record them in the alias history.

    When a champion moves, DAG daily_scoring is triggered for that model through Airflow's REST API
    (airflow_api in config/orchestration.yaml; credentials from the variables it names).
    """
    import logging
    import signal
    import threading

    from mlops_platform.config import load_orchestration_settings
    from mlops_platform.orchestration import airflow_api
    from mlops_platform.registry import tracking, webhooks

    secret = _secret()
    context = get_context(ctx)
    models = context.models
    logging.getLogger(airflow_api.__name__).setLevel(logging.INFO)  # each trigger is worth a line
    api_settings = load_orchestration_settings(context.config_dir).airflow_api
    on_champion_moved = airflow_api.champion_trigger(api_settings)
    client, _ = tracking.client_for(models.tracking)
    receiver = webhooks.AliasWebhookReceiver(
        models.tracking.uri, secret, host, port, on_champion_moved=on_champion_moved, deliveries_path=deliveries
    ).start()
    if register:
        webhooks.register_webhook(client, receiver.url, secret)
    out.print(f"alias webhook receiver on {receiver.url}")
    if on_champion_moved is not None:
        out.print(f"a champion move triggers DAG {airflow_api.SCORING_DAG} at {api_settings.url}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()


@webhook_app.command("register")
@user_errors
def webhook_register(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where MLflow posts, e.g. http://127.0.0.1:8765/mlflow-webhook.")],
) -> None:
    """Register the alias webhook with the MLflow server (needs a SQL-backed server)."""
    from mlops_platform.registry import tracking, webhooks

    secret = _secret()
    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    out.print(f"webhook {webhooks.register_webhook(client, url, secret)} posts alias events to {url}")
