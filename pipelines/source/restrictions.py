"""A Kafka partition to read, and its restriction: the offsets still to read,
``[start, MAX_OFFSET)``.

A restriction position is an offset plus a shift that grows when a broker's log is
reset under the reader, so that claimed positions keep increasing (see
:class:`~pipelines.source.kafka_reader.ReadPartitionFn`).
"""

from __future__ import annotations

import dataclasses
import logging
import sys

from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider

from pipelines import kafka
from pipelines.kafka import KafkaConfig

_LOG = logging.getLogger(__name__)

#: The end of an unbounded partition: an offset no topic will reach.
MAX_OFFSET = sys.maxsize


@dataclasses.dataclass(frozen=True)
class KafkaPartition:
    """One partition to read: the element of the splittable reader."""

    config: KafkaConfig
    topic: str
    partition: int
    group_id: str | None
    start_from: str  # "earliest" or "latest": used when the group has no committed offset
    # The end of the last complete offset range in the output files: never start before it,
    # even when the group's commit for that range did not happen (a crash in between).
    floor_offset: int | None = None


class UnboundedOffsetTracker(OffsetRestrictionTracker):
    """An offset tracker whose range has no real end: a live partition."""

    def is_bounded(self) -> bool:
        return False


class PartitionRestrictionProvider(RestrictionProvider):
    """Starts a partition at the group's committed offset (else ``start_from``), never
    before the end of its last complete range in the output files."""

    def initial_restriction(self, element: KafkaPartition) -> OffsetRange:
        start = kafka.starting_offset(
            element.config, element.topic, element.partition, element.group_id, element.start_from
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

    def create_tracker(self, restriction: OffsetRange) -> UnboundedOffsetTracker:
        return UnboundedOffsetTracker(restriction)

    def restriction_size(self, element: KafkaPartition, restriction: OffsetRange) -> int:
        # A live partition has no known size; any constant keeps runners from
        # treating it as empty.
        return 1
