"""The story stage: each article linked to its story, each claim to its earlier form.

Per article, in arrival order:

1. an article the index already holds under the same occurrence key (its id and
   where it was read) is a replay, after a crash or on a second replica: it gets
   the answer it got before, so story ids survive a SIGKILL and never match the
   article with itself;
2. otherwise its profile (``profile.py``, computed by the NLP workers: ``features.py``)
   finds candidates in the index, and
   ``match.py`` decides: a new story, a duplicate or a version of an earlier one;
3. its claims are matched to the claims of the story's earlier versions
   (``claims.py``): linked SAME or CHANGED with typed changes, or new; the previous
   version's claims that nothing continues are dropped;
4. it enters the index with its answer, and the index gives it its version number.

The index outlives the run (SQLite in the output folder, or Redis for replicas on
several machines), and forgets articles older than the window by event time.
Dead letters pass on untouched.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator

import apache_beam as beam

from pipelines.records import Change, ClaimLink, DroppedClaim, EnrichedArticle, Output, StoryLink
from pipelines.stories.claims import link_claims
from pipelines.stories.features import story_features
from pipelines.stories.index import Entry
from pipelines.stories.match import decide
from pipelines.stories.stores import open_index, packed, unpacked

_LOG = logging.getLogger(__name__)

DAY_MS = 86_400_000
#: Earlier versions whose claims a new version's claims are matched against.
EARLIER_VERSIONS = 8
#: Articles between two sweeps of the entries that fell out of the window.
EXPIRE_EVERY = 500


class LinkStories(beam.PTransform):
    """Enriched articles -> the same, with their story, claim links and changes."""

    def __init__(self, output: str, state: str | None = None, window_days: float = 7.0,
                 namespace: str = "claimstream") -> None:  # fmt: skip
        super().__init__()
        self._fn = LinkStoriesFn(output, state, window_days, namespace)

    def expand(self, outputs):
        return outputs | beam.ParDo(self._fn)


class LinkStoriesFn(beam.DoFn):
    """Links each :class:`EnrichedArticle` through the story index; dead letters pass on."""

    def __init__(self, output: str, state: str | None, window_days: float, namespace: str) -> None:
        self._output = output
        self._index_at = state  # --state: None (in the output folder), a path or a Redis URL
        self._window_ms = int(window_days * DAY_MS)
        self._namespace = namespace

    def setup(self) -> None:
        self._index = open_index(self._index_at, self._output, self._namespace)
        self._latest_event_ms = 0
        self._since_expiry = 0

    def process(self, output: Output) -> Iterator[Output]:
        if isinstance(output, EnrichedArticle):
            yield self.link(output)
        else:
            yield output

    def link(self, article: EnrichedArticle) -> EnrichedArticle:
        key = occurrence_key(article)
        known = self._index.get(key)
        if known is not None:
            return with_story(article, known)
        event_ms = article.event_time_ms
        if event_ms is None:
            event_ms = int(time.time() * 1000)
        # Computed by the NLP workers when they could (see features.py), else here.
        features = article.story_features or story_features(article)
        profile = features.placed(key, event_ms)
        decision = decide(profile, self._index, self._window_ms)
        claims = features.claims
        # A new story has no earlier versions: most articles skip the index read.
        earlier = (
            []
            if decision.relation == "NEW"
            else [
                (e.article_id, unpacked(e.payload["claims"]))
                for e in self._index.members(decision.story_id, EARLIER_VERSIONS)
                if e.key != key
            ]
        )
        linked = link_claims(article, claims, earlier, decision.previous_article_id)
        answer = {
            "story": {
                "story_id": decision.story_id,
                "previous_article_id": decision.previous_article_id,
                "similarity": round(float(decision.similarity), 4),
                "relation": decision.relation,
            },
            "links": {c.claim_id: dataclasses.asdict(c.link) for c in linked.claims if c.link},
            "dropped": [dataclasses.asdict(d) for d in linked.dropped],
            "changes": [dataclasses.asdict(c) for c in linked.changes],
        }
        payload = {
            "h": profile.text_hash,  # beside the packed profile: every candidate's is read
            "profile": packed(profile.to_dict()),
            "claims": packed(claims),
            "output": answer,
        }
        entry = self._index.add(key, article.article_id, decision.story_id, event_ms, profile.keys, payload)
        self._expire(event_ms)
        # The entry added, or the one another replica added first: either way the answer stored.
        return with_story(article, entry)

    def finish_bundle(self) -> None:
        # Before the bundle's files are renamed into place (the writer finishes after this
        # stage): what the index answered survives even a power loss, so a replay agrees.
        self._index.sync()

    def _expire(self, event_ms: int) -> None:
        self._latest_event_ms = max(self._latest_event_ms, event_ms)
        self._since_expiry += 1
        if self._since_expiry >= EXPIRE_EVERY:
            self._since_expiry = 0
            gone = self._index.expire(self._latest_event_ms - self._window_ms)
            if gone:
                _LOG.info("story index: %d articles older than the window forgotten", gone)

    def teardown(self) -> None:
        index = getattr(self, "_index", None)
        if index is not None:
            index.close()


def occurrence_key(article: EnrichedArticle) -> str:
    """The article and where it was read: a replay has the same key, a re-post another.

    >>> from pipelines.records import Source
    >>> a = EnrichedArticle("96e8", Source(topic="news", partition=1, offset=7), None, "", "utf-8",
    ...                     (), (), (), "m")
    >>> occurrence_key(a)
    '96e8@news/1/7'
    """
    source = article.source
    if source.topic is not None:
        return f"{article.article_id}@{source.topic}/{source.partition}/{source.offset}"
    return f"{article.article_id}@{source.path}/{source.offset}"


def with_story(article: EnrichedArticle, entry: Entry) -> EnrichedArticle:
    """``article`` with the answer its index entry holds, and the version the index gave it."""
    answer = entry.payload["output"]
    links = answer["links"]
    claims = tuple(
        dataclasses.replace(c, link=ClaimLink(**links[c.claim_id])) if c.claim_id in links else c
        for c in article.claims
    )
    return dataclasses.replace(
        article,
        story=StoryLink(**answer["story"], version=entry.version),
        claims=claims,
        dropped_claims=tuple(DroppedClaim(**d) for d in answer["dropped"]),
        changes=tuple(Change(**c) for c in answer["changes"]),
    )


def check_state(state: str | None, output: str, namespace: str) -> None:
    """Open the story index once before the run starts: a wrong ``--state`` (a Redis that
    does not answer, a folder that cannot be written) is one line now, not a worker's error."""
    open_index(state, output, namespace).close()
