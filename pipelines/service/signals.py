"""Ctrl-C and SIGTERM: finish the current bundle, commit, and end the run; a second one aborts.

The command line installs this first thing, before the heavy imports, so that a
signal at any moment of start-up is a clean stop too.
"""

from __future__ import annotations

import logging
import signal
import threading

_LOG = logging.getLogger(__name__)


class StopOnSignals:
    """While active, SIGINT and SIGTERM set ``stop``; the second one raises KeyboardInterrupt."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._previous: dict = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self._stop.is_set():
            raise KeyboardInterrupt
        _LOG.warning(
            "%s: stopping: finishing the current bundle and committing (Ctrl-C again to abort)",
            signal.Signals(signum).name,
        )
        self._stop.set()

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
