"""The bad-input corpus: each input is refused with one clear line and nothing stored changes.

Every case runs one command against its own copy of a world that holds a day of churn scores
(for two cases, over a snapshot emptied to 0 rows first). It must exit non-zero with one
``error:`` line (or typer's usage error) and leave every file of the lake as it was; a training
must register no version and start no run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fault_checks import file_digests, lake_changes, run_count, version_count
from fault_helpers import TrialLog, World, command_label, edited_config, error_problems, run

from mlops_platform.storage import ObjectStore

USAGE_DAY = "2025-03-03"


@dataclass(frozen=True)
class BadWorld:
    """One case's world, the scored snapshot's date, the session's config copy, a folder for files."""

    world: World
    scored_day: str
    config: Path
    files: Path


@dataclass(frozen=True)
class Case:
    """One bad input: the command, what to change in its environment, and a config edit."""

    args: Callable[[BadWorld], tuple[str, ...]]
    env: Callable[[BadWorld], dict[str, str]] = lambda _w: {}
    config: tuple[str, Callable[[dict[str, Any]], None]] | None = None
    drop_env: tuple[str, ...] = field(default=())
    prepare: Callable[[BadWorld], None] = lambda _w: None


def usage_file(bad: BadWorld, name: str, edit: Callable[[pa.Table], pa.Table]) -> str:
    """A parquet file made of the usage partition of ``USAGE_DAY`` passed through ``edit``."""
    table = ObjectStore(bad.world.env["MLOPS_STORAGE_URI"]).read_partition(f"raw/usage/date={USAGE_DAY}")
    path = bad.files / name
    pq.write_table(edit(table), path)
    return str(path)


def empty_the_snapshot(bad: BadWorld) -> None:
    """Replace the scored snapshot with a committed 0-row one (as an older writer could leave it)."""
    store = ObjectStore(bad.world.env["MLOPS_STORAGE_URI"])
    partition = f"features/customer/date={bad.scored_day}"
    store.write_partition(partition, store.read_partition(partition).slice(0, 0))


def emptied(table: pa.Table) -> pa.Table:
    return table.slice(0, 0)


def huge(table: pa.Table) -> pa.Table:
    values = pc.cast(table["data_mb"], pa.float64()).to_pylist()
    values[0] = 1e300
    return table.set_column(table.schema.get_field_index("data_mb"), "data_mb", pa.array(values, pa.float64()))


def dated(day: dt.date) -> Callable[[pa.Table], pa.Table]:
    def edit(table: pa.Table) -> pa.Table:
        column = pa.array([day] * table.num_rows, pa.date32())
        return table.set_column(table.schema.get_field_index("date"), "date", column)

    return edit


FUTURE = dt.date.today() + dt.timedelta(days=5 * 365)
SMALL_GENERATE = ("data", "generate", "--customers", "20", "--days", "2", "--seed", "1")


def set_gate_metric(data: dict[str, Any]) -> None:
    data["churn"]["gate"]["metric"] = "roc_aucc"


def set_negative_trees(data: dict[str, Any]) -> None:
    data["churn"]["params"] = {**data["churn"]["params"], "n_estimators": -4, "early_stopping_rounds": 5}


def set_unknown_section(data: dict[str, Any]) -> None:
    data["retention"] = {"days": 30}


CASES = {
    "load an empty parquet over a full partition": Case(
        lambda b: (
            "data",
            "load",
            "usage",
            usage_file(b, "empty.parquet", emptied),
            "--date",
            USAGE_DAY,
        )
    ),
    "load data_mb = 1e300": Case(
        lambda b: ("data", "load", "usage", usage_file(b, "huge.parquet", huge), "--date", USAGE_DAY)
    ),
    "features check on a 0-row snapshot": Case(
        lambda b: ("features", "check", "--date", b.scored_day), prepare=empty_the_snapshot
    ),
    "score a 0-row snapshot": Case(lambda b: ("score", "churn", "--date", b.scored_day), prepare=empty_the_snapshot),
    'train --as-of ""': Case(lambda _b: ("train", "churn", "--as-of", "", "--run-key", "bad-as-of")),
    "a raw partition 5 years ahead": Case(
        lambda b: (
            "data",
            "load",
            "usage",
            usage_file(b, "future.parquet", dated(FUTURE)),
            "--date",
            FUTURE.isoformat(),
        )
    ),
    "platform.yaml with an unknown top-level key": Case(
        lambda _b: SMALL_GENERATE, config=("platform.yaml", set_unknown_section)
    ),
    "MLOPS_STORGE_URI set": Case(
        lambda _b: SMALL_GENERATE, env=lambda b: {"MLOPS_STORGE_URI": f"file://{b.files / 'other-lake'}"}
    ),
    "gate metric roc_aucc in models.yaml": Case(
        lambda _b: ("train", "churn", "--run-key", "bad-gate"), config=("models.yaml", set_gate_metric)
    ),
    "n_estimators: -4 in models.yaml": Case(
        lambda _b: ("train", "churn", "--run-key", "bad-params"),
        config=("models.yaml", set_negative_trees),
        drop_env=("MLOPS_CHURN_PARAMS",),
    ),
}


@pytest.fixture(scope="module")
def scored_world(tmp_path_factory: pytest.TempPathFactory, world: World) -> tuple[World, str]:
    """A copy of the world with churn scores of its newest snapshot; that snapshot's date."""
    copy = world.copy(tmp_path_factory.mktemp("bad-inputs"))
    day = copy.snapshot_dates()[-1]
    result = run(copy.env, "score", "churn", "--date", day)
    assert result.code == 0, result.output[-2000:]
    return copy, day


@pytest.fixture
def bad_world(scored_world: tuple[World, str], config_dir: Path, tmp_path: Path) -> BadWorld:
    """This case's own copy of the scored world (a refused case must not be seen by the next)."""
    (tmp_path / "files").mkdir()
    return BadWorld(scored_world[0].copy(tmp_path / "world"), scored_world[1], config_dir, tmp_path / "files")


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_with_one_line_and_changes_nothing(
    bad_world: BadWorld, name: str, tmp_path: Path, trial_log: TrialLog
) -> None:
    started, case, world = time.monotonic(), CASES[name], bad_world.world
    with trial_log.crash_noted(f"bad input: {name}", "(setting up)"):
        case.prepare(bad_world)
        env = {k: v for k, v in world.env.items() if k not in case.drop_env}
        if case.config is not None:
            env["MLOPS_CONFIG_DIR"] = str(edited_config(bad_world.config, tmp_path / "config", *case.config))
        env.update(case.env(bad_world))
        args = case.args(bad_world)
    before = file_digests(world.lake), version_count(world.tracking_uri, "churn"), run_count(world.tracking_uri)
    result = run(env, *args)
    after = file_digests(world.lake), version_count(world.tracking_uri, "churn"), run_count(world.tracking_uri)
    problems = error_problems(result) + lake_changes(before[0], after[0])
    if after[1] != before[1]:
        problems.append(f"{after[1] - before[1]} version(s) registered")
    if after[2] != before[2]:
        problems.append(f"{after[2] - before[2]} run(s) started")
    trial_log.record(f"bad input: {name}", command_label(args), "bad input", problems, time.monotonic() - started)
    assert not problems, problems
