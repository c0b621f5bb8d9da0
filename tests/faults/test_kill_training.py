"""SIGKILL of ``mlops train churn --run-key K`` at seeded points, right after it registered, and two
trainings of the same key at once.

After each trial the lake is whole, and once the training of the key was rerun the registry
holds exactly one judged version of the key (``gate_decision`` and ``gate_reason`` set), no run of
the key is left RUNNING, and the champion moved at most once for it.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fault_checks import broken_partitions, key_versions, registry_problems
from fault_helpers import TrialLog, World, kill_after, kill_group, kill_points, run, start

POINTS = 3
MODEL = "churn"


@dataclass(frozen=True)
class Trainer:
    """The world the trainings run in and the schedule of kill points."""

    world: World
    points: list[float]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory, world: World, fault_seed: int) -> Trainer:
    """A copy of the world, and the duration of one training there (with a champion to beat)."""
    copy = world.copy(tmp_path_factory.mktemp("train"))
    result = run(copy.env, "train", MODEL, "--run-key", "reference")
    assert result.code == 0, result.output[-2000:]
    return Trainer(copy, kill_points(fault_seed + 3, POINTS, result.seconds, low=0.2))


def state_of(world: World, key: str) -> str:
    """The versions of ``key`` as a short text: ``no version``, ``v3 judged``, ``v3 unjudged``."""
    versions = key_versions(world.tracking_uri, MODEL, key)
    if not versions:
        return "no version"
    return ", ".join(f"v{v['version']} {'judged' if v.get('gate_decision') else 'unjudged'}" for v in versions)


def heal_and_check(world: World, key: str) -> list[str]:
    """Rerun the training of ``key``; what is wrong with the lake or the registry afterwards."""
    problems = [f"after the kill: {p}" for p in broken_partitions(world.lake)]
    rerun = run(world.env, "train", MODEL, "--run-key", key)
    if rerun.code != 0:
        problems.append(f"the rerun failed: {rerun.tail()}")
    problems += [f"after the rerun: {p}" for p in broken_partitions(world.lake)]
    return problems + registry_problems(world.tracking_uri, MODEL, key)


def wait_for_version(world: World, key: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll the registry until ``key`` has a version; False if the process ended or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if key_versions(world.tracking_uri, MODEL, key):
                return True
        except Exception:  # noqa: BLE001 - SQLite may be locked by the writer for a moment
            pass
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("point", range(POINTS))
def test_a_training_killed_anywhere_is_healed_by_its_rerun(trainer: Trainer, point: int, trial_log: TrialLog) -> None:
    started, key, delay = time.monotonic(), f"kill-{point}", trainer.points[point]
    killed = kill_after(start(trainer.world.env, "train", MODEL, "--run-key", key), delay)
    fault = f"SIGKILL at {delay:.2f} s ({state_of(trainer.world, key)})" if killed else f"none (ended by {delay:.2f} s)"
    problems = heal_and_check(trainer.world, key)
    trial_log.record(f"kill train #{point}", f"mlops train {MODEL}", fault, problems, time.monotonic() - started)
    assert not problems, problems


def test_a_training_killed_right_after_registering_is_judged_by_its_rerun(
    trainer: Trainer, trial_log: TrialLog
) -> None:
    started, key = time.monotonic(), "kill-registered"
    proc = start(trainer.world.env, "train", MODEL, "--run-key", key)
    registered = wait_for_version(trainer.world, key, proc, timeout=120)
    kill_group(proc)
    fault = f"SIGKILL once registered ({state_of(trainer.world, key)})" if registered else "none (no version seen)"
    problems = heal_and_check(trainer.world, key)
    trial_log.record("kill train registered", f"mlops train {MODEL}", fault, problems, time.monotonic() - started)
    assert not problems, problems


def test_two_trainings_of_one_key_at_once_register_one_judged_version(
    trainer: Trainer, trial_log: TrialLog, tmp_path: Path
) -> None:
    started, key = time.monotonic(), "twins"
    logs = [tmp_path / f"twin-{i}.log" for i in range(2)]
    procs = [start(trainer.world.env, "train", MODEL, "--run-key", key, log=log) for log in logs]
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=150))
        except subprocess.TimeoutExpired:
            kill_group(proc)
            codes.append(-9)
    problems = [] if 0 in codes else [f"neither training succeeded (exit codes {codes})"]
    for code, log in zip(codes, logs, strict=True):
        errors = [line for line in log.read_text().splitlines() if line.startswith("error:")]
        if code != 0 and len(errors) != 1:
            problems.append(f"a twin failed (exit code {code}) without one error line")
    problems += [f"after both: {p}" for p in broken_partitions(trainer.world.lake)]
    problems += registry_problems(trainer.world.tracking_uri, MODEL, key)
    fault = f"two at once (exit codes {codes[0]}, {codes[1]})"
    trial_log.record("same key twice at once", f"mlops train {MODEL}", fault, problems, time.monotonic() - started)
    assert not problems, problems
