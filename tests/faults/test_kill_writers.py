"""SIGKILL of ``data generate``, ``features build`` and ``score`` at seeded points of their run.

Each trial kills the command, checks that every partition is absent or complete, reruns the
same command and checks that it succeeds with the reference run's content. The first trial of
a command kills first writes into partitions that do not exist yet; the next ones kill
replacements of complete partitions (the lake the previous rerun healed).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pytest
from fault_checks import broken_partitions, fingerprint, fingerprint_changes
from fault_helpers import GENERATE, TrialLog, World, kill_after, kill_points, run, start

POINTS = 4


@dataclass(frozen=True)
class Bench:
    """A command, the lake its trials run on, and what a complete run of it leaves there."""

    label: str
    args: tuple[str, ...]
    trial: World
    under: str
    reference: dict[str, str]
    points: list[float]


def make_bench(label: str, args: tuple[str, ...], under: str, reference: World, trial: World, seed: int) -> Bench:
    """Run ``args`` once to its end in ``reference`` (timing it) for the content and the schedule."""
    result = run(reference.env, *args)
    assert result.code == 0, result.output[-2000:]
    found = fingerprint(reference.lake, under)
    assert found, f"mlops {label} wrote nothing under {under}"
    return Bench(label, args, trial, under, found, kill_points(seed, POINTS, result.seconds))


def kill_trial(bench: Bench, point: int, log: TrialLog) -> None:
    """Kill at the scheduled point, check the lake, rerun, compare with the reference content."""
    started = time.monotonic()
    delay = bench.points[point]
    killed = kill_after(start(bench.trial.env, *bench.args), delay)
    problems = [f"after the kill: {p}" for p in broken_partitions(bench.trial.lake)]
    rerun = run(bench.trial.env, *bench.args)
    if rerun.code != 0:
        problems.append(f"the rerun failed: {rerun.tail()}")
    else:
        problems += [f"after the rerun: {p}" for p in broken_partitions(bench.trial.lake)]
        problems += fingerprint_changes(bench.reference, fingerprint(bench.trial.lake, bench.under))
    fault = f"SIGKILL at {delay:.2f} s" if killed else f"none (ended by {delay:.2f} s)"
    log.record(f"kill {bench.args[0]} #{point}", f"mlops {bench.label}", fault, problems, time.monotonic() - started)
    assert not problems, problems


@pytest.fixture(scope="module")
def generate_bench(
    tmp_path_factory: pytest.TempPathFactory, base_env: dict[str, str], world: World, fault_seed: int
) -> Bench:
    """The world was generated with the same command: its raw partitions are the reference."""
    trial = World.at(tmp_path_factory.mktemp("generate"), base_env)
    points = kill_points(fault_seed, POINTS, world.seconds["data"])
    return Bench("data generate", GENERATE, trial, "raw/", fingerprint(world.lake, "raw/"), points)


@pytest.fixture(scope="module")
def features_bench(tmp_path_factory: pytest.TempPathFactory, world: World, fault_seed: int) -> Bench:
    root = tmp_path_factory.mktemp("features")
    reference, trial = world.copy(root / "ref"), world.copy(root / "trial")
    last = dt.date.fromisoformat(world.snapshot_dates()[-1])
    first = last - dt.timedelta(days=5)
    args = ("features", "build", "--start", first.isoformat(), "--end", last.isoformat())
    return make_bench("features build", args, "features/", reference, trial, fault_seed + 1)


@pytest.fixture(scope="module")
def score_bench(tmp_path_factory: pytest.TempPathFactory, world: World, fault_seed: int) -> Bench:
    root = tmp_path_factory.mktemp("score")
    reference, trial = world.copy(root / "ref"), world.copy(root / "trial")
    args = ("score", "churn", "--date", world.snapshot_dates()[-1])
    return make_bench("score churn", args, "scores/", reference, trial, fault_seed + 2)


@pytest.mark.parametrize("point", range(POINTS))
def test_data_generate_killed_anywhere_leaves_whole_partitions_and_heals(generate_bench, point, trial_log) -> None:
    kill_trial(generate_bench, point, trial_log)


@pytest.mark.parametrize("point", range(POINTS))
def test_features_build_killed_anywhere_leaves_whole_partitions_and_heals(features_bench, point, trial_log) -> None:
    kill_trial(features_bench, point, trial_log)


@pytest.mark.parametrize("point", range(POINTS))
def test_score_killed_anywhere_leaves_whole_partitions_and_heals(score_bench, point, trial_log) -> None:
    kill_trial(score_bench, point, trial_log)
