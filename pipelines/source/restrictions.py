"""The element of the Kafka reader, one group member, and its restriction.

Which partitions a member reads, and from where, is the consumer group's business
(:mod:`pipelines.kafka.membership`): the restriction only counts the records the
member has claimed, ``[claimed so far, MAX_POSITION)``. It gives the splittable
DoFn its checkpoints (one per bundle) and can never be split otherwise: a member
is one consumer.
"""

from __future__ import annotations

import dataclasses
import sys

from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider

from pipelines.kafka import KafkaConfig

#: The end of a member's restriction: a count no run will reach.
MAX_POSITION = sys.maxsize


@dataclasses.dataclass(frozen=True)
class GroupSlot:
    """One member of the consumer group to run: the element of the splittable reader."""

    config: KafkaConfig
    topic: str
    group_id: str
    start_from: str  # "earliest" or "latest": for a partition the group has no offset for
    slot: int = 0


class MemberTracker(OffsetRestrictionTracker):
    """Counts claimed records; splits only to checkpoint, never to share the work."""

    def is_bounded(self) -> bool:
        return False

    def try_split(self, fraction_of_remainder):
        if fraction_of_remainder != 0:
            return None  # a member is one consumer: a second restriction could not read
        return super().try_split(fraction_of_remainder)


class MemberRestrictionProvider(RestrictionProvider):
    def initial_restriction(self, element: GroupSlot) -> OffsetRange:
        return OffsetRange(0, MAX_POSITION)

    def create_tracker(self, restriction: OffsetRange) -> MemberTracker:
        return MemberTracker(restriction)

    def restriction_size(self, element: GroupSlot, restriction: OffsetRange) -> int:
        # A live topic has no known size; any constant keeps runners from treating it as empty.
        return 1
