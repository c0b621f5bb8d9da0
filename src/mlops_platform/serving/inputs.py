"""Request parsing: every wrong input becomes one :class:`RequestError` naming the field.

A ``/predict`` body is ``{"rows": [row, ...]}``, each row in the form of the model's snapshot
row: the model's feature columns (others are ignored) with the snapshot's types: a number (or
null) for numeric columns, a string (or null) for text columns, true/false for boolean ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa


@dataclass
class RequestError(Exception):
    """A request the service refuses: the HTTP status, a one-line message and the field at fault."""

    status: int
    message: str
    field: str | None = None
    kind: str = "invalid"

    def body(self) -> dict[str, Any]:
        found: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            found["field"] = self.field
        return found


def invalid(field: str, message: str) -> RequestError:
    return RequestError(422, f"{field}: {message}", field)


def customer_id(text: str) -> int:
    """The customer id of a path (an integer)."""
    try:
        return int(text)
    except ValueError:
        raise invalid("customer_id", f"expected an integer id, got {text!r}") from None


def top_n(text: str | None, limit: int, default: int = 5) -> int:
    """The ``n`` query parameter: 1 .. ``limit``."""
    if text is None:
        return min(default, limit)
    try:
        n = int(text)
    except ValueError:
        raise invalid("n", f"expected an integer, got {text!r}") from None
    if not 1 <= n <= limit:
        raise invalid("n", f"must be between 1 and {limit}, got {n}")
    return n


def _kind(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    return "string"


def _check_value(value: Any, kind: str) -> bool:
    if value is None:
        return True
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    return isinstance(value, str)


def _coerce(value: Any, kind: str) -> Any:
    """A whole float given for an integer column, as an int (Arrow would refuse the float)."""
    return int(value) if kind == "integer" and isinstance(value, float) else value


def parse_json(body: bytes) -> Any:
    """The JSON document of ``body``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid("body", f"malformed JSON ({exc})") from None


def rows(document: Any, schema: pa.Schema, max_rows: int) -> list[dict[str, Any]]:
    """The rows of a ``/predict`` body, checked against the model's feature types.

    Returns:
        One dict per row holding exactly the feature columns, in the schema's order.
    """
    if not isinstance(document, dict) or "rows" not in document:
        raise invalid("rows", 'the body must be a JSON object {"rows": [{...}, ...]}')
    given = document["rows"]
    if not isinstance(given, list) or not given:
        raise invalid("rows", "expected a non-empty list of rows")
    if len(given) > max_rows:
        raise invalid("rows", f"at most {max_rows} rows per request, got {len(given)}")
    kinds = {f.name: _kind(f.type) for f in schema}
    checked = []
    for i, row in enumerate(given):
        if not isinstance(row, dict):
            raise invalid(f"rows[{i}]", f"expected an object of feature values, got {type(row).__name__}")
        missing = [name for name in kinds if name not in row]
        if missing:
            raise invalid(f"rows[{i}].{missing[0]}", f"missing (the model needs {', '.join(missing)})")
        for name, kind in kinds.items():
            if not _check_value(row[name], kind):
                raise invalid(f"rows[{i}].{name}", f"expected a {kind} or null, got {row[name]!r}")
        checked.append({name: _coerce(row[name], kind) for name, kind in kinds.items()})
    return checked
