"""The story index's stores behave like MemoryIndex: one suite over memory, SQLite and Redis.

Redis is a real ``redis-server`` started for this module on a free port (nothing
saved to disk); the tests that need it are skipped only when the binary is missing.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from pipelines.errors import StateError
from pipelines.stories.index import MemoryIndex, StoryIndex
from pipelines.stories.stores import PER_KEY, RedisIndex, SqliteIndex, open_index

KINDS = ["memory", "sqlite", "redis"]
DURABLE = ["sqlite", "redis"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (python3 dev.py install adds it, as root with apt)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log = (folder / "redis.log").read_text()
                    raise RuntimeError(f"redis-server did not start: {log}") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(params=KINDS)
def opener(request, tmp_path) -> Iterator[Callable[..., StoryIndex]]:
    """Opens the same index again each call (a new connection to the same file or server)."""
    opened: list[StoryIndex] = []
    memory = MemoryIndex()
    namespace = uuid.uuid4().hex  # a fresh index in the shared server

    def open_(**options) -> StoryIndex:
        if request.param == "memory":
            return memory
        if request.param == "sqlite":
            index = SqliteIndex(tmp_path / "index.sqlite", **options)
        else:
            index = RedisIndex(request.getfixturevalue("redis_url"), namespace, **options)
        opened.append(index)
        return index

    open_.kind = request.param
    yield open_
    for index in opened:
        index.close()


def durable_only(opener) -> None:
    if opener.kind == "memory":
        pytest.skip("the in-memory reference keeps nothing and caps no key")


def test_add_is_idempotent_by_key(opener):
    index = opener()
    first = index.add("a@t/0/0", "a", "a", 1_000, ["b0:1"], {"claims": [{"text": "Rain fell."}]})
    again = index.add("a@t/0/0", "a", "other", 5_000, ["b9:9"], {"claims": []})
    assert again == first == index.get("a@t/0/0")
    assert (again.story_id, again.version, again.payload) == ("a", 1, {"claims": [{"text": "Rain fell."}]})
    assert index.get("a@t/0/1") is None
    assert index.add("a@t/0/1", "a", "a", 2_000, [], {}).version == 2  # the same article read elsewhere


def test_versions_count_per_story_and_are_never_reused(opener):
    index = opener()
    versions = [
        index.add(f"k{i}", f"x{i}", "s" if i != 2 else "t", 1_000 + i, ["k"], {}).version for i in range(4)
    ]
    assert versions == [1, 2, 1, 3]
    assert index.expire(10_000) == 4
    assert index.members("s", 10) == []
    assert index.add("k9", "x9", "s", 20_000, ["k"], {}).version == 4
    assert index.add("k0", "x0", "t", 20_000, ["k"], {}).version == 2  # the key expired: a new entry


def test_candidates_rank_by_keys_shared_then_recency(opener):
    index = opener()
    index.add("old-two", "a", "s1", 1_000, ["b0:1", "PERSON:ann lee"], {"i": 1})
    index.add("new-one", "b", "s2", 2_000, ["PERSON:ann lee"], {"i": 2})
    index.add("newer-one", "c", "s3", 3_000, ["b0:1"], {"i": 3})
    index.add("unrelated", "d", "s4", 3_000, ["GPE:peru"], {"i": 4})
    found = index.candidates(["PERSON:ann lee", "b0:1", "b0:1"], 3_500, 10_000, 10)
    assert [(e.key, n) for e, n in found] == [("old-two", 2), ("newer-one", 1), ("new-one", 1)]
    assert found[0][0].payload == {"i": 1}
    assert [e.key for e, _ in index.candidates(["PERSON:ann lee", "b0:1"], 3_500, 10_000, 2)] == [
        "old-two",
        "newer-one",
    ]
    # The window reaches both ways from the query's time, bounds included.
    assert [e.key for e, _ in index.candidates(["b0:1"], 2_000, 1_000, 10)] == ["newer-one", "old-two"]
    assert [e.key for e, _ in index.candidates(["b0:1"], 4_001, 1_000, 10)] == []
    assert index.candidates([], 3_000, 10_000, 10) == [] == index.candidates(["b0:1"], 3_000, 10_000, 0)


def test_candidates_break_ties_by_key_at_the_limit(opener):
    index = opener()
    for key in ["e", "c", "a", "d", "b"]:
        index.add(key, key, key, 1_000, ["k"], {})
    assert [e.key for e, _ in index.candidates(["k"], 1_000, 0, 3)] == ["a", "b", "c"]


def test_candidates_agree_with_the_reference(opener):
    """Random adds, queries and expiries: the same answers as MemoryIndex, in the same order."""
    index, reference, rng = opener(), MemoryIndex(), random.Random(15)
    vocabulary = [f"b{i}:{i * 7}" for i in range(12)] + ["PERSON:ann lee", "GPE:peru", "ORG:un"]
    for i in range(150):
        keys = rng.sample(vocabulary, rng.randint(0, 6))
        args = (
            f"k{rng.randint(0, 140)}",
            f"a{i}",
            f"s{rng.randint(0, 9)}",
            rng.randrange(0, 50_000, 250),
            keys,
        )
        assert index.add(*args, {"i": i}) == reference.add(*args, {"i": i})
        query = rng.sample(vocabulary, rng.randint(1, 5))
        when, window, limit = rng.randint(0, 50_000), rng.choice([500, 5_000, 60_000]), rng.randint(1, 12)
        assert index.candidates(query, when, window, limit) == reference.candidates(
            query, when, window, limit
        )
        story = f"s{rng.randint(0, 9)}"
        assert index.members(story, 4) == reference.members(story, 4)
        if i % 40 == 39:
            assert index.expire(i * 200) == reference.expire(i * 200)


def test_a_common_key_gives_only_its_most_recent_postings(opener):
    durable_only(opener)
    index = opener(per_key=5)
    index.add("old", "old", "old", 1_000, ["GPE:us", "PERSON:ann lee"], {})
    for i in range(20):
        index.add(f"k{i}", f"a{i}", f"s{i}", 2_000 + i, ["GPE:us"], {})
    assert [e.key for e, _ in index.candidates(["GPE:us"], 3_000, 10_000, 50)] == [
        "k19",
        "k18",
        "k17",
        "k16",
        "k15",
    ]
    # Past the common key's cap, the old article is still found through its rare key.
    found = index.candidates(["PERSON:ann lee", "GPE:us"], 3_000, 10_000, 50)
    assert [(e.key, n) for e, n in found][0] == ("k19", 1) and ("old", 1) in [(e.key, n) for e, n in found]
    # The cap counts within the window: an early query sees the early postings.
    assert {e.key for e, _ in index.candidates(["GPE:us"], 1_000, 1_010, 50)} == {
        "k10",
        "k9",
        "k8",
        "k7",
        "k6",
    }


def test_members_are_the_latest_in_version_order(opener):
    index = opener()
    for i in range(6):  # event times out of order: versions follow the adds
        index.add(f"k{i}", f"a{i}", "s", 10_000 - i, [], {"i": i})
    index.add("other", "o", "t", 1, [], {})
    assert [(e.key, e.version) for e in index.members("s", 3)] == [("k3", 4), ("k4", 5), ("k5", 6)]
    assert [e.payload["i"] for e in index.members("s", 100)] == [0, 1, 2, 3, 4, 5]
    assert index.members("nobody", 5) == []


def test_expire_deletes_entries_and_their_postings(opener):
    index = opener()
    for i in range(5):
        index.add(f"k{i}", f"a{i}", "s", 1_000 * i, ["b0:1", f"ORG:{i}"], {})
    assert index.expire(2_000) == 2
    assert index.expire(2_000) == 0
    assert index.get("k1") is None and index.get("k2") is not None
    assert [e.key for e, _ in index.candidates(["b0:1", "ORG:0"], 0, 10_000, 10)] == ["k4", "k3", "k2"]
    assert [e.key for e in index.members("s", 10)] == ["k2", "k3", "k4"]


def test_entries_survive_a_reopen(opener):
    durable_only(opener)
    first = opener()
    added = first.add("a@t/0/0", "a", "a", 1_000, ["b0:1"], {"claims": ["ü"]})
    first.close()
    second = opener()
    assert second.get("a@t/0/0") == added
    assert second.candidates(["b0:1"], 1_000, 0, 5) == [(added, 1)]
    assert second.add("b@t/0/1", "b", "a", 2_000, [], {}).version == 2


def _add_many(path: str, worker: int, count: int) -> None:
    with SqliteIndex(path) as index:
        for i in range(count):
            index.add(f"w{worker}-{i}", f"w{worker}-{i}", f"s{i % 4}", i, [f"b{i % 7}:1", "GPE:us"], {"i": i})


def test_two_processes_share_one_sqlite_file(tmp_path):
    path = str(tmp_path / "index.sqlite")
    SqliteIndex(path).close()  # created once, then raced on
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(path, w, 200)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with SqliteIndex(path) as index:
        for story in range(4):
            versions = [e.version for e in index.members(f"s{story}", 1_000)]
            assert versions == list(range(1, 101))  # 2 x 50 adds, every version once
        assert len(index.candidates(["GPE:us"], 0, 1_000, 1_000)) == PER_KEY  # 400 share it


def test_open_index_chooses_the_store(tmp_path, redis_url):
    with open_index(None, tmp_path / "out") as index:
        assert index.path == tmp_path / "out" / "_stories" / "index.sqlite"
    (tmp_path / "state").mkdir()
    with open_index(str(tmp_path / "state"), tmp_path / "out") as index:
        assert index.path == tmp_path / "state" / "index.sqlite"
    with open_index(str(tmp_path / "mine.db"), tmp_path / "out") as index:
        assert index.path == tmp_path / "mine.db"
    with open_index(redis_url, tmp_path / "out", namespace="group-1") as index:
        assert isinstance(index, RedisIndex)
        index.add("a@t/0/0", "a", "a", 1, ["k"], {})
    with open_index(redis_url, tmp_path / "out", namespace="group-2") as index:
        assert index.get("a@t/0/0") is None  # another group's stories


def test_open_index_names_what_is_at_fault(tmp_path):
    with pytest.raises(StateError, match=r"^--state s3://\.\.\.: unknown scheme 's3'"):
        open_index("s3://bucket/index", tmp_path)
    port = free_port()  # closed once the probe socket is gone
    with pytest.raises(StateError) as error:
        open_index(f"redis://app:s3cret@127.0.0.1:{port}/0", tmp_path)
    assert f"story index at redis 127.0.0.1:{port}: " in str(error.value)
    assert "s3cret" not in str(error.value) and "\n" not in str(error.value)
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StateError, match=f"^cannot create the story index's folder {tmp_path / 'a-file'}: "):
        open_index(str(tmp_path / "a-file" / "index.sqlite"), tmp_path)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError, match=f"^cannot use the story index {tmp_path / 'junk.sqlite'}: "):
        open_index(str(tmp_path / "junk.sqlite"), tmp_path)
    with pytest.raises(StateError, match="needs a local folder, and --output gs://b/out is not one"):
        open_index(None, "gs://b/out")


def test_a_read_only_index_fails_at_open(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may write read-only files")
    SqliteIndex(tmp_path / "index.sqlite").close()
    (tmp_path / "index.sqlite").chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(StateError, match=f"story index {tmp_path / 'index.sqlite'}: "):
            open_index(str(tmp_path / "index.sqlite"), tmp_path)
    finally:
        tmp_path.chmod(0o755)


def test_sync_makes_the_adds_durable(tmp_path):
    with SqliteIndex(tmp_path / "index.sqlite") as index:
        index.sync()  # nothing added yet
        index.add("a@t/0/0", "a", "a", 1, ["k"], {})
        index.sync()
        assert (tmp_path / "index.sqlite-wal").stat().st_size > 0
