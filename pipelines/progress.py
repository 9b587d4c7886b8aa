"""Watching a run: a progress line every few seconds, and Prometheus metrics.

On the local runner every stage runs in this process (the NLP workers report back
through it), so the stages count into one process-wide :data:`counters` object:

- ``ProgressReporter`` logs, every ``--progress-interval`` seconds: articles/s,
  claims/s, dead letters, per-partition lag (the broker's end offset minus the
  reader's position) and the file written last; with a terminal and a known total
  (a backfill) it draws a progress bar instead;
- ``serve_metrics`` serves the same figures in the Prometheus text format on
  ``--metrics-port``.

Lag: the embedded broker can report an end offset below the true last offset + 1,
so a lag can read low by up to one batch, and never below zero.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Counters:
    """What the stages report as they go. Thread-safe; one per process."""

    articles: int = 0
    entities: int = 0
    claims: int = 0
    dead_letters: int = 0
    files: int = 0
    last_file: str = ""
    positions: dict = dataclasses.field(default_factory=dict)  # (topic, partition) -> next offset
    lags: dict = dataclasses.field(default_factory=dict)  # (topic, partition) -> lag, last measured

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def wrote(self, articles: list[dict], dead_letters: int, path: str) -> None:
        with self._lock:
            self.articles += len(articles)
            self.entities += sum(len(a["entities"]) for a in articles)
            self.claims += sum(len(a["claims"]) for a in articles)
            self.dead_letters += dead_letters
            self.files += 1
            self.last_file = path

    def measured_lags(self, lags: dict) -> None:
        with self._lock:
            self.lags.update(lags)

    def read_up_to(self, topic: str, partition: int, next_offset: int) -> None:
        with self._lock:
            self.positions[(topic, partition)] = next_offset

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "articles": self.articles,
                "entities": self.entities,
                "claims": self.claims,
                "dead_letters": self.dead_letters,
                "files": self.files,
                "last_file": self.last_file,
                "positions": dict(self.positions),
                "lags": dict(self.lags),
            }


counters = Counters()


def reset() -> None:
    """Start counting from zero (a new run in the same process)."""
    global counters
    counters = Counters()


class ProgressReporter(threading.Thread):
    """Logs a progress line every ``interval`` seconds until stopped."""

    def __init__(
        self, interval: float, bootstrap_servers: str | None = None, total: int | None = None
    ) -> None:
        super().__init__(daemon=True, name="progress")
        self._interval = interval
        self._bootstrap_servers = bootstrap_servers
        self._total = total
        self._stopped = threading.Event()
        self._bar = None
        if total and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="article", file=sys.stderr)

    def run(self) -> None:
        previous, previous_at = counters.snapshot(), time.monotonic()
        while not self._stopped.wait(self._interval if self._bar is None else 0.5):
            now, at = counters.snapshot(), time.monotonic()
            if self._bar is not None:
                self._bar.n = now["articles"] + now["dead_letters"]
                self._bar.refresh()
                continue
            self._measure_lag()
            seconds = at - previous_at
            line = (
                f"articles {now['articles']} ({(now['articles'] - previous['articles']) / seconds:.1f}/s), "
                f"claims {now['claims']} ({(now['claims'] - previous['claims']) / seconds:.1f}/s), "
                f"dead letters {now['dead_letters']}"
            )
            if self._total:
                line += f", {now['articles'] + now['dead_letters']}/{self._total} files"
            lags = counters.snapshot()["lags"]
            if lags:
                line += ", lag " + " ".join(f"{t}[{p}]={lag}" for (t, p), lag in sorted(lags.items()))
            if now["last_file"]:
                line += f", last file {now['last_file'].rsplit('/', 1)[-1]}"
            _LOG.info("progress: %s", line)
            previous, previous_at = now, at

    def _measure_lag(self) -> None:
        positions = counters.snapshot()["positions"]
        if not self._bootstrap_servers or not positions:
            return
        from pipelines import kafka

        try:
            ends = kafka.end_offsets(self._bootstrap_servers, list(positions))
        except kafka.KafkaError:
            return  # the broker is away: the reader says so
        counters.measured_lags({key: max(0, end - positions[key]) for key, end in ends.items()})

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)
        if self._bar is not None:
            self._bar.n = counters.articles + counters.dead_letters
            self._bar.close()


def serve_metrics(port: int, host: str = "127.0.0.1"):
    """Serve the counters in the Prometheus text format on ``host:port``; returns the server."""
    from prometheus_client import REGISTRY, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class CountersCollector:
        def collect(self):
            now = counters.snapshot()
            for name, help_text in (
                ("articles", "articles written"),
                ("entities", "named entities in the articles written"),
                ("claims", "claims in the articles written"),
                ("dead_letters", "dead letters written"),
                ("files", "Avro files written"),
            ):
                yield CounterMetricFamily(f"claimstream_{name}", help_text, value=now[name])
            lag = GaugeMetricFamily(
                "claimstream_partition_lag",
                "end offset minus the reader's position",
                labels=["topic", "partition"],
            )
            for (topic, partition), value in sorted(now["lags"].items()):
                lag.add_metric([topic, str(partition)], value)
            yield lag

    if not getattr(serve_metrics, "_registered", False):
        REGISTRY.register(CountersCollector())
        serve_metrics._registered = True
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as e:
        raise ValueError(
            f"cannot serve metrics on {host}:{port} (--metrics-port/--metrics-host): {e}"
        ) from None
    return server
