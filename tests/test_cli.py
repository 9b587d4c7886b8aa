"""The ``claimstream`` command as a user runs it: separate processes, real broker."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from kafka import TopicPartition

from pipelines import demo, kafka
from pipelines.broker import free_port
from tests.conftest import ARTICLES, HEADLINE_PARAGRAPHS, REPEATED_HEADLINE, read_avro_folder

CLAIMSTREAM = [sys.executable, "-m", "pipelines.cli"]


def claimstream(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLAIMSTREAM, *args], capture_output=True, text=True, timeout=timeout)


def assert_clean_error(result: subprocess.CompletedProcess, *named: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for text in named:
        assert text in result.stderr


def test_unreachable_broker_is_named_without_a_traceback(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    result = claimstream("run", "--bootstrap-servers", address, "--topic", "t", "--output", str(tmp_path))
    assert_clean_error(result, f"cannot reach a Kafka broker at {address}", "--bootstrap-servers")

    result = claimstream("produce", "--bootstrap-servers", address, "--topic", "t", str(REPEATED_HEADLINE))
    assert_clean_error(result, address)


def test_missing_topic_and_bad_paths_are_named(broker, tmp_path):
    result = claimstream(
        "run",
        "--bootstrap-servers",
        broker.bootstrap_servers,
        "--topic",
        "no-such-topic",
        "--output",
        str(tmp_path),
    )
    assert_clean_error(result, "topic 'no-such-topic' does not exist", broker.bootstrap_servers)
    assert_clean_error(claimstream("inspect", str(tmp_path / "missing")), "no such file or folder")
    not_avro = tmp_path / "x.avro"
    not_avro.write_text("hello")
    assert_clean_error(claimstream("inspect", str(not_avro)), str(not_avro), "not an Avro container file")
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("hello")
    assert_clean_error(claimstream("inspect", str(not_parquet)), str(not_parquet), "not a Parquet file")
    assert_clean_error(claimstream("frobnicate"), "unknown command")


def test_produce_run_inspect(broker, topic_name, tmp_path):
    produced = claimstream(
        "produce", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name, str(ARTICLES)
    )
    assert produced.returncode == 0, produced.stderr
    count = len(list(ARTICLES.glob("*.txt")))
    assert f"published {count} articles" in produced.stdout

    ran = claimstream(
        "run", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name,
        "--until-idle", "2", "--output", str(tmp_path),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert f"articles: {count}" in ran.stdout and "dead letters: 0" in ran.stdout

    inspected = claimstream("inspect", str(tmp_path / "articles"))
    assert inspected.returncode == 0, inspected.stderr
    lines = [json.loads(line) for line in inspected.stdout.splitlines()]
    assert sorted(r["source"]["key"] for r in lines) == sorted(p.name for p in ARTICLES.glob("*.txt"))
    assert all(isinstance(r["processed_at"], str) for r in lines)


def test_ctrl_c_finishes_the_bundle_commits_and_exits_zero(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 1)
    kafka.publish(broker.config, topic_name, [(b"a.txt", HEADLINE_PARAGRAPHS.read_bytes())] * 3)
    process = subprocess.Popen(
        [*CLAIMSTREAM, "run", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name,
         "--group-id", "ctrl-c", "--output", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(read_avro_folder(tmp_path / "articles")) < 3:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "no output within 60 s"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stopped_at = time.monotonic()
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert time.monotonic() - stopped_at < 10
    assert "articles: 3" in out
    consumer = kafka.new_consumer(broker.config, "ctrl-c")
    assert consumer.committed(TopicPartition(topic_name, 0)) == 3
    consumer.close()


def start_broker_command(port: int, ignore_sigint: bool = False) -> subprocess.Popen:
    """``claimstream broker`` in the foreground, once it says it listens."""
    # A shell script's background job starts with SIGINT ignored; Python keeps that.
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    process = subprocess.Popen(
        [*CLAIMSTREAM, "broker", "--port", str(port)], stdout=subprocess.PIPE, text=True, preexec_fn=preexec
    )
    assert f"listening on 127.0.0.1:{port}" in process.stdout.readline()
    return process


@pytest.mark.parametrize(
    "stop, ignore_sigint",
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c", "ctrl-c-in-a-background-job", "sigterm"],
)
def test_broker_command_serves_kafka_until_stopped(stop, ignore_sigint):
    port = free_port()
    process = start_broker_command(port, ignore_sigint)
    try:
        kafka.ensure_topic(kafka.KafkaConfig.of(f"127.0.0.1:{port}"), "hello", 1)
        assert kafka.list_partitions(kafka.KafkaConfig.of(f"127.0.0.1:{port}"), "hello") == [0]
        process.send_signal(stop)
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
    assert not kafka.reachable(kafka.KafkaConfig.of(f"127.0.0.1:{port}")), "the broker outlived the command"


def test_broker_dies_with_a_killed_command():
    port = free_port()
    process = start_broker_command(port)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while kafka.reachable(kafka.KafkaConfig.of(f"127.0.0.1:{port}")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kafka.reachable(kafka.KafkaConfig.of(f"127.0.0.1:{port}")), "the broker outlived the command"


COMMANDS = [
    "run",
    "produce",
    "inspect",
    "stories",
    "broker",
    "demo",
    "healthcheck",
    "score-sentences",
    "train-checkworthiness",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = claimstream(command, "--help")
    assert result.returncode == 0 and "usage: claimstream " + command in result.stdout


def test_help_lists_each_command_once():
    result = claimstream("--help")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if re.match(r"^    \S", line)]
    assert sorted(listed) == sorted(COMMANDS)


def test_a_bad_option_value_is_one_line():
    result = claimstream("run", "--max-articles", "many")
    assert_clean_error(result, "--max-articles", "many")
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_runs_the_main_job(tmp_path):
    result = claimstream("demo", "--output", str(tmp_path / "demo"), timeout=300)
    assert result.returncode == 0, result.stderr
    samples = len(demo.sample_articles()) + len(demo.feed_story())
    assert f"articles: {samples}" in result.stdout and "dead letters: 1" in result.stdout
    assert "throughput:" in result.stdout and str(tmp_path / "demo") in result.stdout
    articles = read_avro_folder(tmp_path / "demo" / "articles")
    assert len(articles) == samples
    # The bundled re-telling (005 of 004) is linked to its first report, and the report says how.
    story = {a["article_id"]: a["story"] for a in articles}
    assert story["d4e5f60718293a4b"]["story_id"] == "a1c9e6f30b2d7845"
    assert story["d4e5f60718293a4b"]["relation"] == "VERSION"
    assert "a1c9e6f30b2d7845" in result.stdout and "NUMBER" in result.stdout
