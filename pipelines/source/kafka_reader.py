"""Reading a Kafka topic: a splittable DoFn, one element per partition.

Beam's ``ReadFromKafka`` is a Java cross-language transform, so the reader is a
Python splittable DoFn. Each partition is one element whose restriction is the
offset range still to read (:mod:`pipelines.source.restrictions`). A call reads
for a short time slice, then checkpoints with ``defer_remainder`` so the fused
downstream stages finish their bundle (and write their files) before the bundle
finalizer commits the consumed offsets to the consumer group.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.utils.timestamp import Timestamp

from pipelines import kafka, runstate
from pipelines.kafka import KafkaConfig
from pipelines.records import Message
from pipelines.source.restrictions import MAX_OFFSET, KafkaPartition, PartitionRestrictionProvider

_LOG = logging.getLogger(__name__)

#: How often an idle partition asks whether the record it read last is still there.
RESET_CHECK_EVERY = 5.0
#: Records asked for in one poll: the slice's deadline is checked between polls.
POLL_RECORDS = 64


class ReadFromKafka(beam.PTransform):
    """Reads the given partitions of a topic as an unbounded stream of :class:`Message`s.

    ``partitions`` come from :func:`pipelines.kafka.list_partitions` and floors from
    the output files (:func:`pipelines.sinks.recovery.resume_points`), both found
    when the run starts.
    """

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        partitions: list[int],
        group_id: str | None,
        start_from: str = "earliest",
        floors: dict[int, int] | None = None,
        read_fn: ReadPartitionFn | None = None,
    ) -> None:
        super().__init__()
        floors = floors or {}
        self._partitions = [
            KafkaPartition(config, topic, p, group_id, start_from, floors.get(p)) for p in partitions
        ]
        self._read_fn = read_fn or ReadPartitionFn("default")

    def expand(self, pbegin):
        partitions = self._partitions
        return (
            pbegin
            | "Impulse" >> beam.Impulse()
            # Not beam.Create: it adds a Reshuffle, and the stream must stay one
            # fused chain without a GroupByKey.
            | "ListPartitions" >> beam.FlatMap(lambda _: partitions)
            | "ReadPartitions" >> beam.ParDo(self._read_fn)
        )


class ReadPartitionFn(beam.DoFn):
    """Reads one Kafka partition, a time slice per call, as :class:`Message`s.

    Each call polls until the bundle's ``slice_seconds`` have passed,
    ``slice_records`` were read or a poll came back empty, then checkpoints. The
    offsets it claimed are committed to the group in the bundle finalizer, that is
    only after the runner has durably finished the bundle (for the fused chain:
    after its output files were written).
    """

    def __init__(
        self,
        run_id: str,
        until_idle: float | None = None,
        max_records: int | None = None,
        slice_seconds: float = 0.4,
        slice_records: int = 256,
        poll_timeout_ms: int = 200,
    ) -> None:
        self._run_id = run_id
        self._until_idle = until_idle
        self._max_records = max_records
        self._slice_seconds = slice_seconds
        self._slice_records = slice_records
        self._poll_timeout_ms = poll_timeout_ms

    def setup(self) -> None:
        self._readers: dict[KafkaPartition, _PartitionReader] = {}
        self._outages = _OutageLog()
        self._state = runstate.of(self._run_id, self._max_records, self._until_idle)

    def start_bundle(self) -> None:
        # One deadline for the whole bundle, shared by its partitions: records wait
        # for their file at most about slice_seconds, however many partitions there are.
        self._deadline = time.monotonic() + self._slice_seconds

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: KafkaPartition,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(PartitionRestrictionProvider()),
        watermark=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterator[beam.window.TimestampedValue]:
        if element not in self._readers:
            self._readers[element] = _PartitionReader(element)
        reader = self._readers[element]
        reader.next_offset = tracker.current_restriction().start - reader.shift
        slice_ = _Slice(self._deadline, self._state.budget(self._slice_records))
        yield from self._read_slice(reader, tracker, watermark, slice_)
        if slice_.claimed_up_to is not None:
            bundle_finalizer.register(functools.partial(reader.consumer.commit, slice_.claimed_up_to))
        if slice_.split_away:
            pass  # the rest of the range is another restriction's: nothing to settle
        elif self._state.should_stop():
            tracker.try_claim(MAX_OFFSET)  # claims nothing: marks the range done
        else:
            # An idle partition holds the watermark near "now" so event time moves on.
            _advance(watermark, int(time.time() * 1000) - 1000)
            tracker.defer_remainder()

    def _read_slice(self, reader: _PartitionReader, tracker, watermark, slice_: _Slice):
        """Poll and claim records until the slice is over."""
        while slice_.goes_on(self._state):
            records = reader.poll(self._poll_timeout_ms, min(slice_.budget, POLL_RECORDS))
            slice_.polled = True
            if not records:
                self._state.found_nothing()
                if not self._outages.check(reader.element.config) or not reader.after_empty_poll():
                    break  # nothing waiting (or the broker is away): give the others their turn
                continue
            self._outages.recovered(reader.element.config)
            for record in records:
                if not tracker.try_claim(reader.position_of(record)):
                    slice_.split_away = True
                    break
                slice_.claimed(record.offset + 1)
                reader.read(record)
                self._state.read(reader.element.topic, reader.element.partition, record.offset + 1)
                _advance(watermark, record.timestamp)
                yield beam.window.TimestampedValue(
                    _to_message(reader.element, record), Timestamp.of(max(record.timestamp, 0) / 1000.0)
                )

    def teardown(self) -> None:
        for reader in getattr(self, "_readers", {}).values():
            reader.consumer.close()


@dataclasses.dataclass
class _Slice:
    """One call's share of the bundle: until the deadline, the budget, or a split."""

    deadline: float
    budget: int
    polled: bool = False  # every partition polls at least once per bundle
    split_away: bool = False  # the runner took the rest of the range: stop claiming
    claimed_up_to: int | None = None  # the next offset to read, once anything was claimed

    def goes_on(self, state: runstate.RunState) -> bool:
        if self.split_away or self.budget <= 0 or state.should_stop():
            return False
        return not (self.polled and time.monotonic() >= self.deadline)

    def claimed(self, next_offset: int) -> None:
        self.claimed_up_to = next_offset
        self.budget -= 1


class _PartitionReader:
    """One partition's consumer, its read position, and what notices a reset log.

    Restriction positions are offsets plus ``shift``, which grows when the broker's
    log is reset under us (a broker that keeps nothing restarted, or the topic was
    made again), so that claimed positions keep increasing.
    """

    def __init__(self, element: KafkaPartition) -> None:
        self.element = element
        self.consumer = kafka.PartitionConsumer(
            element.config, element.topic, element.partition, element.group_id
        )
        self.shift = 0
        self.next_offset = 0  # set from the restriction at each call
        self._last_read: tuple[int, bytes | None, int] | None = None  # offset, key, timestamp
        self._reset_checked_at = 0.0

    def position_of(self, record) -> int:
        return record.offset + self.shift

    def poll(self, timeout_ms: int, max_records: int) -> list:
        records, reset = self.consumer.poll(self.next_offset, timeout_ms, max_records)
        if reset:
            self._reset_to(records[0].offset)
        return records

    def read(self, record) -> None:
        self.next_offset = record.offset + 1
        self._last_read = (record.offset, record.key, record.timestamp)

    def after_empty_poll(self) -> bool:
        """Whether to poll again now: only when the log turned out to be reset."""
        now = time.monotonic()
        if self._last_read is None or now - self._reset_checked_at < RESET_CHECK_EVERY:
            return False
        self._reset_checked_at = now
        new_start = self.consumer.restarted_log_start(*self._last_read)
        if new_start is None:
            return False
        self._reset_to(new_start)
        return True

    def _reset_to(self, new_start: int) -> None:
        """Read on from ``new_start`` at a restriction position past everything claimed."""
        self.shift += self.next_offset - new_start
        _LOG.error(
            "%s[%d]: the broker's log was reset (it now starts at offset %d, our position was %d): "
            "reading on from its new start",
            self.element.topic, self.element.partition, new_start, self.next_offset,
        )  # fmt: skip
        self.next_offset = new_start
        self._last_read = None


class _OutageLog:
    """Logs once when a broker stops answering and once when it is back.

    While it is away the reader keeps polling (kafka-python reconnects by itself):
    the pipeline waits for the broker instead of exiting.
    """

    CHECK_EVERY = 2.0

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._checked_at: dict[str, float] = {}

    def check(self, config: KafkaConfig) -> bool:
        """Whether the broker answers (checked at most every CHECK_EVERY seconds)."""
        servers, now = config.bootstrap_servers, time.monotonic()
        if now - self._checked_at.get(servers, 0.0) >= self.CHECK_EVERY:
            self._checked_at[servers] = now
            if kafka.reachable(config):
                self.recovered(config)
            elif servers not in self._down:
                self._down.add(servers)
                _LOG.error("cannot reach the Kafka broker at %s: waiting for it to come back", servers)
        return servers not in self._down

    def recovered(self, config: KafkaConfig) -> None:
        if config.bootstrap_servers in self._down:
            self._down.discard(config.bootstrap_servers)
            _LOG.warning("the Kafka broker at %s is reachable again: reading on", config.bootstrap_servers)


def _advance(watermark, timestamp_ms: int) -> None:
    candidate = Timestamp.of(max(timestamp_ms, 0) / 1000.0)
    current = watermark.current_watermark()
    if current is None or candidate > current:
        watermark.set_watermark(candidate)


def _to_message(element: KafkaPartition, record) -> Message:
    return Message(
        payload=record.value if record.value is not None else b"",
        topic=element.topic,
        partition=element.partition,
        offset=record.offset,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        timestamp_ms=record.timestamp,
    )
