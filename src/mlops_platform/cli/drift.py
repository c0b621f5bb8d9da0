"""``mlops drift check``: compare a feature snapshot with the champion's training reference."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_platform.cli.support import get_context, out, parse_date, user_errors

drift_app = typer.Typer(help="Feature drift against the champion's training reference.", no_args_is_help=True)


@drift_app.command("check")
@user_errors
def drift_check(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    date: Annotated[str, typer.Option(help="Snapshot date D (YYYY-MM-DD).")],
    reference_run: Annotated[
        str | None,
        typer.Option(help="Take the reference and feature list from this MLflow run instead of the champion's."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Also write Evidently's HTML report (slower).")] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Decide to retrain whatever the drift (recorded as forced).")
    ] = False,
) -> None:
    """Decide whether MODEL's features drifted on D; writes reports/drift/date=D/<model>.json/.html.

    The decision is data, not an error: the command exits 0 whether or not a retrain is due.
    """
    from mlops_platform.config import load_drift_settings
    from mlops_platform.pipelines.drift_check import check_drift
    from mlops_platform.registry import tracking

    context = get_context(ctx)
    day = parse_date(date, "date")
    client, experiment_id = tracking.client_for(context.models.tracking)
    settings = load_drift_settings(context.config_dir)
    check = check_drift(client, experiment_id, context.store, settings, model, day, reference_run, report, force)
    if check.decision_reason is None:
        out.print(f"{model} {day}: no champion to compare with")
        out.print(f"retrain: yes ({check.retrain_reason})")
        return
    out.print(f"{model} {day}: {check.decision_reason}")
    for note in check.notes:
        out.print(f"  note: {note}")
    out.print(f"retrain: {'yes' if check.retrain else 'no'} ({check.retrain_reason})")
    out.print(f"report: {check.report} (MLflow run {check.mlflow_run_id})")
