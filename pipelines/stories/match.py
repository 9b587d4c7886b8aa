"""Which story an article belongs to: its profile against the stories of the window.

1. Candidates: the articles of the window sharing a key (an LSH band or an anchor name)
   with the article, from the index; their stories are the candidate stories.
2. The same text again (equal ``text_hash``) is a DUPLICATE of that article's story.
3. Each candidate story is scored against its latest members: a pair model (logistic
   regression over term and embedding similarities and the agreement or conflict of
   names, dates and numbers, for the headline and lead and for the whole text; weights in
   ``pipelines/models/stories.json``, trained by :mod:`.train`) gives each member a
   probability, and the story's score mixes their mean (average linkage: one close
   member is not enough when the others disagree) with their maximum.
4. The story's own profile (its dominant year and month, from its members) must not
   conflict with the article's lead: two earthquakes of the same kind are two stories.
5. The best story over the threshold gets the article (VERSION, following its most
   similar member); otherwise the article starts a story of its own (NEW).

The article itself is never a candidate: the stage asks before it adds.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pipelines.records import Relation
from pipelines.stories.index import Entry, StoryIndex
from pipelines.stories.profile import ArticleProfile, Names, load_model

#: Candidate articles asked of the index, candidate stories scored, members read per story.
CANDIDATES = 50
STORIES = 8
MEMBERS = 12
#: A story's mean is over its TOP most similar members (a story may hold a few odd members).
TOP = 6
#: Profiles parsed from payloads, kept by (occurrence key, text hash): a payload never changes.
CACHE_SIZE = 20_000

KINDS = Names.FIELDS


@dataclasses.dataclass(frozen=True)
class Decision:
    story_id: str
    relation: Relation
    previous_article_id: str | None
    similarity: float


@dataclasses.dataclass(frozen=True)
class PairModel:
    """Logistic regression over :func:`pair_features`, and how stories are chosen with it."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float = 0.5  # a story's score must reach it
    mix: float = 0.5  # story score = mix * mean + (1 - mix) * max of its members' probabilities

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> PairModel:
        names = tuple(fields["features"])
        if names != FEATURES:
            raise ValueError(f"the story model's features {names} are not this version's {FEATURES}")
        return cls(tuple(fields["coefficients"]), fields["intercept"], fields["threshold"], fields["mix"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "coefficients": [round(c, 5) for c in self.coefficients],
            "intercept": round(self.intercept, 5),
            "threshold": self.threshold,
            "mix": self.mix,
        }

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(c * x for c, x in zip(self.coefficients, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


@functools.cache
def default_model() -> PairModel:
    return PairModel.of(load_model()["pair"])


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
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b[w] for w, x in a.items() if w in b)


def agreement(a: Sequence[str], b: Sequence[str]) -> tuple[float, float]:
    """(share, conflict): the shared fraction of the smaller set, and 1 when both name some and none agree.

    >>> agreement(("2013", "2004"), ("2013",)), agreement(("lohan",), ("hasselbeck",)), agreement((), ("x",))
    ((1.0, 0.0), (0.0, 1.0), (0.0, 0.0))
    """
    if not a or not b:
        return 0.0, 0.0
    shared = len(set(a) & set(b)) / min(len(set(a)), len(set(b)))
    return shared, float(shared == 0)


def pair_features(a: ArticleProfile, b: ArticleProfile) -> list[float]:
    """The features of two profiles, in :data:`FEATURES` order (symmetric)."""
    features = [
        cosine(a.lead_terms, b.lead_terms),
        cosine(a.terms, b.terms),
        max(cosine(a.lead_terms, b.terms), cosine(a.terms, b.lead_terms)),
        float(a.vector() @ b.vector()) if a.embedding and b.embedding else 0.0,
    ]
    for scope in ("lead", "body"):
        x, y = getattr(a, scope), getattr(b, scope)
        for kind in KINDS:
            if kind == "people":  # "Matt Smith" is "Smith", and is "Matt" to the tagger at times
                features.extend(agreement(_words(x.people), _words(y.people)))
            else:
                features.extend(agreement(getattr(x, kind), getattr(y, kind)))
    return features


def _words(names: Sequence[str]) -> tuple[str, ...]:
    return tuple({w for name in names for w in name.split() if len(w) > 1})


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


def story_conflict(profile: ArticleProfile, members: Sequence[ArticleProfile]) -> bool:
    """Whether the article's lead names a year or month none of the story's dominant ones."""
    for kind in ("years", "months"):
        mine = set(getattr(profile.lead, kind))
        theirs = dominant(members, kind)
        if mine and theirs and not mine & theirs:
            return True
    return False


Features = Callable[[ArticleProfile, ArticleProfile], list[float]]


def story_score(
    profile: ArticleProfile, members: Sequence[ArticleProfile], model: PairModel, features: Features
) -> tuple[float, ArticleProfile, float]:
    """(the story's score, its most similar member, that member's probability)."""
    probabilities = [model.probability(features(profile, m)) for m in members]
    best = max(range(len(members)), key=lambda i: probabilities[i])
    top = sorted(probabilities, reverse=True)[:TOP]
    score = model.mix * float(np.mean(top)) + (1 - model.mix) * probabilities[best]
    if story_conflict(profile, members):
        score = 0.0
    return score, members[best], probabilities[best]


_profiles: dict[tuple[str, str], ArticleProfile] = {}


def profile_in(entry: Entry) -> ArticleProfile:
    """The profile an index entry's payload holds (parsed once)."""
    fields = entry.payload["profile"]
    cache_key = (entry.key, fields["h"])
    if (found := _profiles.get(cache_key)) is None:
        if len(_profiles) >= CACHE_SIZE:
            _profiles.clear()  # bounded; a miss costs a parse
        found = _profiles[cache_key] = ArticleProfile.from_dict(fields)
    return found


def decide(
    profile: ArticleProfile,
    index: StoryIndex,
    window_ms: int,
    model: PairModel | None = None,
    features: Features = pair_features,
) -> Decision:
    """The story of the article ``profile`` describes, among the window's (see the module docstring)."""
    model = model or default_model()
    found = [
        (entry, shared)
        for entry, shared in index.candidates(profile.keys, profile.event_time_ms, window_ms, CANDIDATES)
        if entry.key != profile.key
    ]
    for entry, _ in found:
        if entry.payload["profile"]["h"] == profile.text_hash:
            return Decision(entry.story_id, "DUPLICATE", entry.article_id, 1.0)
    stories: list[str] = []
    for entry, _ in found:  # most keys shared first
        if entry.story_id not in stories and len(stories) < STORIES:
            stories.append(entry.story_id)
    best: tuple[float, str, ArticleProfile, float] | None = None
    for story_id in stories:
        members = [profile_in(e) for e in index.members(story_id, MEMBERS) if e.key != profile.key]
        if not members:
            continue
        score, member, probability = story_score(profile, members, model, features)
        if best is None or score > best[0]:
            best = (score, story_id, member, probability)
    if best is not None and best[0] >= model.threshold:
        _, story_id, member, probability = best
        return Decision(story_id, "VERSION", member.article_id, round(probability, 3))
    return Decision(profile.article_id, "NEW", None, 0.0)
