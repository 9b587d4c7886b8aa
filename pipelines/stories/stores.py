"""The durable story indexes: SQLite in the output folder, Redis for replicas on several hosts.

Both behave like :class:`~pipelines.stories.index.MemoryIndex` (the reference), with
two differences a store needs:

- A key shared by thousands of articles ("GPE:us", a band of boilerplate) must not
  cost a scan: a query takes at most ``per_key`` postings of each key, the most
  recent within the window (:data:`PER_KEY`). An article that shares only such a key
  with the query, and is older than that key's ``per_key`` most recent articles, is
  not found through it.
- Story version counters outlive the entries: a story's next version is never one
  it gave before, even after all its articles expired. They are one small row (or
  hash field) a story, never deleted.

:func:`open_index` chooses the store from ``--state``: none (a SQLite file under the
output folder, ``_stories/index.sqlite``, which recovery and ``claimstream inspect``
never look at), a path (a SQLite file there), or ``redis://HOST:PORT/DB`` /
``rediss://`` (TLS). It connects and checks at once, so a run fails before it reads.

Payloads are stored as deflated compact JSON (:func:`encode`); the index never looks
inside. Decoded payloads are cached and shared between callers: never change one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import json
import logging
import os
import sqlite3
import struct
import threading
import zlib
from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipelines.errors import StateError
from pipelines.stories.index import Entry, StoryIndex

_LOG = logging.getLogger(__name__)

#: Postings one key contributes to a query at most: its most recent ones within the window.
PER_KEY = 200
#: How long a writer waits for another process's transaction on the same SQLite file.
BUSY_TIMEOUT_MS = 30_000
#: Where the default index lives, under the output folder (recovery reads only articles/
#: and dead_letters/, ``inspect`` only *.avro and *.parquet files).
DEFAULT_FILE = Path("_stories") / "index.sqlite"
#: The layout of the SQLite file (``PRAGMA user_version``): another one is refused.
SCHEMA_VERSION = 1
#: Decoded payloads an index keeps (by entry id), LRU: consecutive articles share many
#: candidates (the recent articles of a common key), and decoding is most of a query's cost.
#: A news article's payload decodes to ~18 KB of Python objects (tracemalloc, BBC articles;
#: its profile and claims stay packed text: see packed()): ~9 MB when full, whatever the
#: window. 2,048 cost ~0.5 ms an article less on the 1,808 BBC articles (one window) and
#: ~30 MB more, filled over the first ~2,000 articles of a run.
PAYLOAD_CACHE = 512
#: How often a background thread checkpoints the WAL into the database file (the adds'
#: thread would otherwise do it, an fsync of the file: a 20 ms stall every ~300 adds).
CHECKPOINT_SECONDS = 1.0
#: Prefix of every Redis key; the namespace follows, in braces (one Redis Cluster slot).
REDIS_PREFIX = "claimstream:stories:"
#: Entries one expiry step deletes in Redis (one Lua call: the server is busy meanwhile).
EXPIRE_BATCH = 500


def encode(payload: dict[str, Any]) -> bytes:
    """The stored form of a payload: compact JSON, deflated (level 1: 25 us for 2 KB, which
    shrinks to ~0.9 KB; in SQLite, 4 KB pages then hold four entries instead of one).

    >>> payload = {"claims": ["Rain fell."] * 20}
    >>> len(encode(payload)) < len(json.dumps(payload)), decode(encode(payload)) == payload
    (True, True)
    """
    return zlib.compress(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), 1)


def decode(stored: bytes) -> dict[str, Any]:
    return json.loads(zlib.decompress(stored))


def packed(value: Any) -> str:
    """A part of a payload as one JSON text, read back with :func:`unpacked` when needed.

    An index keeps thousands of decoded payloads: as text, an article's profile and
    claims are two strings (~9 KB) instead of ~50 KB of small objects, and most
    payloads are only looked at for their text hash.

    >>> unpacked(packed([{"text": "Rain fell."}])), unpacked([{"text": "Rain fell."}])
    ([{'text': 'Rain fell.'}], [{'text': 'Rain fell.'}])
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def unpacked(value: Any) -> Any:
    """A packed part of a payload (or the value itself: written before parts were packed).
    Callers share what it returns and must not change it."""
    return _json_of(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=128)  # a story's latest versions are read for each new version
def _json_of(text: str) -> Any:
    return json.loads(text)


def unique(keys: Sequence[str]) -> list[str]:
    """The keys once each, in their order: a key counts once however often it is given.

    >>> unique(["b0:1", "GPE:us", "b0:1"])
    ['b0:1', 'GPE:us']
    """
    return list(dict.fromkeys(keys))


def term_id(key: str) -> int:
    """A key as a signed 64-bit integer (the SQLite postings' column): 8 bytes however long
    the key; two keys collide once in 2**64 pairs, which would only add a shared key.

    >>> term_id("GPE:us") == term_id("GPE:us"), term_id("GPE:us") == term_id("GPE:uk")
    (True, False)
    """
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def _ranked(found: list[tuple[Entry, int]], limit: int) -> list[tuple[Entry, int]]:
    """Most keys shared first, then most recent, then by key (as MemoryIndex ranks)."""
    found.sort(key=lambda pair: (-pair[1], -pair[0].event_time_ms, pair[0].key))
    return found[:limit]


class PayloadCache:
    """Decoded payloads by entry id, the least recently used dropped past ``size``.

    Entry ids are never reused and an entry never changes, so a cached payload is never
    stale. Callers share the dicts (as MemoryIndex's callers do): they must not change them.

    >>> cache = PayloadCache(1)
    >>> first = cache.get(1, encode({"n": 1}))
    >>> cache.get(1, b"ignored") is first, cache.get(2, encode({"n": 2})), cache.get(1, encode({"n": 3}))
    (True, {'n': 2}, {'n': 3})
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._payloads: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, entry_id: Hashable, stored: bytes) -> dict[str, Any]:
        with self._lock:
            payload = self._payloads.get(entry_id)
            if payload is not None:
                self._payloads.move_to_end(entry_id)
                return payload
        payload = decode(stored)
        self.put(entry_id, payload)
        return payload

    def put(self, entry_id: Hashable, payload: dict[str, Any]) -> None:
        """Keep ``payload`` as entry ``entry_id``'s decoded form (it must read back the same
        from JSON: lists, not tuples; string keys)."""
        with self._lock:
            self._payloads[entry_id] = payload
            if len(self._payloads) > self.size:
                self._payloads.popitem(last=False)


# --- SQLite ---------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: postings point at it
    key TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    story_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_time_ms INTEGER NOT NULL,
    payload BLOB NOT NULL,
    terms BLOB NOT NULL  -- its postings' terms (little-endian int64s): expiry deletes them by key
);
CREATE INDEX IF NOT EXISTS entries_by_story ON entries (story_id, version);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (event_time_ms);
CREATE TABLE IF NOT EXISTS postings (
    term INTEGER NOT NULL,  -- term_id(key)
    event_time_ms INTEGER NOT NULL,
    entry INTEGER NOT NULL,
    PRIMARY KEY (term, event_time_ms, entry)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    story_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
"""

_COLUMNS = "e.id, e.key, e.article_id, e.story_id, e.version, e.event_time_ms, e.payload"


def _hits_sql(terms: int) -> str:
    """The postings of ``terms`` distinct keys (?1, ?2: the window; ?3: the cap a key;
    ?4...: the keys): each key's a range of the primary key, read newest first and cut
    at the cap. Counted in Python: SQLite's GROUP BY (a temporary B-tree) costs four
    times as much as a Counter over the ~1,000 rows a query of common keys returns."""
    return " UNION ALL ".join(
        f"SELECT * FROM (SELECT entry, event_time_ms FROM postings WHERE term = ?{i}"
        " AND event_time_ms BETWEEN ?1 AND ?2 ORDER BY event_time_ms DESC LIMIT ?3)"
        for i in range(4, 4 + terms)
    )


def _entries_sql(count: int) -> str:
    return f"SELECT {_COLUMNS} FROM entries AS e WHERE e.id IN ({', '.join('?' * count)})"


def top_ids(shared: Counter[int], times: dict[int, int], limit: int) -> list[int]:
    """The ``limit`` ids sharing the most keys, then the most recent, plus every id tied
    with the last of them (the caller breaks those ties by key, as MemoryIndex does).

    >>> sorted(top_ids(Counter({1: 2, 2: 1, 3: 1, 4: 1, 5: 1}), {1: 5, 2: 9, 3: 7, 4: 7, 5: 6}, 3))
    [1, 2, 3, 4]
    """
    ranked = heapq.nlargest(limit, zip(shared.values(), map(times.__getitem__, shared), shared, strict=True))
    if len(shared) <= limit:
        return [i for _, _, i in ranked]
    n, t, _ = ranked[-1]
    chosen = {i for _, _, i in ranked}
    return [i for _, _, i in ranked] + [
        i for i, m in shared.items() if m == n and times[i] == t and i not in chosen
    ]


class SqliteIndex:
    """The story index in a SQLite file (WAL mode), shared by the processes of one machine.

    Durability: every :meth:`add` is one ``BEGIN IMMEDIATE`` transaction, committed
    before it returns, with ``synchronous=NORMAL``: the commit is in the WAL (in the
    OS's cache) and survives a crash of the process (the common case: a kill, a
    rebalance, an out-of-memory), so a replay finds it with :meth:`get`. It is not
    at once on the disk: a background thread checkpoints every second (an fsync of
    the WAL, then of the file, off the adds' thread), so a power loss or kernel crash
    can lose the last second of adds while the output files written after them (and
    fsynced) survive; later articles would miss them, a story version could be given
    twice. :meth:`sync` closes that gap: one fsync of the WAL makes every add that
    returned durable. Call it before an output file is renamed into place (once a
    file, not once an article). ``synchronous="FULL"`` fsyncs at every add instead
    (2.6 ms an add on this machine's disk, against 0.04 ms: more than the stage's
    whole budget for the index).

    Other processes (replicas on the same machine) may use the same file: writers
    take turns (``busy_timeout`` of 30 s), readers never wait. The file must be on a
    local disk (WAL needs shared memory; not NFS).

    >>> import tempfile
    >>> index = SqliteIndex(Path(tempfile.mkdtemp()) / "index.sqlite")
    >>> index.add("a@t/0/0", "a", "a", 1_000, ["b0:1", "PERSON:ann lee"], {"n": 1}).version
    1
    >>> index.add("b@t/0/1", "b", "a", 2_000, ["PERSON:ann lee"], {"n": 2}).version
    2
    >>> found = index.candidates(["b0:1", "PERSON:ann lee"], 3_000, 10_000, 5)
    >>> [(e.article_id, shared) for e, shared in found]
    [('a', 2), ('b', 1)]
    >>> [e.payload for e in index.members("a", 10)], index.expire(1_500), index.get("a@t/0/0")
    ([{'n': 1}, {'n': 2}], 1, None)
    >>> index.close()
    """

    def __init__(
        self,
        path: str | Path,
        per_key: int = PER_KEY,
        synchronous: str = "NORMAL",
        cache: int = PAYLOAD_CACHE,
        setting: str = "state",
    ) -> None:
        self.path = Path(path)
        self.per_key = per_key
        self._setting = setting
        self._lock = threading.Lock()  # one connection; Beam may call from several threads
        self._payloads = PayloadCache(cache)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StateError(
                f"cannot create the story index's folder {self.path.parent}: {_reason(e)}", setting
            ) from None
        try:
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise StateError(f"cannot open the story index {self.path}: {e}", setting) from None
        try:
            self._prepare(synchronous)
        except sqlite3.Error as e:
            self._db.close()
            raise StateError(f"cannot use the story index {self.path}: {e}", setting) from None
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, name="story-index-checkpoints", daemon=True
        )
        self._checkpointer.start()

    def _checkpoints(self) -> None:
        """Copy the WAL into the database now and then, off the adds' thread (PASSIVE: never
        waits for, nor blocks, a reader or a writer; SQLite releases the GIL meanwhile)."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            while not self._stop.wait(CHECKPOINT_SECONDS):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as e:  # the adds' own checkpoints take over
                    _LOG.warning("story index %s: checkpoint failed: %s", self.path, e)
        finally:
            db.close()

    def _prepare(self, synchronous: str) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"its journal is in {mode} mode, and WAL mode was refused")
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        # 4 MB of pages: bounded, whatever the window. The OS keeps the file cached too: 16 MB
        # here grew the process by 13 MB over a long run for ~2% of the stage's time.
        db.execute("PRAGMA cache_size = -4000")
        db.execute("PRAGMA temp_store = MEMORY")
        # Checkpoints belong to the background thread; this is the fallback if it fell behind.
        db.execute("PRAGMA wal_autocheckpoint = 10000")
        db.execute("PRAGMA journal_size_limit = 67108864")  # the WAL, once checkpointed, shrinks to 64 MB
        with self._transaction():  # a write: fails now, not at the first article, when read-only
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'entries'").fetchone()[0]
            if version not in (0, SCHEMA_VERSION) or (version == 0 and tables):
                raise sqlite3.DatabaseError(f"it holds another layout (version {version}), not a story index")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """The connection, one caller at a time; SQLite's errors (a full disk, a lock held
        beyond the busy timeout) become one line naming the file."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as e:
                raise StateError(f"story index {self.path}: {e}", self._setting) from None

    def _entry(self, row: tuple) -> Entry:
        """An entry from its row; its payload decoded once while it stays in the cache (an
        id is never reused, and an entry never changes: the cached payload stays right)."""
        entry_id, key, article_id, story_id, version, event_time_ms, stored = row
        return Entry(key, article_id, story_id, version, event_time_ms, self._payloads.get(entry_id, stored))

    def get(self, key: str) -> Entry | None:
        with self._using() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM entries AS e WHERE e.key = ?", (key,)).fetchone()
            return self._entry(row) if row else None

    def candidates(
        self, keys: Sequence[str], event_time_ms: int, window_ms: int, limit: int
    ) -> list[tuple[Entry, int]]:
        terms = [term_id(k) for k in unique(keys)]
        if not terms or limit <= 0:
            return []
        window = (event_time_ms - window_ms, event_time_ms + window_ms, self.per_key)
        with self._using() as db:
            hits = db.execute(_hits_sql(len(terms)), (*window, *terms)).fetchall()
            shared = Counter(entry for entry, _ in hits)
            ids = top_ids(shared, dict(hits), limit)
            found = [(self._entry(row), shared[row[0]]) for row in db.execute(_entries_sql(len(ids)), ids)]
        return _ranked(found, limit)

    def members(self, story_id: str, limit: int) -> list[Entry]:
        if limit <= 0:
            return []
        with self._using() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM entries AS e WHERE e.story_id = ? ORDER BY e.version DESC LIMIT ?",
                (story_id, limit),
            ).fetchall()
            return [self._entry(row) for row in reversed(rows)]

    def add(
        self,
        key: str,
        article_id: str,
        story_id: str,
        event_time_ms: int,
        keys: Sequence[str],
        payload: dict[str, Any],
    ) -> Entry:
        stored = encode(payload)
        terms = [term_id(k) for k in unique(keys)]
        with self._using() as db, self._transaction():
            row = db.execute(f"SELECT {_COLUMNS} FROM entries AS e WHERE e.key = ?", (key,)).fetchone()
            if row:  # a replay, or another replica was first
                return self._entry(row)
            db.execute(
                "INSERT INTO versions VALUES (?, 1)"
                " ON CONFLICT (story_id) DO UPDATE SET version = version + 1",
                (story_id,),
            )
            version = db.execute("SELECT version FROM versions WHERE story_id = ?", (story_id,)).fetchone()[0]
            entry = db.execute(
                "INSERT INTO entries (key, article_id, story_id, version, event_time_ms, payload, terms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    article_id,
                    story_id,
                    version,
                    event_time_ms,
                    stored,
                    struct.pack(f"<{len(terms)}q", *terms),
                ),
            ).lastrowid
            db.executemany(
                "INSERT INTO postings VALUES (?, ?, ?)", [(t, event_time_ms, entry) for t in terms]
            )
        # A new entry is soon another article's candidate: not decoded again then (~0.5 ms).
        self._payloads.put(entry, payload)
        return Entry(key, article_id, story_id, version, event_time_ms, payload)

    def expire(self, before_ms: int) -> int:
        with self._using() as db, self._transaction():
            # By primary key, from each entry's terms: an index of postings by time would cost
            # a fifth of the file and an insert more a posting.
            old = db.execute(
                "SELECT id, event_time_ms, terms FROM entries WHERE event_time_ms < ?", (before_ms,)
            )
            db.executemany(
                "DELETE FROM postings WHERE term = ? AND event_time_ms = ? AND entry = ?",
                (
                    (term, event_time_ms, entry)
                    for entry, event_time_ms, terms in old.fetchall()
                    for term in struct.unpack(f"<{len(terms) // 8}q", terms)
                ),
            )
            return db.execute("DELETE FROM entries WHERE event_time_ms < ?", (before_ms,)).rowcount

    def sync(self) -> None:
        """Make every add that returned durable against a power loss: one fsync of the WAL
        (nothing to do when no WAL is left: a checkpoint synced it all)."""
        with self._lock:
            try:
                fd = os.open(f"{self.path}-wal", os.O_RDONLY)
            except FileNotFoundError:
                return
            try:
                os.fsync(fd)
            except OSError as e:
                raise StateError(
                    f"story index {self.path}: cannot sync: {_reason(e)}", self._setting
                ) from None
            finally:
                os.close(fd)

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer.is_alive():
            self._checkpointer.join()
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


# --- Redis ----------------------------------------------------------------------------

# Keys, after the prefix P ("claimstream:stories:{namespace}:"):
#   ids: hash, occurrence key -> entry id;  seq: the last entry id;  versions: hash, story -> last version
#   time: zset, entry id by event time (expiry);  e:<id>: hash, the entry (k a s v t p, x: its keys as JSON)
#   p:<key>: zset, entry ids by event time (postings);  m:<story>: zset, entry ids by version (members)
# Entries are named by a small id so that the postings (30 an article) stay small.

_FIELDS = "'k', 'a', 's', 'v', 't', 'p'"

# Every script answers an entry as {id, k, a, s, v, t, p}: the id names its payload in the
# client's cache.
_ENTRY = f"""
local function entry(P, id)
  local fields = redis.call('HMGET', P .. 'e:' .. id, {_FIELDS})
  table.insert(fields, 1, id)
  return fields
end
"""

_ADD = f"""{_ENTRY}
local P = ARGV[1]
local id = redis.call('HGET', P .. 'ids', ARGV[2])
if id then return {{1, entry(P, id)}} end
id = redis.call('INCR', P .. 'seq')
local version = redis.call('HINCRBY', P .. 'versions', ARGV[4], 1)
redis.call('HSET', P .. 'ids', ARGV[2], id)
redis.call('HSET', P .. 'e:' .. id, 'k', ARGV[2], 'a', ARGV[3], 's', ARGV[4], 'v', version,
           't', ARGV[5], 'p', ARGV[6], 'x', ARGV[7])
redis.call('ZADD', P .. 'm:' .. ARGV[4], version, id)
redis.call('ZADD', P .. 'time', ARGV[5], id)
for _, key in ipairs(cjson.decode(ARGV[7])) do redis.call('ZADD', P .. 'p:' .. key, ARGV[5], id) end
return {{0, version}}
"""

_GET = f"""{_ENTRY}
local P = ARGV[1]
local id = redis.call('HGET', P .. 'ids', ARGV[2])
if not id then return false end
return entry(P, id)
"""

_MEMBERS = f"""{_ENTRY}
local P = ARGV[1]
local found = {{}}
for _, id in ipairs(redis.call('ZRANGE', P .. 'm:' .. ARGV[2], -tonumber(ARGV[3]), -1)) do
  found[#found + 1] = entry(P, id)
end
return found
"""

# Counted and ranked inside the server: only the top entries travel. Answers {n, entry}
# for the `limit` entries sharing the most keys, then the most recent, and for every entry
# tied with the last of them (the client breaks those ties by key, as MemoryIndex does).
# No sort with a Lua comparator (a few ms for 1,000 ids): ids are bucketed by keys
# shared, and only the bucket that crosses the limit has its times sorted, as numbers.
_CANDIDATES = f"""{_ENTRY}
local P, low, high, cap, limit = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local count, time, most = {{}}, {{}}, 0
for i = 6, #ARGV do
  local hits = redis.call('ZREVRANGEBYSCORE', P .. 'p:' .. ARGV[i], high, low, 'WITHSCORES', 'LIMIT', 0, cap)
  for j = 1, #hits, 2 do
    local id = hits[j]
    local n = (count[id] or 0) + 1
    count[id] = n
    if n == 1 then time[id] = tonumber(hits[j + 1]) end
    if n > most then most = n end
  end
end
local buckets = {{}}
for n = 1, most do buckets[n] = {{}} end
for id, n in pairs(count) do local b = buckets[n]; b[#b + 1] = id end
local found = {{}}
for n = most, 1, -1 do
  local bucket, room = buckets[n], limit - #found
  if room <= 0 then break end
  local oldest = nil
  if #bucket > room then
    local times = {{}}
    for i, id in ipairs(bucket) do times[i] = time[id] end
    table.sort(times)
    oldest = times[#times - room + 1]
  end
  for _, id in ipairs(bucket) do
    if oldest == nil or time[id] >= oldest then found[#found + 1] = {{n, entry(P, id)}} end
  end
end
return found
"""

_EXPIRE = """
local P = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', P .. 'time', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local entry = redis.call('HMGET', P .. 'e:' .. id, 'k', 's', 'x')
  for _, key in ipairs(cjson.decode(entry[3])) do redis.call('ZREM', P .. 'p:' .. key, id) end
  redis.call('ZREM', P .. 'm:' .. entry[2], id)
  redis.call('HDEL', P .. 'ids', entry[1])
  redis.call('DEL', P .. 'e:' .. id)
  redis.call('ZREM', P .. 'time', id)
end
return #ids
"""


class RedisIndex:
    """The story index in a Redis server, shared by replicas on several machines.

    Each operation is one Lua script, so one round trip and atomic: :meth:`add` checks
    the occurrence key, increments the story's version, writes the entry and its
    postings (sorted sets scored by event time) at once. :meth:`candidates` reads each
    key's most recent ``per_key`` postings within the window, counts and ranks them in
    the server, and returns only the top entries. :meth:`expire` deletes old entries
    and their postings, :data:`EXPIRE_BATCH` at a time. Every key starts with
    ``claimstream:stories:{namespace}:`` (one Redis Cluster slot a namespace).

    Durability is the server's: with ``appendonly yes`` and ``appendfsync everysec``
    an add survives a crash of Redis except for its last second; a replica's crash
    loses nothing that was added. :meth:`sync` has nothing to do.
    """

    def __init__(
        self, url: str, namespace: str = "claimstream", per_key: int = PER_KEY, cache: int = PAYLOAD_CACHE
    ) -> None:
        import redis  # only when Redis is asked for

        self.per_key = per_key
        self._payloads = PayloadCache(cache)
        self.where = redis_address(url)
        self._prefix = f"{REDIS_PREFIX}{{{namespace}}}:"
        try:
            self._redis = redis.Redis.from_url(
                url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30
            )
        except ValueError as e:
            raise StateError(f"--state {self.where}: {e}", "state") from None
        self._errors = (redis.RedisError, OSError)
        with self._talking():
            self._redis.ping()
        scripts = (_ADD, _GET, _MEMBERS, _CANDIDATES, _EXPIRE)
        self._add, self._get, self._members, self._candidates, self._expire = map(
            self._redis.register_script, scripts
        )

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        """Redis's errors as one line naming the server (never the URL: it may hold a password)."""
        try:
            yield
        except self._errors as e:
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise StateError(f"story index at redis {self.where}: {message}", "state") from None

    def _entry(self, fields: list[bytes]) -> Entry:
        """An entry from a script's answer; its payload decoded once while it stays in the
        cache (ids are never reused, entries never change)."""
        entry_id, key, article_id, story_id, version, event_time_ms, stored = fields
        text = key.decode(), article_id.decode(), story_id.decode()
        return Entry(*text, int(version), int(event_time_ms), self._payloads.get(entry_id, stored))

    def get(self, key: str) -> Entry | None:
        with self._talking():
            fields = self._get(args=[self._prefix, key])
        return self._entry(fields) if fields else None

    def candidates(
        self, keys: Sequence[str], event_time_ms: int, window_ms: int, limit: int
    ) -> list[tuple[Entry, int]]:
        keys = unique(keys)
        if not keys or limit <= 0:
            return []
        window = [event_time_ms - window_ms, event_time_ms + window_ms, self.per_key, limit]
        with self._talking():
            found = self._candidates(args=[self._prefix, *window, *keys])
        return _ranked([(self._entry(fields), int(n)) for n, fields in found], limit)

    def members(self, story_id: str, limit: int) -> list[Entry]:
        if limit <= 0:
            return []
        with self._talking():
            found = self._members(args=[self._prefix, story_id, limit])
        return [self._entry(fields) for fields in found]

    def add(
        self,
        key: str,
        article_id: str,
        story_id: str,
        event_time_ms: int,
        keys: Sequence[str],
        payload: dict[str, Any],
    ) -> Entry:
        terms = json.dumps(unique(keys), ensure_ascii=False)
        args = [self._prefix, key, article_id, story_id, event_time_ms, encode(payload), terms]
        with self._talking():
            existed, answer = self._add(args=args)
        if existed:
            return self._entry(answer)
        return Entry(key, article_id, story_id, int(answer), event_time_ms, payload)

    def expire(self, before_ms: int) -> int:
        deleted = 0
        with self._talking():
            while True:
                step = self._expire(args=[self._prefix, before_ms, EXPIRE_BATCH])
                deleted += step
                if step < EXPIRE_BATCH:
                    return deleted

    def sync(self) -> None:
        pass

    def close(self) -> None:
        self._redis.close()

    def __enter__(self) -> RedisIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redis_address(url: str) -> str:
    """``HOST:PORT`` of a Redis URL, without its user or password.

    >>> redis_address("rediss://app:s3cret@cache.example:6380/2")
    'cache.example:6380'
    """
    parts = urlsplit(url)
    try:
        port = parts.port or 6379
    except ValueError:
        port = "?"
    return f"{parts.hostname or 'localhost'}:{port}"


# --- choosing ---------------------------------------------------------------------------


def open_index(state: str | None, output: str | Path, namespace: str = "claimstream") -> StoryIndex:
    """The story index ``--state`` names, connected and checked (errors: one line).

    - None: a SQLite file in the output folder (``OUTPUT/_stories/index.sqlite``);
    - a path: a SQLite file there (a folder, or a path ending in "/": ``index.sqlite`` in it);
    - ``redis://HOST:PORT/DB`` or ``rediss://`` (TLS): Redis, its keys under ``namespace``
      (the consumer group: replicas of one group share their stories).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> index = open_index(None, folder)
    >>> str(index.path).startswith(folder), index.path.name
    (True, 'index.sqlite')
    >>> index.close()
    >>> open_index("s3://bucket/index", folder)
    Traceback (most recent call last):
    pipelines.errors.StateError: --state s3://...: unknown scheme 's3': give a local path or redis://HOST:PORT/DB
    """
    if state is None:
        output = str(output)
        if "://" in output and not output.startswith("file://"):
            raise StateError(
                f"the story index needs a local folder, and --output {output} is not one: "
                "give --state PATH or --state redis://HOST:PORT/DB",
                "state",
            )
        return SqliteIndex(Path(output.removeprefix("file://")) / DEFAULT_FILE, setting="output")
    scheme = state.split("://", 1)[0].lower() if "://" in state else ""
    if scheme in ("redis", "rediss"):
        return RedisIndex(state, namespace)
    if scheme and scheme != "file":
        raise StateError(
            f"--state {scheme}://...: unknown scheme {scheme!r}: give a local path or redis://HOST:PORT/DB",
            "state",
        )
    path = Path(state.removeprefix("file://")).expanduser()
    if path.is_dir() or state.endswith(("/", os.sep)):
        path = path / DEFAULT_FILE.name
    return SqliteIndex(path)
