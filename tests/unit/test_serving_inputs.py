"""Request parsing and the bind rule of `mlops serve`: every wrong input names its field."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mlops_platform.errors import InputError
from mlops_platform.serving import inputs
from mlops_platform.serving.inputs import RequestError
from mlops_platform.serving.settings import ServeSettings, check_bind, is_loopback, parse_models

SCHEMA = pa.schema([("tenure_days", pa.float64()), ("clicks_7d", pa.int32()), ("segment", pa.string())])
ROW = {"tenure_days": 10.5, "clicks_7d": 3, "segment": "prepaid"}


def test_rows_keep_only_the_features_in_schema_order_and_turn_whole_floats_into_ints() -> None:
    got = inputs.rows({"rows": [{**ROW, "clicks_7d": 3.0, "extra": "ignored"}]}, SCHEMA, 10)
    assert got == [{"tenure_days": 10.5, "clicks_7d": 3, "segment": "prepaid"}]
    assert isinstance(got[0]["clicks_7d"], int)


def test_nulls_are_allowed_for_every_kind() -> None:
    assert inputs.rows({"rows": [dict.fromkeys(ROW)]}, SCHEMA, 10) == [dict.fromkeys(ROW)]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        pytest.param([ROW], "rows", id="a list, not an object"),
        pytest.param({"row": ROW}, "rows", id="no rows key"),
        pytest.param({"rows": ROW}, "rows", id="rows not a list"),
        pytest.param({"rows": [ROW, ROW, ROW]}, "rows", id="too many rows"),
        pytest.param({"rows": [ROW, "x"]}, "rows[1]", id="row not an object"),
        pytest.param({"rows": [{**ROW, "tenure_days": "10"}]}, "rows[0].tenure_days", id="string for a number"),
        pytest.param({"rows": [{**ROW, "tenure_days": True}]}, "rows[0].tenure_days", id="bool for a number"),
        pytest.param({"rows": [{**ROW, "clicks_7d": 2.5}]}, "rows[0].clicks_7d", id="fraction for an integer"),
        pytest.param({"rows": [{**ROW, "segment": 4}]}, "rows[0].segment", id="number for a string"),
        pytest.param({"rows": [{"tenure_days": 1.0}]}, "rows[0].clicks_7d", id="missing feature"),
    ],
)
def test_a_wrong_body_is_a_422_naming_the_field(document: object, field: str) -> None:
    with pytest.raises(RequestError) as caught:
        inputs.rows(document, SCHEMA, max_rows=2)
    assert caught.value.status == 422
    assert caught.value.field == field
    assert caught.value.message.startswith(field)


def test_malformed_json_is_a_422_on_the_body() -> None:
    with pytest.raises(RequestError, match="malformed JSON") as caught:
        inputs.parse_json(b'{"rows": [')
    assert caught.value.field == "body"


@pytest.mark.parametrize(("text", "n"), [(None, 5), ("1", 1), ("10", 10)])
def test_n_defaults_to_five_and_accepts_one_to_the_limit(text: str | None, n: int) -> None:
    assert inputs.top_n(text, limit=10) == n


@pytest.mark.parametrize("text", ["0", "11", "-1", "two"])
def test_n_outside_one_to_the_limit_is_refused(text: str) -> None:
    with pytest.raises(RequestError) as caught:
        inputs.top_n(text, limit=10)
    assert caught.value.field == "n"


def test_a_customer_id_must_be_an_integer() -> None:
    assert inputs.customer_id("123") == 123
    with pytest.raises(RequestError, match="expected an integer id, got '12a'"):
        inputs.customer_id("12a")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.org", False),
    ],
)
def test_loopback_is_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listening_off_loopback_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "token")
    with pytest.raises(InputError, match="MLOPS_SERVE_TOKEN"):
        check_bind("0.0.0.0", None)
    with pytest.raises(InputError, match="needs a bearer token"):
        ServeSettings(host="0.0.0.0")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": (), "recommender": None}, "no model to serve"),
        ({"poll_seconds": 0}, "--poll-seconds must be positive"),
        ({"timeout_seconds": -1}, "--timeout-seconds must be positive"),
        ({"max_body_bytes": 0}, "must be positive"),
        ({"token": " "}, "MLOPS_SERVE_TOKEN is set but empty"),
    ],
)
def test_settings_refuse_what_cannot_work(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ServeSettings(**kwargs)


def test_model_lists_drop_blanks_and_repeats() -> None:
    assert parse_models(" churn, ,conversion,churn") == ("churn", "conversion")
    assert parse_models("") == ()
