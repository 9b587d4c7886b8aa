"""Service figures: start-up, a backlog's whole run, replicas, and memory over a long run.

    .venv/bin/python benchmarks/service.py [--articles PATH] [--only backlog|replicas|soak]

1. backlog: 300 articles queued before the run starts. The whole run (process start
   to the last file written) against raw spaCy ``nlp.pipe`` with two processes over
   the same texts, the model loaded beforehand; best of two rounds each. Also the
   start-up (process start to the first record read) and the steady rate.
   ``--no-stories``: the backlog without the story stage (the extraction alone).
2. replicas: the same topic (6 partitions, 600 articles) read by one replica, then by
   two replicas in one consumer group: wall time and articles/s.
3. soak: 5,000 articles through two replicas; resident memory of each replica's
   process tree (parent and NLP workers) after warm-up and near the end.

Every run uses the embedded broker and a fresh topic; figures are printed as they come.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from throughput import BBC, CLAIMSTREAM, bodies, load_articles

from pipelines import kafka, nlp
from pipelines.broker import EmbeddedBroker
from pipelines.sinks import read_folder


def raw_spacy_two_processes(texts: list[str]) -> float:
    """Seconds for ``nlp.pipe(n_process=2)`` over ``texts``, the model loaded beforehand."""
    model = nlp.load_model()
    list(model.pipe(texts[:10]))
    started = time.perf_counter()
    for _ in model.pipe(texts, batch_size=8, n_process=2):
        pass
    return time.perf_counter() - started


def start_replica(bootstrap: str, topic: str, output: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLAIMSTREAM, "run", "--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", "bench",
         "--output", str(output), "--progress-interval", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def last_file_at(output: Path) -> float:
    return max(p.stat().st_mtime for p in output.rglob("*.avro"))


def queued_topic(broker: EmbeddedBroker, articles, partitions: int) -> str:
    topic = f"bench-{time.monotonic_ns()}"
    kafka.ensure_topic(broker.config, topic, partitions)
    kafka.publish(broker.config, topic, [(n.encode(), b) for n, b in articles])
    return topic


def backlog(articles, rounds: int = 2, *extra: str) -> None:
    texts = bodies(articles)
    raw = min(raw_spacy_two_processes(texts) for _ in range(rounds))
    print(
        f"  raw spaCy, n_process=2, model loaded: {len(texts) / raw:.2f} articles/s ({raw:.1f} s), "
        f"best of {rounds}"
    )
    best = None
    for _ in range(rounds):
        with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
            topic = queued_topic(broker, articles, 2)
            started = time.time()
            process = start_replica(broker.bootstrap_servers, topic, Path(tmp), "--until-idle", "3", *extra)
            out, err = process.communicate()
            whole = last_file_at(Path(tmp)) - started
            startup = float(re.search(r"([\d.]+) s to the first record read", out).group(1))
            steady = float(re.search(r"throughput: ([\d.]+) messages/s", out).group(1))
            print(f"  pipeline: whole run {whole:.1f} s = {len(articles) / whole:.2f} articles/s; start-up "
                  f"{startup:.1f} s to the first record read; then {steady:.1f} articles/s")  # fmt: skip
            best = whole if best is None else min(best, whole)
    print(f"  whole run / raw spaCy (best of {rounds}): {raw / best:.2f}")


def replicas(articles) -> None:
    for count in (1, 2):
        with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
            topic = queued_topic(broker, articles, 6)
            started = time.time()
            processes = [
                start_replica(broker.bootstrap_servers, topic, Path(tmp), "--nlp-processes", str(2 // count))
                for _ in range(count)
            ]
            wait_for_files(Path(tmp), len(articles), processes)
            whole = last_file_at(Path(tmp)) - started
            stop(processes)
            print(f"  {count} replica(s), {2 // count} NLP process(es) each: {len(articles)} articles in "
                  f"{whole:.1f} s = {len(articles) / whole:.2f} articles/s")  # fmt: skip


def soak(articles, count: int) -> None:
    batch = [(f"{i}-{articles[i % len(articles)][0]}", articles[i % len(articles)][1]) for i in range(count)]
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        topic = queued_topic(broker, batch, 6)
        processes = [
            start_replica(broker.bootstrap_servers, topic, Path(tmp), "--nlp-processes", "1") for _ in "ab"
        ]
        samplers = [TreeMemory(p.pid) for p in processes]
        wait_for_files(Path(tmp), count, processes)
        stop(processes)
        for name, sampler in zip("AB", samplers, strict=True):
            warm, end = sampler.after_warm_up_and_at_the_end()
            print(
                f"  replica {name}: {warm:.0f} MB after warm-up, {end:.0f} MB near the end "
                f"({end / warm - 1:+.1%})"
            )
        print(f"  all {count} articles written: lag drained")


def wait_for_files(output: Path, count: int, processes) -> None:
    while True:
        time.sleep(2)
        written = sum(1 for folder in ("articles", "dead_letters") for _ in read_folder(str(output / folder)))
        if written >= count:
            return
        if all(p.poll() is not None for p in processes):
            raise RuntimeError(f"the replicas exited with {written} of {count} written")


def stop(processes) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.communicate(timeout=120)


class TreeMemory(threading.Thread):
    """Samples the resident memory (MB) of a process and its children every 2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self._pid, self.samples = pid, []
        self.start()

    def run(self) -> None:
        while Path(f"/proc/{self._pid}").exists():
            self.samples.append(sum(_rss_mb(p) for p in [self._pid, *_children(self._pid)]))
            time.sleep(2)

    def after_warm_up_and_at_the_end(self) -> tuple[float, float]:
        tenth = max(1, len(self.samples) // 10)
        return max(self.samples[tenth : 2 * tenth + 1]), max(self.samples[-2 * tenth - 1 : -tenth])


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=Path, default=BBC)
    parser.add_argument("--only", choices=("backlog", "replicas", "soak"))
    parser.add_argument("--soak", type=int, default=5000, help="articles for the soak (default 5000)")
    parser.add_argument(
        "--no-stories", action="store_true", help="the backlog without the story stage (the extraction alone)"
    )
    args = parser.parse_args(argv)
    if args.only in (None, "backlog"):
        print("1. a backlog of 300 articles, whole run")
        backlog(load_articles(args.articles, 300), 2, *(["--no-stories"] if args.no_stories else []))
    if args.only in (None, "replicas"):
        print("2. one replica against two")
        replicas(load_articles(args.articles, 600))
    if args.only in (None, "soak"):
        print(f"3. memory over {args.soak} articles through two replicas")
        soak(load_articles(args.articles, 1800), args.soak)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
