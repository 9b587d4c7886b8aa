"""Running as a service: progress lines, the metrics endpoint, and signals.

:func:`watching` starts what watches a run and stops it when the run ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pipelines.kafka import KafkaConfig
from pipelines.runstate import RunState
from pipelines.service import http
from pipelines.service.progress import ProgressReporter
from pipelines.service.signals import StopOnSignals


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


__all__ = ["StopOnSignals", "watching"]
