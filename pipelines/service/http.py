"""The run's HTTP endpoint: Prometheus metrics at ``/metrics``; anything else is 404.

It reads the same :class:`~pipelines.runstate.RunState` as the progress lines.
"""

from __future__ import annotations

import http.server
import threading
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from pipelines.errors import OptionError
from pipelines.kafka import KafkaConfig
from pipelines.runstate import RunState
from pipelines.service.progress import measure_lags

_COUNTERS = (
    ("read", "messages_read", "messages read from the source"),
    ("articles", "articles", "articles annotated (sentences, entities, claims)"),
    ("entities", "entities", "named entities in the articles annotated"),
    ("claims", "claims", "claims in the articles annotated"),
    ("dead_letters", "dead_letters", "messages that became dead letters"),
    ("written_articles", "articles_written", "articles written to files"),
    ("written_dead_letters", "dead_letters_written", "dead letters written to files"),
    ("files", "files", "files written"),
)
#: Lags are asked of the broker at most this often, however often Prometheus scrapes.
LAG_EVERY = 5.0


class _RunCollector:
    def __init__(self, state: RunState, config: KafkaConfig | None) -> None:
        self._state = state
        self._config = config
        self._lags_at = 0.0

    def collect(self):
        if time.monotonic() - self._lags_at >= LAG_EVERY:
            self._lags_at = time.monotonic()
            measure_lags(self._state, self._config)
        now = self._state.snapshot()
        for key, name, help_text in _COUNTERS:
            yield CounterMetricFamily(f"claimstream_{name}", help_text, value=now.counts[key])
        lag = GaugeMetricFamily(
            "claimstream_partition_lag",
            "end offset minus the reader's position",
            labels=["topic", "partition"],
        )
        for (topic, partition), value in sorted(now.lags.items()):
            lag.add_metric([topic, str(partition)], value)
        yield lag


def serve(state: RunState, port: int, host: str = "127.0.0.1", config: KafkaConfig | None = None):
    """Serve ``/metrics`` for ``state`` on ``host:port`` in a thread; returns the server
    (``shutdown()`` stops it)."""
    registry = CollectorRegistry()
    registry.register(_RunCollector(state, config))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass  # one line per scrape would drown the progress lines

    try:
        server = http.server.ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        raise OptionError(
            f"cannot serve metrics on {host}:{port} (--metrics-port/--metrics-host): {e}"
        ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
    return server
