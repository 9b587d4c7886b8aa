"""Reading a Kafka topic as a member of the consumer group: a splittable DoFn.

Beam's ``ReadFromKafka`` is a Java cross-language transform, so the reader is a
Python splittable DoFn. Its element is one member of the consumer group
(:class:`~pipelines.source.restrictions.GroupSlot`); replicas started with the
same ``--group-id`` split the topic's partitions through Kafka's group protocol,
and partitions added to the topic are picked up at the next metadata refresh.
This is the shape of Beam Java's dynamic partition discovery, with the group
coordinator deciding who reads what.

A call reads for a short time slice, then checkpoints with ``defer_remainder`` so
the fused downstream stages finish their bundle (and write their files) before
the bundle finalizer commits what was written. While a backlog waits (a poll came
back full) the slice reads on to its record budget instead: each bundle end waits
for the NLP workers to drain, so a backlog is read in fewer, larger bundles.

Every message carries its partition's lease: output read under a lease this
replica no longer holds is never written (:class:`pipelines.runstate.Leases`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.utils.timestamp import Timestamp

from pipelines import kafka, runstate
from pipelines.kafka import KafkaConfig
from pipelines.kafka.membership import GroupMember, StartOf
from pipelines.records import Message
from pipelines.source.restrictions import MAX_POSITION, GroupSlot, MemberRestrictionProvider

_LOG = logging.getLogger(__name__)

#: Records asked for in one poll: the slice's deadline is checked between polls.
POLL_RECORDS = 64


class ReadFromKafka(beam.PTransform):
    """Reads a topic as ``readers`` members of the consumer group ``group_id``."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        group_id: str,
        read_fn: ReadTopicFn,
        start_from: str = "earliest",
        readers: int = 1,
    ) -> None:
        super().__init__()
        self._slots = [GroupSlot(config, topic, group_id, start_from, slot) for slot in range(readers)]
        self._read_fn = read_fn

    def expand(self, pbegin):
        slots = self._slots
        return (
            pbegin
            | "Impulse" >> beam.Impulse()
            # Not beam.Create: it adds a Reshuffle, and the stream must stay one
            # fused chain without a GroupByKey.
            | "Members" >> beam.FlatMap(lambda _: slots)
            | "ReadTopic" >> beam.ParDo(self._read_fn)
        )


class ReadTopicFn(beam.DoFn):
    """Runs one group member per element, a time slice per call, emitting :class:`Message`s.

    ``start_of`` says where a newly assigned partition starts (after what the output
    files hold: :func:`pipelines.sinks.recovery.start_of_partition`).
    """

    def __init__(
        self,
        run_id: str,
        start_of: StartOf,
        until_idle: float | None = None,
        max_records: int | None = None,
        slice_seconds: float = 0.4,
        slice_records: int = 256,
        poll_timeout_ms: int = 200,
    ) -> None:
        self._run_id = run_id
        self._start_of = start_of
        self._until_idle = until_idle
        self._max_records = max_records
        self._slice_seconds = slice_seconds
        self._slice_records = slice_records
        self._poll_timeout_ms = poll_timeout_ms

    def setup(self) -> None:
        self._members: dict[GroupSlot, GroupMember] = {}
        # Per partition: the lease it was read under, and the next offset expected.
        self._next_offsets: dict[tuple[str, int], tuple[int | None, int]] = {}
        self._outages = _OutageLog()
        self._state = runstate.of(self._run_id, self._max_records, self._until_idle)
        self._state.health.needs_group = True

    def start_bundle(self) -> None:
        # One deadline for the whole bundle, shared by its members: records wait for
        # their file at most about slice_seconds, however many members there are.
        self._deadline = time.monotonic() + self._slice_seconds

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: GroupSlot,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(MemberRestrictionProvider()),
        watermark=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterator[beam.window.TimestampedValue]:
        member = self._member(element)
        slice_ = _Slice(self._deadline, self._state.budget(self._slice_records))
        yield from self._read_slice(member, tracker, watermark, slice_)
        stopping = self._state.should_stop()
        # After the bundle's files are written: commit them (and leave the group at the end).
        bundle_finalizer.register(self._closer(element) if stopping else member.commit_written)
        if slice_.split_away:
            pass  # the rest of the restriction is another's: nothing to settle
        elif stopping:
            tracker.try_claim(MAX_POSITION)  # claims nothing: marks the member done
        else:
            # An idle topic holds the watermark near "now" so event time moves on.
            _advance(watermark, int(time.time() * 1000) - 1000)
            tracker.defer_remainder()

    def _member(self, element: GroupSlot) -> GroupMember:
        if element not in self._members:
            self._members[element] = GroupMember(
                element.config,
                element.topic,
                element.group_id,
                element.start_from,
                self._state,
                self._start_of,
            )
        return self._members[element]

    def _closer(self, element: GroupSlot):
        def close() -> None:
            member = self._members.pop(element, None)
            if member is not None:
                member.close()

        return close

    def _read_slice(self, member: GroupMember, tracker, watermark, slice_: _Slice):
        """Poll and claim records until the slice is over."""
        position = tracker.current_restriction().start
        while slice_.goes_on(self._state):
            wanted = min(slice_.budget, POLL_RECORDS)
            records = member.poll(self._poll_timeout_ms, wanted)
            self._state.health.beat()
            slice_.polled = True
            slice_.behind = len(records) >= wanted
            if not records:
                if member.settled():  # joining the group is not being idle
                    self._state.found_nothing()
                self._outages.check(member.config)
                break  # nothing waiting: end the bundle, so what was read gets written
            self._state.found_records()
            self._outages.recovered(member.config)
            for record in records:
                if not tracker.try_claim(position):
                    slice_.split_away = True
                    break
                position += 1
                slice_.budget -= 1
                yield self._message(member.topic, record, watermark)

    def _message(self, topic: str, record, watermark) -> beam.window.TimestampedValue:
        partition = (topic, record.partition)
        lease = self._state.leases.lease_of(partition)
        read_lease, expected = self._next_offsets.get(partition, (lease, record.offset))
        if read_lease == lease and record.offset < expected:
            _LOG.error(
                "%s[%d]: the broker's log was reset (it now serves offset %d, our position was %d): "
                "reading on from there", topic, record.partition, record.offset, expected,
            )  # fmt: skip
        self._next_offsets[partition] = (lease, record.offset + 1)
        self._state.counters.read(partition, record.offset + 1)
        _advance(watermark, record.timestamp)
        message = _to_message(topic, record, lease)
        return beam.window.TimestampedValue(message, Timestamp.of(max(record.timestamp, 0) / 1000.0))

    def teardown(self) -> None:
        for member in getattr(self, "_members", {}).values():
            member.close()


@dataclasses.dataclass
class _Slice:
    """One call's share of the bundle: until the deadline (or, while a backlog waits, the
    budget), or a split.

    >>> state = runstate.RunState("slice-doc")
    >>> late = _Slice(deadline=0.0, budget=64, polled=True)
    >>> late.goes_on(state)
    False
    >>> late.behind = True  # the last poll came back full
    >>> late.goes_on(state)
    True
    """

    deadline: float
    budget: int
    polled: bool = False  # every member polls at least once per bundle
    behind: bool = False  # the last poll came back full: a backlog waits
    split_away: bool = False  # the runner took the rest of the restriction: stop claiming

    def goes_on(self, state: runstate.RunState) -> bool:
        if self.split_away or self.budget <= 0 or state.should_stop():
            return False
        return not (self.polled and not self.behind and time.monotonic() >= self.deadline)


class _OutageLog:
    """Logs once when a broker stops answering and once when it is back.

    While it is away the member keeps polling (kafka-python reconnects by itself):
    the pipeline waits for the broker instead of exiting.
    """

    CHECK_EVERY = 2.0

    def __init__(self) -> None:
        self._down = False
        self._checked_at = 0.0

    def check(self, config: KafkaConfig) -> None:
        """Whether the broker answers (checked at most every CHECK_EVERY seconds)."""
        now = time.monotonic()
        if now - self._checked_at < self.CHECK_EVERY:
            return
        self._checked_at = now
        if kafka.reachable(config):
            self.recovered(config)
        elif not self._down:
            self._down = True
            _LOG.error(
                "cannot reach the Kafka broker at %s: waiting for it to come back", config.bootstrap_servers
            )

    def recovered(self, config: KafkaConfig) -> None:
        if self._down:
            self._down = False
            _LOG.warning("the Kafka broker at %s is reachable again: reading on", config.bootstrap_servers)


def _advance(watermark, timestamp_ms: int) -> None:
    candidate = Timestamp.of(max(timestamp_ms, 0) / 1000.0)
    current = watermark.current_watermark()
    if current is None or candidate > current:
        watermark.set_watermark(candidate)


def _to_message(topic: str, record, lease: int | None) -> Message:
    return Message(
        payload=record.value if record.value is not None else b"",
        topic=topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        timestamp_ms=record.timestamp,
        lease=lease,
        headers=tuple((name, value or b"") for name, value in record.headers or ()),
    )
