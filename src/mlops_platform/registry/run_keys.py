"""One training at a time per run key: an exclusive claim held in MLflow itself.

Airflow can run one task twice at once (a zombie and its retry), so a run key is claimed before
anything is fitted. The claim is an MLflow *experiment* named
``mlops.run-key/<model>/<key>/<attempt>``: experiment names are unique in every MLflow backend
(a unique column of the SQL store behind both a ``sqlite:///`` file and a tracking server), so of
two processes creating the same name exactly one succeeds and the other gets
``RESOURCE_ALREADY_EXISTS``. A name stays taken even once its experiment is deleted, so a claim
is never handed out twice. Tags are not used for this: MLflow has no compare-and-set on tags.

The holder keeps a heartbeat tag fresh and deletes its claim when it is done (success or error);
a deleted claim sends the next claimant to the next attempt number. A claim whose heartbeat is
older than the lease, or whose process is gone (same machine and pid namespace), was left by a
dead process: the next claimant takes the next attempt and retires the dead one. A claimant that
finds a live holder polls until the holder's outcome is there, or gives up after a bounded wait.
Deleted claims are hidden from the MLflow UI's experiment list.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mlflow import MlflowClient
from mlflow.entities import Experiment
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from mlops_platform.errors import PlatformError
from mlops_platform.registry.alias_history import reconcile_aliases
from mlops_platform.registry.aliases import find_version_by_run_key, model_exists

_logger = logging.getLogger(__name__)

PREFIX = "mlops.run-key"
OWNER_TAG = "mlops.claim.owner"
MACHINE_TAG = "mlops.claim.machine"
PID_TAG = "mlops.claim.pid"
HEARTBEAT_TAG = "mlops.claim.heartbeat"
_MAX_ATTEMPTS = 10_000
T = TypeVar("T")


@dataclass(frozen=True)
class ClaimTiming:
    """How long a claim lives without a heartbeat, and how long a duplicate waits for the holder."""

    lease_seconds: float = 120.0
    heartbeat_seconds: float = 15.0
    wait_seconds: float = 1800.0
    poll_seconds: float = 5.0


@dataclass(frozen=True)
class Holder:
    """Who holds a claim, as read from its tags."""

    owner: str
    machine: str
    pid: int
    heartbeat: float

    def describe(self, now: float) -> str:
        return f"{self.owner}, heartbeat {now - self.heartbeat:.0f} s ago"

    def is_dead(self, now: float, lease_seconds: float) -> bool:
        """The heartbeat lapsed, or the holder's process is gone from this very machine."""
        if now - self.heartbeat > lease_seconds:
            return True
        return self.machine == machine_id() and not process_alive(self.pid)


@dataclass(frozen=True)
class Claim:
    """A run key held by this process: attempt ``attempt`` of ``model``/``run_key``."""

    client: MlflowClient
    model: str
    run_key: str
    attempt: int
    experiment_id: str

    def ensure_held(self) -> None:
        """Raise unless this claim is still the newest one (call before moving aliases).

        Raises:
            PlatformError: another process took the key over (this one's heartbeat lapsed).
        """
        mine = self.client.get_experiment(self.experiment_id)
        newer = self.client.get_experiment_by_name(claim_name(self.model, self.run_key, self.attempt + 1))
        if mine.lifecycle_stage != "active" or newer is not None:
            raise PlatformError(
                f"run key {self.run_key!r} of {self.model} was taken over by another training "
                "(this one's heartbeat lapsed); stopping before any alias moves"
            )


def claim_name(model: str, run_key: str, attempt: int) -> str:
    """The experiment name that claims attempt ``attempt`` of ``run_key`` (a long key is hashed)."""
    if len(model) + len(run_key) > 200:
        run_key = "sha256-" + hashlib.sha256(run_key.encode()).hexdigest()
    return f"{PREFIX}/{model}/{run_key}/{attempt}"


def machine_id() -> str:
    """Host name, boot id and pid namespace: where a pid means the same process."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    return "/".join(parts)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (a zombie, killed but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"


def _holder(experiment: Experiment) -> Holder:
    tags = experiment.tags
    try:
        heartbeat = float(tags.get(HEARTBEAT_TAG, ""))
    except ValueError:
        heartbeat = (experiment.creation_time or 0) / 1000
    try:
        pid = int(tags.get(PID_TAG, "-1"))
    except ValueError:
        pid = -1
    return Holder(tags.get(OWNER_TAG, "unknown"), tags.get(MACHINE_TAG, ""), pid, heartbeat)


def _try_claim(client: MlflowClient, model: str, run_key: str, lease: float) -> Claim | Holder:
    """Create the first free attempt and return it, or return the live holder of the key."""
    stale: list[str] = []
    attempt = 1
    while attempt < _MAX_ATTEMPTS:
        name = claim_name(model, run_key, attempt)
        tags = {
            OWNER_TAG: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            MACHINE_TAG: machine_id(),
            PID_TAG: str(os.getpid()),
            HEARTBEAT_TAG: f"{time.time():.3f}",
        }
        try:
            experiment_id = client.create_experiment(name, tags=tags)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        else:
            for dead in stale:
                _retire(client, dead)
            return Claim(client, model, run_key, attempt, experiment_id)
        existing = client.get_experiment_by_name(name)
        if existing is None:  # purged since: try the same attempt again
            continue
        holder = _holder(existing)
        if existing.lifecycle_stage == "active" and not holder.is_dead(time.time(), lease):
            return holder
        if existing.lifecycle_stage == "active":
            _logger.warning(
                "run key %s of %s: claim %d was left by a dead process (%s)", run_key, model, attempt, holder.owner
            )
            stale.append(existing.experiment_id)
        attempt += 1
    raise PlatformError(f"run key {run_key!r} of {model}: {_MAX_ATTEMPTS} claims already used")


def _retire(client: MlflowClient, experiment_id: str) -> None:
    """Delete a claim (released, or left by a dead process); a failure is only logged."""
    try:
        client.delete_experiment(experiment_id)
    except MlflowException as exc:
        _logger.warning("claim experiment %s could not be deleted: %s", experiment_id, exc)


def acquire(
    client: MlflowClient, model: str, run_key: str, timing: ClaimTiming, done: Callable[[], bool]
) -> Claim | None:
    """Claim ``run_key``; None when ``done()`` turned true while another process held it.

    Raises:
        PlatformError: a live holder kept the key for longer than ``timing.wait_seconds``.
    """
    deadline = time.monotonic() + timing.wait_seconds
    while True:
        found = _try_claim(client, model, run_key, timing.lease_seconds)
        if isinstance(found, Claim):
            return found
        if done():
            return None
        holder = found
        if time.monotonic() >= deadline:
            raise PlatformError(
                f"run key {run_key!r} of {model} is being trained by another process "
                f"({holder.describe(time.time())}); gave up after waiting {timing.wait_seconds:g} s"
            )
        _logger.info("run key %s of %s is held by %s: waiting", run_key, model, holder.describe(time.time()))
        time.sleep(timing.poll_seconds)


def _beat(client: MlflowClient, experiment_id: str, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            client.set_experiment_tag(experiment_id, HEARTBEAT_TAG, f"{time.time():.3f}")
        except MlflowException as exc:
            _logger.warning("heartbeat of claim %s failed: %s", experiment_id, exc)


@contextlib.contextmanager
def held(
    client: MlflowClient, model: str, run_key: str, timing: ClaimTiming, done: Callable[[], bool]
) -> Iterator[Claim | None]:
    """Hold ``run_key`` for the block (heartbeat on), then release it, whatever happens.

    Yields None, holding nothing, when another process finished the key while this one waited.
    """
    claim = acquire(client, model, run_key, timing, done)
    if claim is None:
        yield None
        return
    stop = threading.Event()
    beat = threading.Thread(
        target=_beat, args=(client, claim.experiment_id, timing.heartbeat_seconds, stop), daemon=True
    )
    beat.start()
    try:
        yield claim
    finally:
        stop.set()
        beat.join(timeout=timing.heartbeat_seconds + 5)
        _retire(client, claim.experiment_id)


def end_orphan_runs(client: MlflowClient, experiment_id: str, run_key: str) -> list[str]:
    """End FAILED the runs of ``run_key`` still RUNNING (their process died); returns their ids.

    Call it holding the key: no live process then has a run of that key.
    """
    safe = run_key.replace("'", "")
    found = client.search_runs([experiment_id], f"tags.run_key = '{safe}' and attributes.status = 'RUNNING'")
    for run in found:
        _logger.warning(
            "run %s of run key %s was left RUNNING by a dead process: ending it FAILED", run.info.run_id, run_key
        )
        client.set_terminated(run.info.run_id, "FAILED")
    return [run.info.run_id for run in found]


def judged_version(client: MlflowClient, name: str, run_key: str) -> ModelVersion | None:
    """The version ``run_key`` registered under ``name`` once the gate has judged it, if any."""
    found = find_version_by_run_key(client, name, run_key)
    return found if found is not None and found.tags.get("gate_decision") else None


def _reconcile(client: MlflowClient, name: str) -> None:
    if model_exists(client, name):
        reconcile_aliases(client, name)


def run_once(
    client: MlflowClient,
    experiment_id: str,
    name: str,
    run_key: str | None,
    fit: Callable[[Claim | None], T],
    judge: Callable[[ModelVersion, Claim], T],
    reuse: Callable[[ModelVersion], T],
    timing: ClaimTiming | None = None,
) -> T:
    """Exactly one judged version of ``name`` per run key.

    Holding the key: the runs of the key left RUNNING by a dead process end FAILED; a version
    the gate already judged goes to ``reuse``; a version registered but never judged (its
    training died between registering and the gate) goes to ``judge``; otherwise ``fit``
    trains. The aliases are reconciled with the alias history before ``judge`` or ``fit``.
    Without a run key, ``fit`` trains every time.
    """
    if not run_key:
        _reconcile(client, name)
        return fit(None)
    judged = judged_version(client, name, run_key)
    if judged is not None:
        return reuse(judged)
    timing = timing or ClaimTiming()
    with held(client, name, run_key, timing, lambda: judged_version(client, name, run_key) is not None) as claim:
        judged = judged_version(client, name, run_key)
        if judged is not None:
            return reuse(judged)
        if claim is None:
            raise PlatformError(f"run key {run_key!r} of {name}: the other training left no judged version")
        end_orphan_runs(client, experiment_id, run_key)
        _reconcile(client, name)
        pending = find_version_by_run_key(client, name, run_key)
        if pending is not None:
            _logger.warning("run key %s: %s v%s was never judged; judging it now", run_key, name, pending.version)
            return judge(pending, claim)
        return fit(claim)
