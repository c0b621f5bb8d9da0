"""``mlops models`` (list, history, reevaluate), ``mlops promote`` and ``mlops rollback``: the registry."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlops_platform.cli.support import get_context, out, parse_date, user_errors

models_app = typer.Typer(
    help="The registry: list models, read their alias history, re-evaluate the champions.", no_args_is_help=True
)


@models_app.command("list")
@user_errors
def models_list(ctx: typer.Context) -> None:
    """Table of models: champion, challenger, key metric, trained on."""
    from mlops_platform import registry
    from mlops_platform.registry import tracking

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
    from mlops_platform import registry
    from mlops_platform.registry import tracking

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
    from mlops_platform.config import load_drift_settings
    from mlops_platform.monitoring.report import format_change, format_targets
    from mlops_platform.pipelines import reevaluate as reevaluation
    from mlops_platform.registry import tracking

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
            format_change(r),
            format_targets(r),
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


@user_errors
def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Version to make champion.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "promoted by hand with mlops promote",
) -> None:
    """Move the champion alias of NAME to VERSION (recorded in the history)."""
    from mlops_platform import registry
    from mlops_platform.registry import tracking

    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    event = registry.promote(client, name, version, reason)
    out.print(f"{name}: champion is version {version}" + ("" if event else " (already)"))


@user_errors
def rollback(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """Move the champion alias of NAME back to the previous champion."""
    from mlops_platform import registry
    from mlops_platform.registry import tracking

    client, _ = tracking.client_for(get_context(ctx).models.tracking)
    event = registry.rollback(client, name)
    out.print(f"{name}: champion moved back from version {event.from_version} to {event.to_version}")
