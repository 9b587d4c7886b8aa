"""Lag: the broker's end offset of each partition read here, minus the reader's position.

Measured in a thread of its own with one consumer kept open, so that neither a
progress line nor a ``/metrics`` scrape ever waits for the broker. The embedded
broker can report an end offset below the true last offset + 1, so a lag can read
low by up to one batch, and never below zero.
"""

from __future__ import annotations

import logging
import threading

import kafka.errors
from kafka import TopicPartition

from pipelines.kafka import KafkaConfig, new_consumer
from pipelines.kafka.client import COMMIT_TIMEOUT_MS
from pipelines.runstate import RunState

_LOG = logging.getLogger(__name__)


class LagMeter(threading.Thread):
    """Every ``every`` seconds, records the lag of each partition this run reads."""

    def __init__(self, state: RunState, config: KafkaConfig, every: float = 5.0) -> None:
        super().__init__(daemon=True, name="lag")
        self._state = state
        self._config = config
        self._every = every
        self._stopped = threading.Event()

    def run(self) -> None:
        consumer = None
        try:
            while not self._stopped.wait(self._every):
                positions = self._state.counters.snapshot().positions
                if not positions:
                    continue
                try:
                    consumer = consumer or new_consumer(self._config)
                    tps = [TopicPartition(t, p) for t, p in positions]
                    ends = consumer.end_offsets(tps, timeout_ms=COMMIT_TIMEOUT_MS)
                except kafka.errors.KafkaError as e:
                    _LOG.debug("lag not measured: %s", e)  # the broker is away: the reader says so
                    continue
                lags = {(tp.topic, tp.partition): max(0, end - positions[(tp.topic, tp.partition)])
                        for tp, end in ends.items()}  # fmt: skip
                self._state.counters.measured_lags(lags)
        finally:
            if consumer is not None:
                consumer.close()

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)
