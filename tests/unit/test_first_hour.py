"""A new user's first hour: the demo lake's marker and live feed, days that cannot come, the
champions event, and task logs (the pieces behind the DAGs, without Airflow running)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.data.generate import (
    DEMO_MARKER,
    GeneratorConfig,
    TelcoSimulator,
    demo_config,
    extend_demo_lake,
    generate_to_store,
)
from mlops_platform.data.raw import raw_dates, write_raw
from mlops_platform.errors import InputError
from mlops_platform.features.snapshot import DATASET as SNAPSHOTS
from mlops_platform.orchestration import plans
from mlops_platform.storage import ObjectStore, date_partition

START = dt.date(2025, 1, 1)
CONFIG = GeneratorConfig(customers=60, days=5, seed=3, start=START)
TODAY = dt.date(2025, 3, 1)


@pytest.fixture
def demo(tmp_path: Path) -> ObjectStore:
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    generate_to_store(store, CONFIG)
    return store


@pytest.fixture
def real(tmp_path: Path) -> ObjectStore:
    """A lake with raw data of its own (copied from a demo day) and no marker."""
    source = ObjectStore(f"file://{tmp_path / 'source'}")
    generate_to_store(source, CONFIG)
    store = ObjectStore(f"file://{tmp_path / 'real'}")
    for day in raw_dates(source, "transactions"):
        write_raw(store, "transactions", day, source.read_partition(date_partition("raw/transactions", day)))
    return store


def test_a_generated_lake_is_marked_with_its_options(demo: ObjectStore) -> None:
    assert demo.exists(DEMO_MARKER)
    assert demo_config(demo) == CONFIG


def test_extending_adds_the_next_days_exactly_as_one_longer_simulation_gives_them(demo: ObjectStore) -> None:
    before = {d: demo.manifest(date_partition("raw/usage", d)) for d in raw_dates(demo, "usage")}

    written = extend_demo_lake(demo, START + dt.timedelta(days=6))

    assert written == [START + dt.timedelta(days=5), START + dt.timedelta(days=6)]
    assert raw_dates(demo, "transactions")[-1] == START + dt.timedelta(days=6)
    # the days already there are kept as they were (same attempt), not regenerated
    assert {d: demo.manifest(date_partition("raw/usage", d)) for d in before} == before
    simulator = TelcoSimulator(CONFIG)
    expected = [simulator.day(t) for t in range(7)][-1].tables["usage"]
    got = demo.read_partition(date_partition("raw/usage", START + dt.timedelta(days=6)))
    assert got.sort_by("customer_id").select(expected.column_names).equals(expected.sort_by("customer_id"))
    assert extend_demo_lake(demo, START + dt.timedelta(days=6)) == []


def test_a_real_lake_is_never_extended_or_fed(real: ObjectStore) -> None:
    before = raw_dates(real, "transactions")

    with pytest.raises(InputError, match="not a demo lake"):
        extend_demo_lake(real, START + dt.timedelta(days=20))
    assert plans.feed_demo_lake(real, START + dt.timedelta(days=20), TODAY).startswith("real lake")
    assert raw_dates(real, "transactions") == before
    assert not real.exists(DEMO_MARKER)


def test_the_feed_never_goes_past_yesterday(demo: ObjectStore) -> None:
    today = START + dt.timedelta(days=7)

    note = plans.feed_demo_lake(demo, today + dt.timedelta(days=3), today)

    assert "2 new raw day(s)" in note
    assert raw_dates(demo, "transactions")[-1] == today - dt.timedelta(days=1)


def test_a_broken_marker_is_one_clear_error(tmp_path: Path) -> None:
    store = ObjectStore(f"file://{tmp_path}")
    store.put_bytes(DEMO_MARKER, b'{"customers": "many"}')

    with pytest.raises(InputError, match="_demo.json is not a demo-lake marker"):
        demo_config(store)


def test_the_cli_generates_a_history_ending_yesterday_and_extends_only_demo_lakes(tmp_path: Path) -> None:
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    env = {"MLOPS_STORAGE_URI": f"file://{tmp_path / 'lake'}"}
    runner = CliRunner()

    made = runner.invoke(app, ["data", "generate", "--customers", "40", "--days", "3", "--end", "yesterday"], env=env)

    assert made.exit_code == 0, made.output
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    assert raw_dates(store, "transactions") == [yesterday - dt.timedelta(days=i) for i in (2, 1, 0)]
    again = runner.invoke(app, ["data", "extend"], env=env)
    assert again.exit_code == 0 and "up to date" in again.output, again.output
    future = runner.invoke(
        app, ["data", "extend", "--through", (yesterday + dt.timedelta(days=1)).isoformat()], env=env
    )
    assert future.exit_code == 1 and "after yesterday" in future.output
    (tmp_path / "real").mkdir()
    refused = runner.invoke(app, ["data", "extend"], env={"MLOPS_STORAGE_URI": f"file://{tmp_path / 'real'}"})
    assert refused.exit_code == 1
    assert "not a demo lake" in refused.output
    both = runner.invoke(app, ["data", "generate", "--start", "2025-01-01", "--end", "yesterday"], env=env)
    assert both.exit_code != 0 and "--start or --end" in both.output


# -- days that cannot come -----------------------------------------------------------------------


def test_raw_days_before_the_lake_or_after_today_can_never_come(demo: ObjectStore) -> None:
    assert "before the lake's first raw day" in plans.raw_day_unreachable(demo, START, TODAY)
    assert "after today" in plans.raw_day_unreachable(demo, TODAY + dt.timedelta(days=2), TODAY)
    assert plans.raw_day_unreachable(demo, TODAY + dt.timedelta(days=1), TODAY) is None  # today's data: tonight
    # a demo lake far behind is fed by its demo_feed task: the day will come
    assert plans.raw_day_unreachable(demo, START + dt.timedelta(days=30), TODAY) is None


def test_a_real_lake_far_behind_will_not_get_the_day(real: ObjectStore) -> None:
    newest = raw_dates(real, "transactions")[-1]

    assert plans.raw_day_unreachable(real, newest + dt.timedelta(days=2), TODAY) is None  # the next day: may come
    reason = plans.raw_day_unreachable(real, newest + dt.timedelta(days=10), TODAY)
    assert reason and f"newest raw day is {newest}" in reason and "9 days before" in reason


def test_an_empty_lake_cannot_get_a_snapshot(tmp_path: Path) -> None:
    store = ObjectStore(f"file://{tmp_path}")

    assert "no snapshot yet" in plans.snapshot_missing(store, None)
    assert "no committed day at all" in plans.raw_day_unreachable(store, TODAY, TODAY)


def test_a_snapshot_is_missing_until_the_one_asked_for_is_committed(demo: ObjectStore) -> None:
    import pyarrow as pa

    day = START + dt.timedelta(days=3)
    assert plans.snapshot_missing(demo, None) is not None
    demo.write_partition(date_partition(SNAPSHOTS, day), pa.table({"customer_id": [1]}))
    assert plans.snapshot_missing(demo, None) is None
    assert plans.snapshot_missing(demo, day) is None
    assert f"no snapshot of {day + dt.timedelta(days=1)}" in plans.snapshot_missing(demo, day + dt.timedelta(days=1))


def test_warm_up_builds_the_last_snapshots_and_the_newest_closed_labels() -> None:
    raw = [START + dt.timedelta(days=i) for i in range(60)]
    after = raw[-1] + dt.timedelta(days=1)

    snapshots, labels = plans.warmup_dates(raw, horizon_days=30)

    assert labels == [after - dt.timedelta(days=30)]
    assert snapshots == sorted([after - dt.timedelta(days=30), after - dt.timedelta(days=2), raw[-1], after])
    assert plans.warmup_dates(raw[:10], horizon_days=30) == ([raw[8], raw[9], raw[9] + dt.timedelta(days=1)], [])
    assert plans.warmup_dates([], 30) == ([], [])


# -- the champions event -------------------------------------------------------------------------


def _event(extra: dict) -> SimpleNamespace:
    return SimpleNamespace(extra=extra)


def test_only_the_models_the_gate_promoted_are_announced() -> None:
    rows = [
        {"model": "churn", "version": "2", "gate_decision": "promoted", "champion": "2"},
        {"model": "revenue", "version": "2", "gate_decision": "rejected", "champion": "1"},
        {"model": "conversion", "version": None, "gate_decision": "not trained", "champion": None},
    ]

    assert plans.promoted_models(rows) == {"churn": "2"}
    assert plans.promoted_models(rows[1:]) == {}


def test_a_run_started_by_champion_events_alone_scores_only_the_promoted_models() -> None:
    champions = {"registry/champions": [_event({"promoted": {"churn": "2"}}), _event({"promoted": {"revenue": "3"}})]}
    features = {"features/customer": [_event({"date": "2025-04-11"})]}

    assert plans.champion_event_models(champions) == ["churn", "revenue"]
    assert plans.champion_event_models({**champions, **features}) is None
    assert plans.champion_event_models(None) is None
    # the champions event carries no date: the newest snapshot is scored
    assert plans.event_dates(champions) == []


# -- task logs -----------------------------------------------------------------------------------


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_command_output_goes_to_the_task_logger_at_info_and_only_errors_at_error() -> None:
    from mlops_dags.runner import _LogLines, plain_line

    logger = logging.getLogger("tests.first_hour")  # the runner hands its lines to airflow.task
    kept = _Kept()
    logger.addHandler(kept)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        err = _LogLines(logger, errors=True)
        err.write("2026/01/01 INFO mlflow.store: Creating initial tables\nerror: raw day 2025-01-02 is ")
        err.write("missing\n\n")
        out = _LogLines(logger, errors=False)
        out.write("\U0001f3c3 View run x at: http://127.0.0.1:5000/#/experiments/1\n┏━━━┓\n┃ a ┃\nlast")
        out.close()
    finally:
        logger.removeHandler(kept)

    records = [(r.levelname, r.getMessage()) for r in kept.records]
    assert records == [
        ("INFO", "2026/01/01 INFO mlflow.store: Creating initial tables"),
        ("ERROR", "error: raw day 2025-01-02 is missing"),
        ("INFO", "View run x at: http://127.0.0.1:5000/#/experiments/1"),
        ("INFO", "+---+"),
        ("INFO", "| a |"),
        ("INFO", "last"),
    ]
    assert plain_line("plain text, 12 %") == "plain text, 12 %"


def test_a_bad_command_line_fails_without_retries() -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from mlops_dags.runner import MlopsCommandFailed, run_mlops

    with pytest.raises(AirflowFailException, match="No such option") as caught:
        run_mlops(["data", "extend", "--bogus"])
    assert isinstance(caught.value, MlopsCommandFailed)
