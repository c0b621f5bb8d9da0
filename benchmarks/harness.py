"""What every benchmark shares: a wall/CPU clock, a description of the machine, the results writer.

    from harness import Clock, machine, write_results

- :class:`Clock` times a block in wall seconds and CPU seconds. ``children=True`` adds the CPU of
  the finished child processes (MLflow starts some); the default counts this process alone.
- :func:`machine` describes the machine with the fields a benchmark asks for, so that each keeps
  recording what it recorded before.
- :func:`output_dir` and :func:`write_results`: the figures of a full run go to
  ``benchmarks/results/``; a ``--quick`` run writes to ``--out`` or a scratch folder, never there.
- :func:`shared_data` and :func:`require_data`: the public data sets beside the clone
  (``../shared/data``); a quick run without them exits with :data:`SKIP_EXIT` and a ``SKIP:`` line.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
# Exit code of a run that cannot start for want of its data (the automake / ctest convention).
SKIP_EXIT = 77


# -- clocks ----------------------------------------------------------------------------------------
def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process (all threads), plus its finished children if asked."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    if children:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += kids.ru_utime + kids.ru_stime
    return total


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Clock:
    """Wall and CPU seconds of a ``with`` block; ``children``: count finished child processes too."""

    def __init__(self, children: bool = False) -> None:
        self.children = children
        self.seconds = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Clock:
        self.began, self.began_cpu = time.perf_counter(), cpu_seconds(self.children)
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.began
        self.cpu = cpu_seconds(self.children) - self.began_cpu

    def record(self, **extra: Any) -> dict[str, Any]:
        """``{"seconds", "cpu_seconds", **extra}``."""
        return {"seconds": self.seconds, "cpu_seconds": self.cpu, **extra}


def repeat_timed(func: Callable[[], Any], repeat: int, children: bool = False) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds of each of ``repeat`` calls of ``func``, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        with Clock(children) as clock:
            result = func()
        walls.append(clock.seconds)
        cpus.append(clock.cpu)
    return walls, cpus, result


# -- the machine -----------------------------------------------------------------------------------
def git(*args: str) -> str:
    """``git ARGS`` in the repository (stdout, stripped; empty when git is missing or fails)."""
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def uncommitted_files() -> list[str]:
    """Tracked files with uncommitted changes."""
    return [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]


def code_version() -> str:
    """The short commit, with `` + uncommitted changes`` when tracked files differ from it."""
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if uncommitted_files() else "")


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution in ``names``."""
    return {name: importlib.metadata.version(name) for name in names}


FIELDS: dict[str, Callable[[], Any]] = {
    "python": platform.python_version,
    "cpus": os.cpu_count,
    "platform": platform.platform,
    "code": code_version,
    "uncommitted_files": uncommitted_files,
    "load_average_at_start": os.getloadavg,
}


def machine(*fields: str, packages: Iterable[str] = (), **given: Any) -> dict[str, Any]:
    """The named fields of :data:`FIELDS` in order, then a version per package, then ``given`` as is.

    A keyword whose name is a field replaces that field's value (e.g. ``cpus=`` the usable CPUs).
    """
    out = {name: given.pop(name) if name in given else FIELDS[name]() for name in fields}
    out.update(package_versions(packages))
    out.update(given)
    return out


def machine_line(unit: str = "cores", python: bool = True) -> str:
    """One line: architecture, CPU count (``unit``: what to call them) and, if asked, the Python version."""
    line = f"{platform.machine()}, {os.cpu_count()} {unit}"
    return line + f", Python {sys.version.split()[0]}" if python else line


def load_line(start: float) -> str:
    """The 1-minute load average at the start and now, as the quality benchmarks record it."""
    return f"{start:.1f} / {os.getloadavg()[0]:.1f} (the machine is shared: times are indicative)"


# -- results ---------------------------------------------------------------------------------------
def add_output_args(parser: argparse.ArgumentParser, quick_help: str) -> None:
    """``--quick`` (small sizes, never recorded) and ``--out`` (where the figures go)."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", type=Path, help="folder for the figures (default: results/; --quick: a scratch one)")


def scratch_dir(name: str) -> Path:
    """A folder of this benchmark under the system's temporary directory (kept between runs)."""
    return Path(tempfile.gettempdir()) / "mlops-benchmarks" / name


def output_dir(args: argparse.Namespace, name: str, quick_default: Path | None = None) -> Path:
    """Where the figures of this run go: ``--out``, else the record, else (quick) a scratch folder.

    A quick run never writes to ``benchmarks/results/``: its numbers are not the record.
    """
    quick = bool(getattr(args, "quick", False))
    out = getattr(args, "out", None)
    if out is None:
        out = (quick_default or scratch_dir(name)) if quick else RESULTS
    out = Path(out).resolve()
    if quick and out == RESULTS.resolve():
        raise SystemExit(f"a --quick run does not write to {RESULTS} (the recorded figures); give another --out")
    return out


def write_results(out: Path, name: str, result: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """``out/NAME.json`` (indented, non-JSON values as strings) and ``out/NAME.md``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md_path.write_text(markdown)
    return json_path, md_path


def read_results(out: Path, name: str) -> dict[str, Any]:
    """The recorded ``out/NAME.json`` (for the report-only modes)."""
    return json.loads((out / f"{name}.json").read_text())


def publish(out: Path, name: str, result: dict[str, Any], markdown: str) -> None:
    """Write the figures (:func:`write_results`) and print the Markdown page."""
    write_results(out, name, result, markdown)
    print()
    print(markdown)


def rerender(out: Path, name: str, markdown: Callable[[dict[str, Any]], str]) -> None:
    """Rewrite ``out/NAME.md`` (and the JSON, as it is) from the recorded ``out/NAME.json``."""
    result = read_results(out, name)
    write_results(out, name, result, markdown(result))


def write_checked(
    out: Path, name: str, result: dict[str, Any], markdown: Callable[[dict[str, Any]], str], enforce: bool
) -> int:
    """Write and print the figures; exit code 1 if ``enforce`` and a check of ``result["checks"]`` missed.

    Checks marked ``informational`` never fail the run.
    """
    publish(out, name, result, markdown(result))
    missed = any(not check["passed"] for check in result["checks"] if not check.get("informational"))
    return 1 if enforce and missed else 0


# -- child processes -------------------------------------------------------------------------------
def mlops_env(folder: Path, config: bool = True, **extra: str) -> dict[str, str]:
    """This environment without ``MLOPS_*`` / ``MLFLOW_*``, plus a lake and an MLflow store under ``folder``.

    ``config``: also point ``MLOPS_CONFIG_DIR`` at the repository's ``config/``; ``extra``: more variables.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    if config:
        env["MLOPS_CONFIG_DIR"] = str(REPO / "config")
    env.update(
        {
            "MLOPS_STORAGE_URI": (folder / "lake").as_uri(),
            "MLOPS_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
            "MLOPS_TRACKING_ARTIFACT_LOCATION": str(folder / "mlruns"),
            **extra,
        }
    )
    return env


def last_json_line(stdout: str) -> dict[str, Any]:
    """The JSON object a child printed as its last line of output."""
    return json.loads(stdout.strip().splitlines()[-1])


# -- shared data -----------------------------------------------------------------------------------
def shared_data() -> Path:
    """The public data sets: ``$MLOPS_SHARED_DATA``, else ``../shared/data`` beside the clone."""
    return Path(os.environ.get("MLOPS_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_data(*paths: Path) -> None:
    """Exit with :data:`SKIP_EXIT` and a ``SKIP:`` line naming what is missing, unless all ``paths`` exist."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        print(f"SKIP: data not found: {', '.join(missing)} (set MLOPS_SHARED_DATA)", flush=True)
        sys.exit(SKIP_EXIT)
