"""Run plans of the DAGs: which dates and models a run works on, read from the lake and registry.

Every function here is cheap (listings, small JSON files, registry lookups): the DAGs call them
in the Airflow worker to decide what the heavy ``mlops`` tasks should do, and to summarise them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.config import PlatformSettings
from mlops_platform.data.raw import raw_dates
from mlops_platform.errors import DataValidationError, InputError
from mlops_platform.features.snapshot import DATASET as SNAPSHOTS
from mlops_platform.features.snapshot import require_input_day
from mlops_platform.monitoring.drift import report_prefix
from mlops_platform.storage import ObjectStore


@dataclass(frozen=True)
class FeaturePlan:
    """What ``feature_recalculation`` does for snapshot date L (the run's logical date)."""

    snapshot_date: dt.date
    raw_day: dt.date
    label_date: dt.date | None
    label_note: str

    def to_dict(self) -> dict[str, str | None]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "raw_day": self.raw_day.isoformat(),
            "label_date": None if self.label_date is None else self.label_date.isoformat(),
            "label_note": self.label_note,
        }


def feature_plan(store: ObjectStore, settings: PlatformSettings, snapshot_date: dt.date) -> FeaturePlan:
    """Snapshot L reads raw days up to L - 1; the labels due are those of L - h (h the longest horizon).

    With raw data up to L - 1 committed, the horizon of label date L - h (days L - h .. L - 1)
    has just closed. Before the lake has that much history there is no label date yet.
    """
    raw_day = snapshot_date - dt.timedelta(days=1)
    horizon = settings.labels.longest_horizon_days
    label_date = snapshot_date - dt.timedelta(days=horizon)
    days = raw_dates(store, "transactions")
    if not days or label_date < days[0]:
        first = days[0].isoformat() if days else "nothing"
        return FeaturePlan(
            snapshot_date, raw_day, None, f"no label date yet: {label_date} is before raw data ({first})"
        )
    return FeaturePlan(
        snapshot_date, raw_day, label_date, f"the {horizon}-day horizon of {label_date} closed on {raw_day}"
    )


def raw_day_missing(store: ObjectStore, snapshot_date: dt.date) -> str | None:
    """Why the raw input of snapshot ``snapshot_date`` is not ready yet, or None when it is."""
    try:
        require_input_day(store, snapshot_date)
    except DataValidationError as exc:
        return str(exc)
    return None


def newest_snapshot_date(store: ObjectStore) -> dt.date:
    """The newest committed feature snapshot.

    Raises:
        InputError: the lake has no snapshot yet.
    """
    dates = store.list_dates(SNAPSHOTS)
    if not dates:
        raise InputError(f"{store.url(SNAPSHOTS)} has no snapshot yet; run feature_recalculation first")
    return dates[-1]


def resolve_models(requested: Iterable[str] | None, known: list[str]) -> list[str]:
    """The requested model names (all known models when none are given), checked.

    Raises:
        InputError: naming an unknown model and the known ones.
    """
    names = [n for n in (requested or []) if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(unknown)}; known models: {', '.join(known)}")
    return names or list(known)


def with_champion(client: MlflowClient, models: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """Split ``models`` into those with a champion and the rest (with the reason)."""
    ready: list[str] = []
    skipped: dict[str, str] = {}
    for name in models:
        champion = registry.version_by_alias(client, name, registry.CHAMPION)
        if champion is None:
            skipped[name] = "no champion"
        else:
            ready.append(name)
    return ready, skipped


@dataclass(frozen=True)
class DriftVerdict:
    """One model's decision from ``reports/drift/date=D/<model>.json`` (written by ``mlops drift check``)."""

    model: str
    retrain: bool
    reason: str
    drift_share: float | None
    champion_version: str | None


def read_drift_verdicts(store: ObjectStore, day: dt.date, models: Iterable[str]) -> list[DriftVerdict]:
    """The drift decisions of ``models`` on ``day``.

    Raises:
        InputError: a model has no decision file (its drift check did not run for ``day``).
    """
    verdicts = []
    for model in models:
        path = f"{report_prefix(day, model)}.json"
        raw = store.get_bytes_if_exists(path)
        if raw is None:
            raise InputError(f"no drift decision for {model} on {day}: {store.url(path)} is missing")
        payload: dict[str, Any] = json.loads(raw)
        drift = payload.get("drift") or {}
        verdicts.append(
            DriftVerdict(
                model=model,
                retrain=bool(payload["retrain"]),
                reason=str(payload["retrain_reason"]),
                drift_share=drift.get("share"),
                champion_version=payload.get("champion_version"),
            )
        )
    return verdicts


def verdicts_to_dicts(verdicts: Iterable[DriftVerdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]


@dataclass(frozen=True)
class TrainingRow:
    """One line of the retraining summary: what a run key produced for a model."""

    model: str
    version: str | None
    gate_decision: str
    gate_reason: str
    champion: str | None
    execution_backend: str | None


def training_summary(client: MlflowClient, models: Iterable[str], run_key: str) -> list[TrainingRow]:
    """Per model: the version registered under ``run_key``, its gate decision and the champion now."""
    rows = []
    for model in models:
        version = registry.find_version_by_run_key(client, model, run_key)
        champion = registry.version_by_alias(client, model, registry.CHAMPION)
        tags = {} if version is None else (version.tags or {})
        rows.append(
            TrainingRow(
                model=model,
                version=None if version is None else str(version.version),
                gate_decision=tags.get("gate_decision", "not trained" if version is None else "pending"),
                gate_reason=tags.get("gate_reason", ""),
                champion=None if champion is None else str(champion.version),
                execution_backend=tags.get("execution_backend"),
            )
        )
    return rows


def format_rows(rows: Iterable[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table for task logs (the Airflow UI shows logs in a fixed-width font)."""
    body = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(line[i]) for line in body]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in body]
    return "\n".join(lines)


def newest_label_date(store: ObjectStore) -> dt.date:
    """The newest date with committed labels (its horizon has closed) and a committed snapshot.

    Raises:
        InputError: no date has both yet.
    """
    from mlops_platform.features.labels import DATASET as LABELS

    labelled = store.list_dates(LABELS)
    both = sorted(set(labelled) & set(store.list_dates(SNAPSHOTS)))
    if not both:
        what = "labels" if not labelled else "a snapshot for any labelled date"
        raise InputError(f"the lake has no {what} yet; run feature_recalculation past a label horizon first")
    return both[-1]


def event_dates(events: Mapping[Any, Iterable[Any]] | None) -> list[dt.date]:
    """The snapshot dates carried by triggering Asset events (their ``extra["date"]``), oldest first."""
    found = {e.extra.get("date") for evs in (events or {}).values() for e in evs if (e.extra or {}).get("date")}
    return sorted(dt.date.fromisoformat(str(d)) for d in found)


def scoring_date(store: ObjectStore, asked: dt.date | None, events: Mapping[Any, Iterable[Any]] | None) -> dt.date:
    """The snapshot ``daily_scoring`` scores: the param, else the newest Asset event's date, else the newest one.

    Raises:
        InputError: nothing was asked and the lake has no snapshot yet.
    """
    if asked is not None:
        return asked
    dates = event_dates(events)
    return dates[-1] if dates else newest_snapshot_date(store)


@dataclass(frozen=True)
class ReevaluationOutcome:
    """What ``monthly_reevaluation`` needs of a written summary: a table for the log and the degraded models."""

    table: str
    degraded: list[str]


def reevaluation_outcome(store: ObjectStore, day: dt.date) -> ReevaluationOutcome:
    """Read the re-evaluation summary of ``day`` (written by ``mlops models reevaluate``).

    Raises:
        InputError: no summary was written for ``day``.
    """
    from mlops_platform.pipelines.reevaluate import read_summary

    summary = read_summary(store, day)
    rows = [r.to_dict() for r in summary.models]
    columns = ["model", "status", "version", "gate_metric", "value", "value_at_training", "reasons"]
    return ReevaluationOutcome(format_rows(rows, columns), list(summary.degraded))


# -- first runs on a fresh lake: the demo feed, raw days that will never come, the first snapshot --


def feed_demo_lake(store: ObjectStore, raw_day: dt.date, today: dt.date) -> str:
    """The live feed of a demo lake: commit its raw days up to ``raw_day`` (never past yesterday).

    A lake without the demo marker (real data) is left untouched. Returns one line for the log.
    """
    from mlops_platform.data.generate import DEMO_MARKER, demo_config, extend_demo_lake

    if demo_config(store) is None:
        return f"real lake (no {DEMO_MARKER}): nothing generated"
    through = min(raw_day, today - dt.timedelta(days=1))
    written = extend_demo_lake(store, through)
    if not written:
        return f"demo lake: raw data is committed through {through} already"
    return f"demo lake: committed {len(written)} new raw day(s), {written[0]} .. {written[-1]}"


def raw_day_unreachable(store: ObjectStore, snapshot_date: dt.date, today: dt.date) -> str | None:
    """Why the raw input day of ``snapshot_date`` will never arrive while a sensor waits, or None.

    Never: a day before the lake's first raw day, a day that is not over yet by more than today
    (raw data of a day is committed once it is over), or, in a real lake, a day more than one
    day after its newest raw day (the lake is behind: load the days between first).
    """
    from mlops_platform.data.generate import demo_config

    raw_day = snapshot_date - dt.timedelta(days=1)
    days = raw_dates(store, "transactions")
    if not days:
        return f"{store.url('raw/transactions')} has no committed day at all; load (or generate) raw data first"
    if raw_day < days[0]:
        return f"raw day {raw_day} is before the lake's first raw day {days[0]}; pick a later date"
    if raw_day > today:
        return f"raw day {raw_day} is after today ({today}, UTC); its data cannot exist yet"
    if demo_config(store) is None and raw_day > days[-1] + dt.timedelta(days=1):
        behind = (raw_day - days[-1]).days
        return (
            f"the lake's newest raw day is {days[-1]}, {behind} days before {raw_day}: load the days in between "
            "(mlops data load / import), then rerun"
        )
    return None


def snapshot_missing(store: ObjectStore, asked: dt.date | None) -> str | None:
    """Why ``drift_retraining`` cannot start yet (no snapshot, or not the one asked for), or None."""
    dates = store.list_dates(SNAPSHOTS)
    if asked is None and not dates:
        return f"{store.url(SNAPSHOTS)} has no snapshot yet; waiting for feature_recalculation to build one"
    if asked is not None and asked not in dates:
        return f"{store.url(SNAPSHOTS)} has no snapshot of {asked} yet; waiting for feature_recalculation to build it"
    return None


def promoted_models(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Model -> version of the summary rows whose version the gate promoted to champion."""
    return {
        str(r["model"]): str(r["version"])
        for r in rows
        if r.get("gate_decision") == "promoted" and r.get("version") is not None and r.get("champion") == r["version"]
    }


def champion_event_models(events: Mapping[Any, Iterable[Any]] | None) -> list[str] | None:
    """The models of the ``registry/champions`` events that started a run, when only those started it.

    None when no event started the run or a ``features/customer`` event is among them (then every
    model is scored).
    """
    extras = [e.extra or {} for evs in (events or {}).values() for e in evs]
    if not extras or any("promoted" not in x for x in extras):
        return None
    return sorted({str(m) for x in extras for m in x["promoted"]})


def warmup_dates(raw_days: list[dt.date], horizon_days: int, recent: int = 3) -> tuple[list[dt.date], list[dt.date]]:
    """The snapshot and label dates a fresh demo lake gets before the UIs open.

    Snapshots: the ``recent`` dates up to the day after the newest raw day (today's snapshot,
    when the lake ends yesterday) whose raw input day is in the lake, plus the newest label date.
    Labels: the newest date whose ``horizon_days`` horizon has closed, when the lake reaches back
    that far (re-evaluation needs a snapshot and labels of the same date).
    """
    if not raw_days:
        return [], []
    first, after = raw_days[0], raw_days[-1] + dt.timedelta(days=1)
    snapshots = [after - dt.timedelta(days=i) for i in range(recent)]
    snapshots = [d for d in snapshots if d - dt.timedelta(days=1) >= first]
    label_day = after - dt.timedelta(days=horizon_days)
    labels = [label_day] if label_day - dt.timedelta(days=1) >= first else []
    return sorted(set(snapshots) | set(labels)), labels
