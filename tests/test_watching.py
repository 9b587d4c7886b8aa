"""Watching a run: progress lines and Prometheus metrics, scraped from a real run."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pipelines import kafka
from pipelines.broker import free_port
from tests.conftest import ARTICLES, read_avro_folder

CLAIMSTREAM = [sys.executable, "-m", "pipelines.cli"]


def scrape(port: int) -> dict[str, float]:
    """Prometheus text format -> {metric line name with labels: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("claimstream_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_are_served_and_progress_is_logged_during_a_run(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 2)
    messages = [(p.name.encode(), p.read_bytes()) for p in sorted(ARTICLES.glob("*.txt"))] * 5
    kafka.publish(broker.config, topic_name, messages + [(b"bad.bin", b"\x00")])
    port = free_port()
    process = subprocess.Popen(
        [*CLAIMSTREAM, "run", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name,
         "--output", str(tmp_path), "--until-idle", "4", "--progress-interval", "1",
         "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    scraped = {}
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            try:
                scraped = scrape(port)
            except OSError:
                pass  # not serving yet
            if scraped.get("claimstream_articles_total", 0) == len(messages):
                break
            time.sleep(0.3)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    # The run may end right after its last articles (nothing new for 4 s by then): the
    # last scrape can be a little behind; the summary has the end.
    assert 0 < scraped["claimstream_articles_total"] <= len(messages)
    assert scraped["claimstream_claims_total"] > 0
    assert f"articles: {len(messages)}" in out and "dead letters: 1" in out
    progress = [line for line in err.splitlines() if "progress:" in line]
    assert progress and "/s)" in progress[0]  # rates per second
    assert any(f"lag {topic_name}[0]=" in line for line in progress), progress
    assert any("last file" in line for line in progress)


def test_produce_prints_plain_progress_without_a_terminal(broker, topic_name):
    result = subprocess.run(
        [*CLAIMSTREAM, "produce", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name,
         str(ARTICLES)], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    count = len(list(ARTICLES.glob("*.txt")))
    assert f"publishing: {count}/{count} files" in result.stderr


def test_metrics_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*CLAIMSTREAM, "run", "--input", str(ARTICLES / "*.txt"), "--output", str(tmp_path),
             "--metrics-port", str(port)], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port} (--metrics-port" in result.stderr


BBC = Path(__file__).resolve().parents[2] / "shared" / "samples" / "bbc"


def test_a_backlog_is_counted_and_written_as_it_is_processed(broker, topic_name, tmp_path):
    """300 real articles queued before the run: the counters move and files land during the run."""
    articles = sorted(BBC.glob("*/*.txt"))[::6][:300]
    kafka.ensure_topic(broker.config, topic_name, 2)
    kafka.publish(broker.config, topic_name, [(p.name.encode(), p.read_bytes()) for p in articles])
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [*CLAIMSTREAM, "run", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name,
         "--output", str(tmp_path), "--until-idle", "3", "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    counted, first_file_at = [], None
    try:
        while process.poll() is None and time.monotonic() - started < 600:
            try:
                counted.append(scrape(port).get("claimstream_articles_total", 0))
            except OSError:
                pass  # not serving yet
            if first_file_at is None and any((tmp_path / "articles").glob("*.avro")):
                first_file_at = time.monotonic() - started
            time.sleep(0.2)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    working = time.monotonic() - started - 3  # the run's time without its idle wait
    assert any(0 < n < len(articles) for n in counted), counted
    assert first_file_at is not None and first_file_at < working / 2, (first_file_at, working)
    assert len(read_avro_folder(tmp_path / "articles")) == len(articles)
    assert len(list((tmp_path / "articles").glob("*.avro"))) > 2  # not one file per partition
