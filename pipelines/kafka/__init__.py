"""Talking to Kafka: connection settings (:mod:`.config`) and client helpers (:mod:`.client`)."""

from pipelines.errors import KafkaError
from pipelines.kafka.client import (
    COMMIT_TIMEOUT_MS,
    MAX_MESSAGE_BYTES,
    PartitionConsumer,
    end_offsets,
    ensure_topic,
    holds_record,
    list_partitions,
    new_consumer,
    new_producer,
    publish,
    reachable,
    record_at,
    starting_offset,
)
from pipelines.kafka.config import KafkaConfig

__all__ = [
    "COMMIT_TIMEOUT_MS",
    "MAX_MESSAGE_BYTES",
    "KafkaConfig",
    "KafkaError",
    "PartitionConsumer",
    "end_offsets",
    "ensure_topic",
    "holds_record",
    "list_partitions",
    "new_consumer",
    "new_producer",
    "publish",
    "reachable",
    "record_at",
    "starting_offset",
]
