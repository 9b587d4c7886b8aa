"""One member of a Kafka consumer group: replicas split a topic's partitions between them.

A :class:`GroupMember` subscribes to the topic with the run's group id, so Kafka's
group protocol gives each partition to exactly one member at a time, and a member
that stops (or dies) has its partitions handed to the others. kafka-python calls
the rebalance listener on its own network thread, where nothing may block, so the
listener only takes note:

- a revoked partition's written offsets are committed (sent before the member
  rejoins) and its lease is released: whatever this member still has in flight
  for it will not be written;
- a newly assigned partition is paused until :meth:`GroupMember.poll` has found
  where to start it (``start_of``: the group's committed offset, never before what
  the output files already hold) and granted it a new lease.

A lease is a number the run state hands out per partition and assignment
(:meth:`pipelines.runstate.RunState.grant`); every message read carries it, and
the writer writes only records whose lease is still held and while no rebalance
is pending, so a partition is never written by two members at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import kafka.errors
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from pipelines.kafka.client import COMMIT_TIMEOUT_MS, consumer_settings, unreachable
from pipelines.kafka.config import KafkaConfig
from pipelines.runstate import RunState

_LOG = logging.getLogger(__name__)

#: claimstream's group settings, under whatever the user gives: a member that dies is
#: replaced within about 6-9 s (6000 ms is the smallest session a stock broker accepts);
#: partitions added to the topic are noticed within 30 s.
GROUP_DEFAULTS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "metadata_max_age_ms": 30000}

#: At most how long one :meth:`GroupMember.poll` waits for a join under way.
JOIN_WAIT_SECONDS = 10.0

#: Where a newly assigned partition starts: the first offset to read, or None for the
#: group's committed offset (else ``auto_offset_reset``).
StartOf = Callable[[TopicPartition, int | None], int | None]


class GroupMember:
    """A subscribed consumer, its partitions' leases, and the commits of what was written."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        group_id: str,
        start_from: str,
        state: RunState,
        start_of: StartOf,
    ) -> None:
        self.topic = topic
        self._config = config
        self._state = state
        self._start_of = start_of
        self._to_start: set[TopicPartition] = set()
        self._committed: dict[TopicPartition, int] = {}
        self._joined = False
        try:
            self._consumer = KafkaConsumer(
                **consumer_settings(config, **GROUP_DEFAULTS, auto_offset_reset=start_from),
                group_id=group_id,
                enable_auto_commit=False,
            )
            self._consumer.subscribe([topic], listener=_Listener(self))
            # The group's leader assigns the partitions its metadata knows: with none yet, its
            # first assignment is stale at once and the group joins again (each join held for
            # seconds). Knowing the topic's partitions before the first join saves that.
            self._consumer.partitions_for_topic(topic)
        except kafka.errors.KafkaError as e:
            raise unreachable(config, e) from None
        state.leases.add_member(self)

    @property
    def config(self) -> KafkaConfig:
        return self._config

    # --- Reading ------------------------------------------------------------------------

    def poll(self, timeout_ms: int, max_records: int) -> list:
        """Records of the partitions this member holds, in offset order per partition.

        Joining the group, and every later rebalance, happen inside this call.

        A join is waited for here (up to JOIN_WAIT_SECONDS, or until the run
        stops): kafka-python 3.0 throws away a join's answer that comes while no
        ``poll()`` waits for it and sends a new JoinGroup, which the broker holds for
        seconds again. With short polls that cost one start in five 3 to 72 s. Not
        when other members share this process (``--readers`` on a cluster runner's
        worker): one waiting would hold up the others' joins.
        """
        deadline = time.monotonic() + JOIN_WAIT_SECONDS
        while True:
            batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
            if self._to_start:
                self._start_assigned()
            if batches or not self._waiting_to_join() or time.monotonic() >= deadline:
                return [record for records in batches.values() for record in records]

    def _waiting_to_join(self) -> bool:
        """Whether this process's only member is (re)joining the group."""
        alone = self._state.leases.members() == [self]
        return alone and self.rebalance_pending() and not self._state.should_stop()

    def settled(self) -> bool:
        """Whether this member has joined the group and started reading what it was given."""
        return self._joined and not self._to_start and not self.rebalance_pending()

    def rebalance_pending(self) -> bool:
        """Whether the group is rebalancing, or has put this member out: write nothing now."""
        coordinator = self._consumer._coordinator
        return coordinator.need_rejoin() or coordinator.rebalance_in_progress()

    def _start_assigned(self) -> None:
        """Seek each newly assigned partition to its start, grant its lease, read it."""
        for tp in sorted(self._to_start):
            committed = self._consumer.committed(tp, timeout_ms=COMMIT_TIMEOUT_MS)
            start = self._start_of(tp, committed)
            if start is not None:
                self._consumer.seek(tp, start)
            position = start if start is not None else committed
            self._committed[tp] = committed if committed is not None else -1
            self._state.leases.grant((tp.topic, tp.partition))
            _LOG.info("%s[%d]: assigned to this replica, reading from offset %s", tp.topic, tp.partition,
                      "the start" if position is None else position)  # fmt: skip
        self._consumer.resume(*self._to_start)
        self._to_start.clear()
        # Ready only once the partitions are leased: /readyz then lists them.
        self._state.health.group_joined = True

    # --- Committing ---------------------------------------------------------------------

    def commit_written(self) -> None:
        """Commit, for each partition this member holds, the offset after what was written.

        A failed commit is logged, not raised: the next one commits a later offset, and
        whoever reads the partition next starts after the output files anyway.
        """
        offsets = self._written_offsets(p for _, p in self._state.leases.held(self.topic))
        if not offsets:
            return
        try:
            self._consumer.commit(offsets, timeout_ms=COMMIT_TIMEOUT_MS)
        except kafka.errors.KafkaError as e:
            _LOG.warning(
                "could not commit offsets of %s at %s: %s", self.topic, self._config.bootstrap_servers, e
            )
            return
        self._committed.update({tp: o.offset for tp, o in offsets.items()})

    def _written_offsets(self, partitions) -> dict[TopicPartition, OffsetAndMetadata]:
        written = self._state.leases.written_offsets()
        offsets = {}
        for partition in partitions:
            tp = TopicPartition(self.topic, partition)
            next_offset = written.get((self.topic, partition))
            if next_offset is not None and next_offset > self._committed.get(tp, -1):
                offsets[tp] = OffsetAndMetadata(next_offset, "", -1)
        return offsets

    def close(self) -> None:
        """Commit what was written and leave the group, so the others take over at once."""
        if self._consumer is None:
            return
        self.commit_written()
        for tp in self._consumer.assignment():
            self._release(tp)
        self._consumer.close()
        self._consumer = None
        self._state.leases.remove_member(self)

    # --- What the listener is told (on kafka-python's network thread: never block) -------

    def _revoked(self, partitions: set[TopicPartition], lost: bool = False) -> None:
        if not lost:
            offsets = self._written_offsets(tp.partition for tp in partitions)
            if offsets:
                # Sent before the request to rejoin, on the same connection: the group's
                # offsets are where this member's files end before anyone else starts.
                self._consumer.commit_async(offsets)
        for tp in partitions:
            self._release(tp)
            self._to_start.discard(tp)
        if partitions:
            _LOG.info("%s: partitions %s %s", self.topic, sorted(tp.partition for tp in partitions),
                      "lost" if lost else "handed back to the group")  # fmt: skip

    def _assigned(self, partitions: set[TopicPartition]) -> None:
        self._consumer.pause(*partitions)
        self._to_start |= set(partitions)
        self._joined = True
        if not partitions:  # more replicas than partitions: ready, with nothing to read
            self._state.health.group_joined = True

    def _release(self, tp: TopicPartition) -> None:
        self._state.leases.release((tp.topic, tp.partition))
        self._state.counters.forget((tp.topic, tp.partition))


class _Listener(ConsumerRebalanceListener):
    def __init__(self, member: GroupMember) -> None:
        self._member = member

    def on_partitions_revoked(self, revoked) -> None:
        self._member._revoked(set(revoked))

    def on_partitions_assigned(self, assigned) -> None:
        self._member._assigned(set(assigned))

    def on_partitions_lost(self, lost) -> None:
        self._member._revoked(set(lost), lost=True)
