"""Nothing lost, nothing twice: kills, broker outages and signals, against the embedded broker.

The pipeline runs as a separate process (`python -m pipelines.cli run ...`), the way
a user runs it, so it can be killed for real.
"""

from __future__ import annotations

import http.server
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import fastavro
import pyarrow.parquet as pq
import pytest
from kafka import TopicPartition

from pipelines import kafka
from pipelines.broker import EmbeddedBroker, free_port
from pipelines.formats import FIXED_SCHEMA_IDS, confluent_decode, parsed_schema
from pipelines.parse import decode
from pipelines.records import ARTICLE, DEAD_LETTER
from tests.conftest import ARTICLES, read_avro_folder

CLAIMSTREAM = [sys.executable, "-m", "pipelines.cli"]


def feed(count: int, seed: int = 7, days: int = 0) -> list[tuple[bytes, bytes]]:
    """``count`` messages: the fixture articles with varied bodies, and some bad ones.

    ``days``: as JSON envelopes published over that many days, so that a bundle's
    records fall into several day folders.
    """
    rng = random.Random(seed)
    bodies = [p.read_bytes() for p in sorted(ARTICLES.glob("*.txt"))]
    messages = []
    for i in range(count):
        if i % 10 == 3:
            messages.append((f"bad-{i}.bin".encode(), b"\x00\x01 broken"))
            continue
        extra = f"\n\nUpdate {i}: {rng.randint(2, 900)} people were counted on day {i}.".encode()
        body = rng.choice(bodies) + extra
        if days:
            published = f"2026-03-{1 + i % days:02d}T12:00:00Z"
            body = json.dumps({"body": decode(body)[0], "published_at": published, "outlet": "o"}).encode()
        messages.append((f"{i:03d}_{i:016x}.txt".encode(), body))
    return messages


def start_run(bootstrap: str, topic: str, output: Path, *extra: str) -> subprocess.Popen:
    command = [
        *CLAIMSTREAM, "run", "--bootstrap-servers", bootstrap, "--topic", topic,
        "--group-id", "exactly-once", "--output", str(output), "--file-max-seconds", "0.5", *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def written(output: Path, file_format: str = "avro") -> list[dict]:
    """Every record in ``output``'s files of ``file_format``, in any time folder."""
    records = []
    for path in sorted(
        p for folder in ("articles", "dead_letters") for p in (output / folder).rglob(f"*.{file_format}")
    ):
        try:
            if file_format == "parquet":
                records += pq.read_table(path).to_pylist()
            else:
                with path.open("rb") as f:
                    records += fastavro.reader(f)
        except FileNotFoundError:
            # Replaced by a running pipeline between the listing and the read (a poll while it
            # runs); the counts the tests assert are read after it has stopped.
            continue
    return records


def offsets(output: Path, file_format: str = "avro") -> set[tuple[int, int]]:
    """The (partition, offset) of every record in ``output``'s files."""
    return {(r["source"]["partition"], r["source"]["offset"]) for r in written(output, file_format)}


def consume(broker, topic: str, count: int, timeout: float = 30) -> list:
    """The first ``count`` records of partition 0 of ``topic`` (fewer if they do not come)."""
    consumer = kafka.new_consumer(broker.config)
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        found: list = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            found += [r for batch in consumer.poll(timeout_ms=500).values() for r in batch]
        return found
    finally:
        consumer.close()


def wait_for(condition, timeout: float, process: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"the pipeline exited ({process.returncode}): {process.communicate()[1][-3000:]}"
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("count", "runs", "options"),
    [(500, 6, ()), (120, 3, ("--format", "parquet", "--partition-by", "day"))],
    ids=["avro", "parquet-by-day"],
)
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    broker, topic_name, tmp_path, count, runs, options
):
    file_format = "parquet" if "parquet" in options else "avro"
    messages = feed(count, days=3 if "--partition-by" in options else 0)
    kafka.ensure_topic(broker.config, topic_name, 2)
    kafka.publish(broker.config, topic_name, messages)
    rng = random.Random(2026)
    kills = []  # how many offsets were in the files at each kill
    while len(kills) < runs:
        before = len(written(tmp_path, file_format))
        assert before < len(messages), f"the feed was done before {runs} kills: {kills}"
        # Small files and slices, so a run takes many bundles and a kill can land anywhere.
        process = start_run(
            broker.bootstrap_servers, topic_name, tmp_path, "--file-max-records", "20", *options
        )
        try:
            if len(kills) % 2:
                # At a random moment from the start: start-up, the first reads, anything.
                time.sleep(rng.uniform(1.0, 5.0))
            else:
                # A random moment after this run wrote its first file: reads, NLP, writes
                # and commits of later bundles.
                wait_for(
                    lambda b=before: len(written(tmp_path, file_format)) > b, 120, process, "a first file"
                )
                time.sleep(rng.uniform(0.0, 0.8))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills.append(len(written(tmp_path, file_format)))
        finally:
            process.kill()
    print(f"offsets in files at each SIGKILL: {kills} of {len(messages)}")

    # The last killed run is still a group member until the broker drops it (its session,
    # 6 s; longer for a run killed in the middle of joining): only then do its partitions
    # come to the final run. So the final run is not stopped by idleness, which could come
    # first, but by SIGTERM once every offset is in the files (or fails the wait).
    final = start_run(broker.bootstrap_servers, topic_name, tmp_path, *options)
    try:
        wait_for(lambda: len(offsets(tmp_path, file_format)) >= len(messages), 300, final, "every offset")
        final.send_signal(signal.SIGTERM)
        out, err = final.communicate(timeout=120)
    finally:
        final.kill()
    assert final.returncode == 0, err[-3000:]

    records = written(tmp_path, file_format)
    positions = Counter((r["source"]["partition"], r["source"]["offset"]) for r in records)
    assert [p for p, n in positions.items() if n > 1] == [], "duplicated offsets"
    per_partition = Counter(p for p, _ in positions)
    assert sum(per_partition.values()) == len(messages), f"lost offsets: {per_partition}"
    for partition, written_count in per_partition.items():
        assert sorted(o for p, o in positions if p == partition) == list(range(written_count))
    assert sum(1 for r in records if "error_type" in r) == count // 10
    if "--partition-by" in options:
        days = {p.parent.name for p in (tmp_path / "articles").rglob("*.parquet")}
        assert days == {"dt=2026-03-01", "dt=2026-03-02", "dt=2026-03-03"}


def test_a_range_left_half_written_by_a_crash_is_written_again_once(broker, topic_name, tmp_path):
    messages = feed(60)
    kafka.ensure_topic(broker.config, topic_name, 1)
    kafka.publish(broker.config, topic_name, messages[:40])
    first = start_run(broker.bootstrap_servers, topic_name, tmp_path, "--until-idle", "3")
    assert first.wait(timeout=300) == 0
    # The crash: the last range with dead letters lost its articles file (renamed last),
    # and nothing after it was written. Its offsets were not committed (another group).
    articles, letters = tmp_path / "articles", tmp_path / "dead_letters"
    interrupted = max(p.name for p in articles.glob("*.avro") if (letters / p.name).exists())
    for path in [*articles.glob("*.avro"), *letters.glob("*.avro")]:
        if path.name >= interrupted and not (path.parent == letters and path.name == interrupted):
            path.unlink()
    # More records, so the bundle that reads the range again ends elsewhere.
    kafka.publish(broker.config, topic_name, messages[40:])
    second = start_run(broker.bootstrap_servers, topic_name, tmp_path, "--until-idle", "3",
                       "--group-id", "after-a-crash")  # fmt: skip
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-3000:]

    offsets = sorted(r["source"]["offset"] for r in written(tmp_path))
    assert offsets == list(range(60)), "lost or duplicated offsets"
    assert f"deleted {letters / interrupted}, left by a write that was interrupted" in err
    assert len(read_avro_folder(letters)) == 6


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stop_signal_finishes_the_bundle_commits_and_exits_zero(broker, topic_name, tmp_path, stop):
    kafka.ensure_topic(broker.config, topic_name, 1)
    kafka.publish(broker.config, topic_name, feed(40))
    process = start_run(broker.bootstrap_servers, topic_name, tmp_path)
    try:
        wait_for(lambda: len(written(tmp_path)) >= 5, 120, process, "the first records")
        process.send_signal(stop)
        stopped_at = time.monotonic()
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    assert time.monotonic() - stopped_at < 10
    done = len(written(tmp_path))
    consumer = kafka.new_consumer(broker.config, "exactly-once")
    try:
        assert consumer.committed(TopicPartition(topic_name, 0)) == done
    finally:
        consumer.close()


def test_broker_outage_and_reset_are_waited_out(tmp_path):
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    config = kafka.KafkaConfig.of(bootstrap)
    broker = EmbeddedBroker(port).start()
    process = None
    try:
        kafka.ensure_topic(config, "news", 1)
        kafka.publish(config, "news", feed(5, seed=1))
        process = start_run(bootstrap, "news", tmp_path)
        wait_for(lambda: len(written(tmp_path)) == 5, 120, process, "the first five records")

        broker.stop()
        time.sleep(8)  # longer than the reader's outage check
        assert process.poll() is None, "the pipeline exited while the broker was away"

        # The embedded broker keeps nothing: it comes back empty, offsets begin at 0 again.
        broker = EmbeddedBroker(port).start()
        kafka.ensure_topic(config, "news", 1)
        fresh = [(f"after-{i}.txt".encode(), f"Title\n\nThe council spent {i} million on roads.".encode())
                 for i in range(3)]  # fmt: skip
        kafka.publish(config, "news", fresh)
        keys = lambda: {r["source"]["key"] for r in written(tmp_path)}  # noqa: E731
        wait_for(
            lambda: {"after-0.txt", "after-1.txt", "after-2.txt"} <= keys(), 120, process, "the new records"
        )

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err[-3000:]
        assert f"cannot reach the Kafka broker at {bootstrap}" in err
        assert "log was reset" in err
        assert len(written(tmp_path)) == 8  # the old files were kept, not overwritten
    finally:
        if process is not None:
            process.kill()
        broker.stop()


def test_output_topics_carry_confluent_framed_avro(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 2)
    messages = feed(12)
    kafka.publish(broker.config, topic_name, messages)
    out_topic, dlq_topic = f"{topic_name}-out", f"{topic_name}-dlq"
    for topic in (out_topic, dlq_topic):
        kafka.ensure_topic(broker.config, topic, 1)
    process = start_run(broker.bootstrap_servers, topic_name, tmp_path, "--until-idle", "2",
                        "--output-topic", out_topic, "--dead-letter-topic", dlq_topic)  # fmt: skip
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]

    published = {}
    for topic, kind, count in ((out_topic, ARTICLE, 11), (dlq_topic, DEAD_LETTER, 1)):
        values = consume(broker, topic, count)
        published[kind] = [(r.key, *confluent_decode(kind, r.value)) for r in values]

    articles = published[ARTICLE]
    assert len(articles) == 11 and len(published[DEAD_LETTER]) == 1  # feed(12): one bad message
    assert all(key.decode() == record["article_id"] for key, _, record in articles)
    assert {schema_id for _, schema_id, _ in articles} == {FIXED_SCHEMA_IDS[ARTICLE]}
    files = {r["article_id"] for r in read_avro_folder(tmp_path / "articles")}
    assert {record["article_id"] for _, _, record in articles} == files


class _Registry(http.server.BaseHTTPRequestHandler):
    """The one endpoint of the Confluent schema registry API the pipeline uses.

    No registry can be installed here, so this stands in for one: like the real one,
    it gives each distinct schema an id and returns it for every subject that
    registers the same schema.
    """

    ids: dict[str, int] = {}
    subjects: list[str] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        schema = json.dumps(json.loads(body["schema"]), sort_keys=True)
        self.ids.setdefault(schema, 200 + len(self.ids))
        self.subjects.append(self.path.split("/")[2])
        answer = json.dumps({"id": self.ids[schema]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_schema_ids_come_from_the_registry(broker, topic_name, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        kafka.ensure_topic(broker.config, topic_name, 1)
        kafka.publish(broker.config, topic_name, feed(4))
        out_topic = f"{topic_name}-registered"
        process = start_run(broker.bootstrap_servers, topic_name, tmp_path, "--until-idle", "2",
                            "--output-topic", out_topic, "--schema-registry-url", url)  # fmt: skip
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    finally:
        server.shutdown()
    assert f"{out_topic}-value" in _Registry.subjects
    values = [r.value for r in consume(broker, out_topic, 3)]  # feed(4): three articles, one bad
    ids = {confluent_decode(ARTICLE, v)[0] for v in values}
    assert len(values) == 3 and ids == {_Registry.ids[json.dumps(parsed_schema(ARTICLE), sort_keys=True)]}


def test_unreachable_registry_is_a_clear_error(broker, topic_name, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    kafka.ensure_topic(broker.config, topic_name, 1)
    result = subprocess.run(
        [*CLAIMSTREAM, "run", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name,
         "--output", str(tmp_path), "--output-topic", "x", "--schema-registry-url", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert url in result.stderr and "--schema-registry-url" in result.stderr
