"""What one run shares between its stages in a process: stopping, limits, counters, times.

A runner pickles the DoFns and rebuilds them, so they cannot hold a live object;
they hold the run's id and find its :class:`RunState` with :func:`of` in
``setup()``. On the local runner every stage runs in the process that called
``run()`` and sees the state it made: the progress lines, ``/metrics`` and the run
summary all read it. On a distributed runner each worker process gets a state of
its own, and the same counts reach the runner through Beam's metrics.

Counting has one path: a stage calls :meth:`RunState.count` for what leaves it,
record by record, and that updates this state and Beam's counter of that name.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from apache_beam.metrics.metric import Metrics

NAMESPACE = "claimstream"

#: The counters, by the stage that moves them.
COUNTERS = (
    "read",  # source: messages read
    "articles",  # nlp: articles annotated
    "entities",  # nlp
    "claims",  # nlp
    "dead_letters",  # parse and nlp: messages rejected
    "written_articles",  # sinks: records in files
    "written_dead_letters",  # sinks
    "files",  # sinks
)


@dataclasses.dataclass
class Snapshot:
    """The counters and positions at one moment."""

    counts: dict[str, int]
    last_file: str
    positions: dict[tuple[str, int], int]  # (topic, partition) -> the next offset to read
    lags: dict[tuple[str, int], int]  # (topic, partition) -> end offset minus position


class RunState:
    """One run's shared state in this process. Thread-safe."""

    def __init__(self, run_id: str, max_records: int | None = None, until_idle: float | None = None) -> None:
        self.run_id = run_id
        self.max_records = max_records
        self.until_idle = until_idle
        self.started_at = time.time()
        self.first_read_at: float | None = None
        self.last_write_at: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._idle_since: float | None = None  # since when the readers find nothing new
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._beam_counters = {name: Metrics.counter(NAMESPACE, name) for name in COUNTERS}
        self._last_file = ""
        self._positions: dict[tuple[str, int], int] = {}
        self._lags: dict[tuple[str, int], int] = {}

    # --- Stopping ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the readers to finish their current slice and stop."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def should_stop(self) -> bool:
        """Stop asked for, ``max_records`` read, or nothing read for ``until_idle`` seconds."""
        if self._stop.is_set():
            return True
        if self.max_records is not None and self._counts["read"] >= self.max_records:
            return True
        idle_since = self._idle_since
        return self.until_idle is not None and idle_since is not None and (
            time.monotonic() - idle_since >= self.until_idle
        )

    def found_nothing(self) -> None:
        """A reader's poll came back empty: the run is idle from now, unless it already was."""
        with self._lock:
            if self._idle_since is None:
                self._idle_since = time.monotonic()

    def budget(self, wanted: int) -> int:
        """How many of ``wanted`` records may still be read under ``max_records``."""
        if self.max_records is None:
            return wanted
        with self._lock:
            return max(0, min(wanted, self.max_records - self._counts["read"]))

    # --- Counting ---------------------------------------------------------------------

    def count(self, **deltas: int) -> None:
        """Add to counters by name: ``count(articles=1, entities=12, claims=3)``."""
        with self._lock:
            for name, delta in deltas.items():
                self._counts[name] += delta
        for name, delta in deltas.items():
            self._beam_counters[name].inc(delta)

    def read(self, topic: str | None, partition: int | None, next_offset: int | None) -> None:
        """One message read; for Kafka, where its partition's reading goes on."""
        now = time.time()
        with self._lock:
            self._counts["read"] += 1
            self._idle_since = None
            if self.first_read_at is None:
                self.first_read_at = now
            if topic is not None:
                self._positions[(topic, partition)] = next_offset
        self._beam_counters["read"].inc()

    def wrote(self, articles: int, dead_letters: int, path: str) -> None:
        """A file was written (it holds articles or dead letters)."""
        self.count(written_articles=articles, written_dead_letters=dead_letters, files=1)
        with self._lock:
            self._last_file = path
            self.last_write_at = time.time()

    def measured_lags(self, lags: dict[tuple[str, int], int]) -> None:
        with self._lock:
            self._lags.update(lags)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(dict(self._counts), self._last_file, dict(self._positions), dict(self._lags))


_runs: dict[str, RunState] = {}
_runs_lock = threading.Lock()


def begin(run_id: str, max_records: int | None = None, until_idle: float | None = None) -> RunState:
    """The state of a new run in this process."""
    state = RunState(run_id, max_records, until_idle)
    with _runs_lock:
        _runs[run_id] = state
    return state


def of(run_id: str, max_records: int | None = None, until_idle: float | None = None) -> RunState:
    """The state of run ``run_id`` in this process; in a worker that has none yet, a new one
    with these limits."""
    with _runs_lock:
        if run_id not in _runs:
            _runs[run_id] = RunState(run_id, max_records, until_idle)
        return _runs[run_id]


def end(run_id: str) -> None:
    with _runs_lock:
        _runs.pop(run_id, None)
