"""Process supervision for ``make run`` (scripts/run_platform.py): start services in their own
process groups, wait for health checks, remember them in ``<home>/.run/state.json``, and stop
every group (TERM, a grace period, then KILL), including what a crashed earlier run left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

HOST = "127.0.0.1"
GRACE_SECONDS = 20.0


class Fatal(Exception):
    """Stop everything and exit 1 with this message."""


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    created: float = 0.0

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join("    " + line for line in text[-lines:])


@dataclass
class Platform:
    """Where everything lives and the processes started so far."""

    home: Path
    dags: Path
    ports: dict[str, int]
    timeout: float
    services: list[Service] = field(default_factory=list)
    stop_signal: int | None = None

    @property
    def run_dir(self) -> Path:
        return self.home / ".run"

    @property
    def airflow_home(self) -> Path:
        return self.home / ".airflow"

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports[service]}"

    # -- processes ------------------------------------------------------------------------------

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        """Start ``argv`` in its own session (so its group can be stopped as one), output to its log."""
        self.check_signal()
        log = self.run_dir / "logs" / f"{name}.log"
        with open(log, "ab") as out:
            out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                argv, cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        service = Service(name, process, log, _created(process.pid))
        self.services.append(service)
        self.save_state()
        return service

    def run_once(self, name: str, argv: list[str], env: dict[str, str]) -> float:
        """Run a one-shot command to its end; returns its duration. Fails naming its log."""
        started = time.monotonic()
        service = self.start(name, argv, env)
        while service.process.poll() is None:
            self.sleep(0.3)
        self.services.remove(service)
        self.save_state()
        if service.process.returncode != 0:
            raise Fatal(f"{name} failed (exit {service.process.returncode}); log {service.log}:\n{service.tail()}")
        return time.monotonic() - started

    def wait_healthy(self, services: list[Service], check: Callable[[], bool], what: str) -> float:
        """Wait until ``check`` passes; fail naming the service and its log if one exits or time runs out.

        Returns the seconds since the first of ``services`` started.
        """
        deadline = time.monotonic() + self.timeout
        while not _quietly(check):
            for service in services:
                if service.process.poll() is not None:
                    raise Fatal(
                        f"{service.name} exited (code {service.process.returncode}) before {what} answered; "
                        f"log {service.log}:\n{service.tail()}"
                    )
            if time.monotonic() > deadline:
                logs = ", ".join(str(service.log) for service in services)
                raise Fatal(f"{what} did not answer within {self.timeout:.0f} s; see {logs}")
            self.sleep(0.5)
        return time.time() - services[0].created

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
        self.check_signal()

    def check_signal(self) -> None:
        if self.stop_signal is not None:
            raise KeyboardInterrupt

    def save_state(self) -> None:
        """Record the supervisor and its children, so that a later run can clear up after a crash."""
        state = {
            "supervisor": {"pid": os.getpid(), "created": _created(os.getpid())},
            "children": [{"name": s.name, "pid": s.process.pid, "created": s.created} for s in self.services],
        }
        (self.run_dir / "state.json").write_text(json.dumps(state, indent=1))

    def stop_all(self) -> None:
        """SIGTERM every group, wait the grace period, then SIGKILL whatever is left."""
        for service in reversed(self.services):
            _signal_group(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while descendants() and time.monotonic() < deadline:
            time.sleep(0.2)
        late = {_name(process) for process in descendants()}
        if late:
            print(f"still running after {GRACE_SECONDS:.0f} s, killed: {', '.join(sorted(late))}", flush=True)
        for service in self.services:
            _signal_group(service.process.pid, signal.SIGKILL)
        for process in descendants():
            with contextlib.suppress(psutil.Error):
                process.kill()
        for service in self.services:
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=5)
        descendants()  # reaps what is left
        self.services.clear()
        (self.run_dir / "state.json").unlink(missing_ok=True)


def _created(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


def _quietly(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (OSError, requests.RequestException, ValueError):
        return False


def _name(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()[:3]) or process.name()
    except psutil.Error:
        return str(process.pid)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def descendants() -> list[psutil.Process]:
    """Live descendants of this process; zombies (orphans handed to us as subreaper) are reaped."""
    alive = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(process.pid, os.WNOHANG)
            else:
                alive.append(process)
        except psutil.Error:
            pass
    return alive


def become_subreaper() -> None:
    """On Linux, orphaned grandchildren come back to us, so none escapes the final sweep."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


# -- before starting --------------------------------------------------------------------------


def clear_stale_run(platform: Platform) -> None:
    """Refuse to start twice from one home; stop the processes a crashed earlier run left behind."""
    path = platform.run_dir / "state.json"
    if not path.exists():
        return
    state = json.loads(path.read_text())
    boss = state["supervisor"]
    if boss["pid"] != os.getpid() and abs(_created(boss["pid"]) - boss["created"]) < 0.5:
        raise Fatal(
            f"the platform already runs from {platform.home} (pid {boss['pid']}): stop it with Ctrl-C "
            f"or `kill {boss['pid']}`"
        )
    leaders = {child["pid"]: child["created"] for child in state["children"]}
    leftovers = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            group = os.getpgid(process.pid)
            if group in leaders and process.create_time() >= leaders[group] - 1:
                leftovers.append(process)
    for process in leftovers:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, still = psutil.wait_procs(leftovers, timeout=GRACE_SECONDS)
    for process in still:
        with contextlib.suppress(psutil.Error):
            process.kill()
    if leftovers:
        print(f"stopped {len(leftovers)} process(es) left over by an earlier run that did not stop cleanly")
    path.unlink()


def check_ports(platform: Platform) -> None:
    """Fail naming the port if something already listens there."""
    for service, port in platform.ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                raise Fatal(
                    f"port {port} ({service}) on {HOST} is in use: is another `make run` or {service} running? "
                    f"`ss -ltnp 'sport = :{port}'` shows which process holds it"
                ) from None
