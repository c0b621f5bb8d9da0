"""Validation of the raw partitions of a day against the contracts' content rules.

``validate_day`` checks every raw table committed for a day (``usage`` and ``events`` are
optional; ``customers`` and ``products`` are checked on the days they have a partition),
collects every violation and writes a JSON report to ``reports/validation/date=D/report.json``.
``ensure_valid`` is the cheap gate other steps call: it skips days whose stored report passed
with the same inputs (the same partition attempts, reference data and settings) and raises
:class:`~mlops_platform.errors.DataValidationError` if any day fails.
``check_history_coverage`` checks that there is enough transaction history before a training date.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from mlops_platform.config import PlatformSettings
from mlops_platform.data.lake_view import LakeView, UnreadablePartition
from mlops_platform.data.rules import (
    R_HISTORY,
    R_READABLE,
    References,
    RuleViolation,
    TableCheck,
    check_table,
)
from mlops_platform.data.schemas import CONTRACTS, contract
from mlops_platform.errors import DataValidationError
from mlops_platform.storage import ObjectStore, StorageError, date_partition

_logger = logging.getLogger(__name__)

REPORTS = "reports/validation"
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class PartitionRef:
    """The committed raw partition a report checked."""

    partition: str
    attempt: str
    rows: int


@dataclass
class ValidationReport:
    """The verdict on one day of raw data."""

    day: dt.date
    partitions: dict[str, PartitionRef] = field(default_factory=dict)
    checks: dict[str, TableCheck] = field(default_factory=dict)
    fingerprint: str = ""
    validated_at: str = ""

    @property
    def violations(self) -> list[RuleViolation]:
        return [v for check in self.checks.values() for v in check.violations]

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_dict(self, settings: PlatformSettings) -> dict[str, Any]:
        tables = {}
        for name, ref in self.partitions.items():
            check = self.checks[name]
            tables[name] = {
                "partition": ref.partition,
                "attempt": ref.attempt,
                "rows": check.rows,
                "rules_passed": sorted(r for r, ok in check.rules.items() if ok),
                "rules_failed": sorted(r for r, ok in check.rules.items() if not ok),
            }
        return {
            "date": self.day.isoformat(),
            "passed": self.passed,
            "validated_at": self.validated_at,
            "fingerprint": self.fingerprint,
            "settings": settings.validation.model_dump(mode="json"),
            "tables": tables,
            "violations": [v.to_dict() for v in self.violations],
        }


def report_path(day: dt.date) -> str:
    return f"{date_partition(REPORTS, day)}/{REPORT_FILE}"


def write_report(store: ObjectStore, settings: PlatformSettings, report: ValidationReport) -> str:
    """Write ``report`` to the lake; returns its path."""
    path = report_path(report.day)
    store.put_bytes(path, json.dumps(report.to_dict(settings), indent=2, sort_keys=True).encode())
    return path


def read_report(store: ObjectStore, day: dt.date) -> dict[str, Any] | None:
    """The stored report of ``day`` as a dict; None if absent or unreadable."""
    path = report_path(day)
    if not store.exists(path):
        return None
    try:
        data = json.loads(store.get_bytes(path))
    except (StorageError, ValueError):
        _logger.warning("ignoring unreadable validation report %s", store.url(path))
        return None
    return data if isinstance(data, dict) else None


def references(view: LakeView, table: str, day: dt.date, candidate: bool = False) -> References:
    """The reference data ``table`` is checked against on ``day``.

    ``candidate``: the table is not in the lake yet (``mlops data load``), so every key of
    the earlier days counts, not only the keys repeated across the committed days.
    """
    needs_customers = table in ("transactions", "usage", "events")
    needs_products = table in ("transactions", "events")
    earlier = None
    if table == "customers":
        earlier = view.customer_ids_before(day)
    elif table == "transactions":
        earlier = view.keys_before(table, day) if candidate else view.repeated_keys_before(table, day)
    return References(
        customer_ids=view.customer_ids(day) if needs_customers else None,
        product_ids=view.product_ids(day) if needs_products else None,
        earlier_keys=earlier,
        catalogue_day=view.catalogue_day(day) if needs_products else None,
    )


def check_partition(
    view: LakeView,
    settings: PlatformSettings,
    table_name: str,
    day: dt.date,
    table: pa.Table,
    candidate: bool = False,
) -> TableCheck:
    """Check ``table`` as the partition of ``table_name`` on ``day`` against the lake.

    ``candidate``: the table is about to be written (it is not in the lake yet).
    """
    rules = settings.validation
    refs = references(view, table_name, day, candidate=candidate)
    return check_table(contract(table_name), table, day, refs, rules.max_missing_share, rules.example_ids)


def _unreadable(table: str, rows: int, exc: UnreadablePartition) -> TableCheck:
    detail = f"{exc.url}: {exc.reason}"
    violation = RuleViolation(table, "", R_READABLE, rows, (), detail)
    return TableCheck(table=table, rows=rows, rules={R_READABLE: False}, violations=[violation])


def _validate_one(view: LakeView, settings: PlatformSettings, day: dt.date) -> ValidationReport:
    report = ValidationReport(day=day, fingerprint=view.fingerprint(day, settings.validation))
    for name in CONTRACTS:
        manifest = view.manifest(name, day)
        if manifest is None:
            continue
        report.partitions[name] = PartitionRef(view.partition(name, day), manifest.attempt, manifest.rows)
        try:
            data = view.read(name, day)
        except UnreadablePartition as exc:
            report.checks[name] = _unreadable(name, manifest.rows, exc)
            continue
        report.checks[name] = check_partition(view, settings, name, day, data)
    report.validated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return report


def validate_days(
    store: ObjectStore,
    settings: PlatformSettings,
    days: Iterable[dt.date],
    view: LakeView | None = None,
    write: bool = True,
) -> list[ValidationReport]:
    """Validate several days with one cached view of the lake; write each day's report."""
    view = view or LakeView(store)
    reports = []
    for day in sorted(set(days)):
        report = _validate_one(view, settings, day)
        if write:
            write_report(store, settings, report)
        reports.append(report)
    return reports


def validate_day(store: ObjectStore, settings: PlatformSettings, day: dt.date) -> ValidationReport:
    """Validate every raw table committed for ``day`` and write the report to the lake."""
    return validate_days(store, settings, [day])[0]


def summary_message(reports: Iterable[ValidationReport]) -> str | None:
    """The one-line error for failed ``reports``: the first violation and how many more."""
    violations = [(r.day, v) for r in reports for v in r.violations]
    if not violations:
        return None
    day, first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return f"raw data of {day.isoformat()}: {first.message()}{more}"


@dataclass(frozen=True)
class EnsureResult:
    """Which days ``ensure_valid`` validated and which it took from a stored, passing report."""

    validated: list[dt.date]
    cached: list[dt.date]


def ensure_valid(store: ObjectStore, settings: PlatformSettings, days: Iterable[dt.date]) -> EnsureResult:
    """Make sure the raw data of ``days`` passes validation; cheap for days already validated.

    A day is skipped when its stored report passed and was made from the same inputs (the
    fingerprint of its partitions' attempts, the reference partitions and the settings).

    Raises:
        DataValidationError: a day breaks a rule; the message is the first violation's line.
    """
    view = LakeView(store)
    todo, cached = [], []
    for day in sorted(set(days)):
        stored = read_report(store, day)
        fresh = view.fingerprint(day, settings.validation)
        if stored and stored.get("passed") is True and stored.get("fingerprint") == fresh:
            cached.append(day)
        else:
            todo.append(day)
    reports = validate_days(store, settings, todo, view=view)
    message = summary_message(reports)
    if message:
        raise DataValidationError(message)
    return EnsureResult(validated=todo, cached=cached)


@dataclass(frozen=True)
class HistoryCoverage:
    """How much transaction history lies before a training date."""

    training_date: dt.date
    required_days: int
    earliest: dt.date | None
    missing_days: list[dt.date]
    violation: RuleViolation | None

    @property
    def passed(self) -> bool:
        return self.violation is None

    @property
    def available_days(self) -> int:
        return 0 if self.earliest is None else max(0, (self.training_date - self.earliest).days)


def check_history_coverage(store: ObjectStore, settings: PlatformSettings, training_date: dt.date) -> HistoryCoverage:
    """Check that committed transactions start at least ``min_history_days`` before ``training_date``.

    Days without a transactions partition between the earliest one and the day before
    ``training_date`` are reported in ``missing_days`` (a gap is not an error by itself:
    a shop may be closed on some days).
    """
    need = settings.validation.min_history_days
    dates = [d for d in store.list_dates(contract("transactions").dataset) if d < training_date]
    earliest = dates[0] if dates else None
    missing: list[dt.date] = []
    if earliest is not None:
        present = set(dates)
        span = (training_date - earliest).days
        missing = [d for i in range(span) if (d := earliest + dt.timedelta(days=i)) not in present]
    violation = None
    available = 0 if earliest is None else (training_date - earliest).days
    if available < need:
        start = earliest.isoformat() if earliest else "none"
        detail = (
            f"{available} day(s) of history before {training_date.isoformat()}, need {need}; "
            f"earliest partition {start}, {len(missing)} day(s) missing in between"
        )
        shown = tuple(d.isoformat() for d in missing[: settings.validation.example_ids])
        violation = RuleViolation("transactions", "ts", R_HISTORY, 0, shown, detail, "missing days")
    return HistoryCoverage(training_date, need, earliest, missing, violation)


def ensure_history(store: ObjectStore, settings: PlatformSettings, training_date: dt.date) -> HistoryCoverage:
    """:func:`check_history_coverage`, raising DataValidationError if there is too little history."""
    coverage = check_history_coverage(store, settings, training_date)
    if coverage.violation is not None:
        raise DataValidationError(coverage.violation.message())
    return coverage
