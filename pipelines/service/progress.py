"""Progress lines: every few seconds, what the run has done and how far behind it is.

The line says articles and claims (with their rates), dead letters, files, the lag
of each partition (the broker's end offset minus the reader's position) and the
file written last. With a terminal and a known total (a backfill) it is a progress
bar instead. Lag: the embedded broker can report an end offset below the true last
offset + 1, so a lag can read low by up to one batch, and never below zero.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from pipelines.runstate import RunState, Snapshot

_LOG = logging.getLogger(__name__)


class ProgressReporter(threading.Thread):
    """Logs a progress line every ``interval`` seconds until stopped."""

    def __init__(self, state: RunState, interval: float, total: int | None = None) -> None:
        super().__init__(daemon=True, name="progress")
        self._state = state
        self._interval = interval
        self._total = total
        self._stopped = threading.Event()
        self._bar = None
        if total and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="article", file=sys.stderr)

    def run(self) -> None:
        self._previous, self._previous_at = self._state.counters.snapshot(), time.monotonic()
        while not self._stopped.wait(self._interval if self._bar is None else 0.5):
            if self._bar is not None:
                self._draw_bar()
                continue
            self._log_line()

    def _log_line(self) -> None:
        now, at = self._state.counters.snapshot(), time.monotonic()
        held = self._state.leases.held()
        _LOG.info(
            "progress: %s", progress_line(self._previous, now, at - self._previous_at, self._total, held)
        )
        self._previous, self._previous_at = now, at

    def _draw_bar(self) -> None:
        counts = self._state.counters.snapshot().counts
        self._bar.n = counts["articles"] + counts["dead_letters"]
        self._bar.refresh()

    def stop(self) -> None:
        """Stop, with a last line (or the bar at its end) for where the run ended."""
        self._stopped.set()
        self.join(timeout=5)
        if self._bar is not None:
            self._draw_bar()
            self._bar.close()
        elif hasattr(self, "_previous"):
            self._log_line()


def progress_line(
    previous: Snapshot, now: Snapshot, seconds: float, total: int | None = None, held: list | None = None
) -> str:
    """One progress line from two snapshots ``seconds`` apart; ``held``: the partitions read here."""
    counts, before = now.counts, previous.counts

    def rate(name: str) -> str:
        return f"{(counts[name] - before[name]) / seconds:.1f}/s" if seconds > 0 else "-"

    line = (
        f"articles {counts['articles']} ({rate('articles')}), claims {counts['claims']} ({rate('claims')}), "
        f"dead letters {counts['dead_letters']}, files {counts['files']}"
    )
    if total:
        line += f", {counts['articles'] + counts['dead_letters']}/{total} files read"
    if held is not None and total is None:
        line += f", partitions {' '.join(f'{t}[{p}]' for t, p in held) or 'none (joining the group)'}"
    if now.lags:
        line += ", lag " + " ".join(f"{t}[{p}]={lag}" for (t, p), lag in sorted(now.lags.items()))
    if now.last_file:
        line += f", last file {now.last_file.rsplit('/', 1)[-1]}"
    return line
