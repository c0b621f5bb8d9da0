"""The served state and its hot swap: a poller thread, woken early by a signed notification.

Readers take ``swapper.state`` (one attribute read: atomic); a refresh builds the new state
beside the old one (loaded and warmed by :class:`~mlops_platform.serving.loading.Loader`) and
replaces the reference in one assignment, so a request sees the old pair or the new, never a mix.
"""

from __future__ import annotations

import logging
import threading

from mlops_platform.serving.loading import Loader, State

_logger = logging.getLogger(__name__)


class Swapper:
    """Holds the current :class:`State` and keeps it fresh.

    Args:
        loader: builds new states.
        poll_seconds: how often to look for moved aliases or a newer snapshot.
    """

    def __init__(self, loader: Loader, poll_seconds: float) -> None:
        self.loader = loader
        self.poll_seconds = poll_seconds
        self.state = State()
        self._refreshing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0

    def refresh(self) -> State:
        """Load whatever changed and swap it in; one refresh at a time."""
        with self._refreshing:
            new = self.loader.refresh(self.state)
            self.state = new
            self.refreshes += 1
            return new

    def notify(self) -> None:
        """Refresh soon (an alias moved): wakes the poller instead of waiting for its interval."""
        self._wake.set()

    def start(self) -> Swapper:
        """Start polling in a daemon thread; its first refresh (the initial load) runs at once."""
        self._thread = threading.Thread(target=self._poll, name="mlops-serve-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the poller must outlive any failure
                _logger.exception("serving: refresh failed; polling on")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
