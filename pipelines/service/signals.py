"""Ctrl-C and SIGTERM: finish the current bundle, commit, and end the run; a second Ctrl-C aborts."""

from __future__ import annotations

import logging
import signal
import threading

from pipelines.runstate import RunState

_LOG = logging.getLogger(__name__)


class StopOnSignals:
    """While active, SIGINT and SIGTERM ask ``state`` to stop; the second one raises KeyboardInterrupt."""

    def __init__(self, state: RunState) -> None:
        self._state = state
        self._previous: dict = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self._state.stop_requested:
            raise KeyboardInterrupt
        _LOG.warning("stopping: finishing the current bundle (Ctrl-C again to abort)")
        self._state.request_stop()

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
