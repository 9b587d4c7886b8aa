"""Source stage: article messages from a Kafka topic or from files.

Both sources emit the same element, a :class:`Message`: the raw bytes plus where
they came from. Nothing here decodes or judges the bytes; that is the parse
stage's job, so that every message reaches either the articles or the dead
letters.

The Kafka reader is a splittable DoFn, because Beam's ``ReadFromKafka`` is a
Java cross-language transform. Each topic partition is one element whose
restriction is the offset range still to read, ``[start, MAX_OFFSET)``. The DoFn
reads for a short time slice, then checkpoints with ``defer_remainder`` so the
fused downstream stages finish their bundle (and write their files) before the
bundle finalizer commits the consumed offsets to the consumer group.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Timestamp

from pipelines import kafka, progress

_LOG = logging.getLogger(__name__)

#: The end of an unbounded partition: an offset no topic will reach.
MAX_OFFSET = sys.maxsize
#: How often an idle partition asks whether the record it read last is still there.
RESET_CHECK_EVERY = 5.0


@dataclasses.dataclass(frozen=True)
class Message:
    """One input message, before parsing.

    >>> Message(payload=b"Headline\\n\\nBody.", topic="articles", partition=0, offset=7)
    """

    payload: bytes
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    timestamp_ms: int | None = None
    path: str | None = None

    def source_record(self) -> dict:
        """The ``Source`` Avro record of this message."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "timestamp_ms": self.timestamp_ms,
            "path": self.path,
        }

    @property
    def name(self) -> str | None:
        """The file name this message stands for: its path's last part, else its key."""
        if self.path:
            return self.path.replace("\\", "/").rsplit("/", 1)[-1]
        return self.key


@dataclasses.dataclass(frozen=True)
class KafkaPartition:
    """One partition to read: the element of the splittable reader."""

    bootstrap_servers: str
    topic: str
    partition: int
    group_id: str | None
    start_from: str  # "earliest" or "latest": used when the group has no committed offset
    # The end of the last complete offset range in the output files: never start before it,
    # even when the group's commit for that range did not happen (a crash in between).
    floor_offset: int | None = None


# --- Stopping a local run ----------------------------------------------------------
# The reader runs until it is told to stop: by the process (Ctrl-C / SIGTERM), by
# --until-idle or by --max-articles. These are per-process facts, so they live in
# module state that every reader instance in this worker process shares.

_stop_requested = threading.Event()


def request_stop() -> None:
    """Ask every Kafka reader in this process to finish its current slice and stop."""
    _stop_requested.set()


def stop_requested() -> bool:
    return _stop_requested.is_set()


def reset_stop() -> None:
    """Forget an earlier stop request (for a new run in the same process)."""
    _stop_requested.clear()


class _RunLimits:
    """Shared counters behind --until-idle and --max-articles, per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_record_at = time.monotonic()
        self.records = 0

    def saw_records(self, count: int) -> None:
        with self.lock:
            self.records += count
            self.last_record_at = time.monotonic()


_limits: dict[str, _RunLimits] = {}
_limits_lock = threading.Lock()


def _limits_for(run_id: str) -> _RunLimits:
    with _limits_lock:
        return _limits.setdefault(run_id, _RunLimits())


# --- The splittable DoFn --------------------------------------------------------------


class _UnboundedOffsetTracker(OffsetRestrictionTracker):
    """An offset tracker whose range has no real end: a live partition."""

    def is_bounded(self) -> bool:
        return False


class PartitionRestrictionProvider(RestrictionProvider):
    """The restriction of a partition is ``[first offset to read, MAX_OFFSET)``."""

    def initial_restriction(self, element: KafkaPartition) -> OffsetRange:
        start = kafka.starting_offset(
            element.bootstrap_servers,
            element.topic,
            element.partition,
            element.group_id,
            element.start_from,
        )
        if element.floor_offset is not None and element.floor_offset > start:
            _LOG.info(
                "%s[%d]: the output files already hold offsets up to %d (the commit after them "
                "did not happen): starting there",
                element.topic, element.partition, element.floor_offset - 1,
            )  # fmt: skip
            start = element.floor_offset
        _LOG.info("reading %s[%d] from offset %d", element.topic, element.partition, start)
        return OffsetRange(start, MAX_OFFSET)

    def create_tracker(self, restriction: OffsetRange) -> _UnboundedOffsetTracker:
        return _UnboundedOffsetTracker(restriction)

    def restriction_size(self, element: KafkaPartition, restriction: OffsetRange) -> int:
        # A live partition has no known size; any constant keeps runners from
        # treating it as empty.
        return 1


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
        slice_seconds: float = 1.0,
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
        self._consumers: dict[KafkaPartition, kafka.PartitionConsumer] = {}
        # Restriction positions are offsets plus a shift that grows when a broker's
        # log is reset under us, so claimed positions keep increasing.
        self._shifts: dict[KafkaPartition, int] = {}
        # The last record read per partition, to notice when a broker's log is reset.
        self._last_read: dict[KafkaPartition, tuple[int, bytes | None, int]] = {}
        self._reset_checked_at: dict[KafkaPartition, float] = {}
        self._outages = _OutageLog()
        self._limits = _limits_for(self._run_id)
        self._records_read = beam.metrics.Metrics.counter("claimstream", "kafka_records")
        self._read_times = beam.metrics.Metrics.distribution("claimstream", "read_time_ms")

    def start_bundle(self) -> None:
        # One deadline for the whole bundle, shared by its partitions: records wait
        # for their file at most about slice_seconds, however many partitions there are.
        self._deadline = time.monotonic() + self._slice_seconds

    def _consumer(self, element: KafkaPartition) -> kafka.PartitionConsumer:
        if element not in self._consumers:
            self._consumers[element] = kafka.PartitionConsumer(
                element.bootstrap_servers, element.topic, element.partition, element.group_id
            )
        return self._consumers[element]

    def _should_stop(self) -> bool:
        if _stop_requested.is_set():
            return True
        limits = self._limits
        if self._max_records is not None and limits.records >= self._max_records:
            return True
        if self._until_idle is not None:
            return time.monotonic() - limits.last_record_at >= self._until_idle
        return False

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: KafkaPartition,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(PartitionRestrictionProvider()),
        watermark=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterator[beam.window.TimestampedValue]:
        consumer = self._consumer(element)
        shift = self._shifts.get(element, 0)
        offset = tracker.current_restriction().start - shift  # the next offset to read
        budget = self._slice_records
        if self._max_records is not None:
            with self._limits.lock:
                budget = min(budget, max(0, self._max_records - self._limits.records))
        commit_offset = None  # the next offset to read, once anything was claimed
        split_away = False  # the runner took the rest of the range: stop claiming

        polled = False  # every partition polls at least once per bundle
        while not split_away and budget > 0 and not self._should_stop():
            if polled and time.monotonic() >= self._deadline:
                break
            polled = True
            records, reset = consumer.poll(offset, self._poll_timeout_ms, budget)
            if not records:
                if not self._outages.check(element.bootstrap_servers):
                    break  # the broker is away: wait for it, polling
                new_start = self._check_for_reset(element, consumer)
                if new_start is None:
                    break  # nothing waiting: give the other partitions their turn
                shift = self._reset(element, offset, new_start)
                offset = new_start
                continue
            self._outages.recovered(element.bootstrap_servers)
            if reset:
                shift = self._reset(element, offset, records[0].offset)
            for record in records:
                if not tracker.try_claim(record.offset + shift):
                    split_away = True
                    break
                offset = commit_offset = record.offset + 1
                self._last_read[element] = (record.offset, record.key, record.timestamp)
                budget -= 1
                self._advance_watermark(watermark, record.timestamp)
                yield beam.window.TimestampedValue(
                    _to_message(element.topic, element.partition, record),
                    Timestamp.of(max(record.timestamp, 0) / 1000.0),
                )
            self._limits.saw_records(len(records))
            self._records_read.inc(len(records))
            self._read_times.update(int(time.time() * 1000))
            progress.counters.read_up_to(element.topic, element.partition, offset)

        if commit_offset is not None:
            bundle_finalizer.register(functools.partial(consumer.commit, commit_offset))
        # After a split the rest of the range is another restriction's: nothing to settle.
        if not split_away and self._should_stop():
            tracker.try_claim(MAX_OFFSET)  # claims nothing: marks the range done
        elif not split_away:
            # An idle partition holds the watermark near "now" so event time moves on.
            self._advance_watermark(watermark, int(time.time() * 1000) - 1000)
            tracker.defer_remainder()

    def _check_for_reset(self, element: KafkaPartition, consumer: kafka.PartitionConsumer) -> int | None:
        """While a partition is idle, now and then: was its log reset? Its new start if so."""
        now = time.monotonic()
        if element not in self._last_read:
            return None
        if now - self._reset_checked_at.get(element, 0.0) < RESET_CHECK_EVERY:
            return None
        self._reset_checked_at[element] = now
        return consumer.restarted_log_start(*self._last_read[element])

    def _reset(self, element: KafkaPartition, offset: int, new_start: int) -> int:
        """Read on from ``new_start`` at a restriction position past everything claimed."""
        shift = self._shifts.get(element, 0) + offset - new_start
        self._shifts[element] = shift
        self._last_read.pop(element, None)
        _LOG.error(
            "%s[%d]: the broker's log was reset (it now starts at offset %d, our position was %d): "
            "reading on from its new start",
            element.topic, element.partition, new_start, offset,
        )  # fmt: skip
        return shift

    @staticmethod
    def _advance_watermark(watermark, timestamp_ms: int) -> None:
        candidate = Timestamp.of(max(timestamp_ms, 0) / 1000.0)
        current = watermark.current_watermark()
        if current is None or candidate > current:
            watermark.set_watermark(candidate)

    def teardown(self) -> None:
        for consumer in getattr(self, "_consumers", {}).values():
            consumer.close()


class _OutageLog:
    """Logs once when a broker stops answering and once when it is back.

    While it is away the reader keeps polling (kafka-python reconnects by itself):
    the pipeline waits for the broker instead of exiting.
    """

    CHECK_EVERY = 2.0

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._checked_at: dict[str, float] = {}

    def check(self, bootstrap_servers: str) -> bool:
        """Whether the broker answers (checked at most every CHECK_EVERY seconds)."""
        now = time.monotonic()
        if now - self._checked_at.get(bootstrap_servers, 0.0) >= self.CHECK_EVERY:
            self._checked_at[bootstrap_servers] = now
            if kafka.reachable(bootstrap_servers):
                self.recovered(bootstrap_servers)
            elif bootstrap_servers not in self._down:
                self._down.add(bootstrap_servers)
                _LOG.error(
                    "cannot reach the Kafka broker at %s: waiting for it to come back", bootstrap_servers
                )
        return bootstrap_servers not in self._down

    def recovered(self, bootstrap_servers: str) -> None:
        if bootstrap_servers in self._down:
            self._down.discard(bootstrap_servers)
            _LOG.warning("the Kafka broker at %s is reachable again: reading on", bootstrap_servers)


def _to_message(topic: str, partition: int, record) -> Message:
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    return Message(
        payload=record.value if record.value is not None else b"",
        topic=topic,
        partition=partition,
        offset=record.offset,
        key=key,
        timestamp_ms=record.timestamp,
    )


class ReadFromKafka(beam.PTransform):
    """Reads every partition of a topic as an unbounded stream of :class:`Message`s.

    The partitions are listed when the pipeline is built, so an unreachable broker
    or a missing topic is reported before anything runs. ``resume_points`` (from
    the output files, see :func:`pipelines.sinks.resume_points`) become start
    floors once the broker confirms it still holds the last record they name.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str | None,
        start_from: str = "earliest",
        until_idle: float | None = None,
        max_records: int | None = None,
        run_id: str = "default",
        resume_points: dict | None = None,
        slice_seconds: float = 1.0,
        slice_records: int = 256,
    ) -> None:
        super().__init__()
        resume_points = resume_points or {}
        self._partitions = [
            KafkaPartition(
                bootstrap_servers, topic, p, group_id, start_from,
                _checked_floor(bootstrap_servers, topic, p, resume_points.get(p)),
            )
            for p in kafka.list_partitions(bootstrap_servers, topic)
        ]  # fmt: skip
        self._read_fn = ReadPartitionFn(
            run_id, until_idle, max_records, slice_seconds=slice_seconds, slice_records=slice_records
        )

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


def _checked_floor(bootstrap_servers: str, topic: str, partition: int, point) -> int | None:
    """``point.next_offset`` if the broker's record before it is the one the files end with."""
    if point is None:
        return None
    last = point.next_offset - 1
    key, timestamp = point.last_key, point.last_timestamp_ms
    if not kafka.holds_record(bootstrap_servers, topic, partition, last, key, timestamp):
        _LOG.warning(
            "%s[%d]: the output files end at offset %d, but the broker holds another record "
            "there (its log was reset): not resuming from the files",
            topic, partition, last,
        )  # fmt: skip
        return None
    return point.next_offset


# --- Files, for backfills -------------------------------------------------------------


class ReadFileFn(beam.DoFn):
    """Turns a matched file into a :class:`Message`, reading at most ``max_bytes + 1``.

    Reading one byte past the limit lets the parse stage reject an oversized file
    as ``too_large`` without this stage holding all of it in memory.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes

    def setup(self) -> None:
        self._read_times = beam.metrics.Metrics.distribution("claimstream", "read_time_ms")

    def process(self, readable: fileio.ReadableFile) -> Iterable[Message]:
        with readable.open(compression_type=beam.io.filesystem.CompressionTypes.UNCOMPRESSED) as f:
            payload = f.read(self._max_bytes + 1)
        self._read_times.update(int(time.time() * 1000))
        yield Message(payload=payload, path=readable.metadata.path)


class ReadArticleFiles(beam.PTransform):
    """Reads every file that matches a glob as one :class:`Message` each.

    The glob is expanded when the pipeline is built, and the files enter it as a
    list: a distributed runner (Dask, Dataflow) splits that list over its workers,
    where a single glob element would leave every file to one worker.
    """

    def __init__(self, pattern: str, max_bytes: int) -> None:
        super().__init__()
        self._files = FileSystems.match([pattern])[0].metadata_list
        self._max_bytes = max_bytes

    @property
    def file_count(self) -> int:
        return len(self._files)

    def expand(self, pbegin):
        return (
            pbegin
            | "ListFiles" >> beam.Create(self._files)
            | "Open" >> fileio.ReadMatches()
            | "Read" >> beam.ParDo(ReadFileFn(self._max_bytes))
        )
