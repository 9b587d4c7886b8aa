"""Replicas in one consumer group, health endpoints and signals, with real processes.

Each replica is a ``claimstream run`` process in a session of its own, so that a
test can signal its whole process group (the parent and its NLP workers), as a
terminal or an orchestrator does.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from pipelines import kafka, runstate
from pipelines.broker import free_port
from pipelines.kafka.membership import GroupMember
from tests.conftest import ARTICLES, read_avro_folder

CLAIMSTREAM = [sys.executable, "-m", "pipelines.cli"]
ARTICLE_FILES = sorted(ARTICLES.glob("*.txt"))


def feed(count: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [
        (
            f"{i}-{ARTICLE_FILES[i % len(ARTICLE_FILES)].name}".encode(),
            ARTICLE_FILES[i % len(ARTICLE_FILES)].read_bytes(),
        )
        for i in range(start, start + count)
    ]


class Replica:
    """One ``claimstream run`` process with its metrics port."""

    def __init__(self, broker, topic: str, output, *extra: str, group: str | None = None) -> None:
        self.port = free_port()
        # Files, not pipes: nobody reads a replica's output while it runs, and a full pipe
        # (64 KB of progress lines) would block the replica in the middle of its work.
        self.stdout, self.stderr = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [*CLAIMSTREAM, "run", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic,
             "--group-id", group or topic, "--output", str(output), "--nlp-processes", "1",
             "--progress-interval", "2", "--metrics-port", str(self.port), *extra],
            stdout=self.stdout, stderr=self.stderr, text=True, start_new_session=True,
        )  # fmt: skip
        self.last_read = 0

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def read_so_far(self) -> int:
        """Messages this replica has read (its last answer, once it is gone).

        A replica that exited on its own fails the test at once, with its error.
        """
        if self.process.returncode is None and self.process.poll() is not None:
            error = self._read(self.stderr)[-3000:]
            raise AssertionError(f"a replica exited ({self.process.returncode}): {error}")
        try:
            _, text = self.get("/metrics")
        except OSError:
            return self.last_read
        for line in text.splitlines():
            if line.startswith("claimstream_messages_read_total "):
                self.last_read = int(float(line.split()[1]))
        return self.last_read

    def signal_group(self, sig: int) -> None:
        os.killpg(self.process.pid, sig)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        self.process.wait(timeout=timeout)
        return self.process.returncode, *map(self._read, (self.stdout, self.stderr))

    @staticmethod
    def _read(file) -> str:
        file.seek(0)
        return file.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.signal_group(signal.SIGKILL)
            self.process.wait(timeout=30)


def offsets_written(output) -> Counter:
    records = read_avro_folder(output / "articles") + read_avro_folder(output / "dead_letters")
    return Counter((r["source"]["partition"], r["source"]["offset"]) for r in records)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_replicas_split_the_partitions_and_hand_over_exactly_once(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 6)
    kafka.publish(broker.config, topic_name, feed(300))
    # Small bundles: a replica rejoins the group only between bundles, and with the eager
    # protocol a long bundle on a busy machine keeps the group rebalancing for minutes.
    small = ("--file-max-records", "20")
    replicas = [Replica(broker, topic_name, tmp_path, *small) for _ in range(3)]
    try:
        wait_for(lambda: all(r.read_so_far() > 0 for r in replicas), 240, "every replica to read")
        wait_for(lambda: sum(offsets_written(tmp_path).values()) >= 100, 240, "100 records written")
        replicas[0].kill()  # mid-run: its partitions go to the others after the session timeout
        replicas.append(Replica(broker, topic_name, tmp_path, *small))  # a fourth joins later
        kafka.publish(broker.config, topic_name, feed(300, start=300))
        wait_for(lambda: replicas[3].read_so_far() > 0, 240, "the fourth replica to read")
        wait_for(lambda: len(offsets_written(tmp_path)) == 600, 300, "all 600 offsets written")
        for replica in replicas[1:]:
            replica.read_so_far()
            replica.signal_group(signal.SIGTERM)
        results = [replica.finish() for replica in replicas[1:]]
    finally:
        for replica in replicas:
            replica.kill()
    for code, _, err in results:
        assert code == 0 and "Traceback" not in err, err[-3000:]
    written = offsets_written(tmp_path)
    assert len(written) == 600 and set(written.values()) == {1}, [k for k, n in written.items() if n > 1]
    reads = [replica.last_read for replica in replicas]
    assert all(n > 0 for n in reads), reads
    assert sum(reads) <= 1.25 * 600, reads  # the work was split, not repeated


def healthcheck(command: list[str], tries: int = 3) -> tuple[int, str]:
    """The healthcheck command's exit code and output, asked again (up to ``tries``) while it
    says no: a replica is rightly not ready for a moment while the group rebalances, and a
    probe is retried by whatever runs it (Docker, Kubernetes)."""
    for _ in range(tries):
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            break
        time.sleep(2)
    return result.returncode, result.stdout.strip()[-500:]


def test_health_and_readiness(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 2)
    kafka.publish(broker.config, topic_name, feed(10))
    replica = Replica(broker, topic_name, tmp_path)
    seen = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                ready, body = replica.get("/readyz")
            except OSError:
                time.sleep(0.1)
                continue
            seen.append((ready, json.loads(body)))
            if ready == 200:
                break
            time.sleep(0.1)
        health, _ = replica.get("/healthz")
        missing, _ = replica.get("/nothing-here")
        probe = [*CLAIMSTREAM, "healthcheck", "--port", str(replica.port)]
        probes = [healthcheck([*probe, *flag]) for flag in ([], ["--ready"])]
        replica.signal_group(signal.SIGTERM)
        code, _, err = replica.finish()
    finally:
        replica.kill()
    assert code == 0, err[-3000:]
    assert [code for code, _ in probes] == [0, 0], probes
    assert subprocess.run(probe, capture_output=True, timeout=30).returncode == 1  # gone: not alive
    assert seen and seen[-1][0] == 200 and seen[-1][1]["partitions"], seen[-1:]
    assert any(status == 503 and body["waiting_for"] for status, body in seen), seen[:3]
    assert health == 200 and missing == 404


@pytest.mark.parametrize("delay", [2.5, *(round(random.uniform(0.3, 6.0), 1) for _ in range(2))])
def test_ctrl_c_to_the_group_during_start_up_is_clean(broker, topic_name, tmp_path, delay):
    kafka.ensure_topic(broker.config, topic_name, 2)
    kafka.publish(broker.config, topic_name, feed(20))
    replica = Replica(broker, topic_name, tmp_path, "--nlp-processes", "2")
    try:
        time.sleep(delay)
        replica.signal_group(signal.SIGINT)
        code, out, err = replica.finish()
    finally:
        replica.kill()
    assert code in (0, 130), err[-3000:]
    assert "Traceback" not in err and "BrokenProcessPool" not in err, err[-3000:]
    assert set(offsets_written(tmp_path).values()) <= {1}


def test_sigterm_to_the_group_while_reading_exits_zero(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 2)
    kafka.publish(broker.config, topic_name, feed(200))
    replica = Replica(broker, topic_name, tmp_path, "--nlp-processes", "2")
    try:
        wait_for(lambda: replica.read_so_far() > 0, 240, "the replica to read")
        time.sleep(random.uniform(0.0, 1.5))
        replica.signal_group(signal.SIGTERM)
        code, out, err = replica.finish()
    finally:
        replica.kill()
    assert code == 0 and "Traceback" not in err, err[-3000:]
    assert "stopped on request" in out
    written = offsets_written(tmp_path)
    assert set(written.values()) <= {1}
    consumer = kafka.new_consumer(broker.config, topic_name)
    try:
        from kafka import TopicPartition

        committed = sum(consumer.committed(TopicPartition(topic_name, p)) or 0 for p in (0, 1))
    finally:
        consumer.close()
    assert committed == len(written)  # what was written is committed, nothing more


def test_a_member_has_joined_when_its_first_short_poll_returns(broker, topic_name):
    """The reader polls for 200 ms at a time; a join takes seconds. kafka-python drops a
    join's answer that comes between two polls (and joins again), so the member waits
    for its join inside one poll."""
    kafka.ensure_topic(broker.config, topic_name, 2)
    state = runstate.RunState("first-poll")
    member = GroupMember(broker.config, topic_name, "first-poll", "earliest", state, lambda tp, c: c)
    try:
        assert member.poll(100, 64) == []  # an empty topic
        assert state.leases.held() == [(topic_name, 0), (topic_name, 1)]
        assert member.settled()
    finally:
        member.close()


def test_a_partition_new_to_a_member_starts_where_the_group_left_it(broker, topic_name):
    """The path every partition a member has not read before takes: one added to the topic
    (the embedded broker cannot add partitions), or one a leaving replica hands over."""
    kafka.ensure_topic(broker.config, topic_name, 3)
    producer = kafka.new_producer(broker.config)
    for i in range(30):
        producer.send(topic_name, value=f"article {i}".encode(), partition=i % 3)
    producer.flush()
    producer.close()
    states = [runstate.RunState(f"new-partition-{i}") for i in range(2)]
    starts: list[tuple[int, int | None]] = []

    def start_of(tp, committed):
        starts.append((tp.partition, committed))
        return committed

    first, second = (
        GroupMember(broker.config, topic_name, "new-partition", "earliest", s, start_of) for s in states
    )
    read = {0: [], 1: []}
    members = [first, second]

    def poll_both() -> None:
        for i, member in enumerate(members):
            read[i] += member.poll(100, 64) if member is not None else []

    wait_for_members = time.monotonic() + 60
    while not (states[0].leases.held() and states[1].leases.held()):
        assert time.monotonic() < wait_for_members, "the two members never split the partitions"
        poll_both()
    # With three partitions, one member holds one of them: it leaves, the other takes it over.
    leaver = 0 if len(states[0].leases.held()) == 1 else 1
    stayer = 1 - leaver
    moving = states[leaver].leases.held()[0][1]
    while len([r for r in read[leaver] if r.partition == moving]) < 4:
        poll_both()
    lease = states[leaver].leases.lease_of((topic_name, moving))
    states[leaver].leases.written((topic_name, moving), lease, 4)  # the leaver wrote offsets 0-3
    members[leaver].close()
    members[leaver] = None
    deadline = time.monotonic() + 60
    while (topic_name, moving) not in states[stayer].leases.held():
        assert time.monotonic() < deadline, "the partition was never handed over"
        poll_both()
    while not [r for r in read[stayer] if r.partition == moving]:
        poll_both()
    members[stayer].close()
    assert (moving, 4) in starts  # started at the leaver's committed offset
    taken_over = sorted(r.offset for r in read[stayer] if r.partition == moving)
    assert taken_over[0] == 4 and taken_over == list(range(4, 4 + len(taken_over)))
