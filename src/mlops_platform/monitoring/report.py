"""The re-evaluation report in Markdown, and the short change and target texts the CLI prints."""

from __future__ import annotations

from mlops_platform.monitoring.records import ModelReevaluation, ReevaluationSummary


# -- reading the results -----------------------------------------------------------------------
def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def format_change(result: ModelReevaluation) -> str:
    """``+0.0123 (+1.5%)``: now minus at training, and relative to the training value."""
    if result.change is None:
        return "n/a"
    relative = "" if result.relative_change is None else f" ({result.relative_change:+.1%})"
    return f"{result.change:+.4f}{relative}"


def format_targets(result: ModelReevaluation) -> str:
    """``roc_auc > 0.85: MISS; f1 > 0.4: pass`` for the targets measured now."""
    return "; ".join(f"{t.target}: {'pass' if t.passed else 'MISS'}" for t in result.targets) or "-"


def render_markdown(summary: ReevaluationSummary) -> str:
    """The human report: one table of every model, then each model's metrics, targets and reasons."""
    lines = [
        f"# Champion re-evaluation on {summary.date}",
        "",
        f"Each champion scored the feature snapshot of {summary.date} joined to the labels of that date "
        "(segmentation, which has no labels: the newest snapshot within their horizon). "
        f"Degraded: the gate metric is worse than at training by more than {summary.tolerance:.1%} "
        "of its training value, or a gate floor fails.",
        "",
        "| model | version | status | gate metric | at training | now | change | targets now |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary.models:
        lines.append(
            f"| {r.model} | {r.version or '-'} | {r.status} | {r.gate_metric} | {number(r.value_at_training)} "
            f"| {number(r.value)} | {format_change(r)} | {format_targets(r)} |"
        )
    retrain = ", ".join(summary.retrain) or "none"
    lines += ["", f"Degraded: {', '.join(summary.degraded) or 'none'}. To retrain: {retrain} "]
    lines[-1] += f"(trigger_retraining: {str(summary.trigger_retraining).lower()})."
    for r in summary.models:
        lines += ["", f"## {r.model} v{r.version or '-'}: {r.status}", ""]
        if r.version is not None:
            lines += [f"- rows: {r.rows:,} (snapshot of {r.snapshot_date or r.date})"]
            lines += [f"- training run: {r.training_run_id or '-'} (window {r.training_window or '-'})"]
        lines += [f"- re-evaluation run: {r.mlflow_run_id or '-'}"]
        lines += [f"- reason: {reason}" for reason in r.reasons] + [f"- note: {note}" for note in r.notes]
        if r.metrics:
            lines += ["", "| metric | at training | now |", "| --- | --- | --- |"]
            for key, value in r.metrics.items():
                lines.append(f"| {key} | {number(r.metrics_at_training.get(key))} | {number(value)} |")
        if r.targets:
            lines += ["", "| target | at training | now | result now |", "| --- | --- | --- | --- |"]
            for t in r.targets:
                result = "pass" if t.passed else "MISS"
                lines.append(f"| {t.target} | {number(t.measured_at_training)} | {number(t.measured)} | {result} |")
    return "\n".join(lines) + "\n"
