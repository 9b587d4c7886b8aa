"""The Kafka splittable-DoFn reader, against the real embedded broker.

``assert_that`` needs a GroupByKey, which never fires behind an unbounded read on
the local runner, so these tests collect what the reader emits in this process.
"""

from __future__ import annotations

import threading
import uuid

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from kafka import TopicPartition

from pipelines import kafka, runstate
from pipelines.source import ReadFromKafka, ReadTopicFn

_collected: dict[str, list] = {}
_lock = threading.Lock()


def _collect(run: str, message) -> None:
    """What a sink does: keep the message, and say it is written (the reader commits that)."""
    with _lock:
        _collected.setdefault(run, []).append(message)
    partition = (message.topic, message.partition)
    runstate.of(run).leases.written(partition, message.lease, message.offset + 1)


def _from_committed(tp, committed):
    return committed  # no output files to resume after


def read_topic(broker, topic: str, group: str, **limits) -> list:
    run = f"{topic}/{group}/{uuid.uuid4().hex}"
    options = PipelineOptions(runner="FnApiRunner", direct_num_workers=1)
    with beam.Pipeline(options=options) as p:
        (
            p
            | ReadFromKafka(broker.config, topic, group, ReadTopicFn(run, _from_committed, **limits))
            | beam.Map(lambda m, run=run: _collect(run, m))
        )
    return _collected.get(run, [])


def publish(broker, topic: str, count: int, start: int = 0, partitions: int = 2) -> None:
    kafka.ensure_topic(broker.config, topic, partitions)
    kafka.publish(
        broker.config,
        topic,
        [
            (f"{i:03d}_feedfacefeedface.txt".encode(), f"Article {i}.".encode())
            for i in range(start, start + count)
        ],
    )


def committed(broker, topic: str, group: str, partitions: int = 2) -> list:
    consumer = kafka.new_consumer(broker.config, group)
    try:
        return [consumer.committed(TopicPartition(topic, p)) for p in range(partitions)]
    finally:
        consumer.close()


def test_reads_every_partition_with_its_metadata(broker, topic_name):
    publish(broker, topic_name, 10)
    messages = read_topic(broker, topic_name, "g1", until_idle=1.5)

    assert sorted(m.payload for m in messages) == sorted(f"Article {i}.".encode() for i in range(10))
    assert {m.partition for m in messages} == {0, 1}
    assert all(m.topic == topic_name and m.key.endswith(".txt") and m.timestamp_ms > 0 for m in messages)
    by_partition = {p: sorted(m.offset for m in messages if m.partition == p) for p in (0, 1)}
    assert all(offsets == list(range(len(offsets))) for offsets in by_partition.values())


def test_commits_offsets_and_resumes_from_them(broker, topic_name):
    publish(broker, topic_name, 6)
    first = read_topic(broker, topic_name, "resume", until_idle=1.5)
    assert len(first) == 6
    ends = committed(broker, topic_name, "resume")
    assert sum(ends) == 6  # next offset to read, per partition

    assert read_topic(broker, topic_name, "resume", until_idle=1.0) == []

    publish(broker, topic_name, 3, start=6)
    again = read_topic(broker, topic_name, "resume", until_idle=1.5)
    assert sorted(m.payload for m in again) == [b"Article 6.", b"Article 7.", b"Article 8."]
    assert sum(committed(broker, topic_name, "resume")) == 9


def test_max_records_stops_the_read(broker, topic_name):
    publish(broker, topic_name, 20, partitions=1)
    messages = read_topic(broker, topic_name, "limited", max_records=7, until_idle=10)
    assert len(messages) == 7
    assert committed(broker, topic_name, "limited", partitions=1) == [7]
