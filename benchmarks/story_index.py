"""What the story index costs an article, and what it holds, at 10,000 and 100,000 entries.

    .venv/bin/python benchmarks/story_index.py [--stores sqlite,redis,memory] [--sizes 10000,100000]
        [--redis redis://HOST:PORT/DB] [--rounds 1000] [--per-key 200]

Each store (in a process of its own, so that its resident memory is its own) is filled
with synthetic entries shaped like the stage's: 20 MinHash band keys and 10 anchor keys
an article, a third of the articles a new version of a recent story (sharing most of
its bands and names), a few band values shared by many articles (boilerplate), anchors
drawn from a Zipf law (a handful, "GPE:us", in most articles), a ~2 KB JSON payload,
one article every 5 s (all 100,000 within the 7-day window). At each size, ``--rounds``
more articles go through what the stage asks of the index: ``get`` (a miss: not a
replay), ``candidates`` (limit 50), ``members`` (12, of the best candidate's story) and
``add``. Printed: the median and 99th percentile of each operation in ms (wall time),
the sum of add, candidates and members, the process's CPU time an article (all four,
and the SQLite checkpoint thread), its resident memory, and the SQLite file's size
(and its WAL's) or Redis's ``used_memory``.

A ``redis-server`` is started on a free port (nothing saved) unless ``--redis`` is given.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from pipelines.stories.stores import PER_KEY

BANDS, ANCHORS, NAMES = 20, 10, 50_000
SPACING_MS = 5_000  # 100,000 articles in 5.8 days: all within the window
WINDOW_MS = 7 * 24 * 3_600_000
CANDIDATES, MEMBERS = 50, 12


class Articles:
    """A stream of synthetic articles: (key, story_id, event_time_ms, keys, payload)."""

    def __init__(self, seed: int = 15) -> None:
        self.rng = random.Random(seed)
        self.count = 0
        self.recent: deque[tuple[str, list[str], list[str]]] = deque(maxlen=2_000)  # (story, bands, anchors)
        weights = [1 / (rank + 1) ** 1.1 for rank in range(NAMES)]
        self.names = self.rng.choices(range(NAMES), weights=weights, k=200_000)  # Zipf-drawn anchors

    def anchor(self) -> str:
        rank = self.names[self.rng.randrange(len(self.names))]
        return "GPE:us" if rank == 0 else f"{('PERSON', 'ORG', 'GPE')[rank % 3]}:name {rank}"

    def next(self) -> tuple[str, str, int, list[str], dict]:
        rng, i = self.rng, self.count
        self.count += 1
        if self.recent and rng.random() < 0.33:
            story, bands, anchors = rng.choice(self.recent)
            bands = [
                b if rng.random() < 0.6 else f"b{j}:{rng.getrandbits(40):x}" for j, b in enumerate(bands)
            ]
            anchors = [a if rng.random() < 0.7 else self.anchor() for a in anchors]
        else:
            story = f"article-{i}"
            # 1 band in 40 is boilerplate: one of a few values every such article shares.
            bands = [
                f"b{j}:{rng.randrange(3)}" if rng.random() < 0.025 else f"b{j}:{rng.getrandbits(40):x}"
                for j in range(BANDS)
            ]
            anchors = [self.anchor() for _ in range(ANCHORS)]
        self.recent.append((story, bands, anchors))
        keys = [*bands, *dict.fromkeys(anchors)]
        claims = [
            {
                "id": f"c{n}",
                "text": " ".join(f"word{rng.randrange(5_000)}" for _ in range(30)),
                "source": "Reuters",
            }
            for n in range(5)
        ]
        profile = {"keys": keys, "h": f"{rng.getrandbits(64):x}", "names": anchors, "year": 2024}
        payload = {"profile": profile, "claims": claims, "output": {"story_id": story, "version": 0}}
        return f"article-{i}@feed/0/{i}", story, 1_700_000_000_000 + i * SPACING_MS, keys, payload


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(store: str, sizes: list[int], rounds: int, redis_url: str | None, per_key: int) -> None:
    from pipelines.stories.index import MemoryIndex
    from pipelines.stories.stores import RedisIndex, SqliteIndex

    folder = Path(tempfile.mkdtemp(prefix="story-index-"))
    if store == "sqlite":
        index = SqliteIndex(folder / "index.sqlite", per_key=per_key)
    elif store == "redis":
        index = RedisIndex(redis_url, namespace=f"bench-{time.time_ns()}", per_key=per_key)
    else:
        index = MemoryIndex()
    articles, filled = Articles(), 0
    for size in sizes:
        started = time.perf_counter()
        while filled < size:
            key, story, when, keys, payload = articles.next()
            index.add(key, key.split("@")[0], story, when, keys, payload)
            filled += 1
        fill = time.perf_counter() - started
        timings: dict[str, list[float]] = {"get": [], "candidates": [], "members": [], "add": []}
        cpu = time.process_time()
        for _ in range(rounds):
            key, story, when, keys, payload = articles.next()
            t0 = time.perf_counter()
            index.get(key)
            t1 = time.perf_counter()
            found = index.candidates(keys, when, WINDOW_MS, CANDIDATES)
            t2 = time.perf_counter()
            index.members(found[0][0].story_id if found else story, MEMBERS)
            t3 = time.perf_counter()
            index.add(key, key.split("@")[0], story, when, keys, payload)
            t4 = time.perf_counter()
            for name, took in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                took_ms = took * 1000
                timings[name].append(took_ms)
        cpu_ms = (time.process_time() - cpu) * 1000 / rounds
        filled += rounds
        medians = {name: statistics.median(values) for name, values in timings.items()}
        p99 = {name: sorted(values)[int(len(values) * 0.99)] for name, values in timings.items()}
        article = medians["candidates"] + medians["members"] + medians["add"]
        held = ""
        if store == "sqlite":
            sizes_mb = [(folder / f"index.sqlite{end}").stat().st_size / 1e6 for end in ("", "-wal")]
            held = f", file {sizes_mb[0]:.0f} MB + WAL {sizes_mb[1]:.0f} MB"
        elif store == "redis":
            held = f", redis used_memory {index._redis.info('memory')['used_memory'] / 1e6:.0f} MB"
        print(
            f"{store:6} {size:>7,} entries (filled at {size / fill:,.0f} adds/s): "
            + ", ".join(f"{name} {medians[name]:.3f} (p99 {p99[name]:.3f})" for name in timings)
            + f" ms; add+candidates+members {article:.3f} ms, client CPU {cpu_ms:.3f} ms an article; "
            f"RSS {rss_mb():.0f} MB{held}",
            flush=True,
        )
    index.close()
    shutil.rmtree(folder, ignore_errors=True)


def start_redis() -> tuple[subprocess.Popen, str, Path]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: give --redis URL, or --stores sqlite,memory")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="story-redis-"))
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return server, f"redis://127.0.0.1:{port}/0", folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--per-key", type=int, default=PER_KEY, help="postings a key gives a query")
    parser.add_argument("--redis", help="an existing server (default: one started here)")
    args = parser.parse_args()
    stores = args.stores.split(",")
    sizes = [int(size) for size in args.sizes.split(",")]
    server = folder = None
    url = args.redis
    if "redis" in stores and url is None:
        server, url, folder = start_redis()
    context = multiprocessing.get_context("spawn")
    try:
        for store in stores:
            process = context.Process(target=measure, args=(store, sizes, args.rounds, url, args.per_key))
            process.start()
            process.join()
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
