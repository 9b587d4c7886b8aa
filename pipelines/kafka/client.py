"""Thin helpers over kafka-python, with errors that name the broker at fault.

Everything that talks to a broker goes through here, so that an unreachable
address or a missing topic becomes one :class:`~pipelines.errors.KafkaError` with
a sentence a user can act on, instead of a client library traceback. Every client
is made from one :class:`~pipelines.kafka.config.KafkaConfig`.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable

import kafka.errors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from pipelines.errors import KafkaError
from pipelines.kafka.config import KafkaConfig

_LOG = logging.getLogger(__name__)

#: Large enough for the parse stage's default 2 MB limit plus headroom: a bigger
#: message must reach the pipeline so it can be dead-lettered as too_large.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


#: A commit or offset look-up waits no longer than this: while a broker is away,
#: reading must go on waiting for it (and saying so) rather than block in a request.
COMMIT_TIMEOUT_MS = 3000


def unreachable(config: KafkaConfig, cause: Exception) -> KafkaError:
    return KafkaError(
        f"cannot reach a Kafka broker at {config.bootstrap_servers}: {type(cause).__name__}: {cause}. "
        "Is the broker running and is the address right?",
        setting="bootstrap_servers",
    )


def consumer_settings(config: KafkaConfig, **defaults) -> dict:
    """A consumer's settings: ``defaults``, then ours, then the user's properties over both."""
    return {
        "auto_offset_reset": "earliest",
        "fetch_max_bytes": MAX_MESSAGE_BYTES * 2,
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        **defaults,
        **config.client_settings(KafkaConsumer.DEFAULT_CONFIG),
    }


def new_consumer(config: KafkaConfig, group_id: str | None = None) -> KafkaConsumer:
    """A consumer with manual assignment in mind: no auto commit, no subscription."""
    try:
        return KafkaConsumer(**consumer_settings(config), group_id=group_id, enable_auto_commit=False)
    except kafka.errors.KafkaError as e:
        raise unreachable(config, e) from None


def new_producer(config: KafkaConfig, idempotent: bool = False) -> KafkaProducer:
    """A producer that waits for every in-sync replica (acks=all).

    ``idempotent``: the broker de-duplicates the producer's retries; falls back to a
    plain acks=all producer where the broker does not support it.
    """
    settings = {
        "acks": "all",
        "max_request_size": MAX_MESSAGE_BYTES,
        "linger_ms": 5,
        **config.client_settings(KafkaProducer.DEFAULT_CONFIG),
    }
    try:
        if idempotent:
            try:
                return KafkaProducer(**settings, enable_idempotence=True)
            except (kafka.errors.UnsupportedVersionError, kafka.errors.IncompatibleBrokerVersion) as e:
                _LOG.warning(
                    "broker at %s has no idempotent producers (%s): acks=all only",
                    config.bootstrap_servers,
                    e,
                )
        return KafkaProducer(**settings)
    except kafka.errors.KafkaError as e:
        raise unreachable(config, e) from None


def list_partitions(config: KafkaConfig, topic: str) -> list[int]:
    """The partition numbers of ``topic``; KafkaError when it does not exist."""
    consumer = new_consumer(config)
    try:
        partitions = consumer.partitions_for_topic(topic)
    except kafka.errors.KafkaError as e:
        raise unreachable(config, e) from None
    finally:
        consumer.close()
    if not partitions:
        raise KafkaError(
            f"topic {topic!r} does not exist on the broker at {config.bootstrap_servers}: "
            "create it, or publish to it with `claimstream produce`, first",
            setting="topic",
        )
    return sorted(partitions)


def ensure_topic(config: KafkaConfig, topic: str, partitions: int = 1) -> None:
    """Create ``topic`` with ``partitions`` partitions unless it exists already."""
    try:
        admin = KafkaAdminClient(**config.client_settings(KafkaAdminClient.DEFAULT_CONFIG))
    except kafka.errors.KafkaError as e:
        raise unreachable(config, e) from None
    try:
        if topic not in admin.list_topics():
            admin.create_topics([NewTopic(topic, partitions, 1)])
    except kafka.errors.TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def starting_offset(
    config: KafkaConfig,
    topic: str,
    partition: int,
    group_id: str | None,
    start_from: str,
) -> int:
    """Where to start reading a partition.

    The group's committed offset when it has one, else the log start
    (``earliest``) or end (``latest``). The broker's reported end can trail the
    true last offset (Tansu reports the base offset of the last batch + 1), so
    ``latest`` may re-read the last batch: at least once, never a gap.
    """
    consumer = new_consumer(config, group_id)
    tp = TopicPartition(topic, partition)
    try:
        if group_id:
            committed = consumer.committed(tp)
            if committed is not None and committed >= 0:
                return committed
        offsets = consumer.end_offsets([tp]) if start_from == "latest" else consumer.beginning_offsets([tp])
        return offsets[tp]
    except kafka.errors.KafkaError as e:
        raise unreachable(config, e) from None
    finally:
        consumer.close()


class PartitionConsumer:
    """A consumer bound to one partition, read from explicit positions.

    It keeps track of where the broker's fetch position is, so reading on from
    where the last poll ended costs no seek.
    """

    def __init__(self, config: KafkaConfig, topic: str, partition: int, group_id: str | None):
        self._config = config
        self._tp = TopicPartition(topic, partition)
        self._group_id = group_id
        self._consumer = new_consumer(config, group_id)
        self._consumer.assign([self._tp])
        self._next: int | None = None

    def poll(self, position: int, timeout_ms: int, max_records: int) -> tuple[list, bool]:
        """Up to ``max_records`` records from ``position`` on, waiting up to ``timeout_ms``.

        The flag is True when the broker's log no longer reaches ``position`` and the
        records come from its new start instead: the log was reset (a broker that
        keeps nothing restarted, or the topic was re-created).
        """
        if self._next != position:
            self._consumer.seek(self._tp, position)
            self._next = position
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        records = list(batches.get(self._tp, ()))
        reset = bool(records) and records[0].offset < position
        if records:
            self._next = records[-1].offset + 1
        return records, reset

    def restarted_log_start(
        self, last_offset: int, last_key: bytes | None, last_timestamp: int
    ) -> int | None:
        """The log's new start if the record we read last is gone or changed, else None.

        A broker that keeps nothing (the embedded one) comes back from a restart with
        empty logs and serves nothing at our old position. Whether the log was reset
        is decided by the record itself, not by the high watermark alone: the
        embedded broker can report one that trails the real last offset.
        """
        try:
            end = self._consumer.end_offsets([self._tp], timeout_ms=COMMIT_TIMEOUT_MS)[self._tp]
            start = self._consumer.beginning_offsets([self._tp], timeout_ms=COMMIT_TIMEOUT_MS)[self._tp]
        except kafka.errors.KafkaError:
            return None  # cannot tell now: the broker is away; ask again later
        record = _first_record_from(self._consumer, self._tp, last_offset, timeout_ms=2000)
        self._next = None  # the next poll seeks back to where reading goes on
        if record is not None and record.offset == last_offset:
            same = record.key == last_key and record.timestamp == last_timestamp
            return None if same else start
        return start if end < last_offset else None

    def commit(self, next_offset: int, timeout_ms: int = COMMIT_TIMEOUT_MS) -> None:
        """Record ``next_offset`` as the group's position (no-op without a group).

        A failed commit is logged, not raised: the next bundle commits a later
        offset, and a restart in between resumes from the output files.
        """
        if not self._group_id:
            return
        try:
            self._consumer.commit({self._tp: OffsetAndMetadata(next_offset, "", -1)}, timeout_ms=timeout_ms)
        except kafka.errors.KafkaError as e:
            _LOG.warning(
                "could not commit offset %d of %s[%d] for group %r at %s: %s",
                next_offset, self._tp.topic, self._tp.partition, self._group_id,
                self._config.bootstrap_servers, e,
            )  # fmt: skip

    def close(self) -> None:
        self._consumer.close()


def end_offsets(config: KafkaConfig, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The broker's end offset of each (topic, partition): where the next record will go."""
    consumer = new_consumer(config)
    try:
        tps = [TopicPartition(t, p) for t, p in partitions]
        ends = consumer.end_offsets(tps, timeout_ms=COMMIT_TIMEOUT_MS)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    except kafka.errors.KafkaError as e:
        raise unreachable(config, e) from None
    finally:
        consumer.close()


def reachable(config: KafkaConfig, timeout: float = 1.0) -> bool:
    """Whether any of the bootstrap addresses accepts a TCP connection."""
    for address in config.servers:
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "localhost", int(port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


def record_at(config: KafkaConfig, topic: str, partition: int, offset: int, timeout_ms: int = 5000):
    """The record at ``offset``, or None when the log does not hold it (any more)."""
    consumer = new_consumer(config)
    tp = TopicPartition(topic, partition)
    try:
        consumer.assign([tp])
        record = _first_record_from(consumer, tp, offset, timeout_ms)
        return record if record is not None and record.offset == offset else None
    finally:
        consumer.close()


def holds_record(
    config: KafkaConfig, topic: str, partition: int, offset: int, key: str, timestamp_ms: int | None
) -> bool:
    """Whether the record at ``offset`` is still the one with this key (``""``: none) and timestamp.

    False when the log no longer holds the offset, or holds another record there:
    the topic was deleted and made again, or an in-memory broker restarted.
    """
    record = record_at(config, topic, partition, offset)
    if record is None:
        return False
    record_key = record.key.decode("utf-8", "replace") if record.key is not None else ""
    return record_key == key and (timestamp_ms is None or record.timestamp == timestamp_ms)


def _first_record_from(consumer: KafkaConsumer, tp: TopicPartition, offset: int, timeout_ms: int):
    """The first record a seek to ``offset`` yields (another offset if the log was reset), or None."""
    consumer.seek(tp, offset)
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        for record in consumer.poll(timeout_ms=200, max_records=1).get(tp, ()):
            return record
    return None


def publish(config: KafkaConfig, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Publish ``(key, value)`` pairs and wait until every one is acknowledged."""
    producer = new_producer(config)
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker refused the record
        return len(futures)
    except kafka.errors.KafkaError as e:
        raise KafkaError(f"publishing to {topic!r} at {config.bootstrap_servers} failed: {e}") from None
    finally:
        producer.close()
