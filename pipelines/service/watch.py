"""Watching a run: progress lines and the HTTP endpoint, started and stopped with it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pipelines.kafka import KafkaConfig
from pipelines.runstate import RunState
from pipelines.service import http
from pipelines.service.progress import ProgressReporter


@contextlib.contextmanager
def watching(
    state: RunState,
    progress_interval: float,
    metrics_port: int | None,
    metrics_host: str,
    config: KafkaConfig | None = None,
    total: int | None = None,
) -> Iterator[None]:
    """Progress lines every ``progress_interval`` seconds and ``/metrics``, while the block runs."""
    server = http.serve(state, metrics_port, metrics_host, config) if metrics_port else None
    reporter = ProgressReporter(state, progress_interval, config, total) if progress_interval > 0 else None
    if reporter is not None:
        reporter.start()
    try:
        yield
    finally:
        if reporter is not None:
            reporter.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
