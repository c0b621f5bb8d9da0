"""What the fault trials share: the world they run in, the CLI as a subprocess, SIGKILL on a
seeded schedule, and the log of trials printed at the end of the session."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MLOPS = str(Path(sys.executable).parent / "mlops")
# Every subprocess of the suite ends within this many seconds, or the trial fails.
COMMAND_TIMEOUT = 150.0
# The world every trial starts from: 350 customers over 120 days from 2025-01-01.
CUSTOMERS, DAYS, SEED = 350, 120, 5
GENERATE = ("data", "generate", "--customers", str(CUSTOMERS), "--days", str(DAYS), "--seed", str(SEED))


# -- the world ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """A lake and a SQLite registry in one folder, and the environment that points at them."""

    root: Path
    env: dict[str, str]
    # How long the commands that made it took, by command (``data``, ``train``).
    seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def at(cls, root: Path, base_env: Mapping[str, str]) -> World:
        """The (maybe empty) world in ``root``, with ``base_env`` pointed at it."""
        env = {
            **base_env,
            "MLOPS_STORAGE_URI": f"file://{root / 'lake'}",
            "MLOPS_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        }
        return cls(root, env)

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def tracking_uri(self) -> str:
        return self.env["MLOPS_TRACKING_URI"]

    def copy(self, target: Path, registry: bool = True) -> World:
        """The same lake (and registry, or an empty one) at ``target``; MLflow artifacts stay shared."""
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.lake, target / "lake")
        if registry:
            shutil.copy2(self.root / "mlflow.db", target / "mlflow.db")
        return World.at(target, self.env)

    def snapshot_dates(self) -> list[str]:
        """The committed feature snapshot dates (YYYY-MM-DD), oldest first."""
        folders = (self.lake / "features" / "customer").glob("date=*/_SUCCESS.json")
        return sorted(p.parent.name.removeprefix("date=") for p in folders)


def edited_config(config: Path, target: Path, file: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of ``config`` at ``target`` with ``edit`` applied to the parsed ``file``."""
    shutil.copytree(config, target)
    data = yaml.safe_load((target / file).read_text())
    edit(data)
    (target / file).write_text(yaml.safe_dump(data, sort_keys=False))
    return target


# -- the log of trials ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One row of the table printed at the end: what was done and what came of it."""

    name: str
    command: str
    fault: str
    outcome: str
    passed: bool
    seconds: float


@dataclass
class TrialLog:
    """The trials of the session, in the order they ran."""

    trials: list[Trial] = field(default_factory=list)

    def record(self, name: str, command: str, fault: str, problems: list[str], seconds: float) -> None:
        outcome = "ok" if not problems else "; ".join(problems)
        self.trials.append(Trial(name, command, fault, outcome, not problems, seconds))

    @contextlib.contextmanager
    def crash_noted(self, name: str, command: str) -> Iterator[None]:
        """Record a trial whose set-up raised (then let the error fail the test)."""
        started = time.monotonic()
        try:
            yield
        except Exception as exc:
            self.record(name, command, "-", [f"crashed: {type(exc).__name__}: {exc}"], time.monotonic() - started)
            raise

    def lines(self, outcome_width: int = 110) -> list[str]:
        """The table as text lines, one per trial (outcomes cut to ``outcome_width`` characters)."""
        header = ("trial", "command", "fault", "s", "outcome")
        rows = [(t.name, t.command, t.fault, f"{t.seconds:.1f}", t.outcome) for t in self.trials]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]

        def line(row: tuple[str, ...]) -> str:
            outcome = row[4] if len(row[4]) <= outcome_width else row[4][: outcome_width - 3] + "..."
            return " | ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + " | " + outcome

        passed = sum(t.passed for t in self.trials)
        return [line(header), *map(line, rows), f"{passed}/{len(self.trials)} trials ok"]


def command_label(args: tuple[str, ...]) -> str:
    """``mlops`` and the command words of ``args`` (options, values and paths left out)."""
    words = []
    for arg in args:
        if arg.startswith("-") or "/" in arg or len(words) == 3:
            break
        words.append(arg)
    return " ".join(["mlops", *words])


# -- the CLI as a subprocess ------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """A finished command: exit code and its two streams."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def tail(self, lines: int = 3) -> str:
        return " / ".join(self.output.strip().splitlines()[-lines:])


def start(env: Mapping[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``mlops ARGS`` in its own process group (so a SIGKILL reaches its children too)."""
    command = [MLOPS, *args]
    if log is None:
        return subprocess.Popen(
            command, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
    with open(log, "wb") as sink:
        return subprocess.Popen(command, env=dict(env), stdout=sink, stderr=sink, start_new_session=True)


def run(env: Mapping[str, str], *args: str, timeout: float = COMMAND_TIMEOUT) -> Result:
    """Run ``mlops ARGS`` to its end; a command still running after ``timeout`` is killed."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [MLOPS, *args], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        err += f"\n(killed after {timeout:g} s)".encode()
    return Result(tuple(args), proc.returncode, out.decode(), err.decode(), time.monotonic() - started)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of ``proc`` and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def kill_after(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds after now; False if it had ended by then."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        kill_group(proc)
        return True


def kill_points(seed: int, count: int, duration: float, low: float = 0.1, high: float = 0.9) -> list[float]:
    """``count`` kill delays in seconds, one drawn in each of ``count`` equal slices of
    ``[low, high] * duration`` (a seeded, stratified schedule over the command's run)."""
    rng = random.Random(seed)
    step = (high - low) / count
    return [round(duration * (low + step * (i + rng.random())), 2) for i in range(count)]


def error_problems(result: Result) -> list[str]:
    """What is wrong with how a command refused bad input (empty when it failed cleanly)."""
    problems = []
    if result.code == 0:
        problems.append(f"exit code 0 ({result.tail(1)})")
    if "Traceback" in result.output:
        problems.append("a traceback instead of one line")
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    usage = "Usage:" in result.output and "Error" in result.output
    if result.code != 0 and len(errors) != 1 and not usage:
        problems.append(f"{len(errors)} 'error:' lines ({result.tail(2)})")
    return problems
