"""The story index: the articles of the window, found again by the keys they share.

An article enters the index once, under its occurrence key (its article id and where
it was read), with the keys that find it again (MinHash-LSH band keys and anchor keys
such as distinctive names, computed by ``profile.py``) and a JSON payload (its
profile, its claims, the output the stage gave it). The index knows nothing of what
the keys or the payload mean: it is a postings store with a time window.

- :meth:`StoryIndex.get` finds an article processed before (a replay after a crash,
  a second replica): it gets the same story again and never matches itself.
- :meth:`StoryIndex.candidates` returns the articles sharing at least one key, within
  the window by event time, most keys shared first.
- :meth:`StoryIndex.add` gives the article the next version number of its story
  (atomically: replicas may share the index), or returns the entry already there.

:class:`MemoryIndex` is the reference, for benchmarks and tests; the durable stores
(SQLite in the output folder, Redis for replicas on several machines) are in
``stores.py`` and behave the same.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True)
class Entry:
    key: str  # the occurrence: article id + where it was read
    article_id: str
    story_id: str
    version: int  # 1 for the story's first article
    event_time_ms: int
    payload: dict[str, Any]  # JSON-able; the stage's business


class StoryIndex(Protocol):
    def get(self, key: str) -> Entry | None: ...

    def candidates(
        self, keys: Sequence[str], event_time_ms: int, window_ms: int, limit: int
    ) -> list[tuple[Entry, int]]: ...

    def members(self, story_id: str, limit: int) -> list[Entry]: ...

    def add(
        self,
        key: str,
        article_id: str,
        story_id: str,
        event_time_ms: int,
        keys: Sequence[str],
        payload: dict[str, Any],
    ) -> Entry: ...

    def expire(self, before_ms: int) -> int: ...

    def sync(self) -> None: ...  # every add that returned survives a power loss

    def close(self) -> None: ...


class MemoryIndex:
    """The index in a dict: the behaviour every store has.

    >>> index = MemoryIndex()
    >>> first = index.add("a@t/0/0", "a", "a", 1_000, ["b0:1", "PERSON:ann lee"], {})
    >>> second = index.add("b@t/0/1", "b", "a", 2_000, ["PERSON:ann lee"], {})
    >>> second.version, index.add("b@t/0/1", "b", "x", 9, [], {}).story_id
    (2, 'a')
    >>> found = index.candidates(["b0:1", "PERSON:ann lee"], 3_000, 10_000, 5)
    >>> [(e.article_id, shared) for e, shared in found]
    [('a', 2), ('b', 1)]
    >>> [e.article_id for e in index.members("a", 10)], index.expire(1_500), index.get("a@t/0/0")
    (['a', 'b'], 1, None)
    """

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._keys: dict[str, tuple[str, ...]] = {}
        self._postings: dict[str, list[str]] = defaultdict(list)
        self._stories: dict[str, list[str]] = defaultdict(list)
        self._versions: Counter[str] = Counter()  # never reused, even after expiry

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def candidates(
        self, keys: Sequence[str], event_time_ms: int, window_ms: int, limit: int
    ) -> list[tuple[Entry, int]]:
        shared = Counter(k for key in set(keys) for k in self._postings.get(key, ()))
        found = [
            (self._entries[k], n)
            for k, n in shared.items()
            if abs(self._entries[k].event_time_ms - event_time_ms) <= window_ms
        ]
        found.sort(key=lambda pair: (-pair[1], -pair[0].event_time_ms, pair[0].key))
        return found[:limit]

    def members(self, story_id: str, limit: int) -> list[Entry]:
        keys = self._stories.get(story_id, ())
        return [self._entries[k] for k in keys[max(0, len(keys) - limit) :]]

    def add(
        self,
        key: str,
        article_id: str,
        story_id: str,
        event_time_ms: int,
        keys: Sequence[str],
        payload: dict[str, Any],
    ) -> Entry:
        if key in self._entries:
            return self._entries[key]
        self._versions[story_id] += 1
        version = self._versions[story_id]
        entry = Entry(key, article_id, story_id, version, event_time_ms, payload)
        self._entries[key] = entry
        self._keys[key] = tuple(set(keys))
        for k in self._keys[key]:
            self._postings[k].append(key)
        self._stories[story_id].append(key)
        return entry

    def expire(self, before_ms: int) -> int:
        old = [k for k, e in self._entries.items() if e.event_time_ms < before_ms]
        for key in old:
            entry = self._entries.pop(key)
            for k in self._keys.pop(key):
                self._postings[k].remove(key)
            self._stories[entry.story_id].remove(key)
        return len(old)

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass
