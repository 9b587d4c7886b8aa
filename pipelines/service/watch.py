"""Watching a run: progress lines and the HTTP endpoint, started and stopped with it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pipelines.kafka import KafkaConfig
from pipelines.runstate import RunState
from pipelines.service import http
from pipelines.service.lag import LagMeter
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
    """Progress lines every ``progress_interval`` seconds and the HTTP endpoint, while the block
    runs; reading a topic (``config``), lags measured every 5 s for both."""
    server = http.serve(state, metrics_port, metrics_host) if metrics_port else None
    reporter = ProgressReporter(state, progress_interval, total) if progress_interval > 0 else None
    meter = LagMeter(state, config) if config is not None and (server or reporter) else None
    for thread in (meter, reporter):
        if thread is not None:
            thread.start()
    try:
        yield
    finally:
        for thread in (reporter, meter):
            if thread is not None:
                thread.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
