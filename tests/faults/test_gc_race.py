"""``mlops lake gc`` racing writers, and gc and ls refusing paths outside the lake.

While ``data generate`` writes (first writes into an empty lake, then replacements of complete
partitions), two loops of ``lake gc --grace-hours 0`` collect garbage back to back. Every
partition must still be whole afterwards: gc may only take files that no writer will commit.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from fault_checks import broken_partitions, file_digests, lake_changes
from fault_helpers import GENERATE, TrialLog, World, error_problems, kill_group, run, start

GC = ("lake", "gc", "--grace-hours", "0")


@pytest.fixture(scope="module")
def racing_world(tmp_path_factory: pytest.TempPathFactory, base_env: dict[str, str]) -> World:
    """An empty lake: the first round writes every partition for the first time."""
    return World.at(tmp_path_factory.mktemp("gc-race"), base_env)


def race(world: World, loops: int = 2, timeout: float = 150.0) -> tuple[int, list[int]]:
    """Run ``data generate`` with ``loops`` gc loops beside it; the writer's exit code and gc's."""
    writer = start(world.env, *GENERATE)
    collectors: list[subprocess.Popen[bytes]] = []
    codes: list[int] = []
    deadline = time.monotonic() + timeout
    while writer.poll() is None and time.monotonic() < deadline:
        for proc in [p for p in collectors if p.poll() is not None]:
            codes.append(proc.returncode)
            collectors.remove(proc)
        while len(collectors) < loops:
            collectors.append(start(world.env, *GC))
        time.sleep(0.05)
    if writer.poll() is None:
        kill_group(writer)
    for proc in collectors:
        codes.append(proc.wait(timeout=60))
    return int(writer.returncode), codes


@pytest.mark.parametrize("round_", ["first writes", "replacements"])
def test_gc_racing_a_writer_never_breaks_a_partition(racing_world: World, round_: str, trial_log: TrialLog) -> None:
    started = time.monotonic()
    writer_code, gc_codes = race(racing_world)
    problems = [] if writer_code == 0 else [f"the writer failed (exit code {writer_code})"]
    problems += broken_partitions(racing_world.lake)
    fault = f"{len(gc_codes)} gc passes ({gc_codes.count(0)} exit 0) during {round_}"
    trial_log.record(f"gc racing generate ({round_})", "mlops lake gc", fault, problems, time.monotonic() - started)
    assert not problems, problems


@pytest.mark.parametrize(
    ("args", "case"),
    [
        (("lake", "gc", "--grace-hours", "0", "--prefix", "../outside"), "gc --prefix ../outside"),
        (("lake", "ls", "../../etc"), "lake ls ../../etc"),
    ],
)
def test_paths_outside_the_lake_are_refused(
    world: World, tmp_path: Path, args: tuple[str, ...], case: str, trial_log: TrialLog
) -> None:
    started = time.monotonic()
    copy = world.copy(tmp_path / "world")
    outside = copy.root / "outside" / "date=2025-01-01"
    outside.mkdir(parents=True)
    (outside / "part-old-0000.parquet").write_bytes(b"not the lake's")
    before = {**file_digests(copy.lake), **file_digests(copy.root / "outside")}
    result = run(copy.env, *args)
    after = {**file_digests(copy.lake), **file_digests(copy.root / "outside")}
    problems = error_problems(result) + lake_changes(before, after)
    if result.code not in (0, 1):  # 0 is already named by error_problems
        problems.append(f"exit code {result.code}, not 1")
    trial_log.record(
        f"refuse {case}", f"mlops {' '.join(args[:2])}", "path outside the lake", problems, time.monotonic() - started
    )
    assert not problems, problems
