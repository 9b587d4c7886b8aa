"""Which story an article belongs to: its profile against the stories of the window.

1. Candidates: the articles of the window sharing a key (an LSH band or an anchor name)
   with the article, from the index; their stories are the candidate stories.
2. The same text again (equal ``text_hash``) is a DUPLICATE of that article's story.
3. A pair model (logistic regression over term and embedding similarities and the
   agreement or conflict of names, dates and numbers, for the headline and lead and for
   the whole text) gives each of a candidate story's latest members a probability of
   telling the same story as the article.
4. A story model (a second logistic regression) weighs the story as a whole: those
   probabilities (max, mean), how the article's terms and embedding compare with the
   story's centroid, which share of the members agree or conflict on its years, months,
   days, places and people, whether it names the story's dominant names and terms, and the
   story's size. One close member is not enough when the rest of the story disagrees, and a
   short article can join a story whose members together cover its words. Both models'
   weights are in ``pipelines/models/stories.json``, trained by :mod:`.train` (the story
   model in the simulated stream itself, on the stories the matcher really builds).
5. The most probable story over the threshold gets the article (VERSION, following its most
   similar member); otherwise the article starts a story of its own (NEW).

The article itself is never a candidate: the stage asks before it adds.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pipelines.records import Relation
from pipelines.stories.index import Entry, StoryIndex
from pipelines.stories.profile import ArticleProfile, Names, load_model
from pipelines.stories.stores import unpacked

#: Candidate articles asked of the index, candidate stories scored, members read per story.
CANDIDATES = 50
STORIES = 8
MEMBERS = 12
#: The "top" mean is over a story's TOP most similar members (a story may hold a few odd members).
TOP = 6
#: Profiles parsed from payloads, kept by (occurrence key, text hash): a payload never changes
#: (~8 KB each).
CACHE_SIZE = 500
#: Story summaries kept, by their members' keys (~15 KB each: its centroids and sets).
STORY_CACHE_SIZE = 250

KINDS = Names.FIELDS


@dataclasses.dataclass(frozen=True)
class Decision:
    story_id: str
    relation: Relation
    previous_article_id: str | None
    similarity: float


@dataclasses.dataclass(frozen=True)
class Logistic:
    """A logistic regression over named features (the names guard against a stale model file).

    >>> Logistic(("a", "b"), (2.0, -1.0), 0.0).probability([1.0, 2.0])
    0.5
    """

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float

    @classmethod
    def of(cls, fields: Mapping[str, Any], expected: tuple[str, ...]) -> Logistic:
        names = tuple(fields["features"])
        if names != expected:
            raise ValueError(f"the story model's features {names} are not this version's {expected}")
        return cls(names, tuple(fields["coefficients"]), fields["intercept"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "coefficients": [round(c, 5) for c in self.coefficients],
            "intercept": round(self.intercept, 5),
        }

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(c * x for c, x in zip(self.coefficients, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def probabilities(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        """:meth:`probability` of each row, at once."""
        z = np.asarray(rows, dtype=np.float64) @ np.asarray(self.coefficients) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


Node = tuple[int, float, int, int, float]  # feature (-1: a leaf), threshold, left, right, value


@dataclasses.dataclass(frozen=True)
class Trees:
    """Gradient-boosted regression trees over named features, read as a probability.

    A node goes left when its feature is at most its threshold; the leaves' values (learning
    rate included) add up with ``base`` to the log-odds. Trees, not a linear model, because
    what counts depends on the article: a one-line article has no names or dates to agree on
    and must be judged by its words, a long one by its names and dates.

    >>> stump = ((0, 0.5, 1, 2, 0.0), (-1, 0.0, 0, 0, -2.0), (-1, 0.0, 0, 0, 2.0))
    >>> [round(Trees(("a",), 0.0, (stump,)).probability([x]), 2) for x in (0.1, 0.9)]
    [0.12, 0.88]
    """

    features: tuple[str, ...]
    base: float
    trees: tuple[tuple[Node, ...], ...]

    @classmethod
    def of(cls, fields: Mapping[str, Any], expected: tuple[str, ...]) -> Trees:
        names = tuple(fields["features"])
        if names != expected:
            raise ValueError(f"the story model's features {names} are not this version's {expected}")
        trees = tuple(
            tuple((int(f), t, int(a), int(b), v) for f, t, a, b, v in tree) for tree in fields["trees"]
        )
        return cls(names, fields["base"], trees)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "base": round(self.base, 6),
            "trees": [[[f, round(t, 6), a, b, round(v, 6)] for f, t, a, b, v in tree] for tree in self.trees],
        }

    def probability(self, features: Sequence[float]) -> float:
        z = self.base
        for tree in self.trees:
            feature, threshold, left, right, value = tree[0]
            while feature >= 0:
                feature, threshold, left, right, value = tree[
                    left if features[feature] <= threshold else right
                ]
            z += value
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def probabilities(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        """:meth:`probability` of each row, at once: every tree as a complete tree, walked level by level.

        >>> stump = ((0, 0.5, 1, 2, 0.0), (-1, 0.0, 0, 0, -2.0), (-1, 0.0, 0, 0, 2.0))
        >>> Trees(("a",), 0.0, (stump, ((-1, 0.0, 0, 0, 1.0),))).probabilities([[0.1], [0.9]]).round(2)
        array([0.27, 0.95])
        """
        features, thresholds, values = self._complete
        x = np.asarray(rows, dtype=np.float64)
        trees = np.arange(len(self.trees))
        rows_ = np.arange(len(x))[:, None]
        node = np.zeros((len(x), len(self.trees)), dtype=np.int64)
        for _ in range(values.shape[1].bit_length() - 1):  # 2 ** levels leaves
            right = x[rows_, features[trees, node]] > thresholds[trees, node]
            node = 2 * node + 1 + right
        z = self.base + values[trees, node - features.shape[1]].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))

    @functools.cached_property
    def _complete(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(features, thresholds) of the inner nodes and the leaf values, in heap order, every tree
        padded to the deepest's depth (a leaf above it becomes a split that always goes left to itself)."""

        def depth(tree: tuple[Node, ...], i: int = 0) -> int:
            feature, _, left, right, _ = tree[i]
            return 0 if feature < 0 else 1 + max(depth(tree, left), depth(tree, right))

        levels = max((depth(tree) for tree in self.trees), default=0)
        inner, leaves = 2**levels - 1, 2**levels
        features = np.zeros((len(self.trees), inner), dtype=np.int64)
        thresholds = np.full((len(self.trees), inner), np.inf)
        values = np.zeros((len(self.trees), leaves))
        for t, tree in enumerate(self.trees):
            stack = [(0, 0, 0)]  # (node in the tree, position in the heap, level)
            while stack:
                i, position, level = stack.pop()
                feature, threshold, left, right, value = tree[i]
                if level == levels:
                    values[t, position - inner] = value
                elif feature < 0:  # a leaf above the last level: both children are itself
                    stack += [(i, 2 * position + 1, level + 1), (i, 2 * position + 2, level + 1)]
                else:
                    features[t, position], thresholds[t, position] = feature, threshold
                    stack += [(left, 2 * position + 1, level + 1), (right, 2 * position + 2, level + 1)]
        return features, thresholds, values


@dataclasses.dataclass(frozen=True)
class StoryModel:
    """The pair model, the story model, and the story probability an article needs to join."""

    pair: Logistic
    story: Logistic | Trees
    threshold: float = 0.5

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> StoryModel:
        story = fields["story"]
        return cls(
            Logistic.of(fields["pair"], FEATURES),
            Trees.of(story, STORY_FEATURES) if "trees" in story else Logistic.of(story, STORY_FEATURES),
            fields["threshold"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {"pair": self.pair.to_dict(), "story": self.story.to_dict(), "threshold": self.threshold}


@functools.cache
def default_model() -> StoryModel:
    return StoryModel.of(load_model()["matcher"])


# --- pair features -------------------------------------------------------------------------

FEATURES: tuple[str, ...] = (
    "lead_cos",
    "body_cos",
    "cross_cos",
    "embedding",
    *(
        f"{scope}_{kind}_{what}"
        for scope in ("lead", "body")
        for kind in KINDS
        for what in ("share", "conflict")
    ),
)


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two L2-normalized sparse vectors.

    >>> cosine({"quake": 0.6, "aceh": 0.8}, {"aceh": 1.0})
    0.8
    """
    return math.fsum(a[w] * b[w] for w in a.keys() & b.keys())  # exact: the same in any order


def agreement(a: Collection[str], b: Collection[str]) -> tuple[float, float]:
    """(share, conflict): the shared fraction of the smaller set, and 1 when both name some and none agree.

    >>> agreement(("2013", "2004"), ("2013",)), agreement(("lohan",), ("hasselbeck",)), agreement((), ("x",))
    ((1.0, 0.0), (0.0, 1.0), (0.0, 0.0))
    """
    if not a or not b:
        return 0.0, 0.0
    a, b = frozenset(a), frozenset(b)  # no copy of a frozenset
    shared = len(a & b) / min(len(a), len(b))
    return shared, float(shared == 0)


def pair_features(a: ArticleProfile, b: ArticleProfile) -> list[float]:
    """The features of two profiles, in :data:`FEATURES` order (symmetric)."""
    features = [
        cosine(a.lead_terms, b.lead_terms),
        cosine(a.terms, b.terms),
        max(cosine(a.lead_terms, b.terms), cosine(a.terms, b.lead_terms)),
        float(a.vector() @ b.vector()) if a.embedding and b.embedding else 0.0,
    ]
    x, y = a.sets, b.sets
    for name in _SCOPED_KINDS:  # agreement(), inlined: this runs for every member of every candidate
        mine, theirs = x[name], y[name]
        if mine and theirs:
            shared = len(mine & theirs) / min(len(mine), len(theirs))
            features += (shared, float(shared == 0))
        else:
            features += (0.0, 0.0)
    return features


_SCOPED_KINDS = tuple(f"{scope}.{kind}" for scope in ("lead", "body") for kind in KINDS)


# --- stories -------------------------------------------------------------------------------


def dominant(members: Sequence[ArticleProfile], kind: str) -> set[str]:
    """What most of a story's members name in their lead (a year, a month), if any does.

    >>> from pipelines.stories.profile import Names
    >>> p = lambda *years: ArticleProfile("k", "a", 0, "h", (), {}, {}, Names(years=years), Names(), ())
    >>> sorted(dominant([p("2013"), p("2013", "2004"), p()], "years"))
    ['2013']
    """
    counts = Counter(v for m in members for v in set(getattr(m.lead, kind)))
    if not counts:
        return set()
    top = max(counts.values())
    return (
        {v for v, n in counts.items() if n == top and n * 2 >= len(members)}
        if len(members) > 1
        else set(counts)
    )


Features = Callable[[ArticleProfile, ArticleProfile], list[float]]

STORY_FEATURES: tuple[str, ...] = (
    "pair_max",
    "pair_top_mean",
    "pair_mean",
    "log_size",
    "terms_centroid",
    "lead_centroid",
    "embedding_centroid",
    "lead_coverage",
    *(
        f"{scope}_{kind}_{what}"
        for scope in ("lead", "body")
        for kind in ("years", "months", "days", "places", "people")
        for what in ("agree", "conflict")
    ),
    "dominant_date_conflict",
    "short",
    "short_terms_centroid",
    "anchors_known",
    "dominant_names_missing",
    "dominant_names_named",
    "dominant_terms_named",
    "dominant_terms_log",
)


def centroid(vectors: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The L2-normalized sum of sparse vectors.

    >>> centroid([{"quake": 1.0}, {"quake": 0.6, "aceh": 0.8}])
    {'quake': 0.894..., 'aceh': 0.447...}
    """
    total: Counter[str] = Counter()
    for vector in vectors:
        total.update(vector)
    norm = math.sqrt(sum(x * x for x in total.values())) or 1.0
    return {w: x / norm for w, x in total.items()}


def _agreeing(mine: frozenset[str], theirs: Iterable[frozenset[str]], size: int) -> tuple[float, float]:
    """(share of members that agree, share that conflict): name some of ``mine``, or only others."""
    if not mine:
        return 0.0, 0.0
    agree = conflict = 0
    for values in theirs:
        if values:
            if mine & values:
                agree += 1
            else:
                conflict += 1
    return agree / size, conflict / size


def _frequent(sets: Sequence[Collection[str]]) -> frozenset[str]:
    """What at least half of the sets (and two) hold: a story's dominant names or terms."""
    if len(sets) < 2:
        return frozenset()
    counts = Counter(v for values in sets for v in values)
    return frozenset(v for v, n in counts.items() if n >= max(2, len(sets) / 2))


@dataclasses.dataclass(frozen=True)
class Story:
    """What the story features need of a story's members, made once per set of members."""

    members: tuple[ArticleProfile, ...]
    terms: Mapping[str, float]  # centroids
    lead_terms: Mapping[str, float]
    embedding: np.ndarray | None  # the members' mean embedding, unit length
    vocabulary: frozenset[str]  # every term of every member
    anchors: frozenset[str]  # every anchor of every member
    names: frozenset[str]  # the anchors at least half of the members have
    common_terms: frozenset[str]  # the terms at least half of the members have
    dates: tuple[frozenset[str], frozenset[str]]  # the dominant years and months of the leads

    @classmethod
    def of(cls, members: Sequence[ArticleProfile]) -> Story:
        vectors = [m.vector() for m in members if m.embedding]
        mean = np.mean(vectors, axis=0) if vectors else None
        if mean is not None:
            mean = mean / (float(np.linalg.norm(mean)) or 1.0)
        return cls(
            members=tuple(members),
            terms=centroid(m.terms for m in members),
            lead_terms=centroid(m.lead_terms for m in members),
            embedding=mean,
            vocabulary=frozenset(w for m in members for w in (*m.terms, *m.lead_terms)),
            anchors=frozenset(a for m in members for a in m.anchors),
            names=_frequent([m.anchors for m in members]),
            common_terms=_frequent([m.terms.keys() for m in members]),
            dates=(frozenset(dominant(members, "years")), frozenset(dominant(members, "months"))),
        )


_stories: OrderedDict[tuple[str, ...], Story] = OrderedDict()


def clear_caches() -> None:
    """Forget the parsed profiles and story summaries (a benchmark's cold start)."""
    _profiles.clear()
    _stories.clear()


def story_of(members: Sequence[ArticleProfile]) -> Story:
    """The :class:`Story` of these members (remembered: a story is compared with many articles)."""
    return _remembered(_stories, tuple(m.key for m in members), lambda: Story.of(members), STORY_CACHE_SIZE)


def story_features(
    profile: ArticleProfile, members: Sequence[ArticleProfile], probabilities: Sequence[float]
) -> list[float]:
    """The features of an article against a candidate story, in :data:`STORY_FEATURES` order."""
    story, size = story_of(members), len(members)
    ranked = sorted(probabilities, reverse=True)
    top = ranked[:TOP]  # sums, not np.mean: a handful of floats, thousands of times a second
    features = [ranked[0], math.fsum(top) / len(top), math.fsum(ranked) / size, math.log(size)]
    terms_centroid = cosine(profile.terms, story.terms)
    features.append(terms_centroid)
    features.append(cosine(profile.lead_terms, story.lead_terms))
    if profile.embedding and story.embedding is not None:
        features.append(float(profile.vector() @ story.embedding))
    else:
        features.append(0.0)
    features.append(sum(x * x for w, x in profile.lead_terms.items() if w in story.vocabulary))
    mine = profile.sets
    for scope in ("lead", "body"):
        for kind in ("years", "months", "days", "places", "people"):
            name = f"{scope}.{kind}"
            features.extend(_agreeing(mine[name], (m.sets[name] for m in members), size))
    conflict = any(
        mine[name] and theirs and not mine[name] & theirs
        for name, theirs in zip(("lead.years", "lead.months"), story.dates, strict=True)
    )
    features.append(float(conflict))
    short = 1.0 / (1.0 + len(profile.terms) / 10)  # about 1 for a one-line article, 0.2 for a long one
    features.extend((short, short * terms_centroid))
    anchors = profile.anchors
    features.append(len(anchors & story.anchors) / len(anchors) if anchors else 0.0)
    names, mentioned = story.names, profile.mentioned
    features.append(len(names - mentioned) / len(names) if names else 0.0)
    features.append(len(names & mentioned) / len(names) if names else 0.0)
    terms = story.common_terms
    features.append(len(terms & {*profile.terms, *profile.lead_terms}) / len(terms) if terms else 0.0)
    features.append(math.log1p(len(terms)))
    return features


@dataclasses.dataclass(frozen=True)
class Scored:
    """A candidate story as :func:`decide` saw it (what training learns from)."""

    story_id: str
    members: tuple[ArticleProfile, ...]
    features: tuple[float, ...]
    probability: float


_profiles: OrderedDict[tuple[str, str], ArticleProfile] = OrderedDict()


def profile_in(entry: Entry) -> ArticleProfile:
    """The profile an index entry's payload holds (parsed once)."""
    key = (entry.key, text_hash_in(entry.payload))
    return _remembered(
        _profiles, key, lambda: ArticleProfile.from_dict(unpacked(entry.payload["profile"])), CACHE_SIZE
    )


def text_hash_in(payload: dict[str, Any]) -> str:
    """The hash of the article's text an index payload holds (beside its packed profile, or in
    the profile itself, as the stage wrote it before profiles were packed).

    >>> text_hash_in({"h": "8d90", "profile": "{}"}), text_hash_in({"profile": {"h": "8d90"}})
    ('8d90', '8d90')
    """
    return payload["h"] if "h" in payload else payload["profile"]["h"]


def _remembered(cache: OrderedDict, key: Hashable, make: Callable[[], Any], size: int) -> Any:
    """``cache[key]``, made if missing; past ``size``, the least recently used goes.

    >>> cache = OrderedDict()
    >>> [_remembered(cache, k, lambda: k * 10, 2) for k in (1, 2, 1, 3)], list(cache)
    ([10, 20, 10, 30], [1, 3])
    """
    found = cache.get(key)
    if found is None:
        found = cache[key] = make()
        if len(cache) > size:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return found


def decide(
    profile: ArticleProfile,
    index: StoryIndex,
    window_ms: int,
    model: StoryModel | None = None,
    features: Features = pair_features,
    seen: list[Scored] | None = None,
) -> Decision:
    """The story of the article ``profile`` describes, among the window's (see the module docstring).

    ``seen``, if given, receives every candidate story scored (training learns from them).
    """
    model = model or default_model()
    found = [
        (entry, shared)
        for entry, shared in index.candidates(profile.keys, profile.event_time_ms, window_ms, CANDIDATES)
        if entry.key != profile.key
    ]
    for entry, _ in found:
        if text_hash_in(entry.payload) == profile.text_hash:
            return Decision(entry.story_id, "DUPLICATE", entry.article_id, 1.0)
    stories: list[str] = []
    for entry, _ in found:  # most keys shared first
        if entry.story_id not in stories and len(stories) < STORIES:
            stories.append(entry.story_id)
    groups = [
        (story_id, members)
        for story_id in stories
        if (members := [profile_in(e) for e in index.members(story_id, MEMBERS) if e.key != profile.key])
    ]
    if not groups:
        return Decision(profile.article_id, "NEW", None, 0.0)
    # Every member of every candidate story in one call of the pair model, then cut by story.
    pairs = model.pair.probabilities([features(profile, m) for _, members in groups for m in members])
    scored: list[tuple[str, list[ArticleProfile], np.ndarray, list[float]]] = []
    start = 0
    for story_id, members in groups:
        probabilities, start = pairs[start : start + len(members)], start + len(members)
        scored.append((story_id, members, probabilities, story_features(profile, members, probabilities)))
    story_probabilities = model.story.probabilities([x for *_, x in scored])
    if seen is not None:
        for (story_id, members, _, x), probability in zip(scored, story_probabilities, strict=True):
            seen.append(Scored(story_id, tuple(members), tuple(x), float(probability)))
    best = int(np.argmax(story_probabilities))  # the first of equals: the most keys shared
    score = float(story_probabilities[best])
    if score < model.threshold:
        return Decision(profile.article_id, "NEW", None, 0.0)
    story_id, members, probabilities, _ = scored[best]
    closest = members[int(np.argmax(probabilities))]
    return Decision(story_id, "VERSION", closest.article_id, round(score, 3))
