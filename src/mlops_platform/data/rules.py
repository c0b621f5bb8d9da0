"""The content rules of the raw tables, as pure functions over arrow tables.

Each rule computes a boolean mask over the rows (True: the row breaks the rule) with
``pyarrow.compute``; :class:`TableChecker` turns the masks into :class:`RuleViolation` records
that name the table, the column, the rule, how many rows break it and a few example ids.
Reading the lake (and the reference data the rules compare against) is ``data/validate.py``'s job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mlops_platform.data.numeric import float_overflow
from mlops_platform.data.schemas import CATEGORIES, EVENT_TYPES, SEGMENTS, TableContract

# Tables whose key names one row per partition (events have many rows per customer).
UNIQUE_KEY_TABLES = frozenset({"customers", "products", "transactions", "usage"})
# Tables whose key must also not repeat one used on an earlier day.
GLOBAL_KEY_TABLES = frozenset({"customers", "transactions"})
# Columns with a closed vocabulary.
ALLOWED_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "segment"): SEGMENTS,
    ("products", "category"): CATEGORIES,
    ("events", "event_type"): EVENT_TYPES,
}

R_PRESENCE = "column presence"
R_TYPES = "column types"
R_READABLE = "readable file"
R_MISSING = "missing values"
R_UNIQUE = "unique key"
R_NON_NEGATIVE = "non-negative"
R_FINITE = "finite values"
R_RANGE = "value range"
R_OVERFLOW = "float32 overflow"
R_FUTURE = "partition date not in the future"
R_TIME = "time on partition date"
R_SIGNUP = "signup on or before partition date"
R_KNOWN_PRODUCT = "known product"
R_KNOWN_CUSTOMER = "known customer"
R_ALLOWED = "allowed values"
R_HISTORY = "history coverage"


@dataclass(frozen=True)
class RuleViolation:
    """One rule broken by some rows of one column of one table."""

    table: str
    column: str
    rule: str
    rows: int
    examples: tuple[str, ...] = ()
    detail: str = ""
    id_name: str = ""

    def message(self) -> str:
        """One line: table.column, the rule, the row count, the detail and example ids."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: rule '{self.rule}' broken"
        if self.rows:
            text += f" by {self.rows:,} row(s)"
        if self.detail:
            text += f" ({self.detail})"
        if self.examples:
            text += f"; e.g. {self.id_name or 'ids'} {', '.join(self.examples)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["examples"] = list(self.examples)
        data["message"] = self.message()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleViolation:
        return cls(
            table=str(data["table"]),
            column=str(data["column"]),
            rule=str(data["rule"]),
            rows=int(data["rows"]),
            examples=tuple(str(e) for e in data.get("examples", ())),
            detail=str(data.get("detail", "")),
            id_name=str(data.get("id_name", "")),
        )


@dataclass
class TableCheck:
    """The outcome of checking one table: its row count, each rule's verdict, the violations."""

    table: str
    rows: int
    rules: dict[str, bool] = field(default_factory=dict)
    violations: list[RuleViolation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class References:
    """What a table is compared against on its day.

    Attributes:
        customer_ids: customers signed up on or before the day (None: not needed).
        product_ids: the catalogue in force on the day (None: there is none).
        earlier_keys: keys of this table already used on earlier days (None: not checked).
        catalogue_day: the date of the catalogue partition in force, for messages.
    """

    customer_ids: pa.Array | None = None
    product_ids: pa.Array | None = None
    earlier_keys: pa.Array | None = None
    catalogue_day: dt.date | None = None


class TableChecker:
    """Collects rule verdicts and violations for one table."""

    def __init__(self, spec: TableContract, table: pa.Table, example_ids: int) -> None:
        self.spec = spec
        self.table = table
        self.example_ids = example_ids
        self.result = TableCheck(table=spec.name, rows=table.num_rows)

    def has(self, column: str) -> bool:
        return column in self.table.column_names

    def passed(self, rule: str) -> None:
        self.result.rules.setdefault(rule, True)

    def whole_column(self, column: str, rule: str, detail: str) -> None:
        """A rule broken by a column as a whole (e.g. absent): every row counts."""
        self.result.rules[rule] = False
        self.result.violations.append(
            RuleViolation(self.spec.name, column, rule, self.table.num_rows, (), detail, self.spec.key)
        )

    def record(self, rule: str, column: str, mask: pa.ChunkedArray | pa.Array, detail: str = "") -> None:
        """Record ``rule`` on ``column``: a violation if any row of ``mask`` is True."""
        mask = pc.fill_null(mask, False)
        bad = int(pc.sum(mask).as_py() or 0)
        self.result.rules[rule] = self.result.rules.get(rule, True) and bad == 0
        if bad:
            self.result.violations.append(
                RuleViolation(self.spec.name, column, rule, bad, self.examples(mask), detail, self.example_name())
            )

    def example_name(self) -> str:
        return self.spec.key if self.has(self.spec.key) else "rows"

    def examples(self, mask: pa.ChunkedArray | pa.Array) -> tuple[str, ...]:
        """A few distinct key values of the offending rows (their positions if keys are missing)."""
        if self.has(self.spec.key):
            keys = pc.unique(self.table.column(self.spec.key).filter(mask).drop_null())
            values = keys.slice(0, self.example_ids).to_pylist()
            if values:
                return tuple(str(v) for v in values)
        positions = pc.indices_nonzero(mask).slice(0, self.example_ids).to_pylist()
        return tuple(f"#{p}" for p in positions)


def conform_soft(spec: TableContract, table: pa.Table, checker: TableChecker) -> pa.Table:
    """Check column presence and types; return the contract columns that could be read, cast.

    A missing column, or one stored with another type, is a violation; a column that can be
    cast to the contract's type is still handed to the other rules, one that cannot is not.
    """
    columns: dict[str, pa.ChunkedArray] = {}
    for contract_field in spec.schema:
        name = contract_field.name
        if name not in table.column_names:
            checker.whole_column(name, R_PRESENCE, "column missing")
            continue
        checker.passed(R_PRESENCE)
        column = table.column(name)
        if column.type == contract_field.type:
            checker.passed(R_TYPES)
            columns[name] = column
            continue
        detail = f"stored as {column.type}, contract says {contract_field.type}"
        checker.whole_column(name, R_TYPES, detail)
        overflow = float_overflow(column, contract_field.type)
        if overflow is not None:
            checker.record(R_OVERFLOW, name, overflow, f"finite as {column.type}, inf as {contract_field.type}")
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            columns[name] = column.cast(contract_field.type)
    return pa.table(columns)


def check_missing(checker: TableChecker, max_share: float) -> None:
    """No column (except the contract's nullable ones) is missing in more than ``max_share`` of rows."""
    table = checker.table
    for name in table.column_names:
        if name in checker.spec.nullable or table.num_rows == 0:
            continue
        column = table.column(name)
        mask = pc.is_null(column, nan_is_null=True)
        share = (pc.sum(mask).as_py() or 0) / table.num_rows
        if share > max_share:
            checker.record(R_MISSING, name, mask, f"{share:.1%} missing, limit {max_share:.1%}")
        else:
            checker.passed(R_MISSING)


def check_unique_key(checker: TableChecker, earlier_keys: pa.Array | None) -> None:
    """The key does not repeat within the partition, nor (if given) a key of an earlier day."""
    key = checker.spec.key
    if checker.spec.name not in UNIQUE_KEY_TABLES or not checker.has(key):
        return
    column = checker.table.column(key)
    if len(pc.unique(column)) == len(column):
        checker.passed(R_UNIQUE)
    else:
        _record_repeated(checker, key, column)
    if earlier_keys is not None and len(earlier_keys):
        mask = pc.is_in(column, value_set=earlier_keys, skip_nulls=True)
        checker.record(R_UNIQUE, key, mask, "already used on an earlier day")


def _record_repeated(checker: TableChecker, key: str, column: pa.ChunkedArray) -> None:
    """Rows whose key another row of the partition has too (missing keys are not repeats)."""
    counts = checker.table.select([key]).group_by(key).aggregate([(key, "count")])
    repeated = counts.filter(pc.greater(counts[f"{key}_count"], 1)).column(key)
    mask = pc.is_in(column, value_set=repeated, skip_nulls=True)
    checker.record(R_UNIQUE, key, mask, "repeated within the day")


def _finite(column: pa.ChunkedArray, mask: pa.ChunkedArray) -> pa.ChunkedArray:
    """``mask`` without the infinite values of ``column`` (they are the finite rule's)."""
    return pc.and_(mask, pc.is_finite(column)) if pa.types.is_floating(column.type) else mask


def check_non_negative(checker: TableChecker) -> None:
    """The contract's non-negative columns hold no (finite) value below zero."""
    for name in checker.spec.non_negative:
        if checker.has(name):
            column = checker.table.column(name)
            checker.record(R_NON_NEGATIVE, name, _finite(column, pc.less(column, 0)), "value below 0")


def check_finite(checker: TableChecker) -> None:
    """Floating-point columns hold no inf or -inf (NaN counts as missing: the missing-values rule)."""
    for name in checker.spec.float_columns:
        if checker.has(name):
            checker.record(R_FINITE, name, pc.is_inf(checker.table.column(name)), "inf or -inf")


def check_range(checker: TableChecker) -> None:
    """Numeric columns stay at or below their declared upper bound (inf is the finite rule's)."""
    for name, high in checker.spec.upper_bounds:
        if not checker.has(name):
            continue
        column = checker.table.column(name)
        checker.record(R_RANGE, name, _finite(column, pc.greater(column, high)), f"value above {high:,.0f}")


def check_not_future(checker: TableChecker, day: dt.date, today: dt.date) -> None:
    """A raw partition is not dated after today: facts of tomorrow cannot have happened yet."""
    if day > today:
        detail = f"partition dated {day.isoformat()}, after today {today.isoformat()} (UTC)"
        checker.whole_column("", R_FUTURE, detail)
    else:
        checker.passed(R_FUTURE)


def utc_today() -> dt.date:
    """Today's date in UTC."""
    return dt.datetime.now(dt.UTC).date()


def check_time(checker: TableChecker, day: dt.date) -> None:
    """Facts happen on the partition date; customers signed up on or before it."""
    name = checker.spec.time_column
    if name is None or not checker.has(name):
        return
    column = checker.table.column(name)
    when = pa.scalar(day, pa.date32())
    if checker.spec.kind == "fact":
        dates = column if pa.types.is_date(column.type) else pc.cast(column, pa.date32())
        checker.record(R_TIME, name, pc.not_equal(dates, when), f"not on {day.isoformat()}")
    else:
        checker.record(R_SIGNUP, name, pc.greater(column, when), f"after {day.isoformat()}")


def check_known(checker: TableChecker, refs: References, day: dt.date) -> None:
    """Customer and product ids name a customer signed up by ``day`` and a product on sale."""
    name = checker.spec.name
    if name in ("transactions", "usage", "events") and checker.has("customer_id"):
        known = refs.customer_ids if refs.customer_ids is not None else pa.array([], pa.int64())
        mask = pc.invert(pc.is_in(checker.table.column("customer_id"), value_set=known))
        detail = f"no customer with this id signed up on or before {day.isoformat()}"
        checker.record(R_KNOWN_CUSTOMER, "customer_id", _non_null(mask, checker, "customer_id"), detail)
    if name in ("transactions", "events") and checker.has("product_id"):
        known = refs.product_ids if refs.product_ids is not None else pa.array([], pa.int64())
        mask = pc.invert(pc.is_in(checker.table.column("product_id"), value_set=known))
        if refs.catalogue_day is None:
            detail = f"no product catalogue on or before {day.isoformat()}"
        else:
            detail = f"not in the catalogue of {refs.catalogue_day.isoformat()} in force on {day.isoformat()}"
        checker.record(R_KNOWN_PRODUCT, "product_id", _non_null(mask, checker, "product_id"), detail)


def check_allowed(checker: TableChecker) -> None:
    """Columns with a closed vocabulary hold only its words."""
    for (table, name), allowed in ALLOWED_VALUES.items():
        if table == checker.spec.name and checker.has(name):
            mask = pc.invert(pc.is_in(checker.table.column(name), value_set=pa.array(allowed)))
            checker.record(R_ALLOWED, name, _non_null(mask, checker, name), f"allowed: {', '.join(allowed)}")


def _non_null(mask: pa.ChunkedArray, checker: TableChecker, column: str) -> pa.ChunkedArray:
    """``mask`` restricted to rows where ``column`` has a value (nulls are the missing rule's job)."""
    return pc.and_(mask, pc.is_valid(checker.table.column(column)))


def check_table(
    spec: TableContract,
    table: pa.Table,
    day: dt.date,
    refs: References,
    max_missing_share: float,
    example_ids: int,
    today: dt.date | None = None,
) -> TableCheck:
    """Run every rule of ``spec`` on one partition's ``table`` and collect all violations.

    ``today`` (default: today in UTC) is the newest partition date allowed.
    """
    checker = TableChecker(spec, table, example_ids)
    check_not_future(checker, day, today or utc_today())
    checker.table = conform_soft(spec, table, checker)
    check_missing(checker, max_missing_share)
    check_unique_key(checker, refs.earlier_keys)
    check_finite(checker)
    check_non_negative(checker)
    check_range(checker)
    check_time(checker, day)
    check_known(checker, refs, day)
    check_allowed(checker)
    return checker.result
