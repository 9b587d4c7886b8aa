"""The run's HTTP endpoint: ``/metrics``, ``/healthz``, ``/readyz``; anything else is 404.

- ``/metrics``: the counters in the Prometheus text format;
- ``/healthz``: 200 while the read loop goes round (it did within ``LIVENESS_SECONDS``),
  503 when it is stuck: what a liveness probe restarts on;
- ``/readyz``: 200 once the NLP model is loaded and, reading a topic, the consumer
  group has assigned this replica its partitions; 503 with the reasons before.

It reads the same :class:`~pipelines.runstate.RunState` as the progress lines.
"""

from __future__ import annotations

import http.server
import json
import threading

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from pipelines.errors import OptionError
from pipelines.runstate import RunState

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
#: /healthz fails when the read loop has not gone round for this long.
LIVENESS_SECONDS = 60.0


class _RunCollector:
    def __init__(self, state: RunState) -> None:
        self._state = state

    def collect(self):
        now = self._state.counters.snapshot()
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
        owned = GaugeMetricFamily(
            "claimstream_partitions_owned", "partitions this replica reads now", labels=["topic"]
        )
        for topic in sorted({t for t, _ in self._state.leases.held()}):
            owned.add_metric([topic], len(self._state.leases.held(topic)))
        yield owned


def serve(state: RunState, port: int, host: str = "127.0.0.1"):
    """Serve ``/metrics`` for ``state`` on ``host:port`` in a thread; returns the server
    (``shutdown()`` stops it)."""
    registry = CollectorRegistry()
    registry.register(_RunCollector(state))

    routes = {
        "/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry)),
        "/healthz": lambda: _health(state),
        "/readyz": lambda: _readiness(state),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404)
                return
            status, content_type, body = route()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
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


def _health(state: RunState) -> tuple[int, str, bytes]:
    since = state.health.seconds_since_beat()
    alive = since < LIVENESS_SECONDS
    return _json(200 if alive else 503, {"alive": alive, "seconds_since_progress": round(since, 1)})


def _readiness(state: RunState) -> tuple[int, str, bytes]:
    missing = state.health.not_ready()
    partitions = [f"{t}[{p}]" for t, p in state.leases.held()]
    return _json(
        200 if not missing else 503, {"ready": not missing, "waiting_for": missing, "partitions": partitions}
    )


def _json(status: int, body: dict) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()
