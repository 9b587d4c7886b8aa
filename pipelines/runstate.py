"""What one run shares between its stages in a process: stopping, counters, leases, health.

A runner pickles the DoFns and rebuilds them, so they cannot hold a live object;
they hold the run's id and find its :class:`RunState` with :func:`of` in
``setup()``. On the local runner every stage runs in the process that called
``run()`` and sees the state it made: the progress lines, the HTTP endpoint and
the run summary all read it. On a distributed runner each worker process gets a
state of its own, and the same counts reach the runner through Beam's metrics.

- :class:`Counters`: one path for counting. A stage counts what leaves it, record
  by record, and that also feeds Beam's counter of the same name.
- :class:`Leases`: which partitions this process's group members hold, under which
  lease, and how far each was written (see :mod:`pipelines.kafka.membership`).
- :class:`Health`: what ``/healthz`` and ``/readyz`` report.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from typing import Protocol

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
    "dropped",  # sinks: records not written because their partition moved to another replica
)

Partition = tuple[str, int]  # (topic, partition)


@dataclasses.dataclass
class Snapshot:
    """The counters and positions at one moment."""

    counts: dict[str, int]
    last_file: str
    positions: dict[Partition, int]  # the next offset to read
    lags: dict[Partition, int]  # end offset minus position


class Counters:
    """What has left each stage; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._beam = {name: Metrics.counter(NAMESPACE, name) for name in COUNTERS}
        self._last_file = ""
        self._positions: dict[Partition, int] = {}
        self._lags: dict[Partition, int] = {}
        self.first_read_at: float | None = None
        self.last_write_at: float | None = None

    def count(self, **deltas: int) -> None:
        """Add to counters by name: ``count(articles=1, entities=12, claims=3)``."""
        with self._lock:
            for name, delta in deltas.items():
                self._counts[name] += delta
        for name, delta in deltas.items():
            self._beam[name].inc(delta)

    def read(self, partition: Partition | None, next_offset: int | None) -> None:
        """One message read; for Kafka, where its partition's reading goes on."""
        now = time.time()
        with self._lock:
            self._counts["read"] += 1
            if self.first_read_at is None:
                self.first_read_at = now
            if partition is not None:
                self._positions[partition] = next_offset
        self._beam["read"].inc()

    def wrote(self, articles: int, dead_letters: int, path: str) -> None:
        """A file was written (it holds articles or dead letters)."""
        self.count(written_articles=articles, written_dead_letters=dead_letters, files=1)
        with self._lock:
            self._last_file = path
            self.last_write_at = time.time()

    def forget(self, partition: Partition) -> None:
        """The partition is no longer read here: no position, no lag."""
        with self._lock:
            self._positions.pop(partition, None)
            self._lags.pop(partition, None)

    def measured_lags(self, lags: dict[Partition, int]) -> None:
        with self._lock:
            self._lags.update({p: lag for p, lag in lags.items() if p in self._positions})

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(dict(self._counts), self._last_file, dict(self._positions), dict(self._lags))


class Member(Protocol):
    """A consumer-group member, as the leases see it."""

    def rebalance_pending(self) -> bool: ...


class Leases:
    """The partitions this process's group members hold, each under a lease number.

    A message carries the lease its partition was read under; its output may be
    written only while that lease is still held and no rebalance is pending.
    Without group members (files, or a distributed runner's other stages) every
    record carries no lease and may always be written.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._held: dict[Partition, int] = {}
        self._written: dict[Partition, int] = {}
        self._members: list[Member] = []

    def grant(self, partition: Partition) -> int:
        with self._lock:
            self._held[partition] = lease = next(self._numbers)
            return lease

    def release(self, partition: Partition) -> None:
        with self._lock:
            self._held.pop(partition, None)
            self._written.pop(partition, None)

    def lease_of(self, partition: Partition) -> int | None:
        with self._lock:
            return self._held.get(partition)

    def holds(self, partition: Partition, lease: int | None) -> bool:
        """Whether output read under ``lease`` may be written now."""
        if lease is None:
            return True
        with self._lock:
            if self._held.get(partition) != lease:
                return False
            members = list(self._members)
        return not any(m.rebalance_pending() for m in members)

    def written(self, partition: Partition, lease: int | None, next_offset: int) -> None:
        """Output read under ``lease`` is written up to ``next_offset`` (exclusive)."""
        with self._lock:
            if lease is not None and self._held.get(partition) == lease:
                self._written[partition] = max(next_offset, self._written.get(partition, 0))

    def written_offsets(self) -> dict[Partition, int]:
        with self._lock:
            return dict(self._written)

    def held(self, topic: str | None = None) -> list[Partition]:
        with self._lock:
            return sorted(p for p in self._held if topic is None or p[0] == topic)

    def add_member(self, member: Member) -> None:
        with self._lock:
            self._members.append(member)

    def remove_member(self, member: Member) -> None:
        with self._lock:
            self._members = [m for m in self._members if m is not member]

    def members(self) -> list[Member]:
        with self._lock:
            return list(self._members)


class Health:
    """Liveness (the read loop goes round) and readiness (model loaded, group joined)."""

    def __init__(self) -> None:
        self._beat = time.monotonic()
        self.model_loaded = False
        self.needs_group = False
        self.group_joined = False

    def beat(self) -> None:
        """The read loop went round once (or a stage handed a record on)."""
        self._beat = time.monotonic()

    def seconds_since_beat(self) -> float:
        return time.monotonic() - self._beat

    def not_ready(self) -> list[str]:
        """What is missing before the run does its work: empty when ready."""
        missing = [] if self.model_loaded else ["the NLP model is loading"]
        if self.needs_group and not self.group_joined:
            missing.append("no partitions assigned yet (joining the consumer group)")
        return missing


class RunState:
    """One run's shared state in this process."""

    def __init__(
        self,
        run_id: str,
        max_records: int | None = None,
        until_idle: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.run_id = run_id
        self.max_records = max_records
        self.until_idle = until_idle
        self.started_at = time.time()
        self.counters = Counters()
        self.leases = Leases()
        self.health = Health()
        self._stop = stop or threading.Event()
        self._idle_lock = threading.Lock()
        self._idle_since: float | None = None  # since when the readers find nothing new

    def request_stop(self) -> None:
        """Ask the readers to finish their current slice and stop."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def should_stop(self) -> bool:
        """Stop asked for, ``max_records`` read, or nothing new for ``until_idle`` seconds."""
        if self._stop.is_set():
            return True
        if self.max_records is not None and self.counters.snapshot().counts["read"] >= self.max_records:
            return True
        idle_since = self._idle_since
        return (
            self.until_idle is not None
            and idle_since is not None
            and (time.monotonic() - idle_since >= self.until_idle)
        )

    def budget(self, wanted: int) -> int:
        """How many of ``wanted`` records may still be read under ``max_records``."""
        if self.max_records is None:
            return wanted
        return max(0, min(wanted, self.max_records - self.counters.snapshot().counts["read"]))

    def found_nothing(self) -> None:
        """A reader's poll came back empty: the run is idle from now, unless it already was."""
        with self._idle_lock:
            if self._idle_since is None:
                self._idle_since = time.monotonic()

    def found_records(self) -> None:
        with self._idle_lock:
            self._idle_since = None


_runs: dict[str, RunState] = {}
_runs_lock = threading.Lock()


def begin(
    run_id: str,
    max_records: int | None = None,
    until_idle: float | None = None,
    stop: threading.Event | None = None,
) -> RunState:
    """The state of a new run in this process."""
    state = RunState(run_id, max_records, until_idle, stop)
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
