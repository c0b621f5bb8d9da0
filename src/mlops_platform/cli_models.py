"""``mlops training-set``, ``train``, ``models`` (list, history, reevaluate), ``promote``, ``rollback``, ``score``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from mlops_platform.cli_support import CliContext, get_context, out, parse_date, user_errors

training_set_app = typer.Typer(help="Point-in-time training sets under training/.", no_args_is_help=True)
models_app = typer.Typer(
    help="The registry: list models, read their alias history, re-evaluate the champions.", no_args_is_help=True
)


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
    from mlops_platform.training import prepare_from_lake

    context = get_context(ctx)
    context.models.model(model)
    day = parse_date(as_of, "as-of") if as_of else _default_as_of(context)
    name = run or _run_name(day, None)
    prepared = prepare_from_lake(context.store, context.settings, context.models, model, day, name)
    manifest = prepared.manifest
    out.print(
        f"training set {model}/{name}: train {manifest['train_rows']:,} rows on {', '.join(manifest['train_dates'])}; "
        f"holdout {manifest['holdout_rows']:,} rows on {', '.join(manifest['holdout_dates'])}; "
        f"positive rate {manifest['positive_rate']}"
    )


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
    from mlops_platform.training import fit_and_register, prepare_from_lake
    from mlops_platform.training_table import prepare_from_table

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
        day = parse_date(as_of, "as-of") if as_of else _default_as_of(context)
        prepared = prepare_from_lake(
            context.store, context.settings, context.models, model, day, _run_name(day, run_key)
        )
    outcome = fit_and_register(context.models, model, name or model, prepared, run_key)
    _print_outcome(outcome)


def _train_recommender(
    context: CliContext, as_of: str | None, table_option: str | None, name: str | None, run_key: str | None
) -> None:
    from mlops_platform.recommender.training import train_recommender

    if table_option:
        raise typer.BadParameter(
            "the recommender trains from the lake's transactions: --table/--target/--id/--time do not apply",
            param_hint="--table",
        )
    day = parse_date(as_of, "as-of") if as_of else _default_as_of(context)
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


@models_app.command("list")
@user_errors
def models_list(ctx: typer.Context) -> None:
    """Table of models: champion, challenger, key metric, trained on."""
    from mlops_platform import registry, tracking

    context = get_context(ctx)
    client, _ = tracking.client_for(context.models.tracking)
    grid = Table("name", "champion", "challenger", "key metric", "trained on")
    for name in context.models.trainable_names:
        if not registry.model_exists(client, name):
            continue
        registry.reconcile_aliases(client, name, seen_by="mlops models list")
        aliases = registry.current_aliases(client, name)
        champion = aliases.get(registry.CHAMPION)
        metric, window = "", ""
        if champion is not None:
            version = client.get_model_version(name, champion)
            metric = version.tags.get("summary", "")
            window = version.tags.get("training_window", "")
        grid.add_row(name, champion or "-", aliases.get(registry.CHALLENGER, "-"), metric, window)
    out.print(grid)


@models_app.command("history")
@user_errors
def models_history(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """Every alias move of NAME: when, who, from, to, why."""
    from mlops_platform import registry, tracking

    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    if not registry.model_exists(client, name):
        raise typer.BadParameter(f"no registered model {name!r}", param_hint="NAME")
    registry.reconcile_aliases(client, name, seen_by="mlops models history")
    grid = Table("time", "alias", "from", "to", "by", "reason", title=f"alias history of {name}")
    for event in registry.history(client, name):
        grid.add_row(
            event.time,
            event.alias,
            event.from_version or "-",
            event.to_version or "(removed)",
            event.actor,
            event.reason,
        )
    out.print(grid)


@models_app.command("reevaluate")
@user_errors
def models_reevaluate(
    ctx: typer.Context,
    models: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODEL",
            help="Models to re-evaluate (default: reevaluation.models in drift.yaml).",
            show_default=False,
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(help="Label date D (YYYY-MM-DD) whose labels are in the lake; default: the newest one."),
    ] = None,
) -> None:
    """Score each champion on the labels of D; compare with its training run and the targets in models.yaml.

    Writes reports/reevaluation/date=D/ (report.md, <model>.json, summary.json) and an MLflow run.

    Tags each judged champion version mlops.degraded (true/false) and mlops.reevaluated_on (D).

    A degraded model is a result, not an error: the command exits 0 either way.
    """
    from mlops_platform import tracking
    from mlops_platform.config import load_drift_settings
    from mlops_platform.monitoring import reevaluation

    context = get_context(ctx)
    settings = load_drift_settings(context.config_dir).reevaluation
    day = parse_date(date, "date") if date else None
    client, experiment_id = tracking.client_for(context.models.tracking)
    horizon = context.settings.labels.longest_horizon_days
    summary = reevaluation.reevaluate_champions(
        client, experiment_id, context.store, context.models, settings, day, models, horizon
    )
    asked = set(models or settings.models)
    grid = Table(
        "model",
        "version",
        "metric",
        "at training",
        "now",
        "change",
        "targets now",
        "degraded",
        title=f"champions re-evaluated on the labels of {summary.date}",
    )
    results = [r for r in summary.models if r.model in asked]
    for r in results:
        verdict = {"ok": "no", "degraded": "[bold red]YES[/]"}.get(r.status, r.status)
        grid.add_row(
            r.model,
            r.version or "-",
            r.gate_metric,
            "n/a" if r.value_at_training is None else f"{r.value_at_training:.4f}",
            "n/a" if r.value is None else f"{r.value:.4f}",
            reevaluation.format_change(r),
            reevaluation.format_targets(r),
            verdict,
        )
    out.print(grid)
    for r in results:
        for reason in r.reasons:
            out.print(f"{r.model}: {r.status}: {reason}", highlight=False)
        for note in r.notes:
            out.print(f"{r.model}: note: {note}", highlight=False)
    out.print(f"to retrain: {', '.join(summary.retrain) or 'none'}")
    path = reevaluation.report_path(summary.date, "report.md")
    out.print(f"report: {context.store.url(path)} (MLflow run {summary.mlflow_run_id})")


def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Version to make champion.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "promoted by hand with mlops promote",
) -> None:
    """Move the champion alias of NAME to VERSION (recorded in the history)."""
    from mlops_platform import registry, tracking

    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    event = registry.promote(client, name, version, reason)
    out.print(f"{name}: champion is version {version}" + ("" if event else " (already)"))


def rollback(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """Move the champion alias of NAME back to the previous champion."""
    from mlops_platform import registry, tracking

    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    event = registry.rollback(client, name)
    out.print(f"{name}: champion moved back from version {event.from_version} to {event.to_version}")


def score(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    date: Annotated[str, typer.Option(help="Snapshot date D (YYYY-MM-DD).")],
) -> None:
    """Score the snapshot of D with the champion into scores/<model>/date=D/."""
    from mlops_platform import scoring, tracking

    context = get_context(ctx)
    client, _ = tracking.client_for(context.models.tracking)
    result = scoring.score_snapshot(client, context.store, model, parse_date(date, "date"))
    out.print(f"{model} v{result.version}: scored {result.rows:,} customers into {context.store.url(result.partition)}")


webhook_app = typer.Typer(
    help="Catch alias moves made in the MLflow UI (SQL-backed MLflow server).", no_args_is_help=True
)
_SECRET_ENV = "MLOPS_WEBHOOK_SECRET"


def _secret() -> str:
    import os

    secret = os.environ.get(_SECRET_ENV, "")
    if not secret:
        raise typer.BadParameter(f"set {_SECRET_ENV} to the shared HMAC secret", param_hint=_SECRET_ENV)
    return secret


@webhook_app.command("serve")
@user_errors
def webhook_serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to bind (keep it on loopback unless behind a proxy).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    register: Annotated[bool, typer.Option(help="Also register the webhook with the MLflow server.")] = True,
) -> None:
    """Receive MLflow's alias events (HMAC-checked) and record them in the alias history.

    When a champion moves, DAG daily_scoring is triggered for that model through Airflow's REST API
    (airflow_api in config/orchestration.yaml; credentials from the variables it names).
    """
    import logging
    import signal
    import threading

    from mlops_platform import airflow_api, tracking, webhooks
    from mlops_platform.config import load_orchestration_settings

    context = get_context(ctx)
    models = context.models
    logging.getLogger(airflow_api.__name__).setLevel(logging.INFO)  # each trigger is worth a line
    api_settings = load_orchestration_settings(context.config_dir).airflow_api
    on_champion_moved = airflow_api.champion_trigger(api_settings)
    client, _ = tracking.client_for(models.tracking)
    receiver = webhooks.AliasWebhookReceiver(
        models.tracking.uri, _secret(), host, port, on_champion_moved=on_champion_moved
    ).start()
    if register:
        webhooks.register_webhook(client, receiver.url, _secret())
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
    from mlops_platform import tracking, webhooks

    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    out.print(f"webhook {webhooks.register_webhook(client, url, _secret())} posts alias events to {url}")


def register(app: typer.Typer) -> None:
    """Add the model commands to the root app."""
    app.add_typer(training_set_app, name="training-set")
    app.add_typer(models_app, name="models")
    app.add_typer(webhook_app, name="webhook")
    for command in (train, promote, rollback, score):
        app.command(command.__name__)(user_errors(command))
