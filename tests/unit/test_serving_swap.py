"""The swap: a new state replaces the old in one reference, the poller survives failures, notify wakes it."""

from __future__ import annotations

import threading
import time

from mlops_platform.serving.loading import State
from mlops_platform.serving.swap import Swapper


class CountingLoader:
    """A stand-in loader: each refresh returns a new state whose failures record the call count."""

    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on or set()
        self.seen: list[State] = []

    def refresh(self, current: State) -> State:
        self.calls += 1
        self.seen.append(current)
        if self.calls in self.fail_on:
            raise RuntimeError("registry down")
        return State(failures={"calls": str(self.calls)})


def wait_for(condition, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_refresh_builds_from_the_current_state_and_swaps_the_reference() -> None:
    loader = CountingLoader()
    swapper = Swapper(loader, poll_seconds=3600)  # type: ignore[arg-type]
    first = swapper.state
    new = swapper.refresh()
    assert swapper.state is new and loader.seen == [first]
    assert swapper.refresh() is swapper.state and loader.seen[1] is new


def test_the_poller_loads_at_once_outlives_a_failure_and_is_woken_by_notify() -> None:
    loader = CountingLoader(fail_on={2})
    swapper = Swapper(loader, poll_seconds=3600).start()  # type: ignore[arg-type]
    try:
        wait_for(lambda: loader.calls == 1)
        swapper.notify()
        wait_for(lambda: loader.calls == 2)  # fails: the state stays
        assert swapper.state.failures == {"calls": "1"}
        swapper.notify()
        wait_for(lambda: loader.calls == 3)
        wait_for(lambda: swapper.state.failures == {"calls": "3"})
    finally:
        swapper.stop()
    assert not any(t.name == "mlops-serve-poller" and t.is_alive() for t in threading.enumerate())


def test_readiness_names_the_models_not_loaded() -> None:
    from mlops_platform.serving.settings import ServeSettings

    settings = ServeSettings(models=("churn", "conversion"), recommender="recommender")
    assert State().ready(settings) == ["churn", "conversion", "recommender"]
