"""An article's story profile: what story matching compares, small enough to keep per article.

The stage has only the :class:`~pipelines.records.EnrichedArticle` (no spaCy ``Doc``), so the
profile is built from its text and named entities:

- ``text_hash``: the text up to formatting (case, punctuation, white space, quote styles);
  equal hashes mean the same text again (a DUPLICATE).
- ``keys``: what finds the article again in the index: MinHash-LSH band keys over word
  shingles (near copies share a band) and anchor keys (distinctive names: a rewritten
  version keeps its people and places even when few sentences survive).
- what :mod:`.match` compares: weighted terms of the headline and lead and of the whole
  text, names per kind (people by surname, organizations, places) in the lead and in the
  whole text, dates (years, months, days), numbers, and the lead's embedding, rounded.

Term weights use inverse document frequencies of common words shipped in the model file
(``pipelines/models/stories.json``, see :mod:`.train`); a word not listed is rare.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.records import EnrichedArticle

#: MinHash: BANDS bands of ROWS rows over word SHINGLE-grams. Two texts share a band with
#: probability 1 - (1 - J^ROWS)^BANDS: 0.5 at a Jaccard similarity J of 0.5, 0.05 at 0.25.
BANDS = 16
ROWS = 4
SHINGLE = 3
#: At most this many anchors (names) an article: its lead's names first, then the most repeated.
MAX_ANCHORS = 12
#: The lead's heaviest terms are keys too ("t:quake"): a retelling keeps its subject.
LEAD_TERM_KEYS = 3
#: Terms kept for the whole text, by weight (the lead keeps all of its own).
MAX_TERMS = 48
#: Sentences (after the headline) that make the lead, and the words it needs at least.
LEAD_SENTENCES = 3
LEAD_WORDS = 40

PEOPLE = frozenset({"PERSON"})
ORGANIZATIONS = frozenset({"ORG", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
PLACES = frozenset({"GPE", "LOC", "FAC"})
DATES = frozenset({"DATE"})
NUMBERS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})

_WORD = re.compile(r"[^\W_]+")
_QUOTES = str.maketrans(
    {c: "'" for c in "\u2018\u2019\u201a\u201b\u2032`\u00b4"}
    | {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033"}
)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DAY = re.compile(r"\b([12]?\d|3[01])(?:st|nd|rd|th)?\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MONTHS = {
    m[:3]: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november december".split()
    )
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_DETERMINERS = ("the ", "a ", "an ")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Inverse document frequencies of common words; any other word gets ``rare``."""

    idf: Mapping[str, float]
    rare: float

    def weight(self, word: str) -> float:
        return self.idf.get(word, self.rare)


@functools.cache
def default_model_path() -> Path:
    return Path(__file__).resolve().parent.parent / "models" / "stories.json"


@functools.cache
def load_model(path: Path | None = None) -> dict[str, Any]:
    """The story model file: the vocabulary and the pair model's weights."""
    return json.loads((path or default_model_path()).read_text("utf-8"))


@functools.cache
def default_vocabulary() -> Vocabulary:
    model = load_model()
    return Vocabulary(model["idf"], model["rare_idf"])


@dataclasses.dataclass(frozen=True)
class Names:
    """Names of one part of an article, normalized, by kind, most mentioned first."""

    people: tuple[str, ...] = ()  # full names as written ("matt smith", "smith")
    organizations: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    days: tuple[str, ...] = ()  # weekday names and "month-day"
    numbers: tuple[str, ...] = ()

    FIELDS = ("people", "organizations", "places", "years", "months", "days", "numbers")
    SHORT = ("p", "o", "l", "y", "m", "d", "n")  # the payload's keys

    def to_dict(self) -> dict[str, list[str]]:
        return {
            s: list(getattr(self, f))
            for f, s in zip(self.FIELDS, self.SHORT, strict=True)
            if getattr(self, f)
        }

    @classmethod
    def from_dict(cls, fields: Mapping[str, list[str]]) -> Names:
        """The names :meth:`to_dict` gave.

        >>> names = Names(people=("ann lee",), places=("lima",))
        >>> Names.from_dict(names.to_dict()) == names, names.to_dict()
        (True, {'p': ['ann lee'], 'l': ['lima']})
        """
        return cls(**{f: tuple(fields.get(s, ())) for f, s in zip(cls.FIELDS, cls.SHORT, strict=True)})


@dataclasses.dataclass(frozen=True)
class ArticleProfile:
    key: str
    article_id: str
    event_time_ms: int
    text_hash: str
    keys: tuple[str, ...]
    lead_terms: Mapping[str, float]  # L2-normalized TF-IDF weights of the headline and lead
    terms: Mapping[str, float]  # the same for the whole text, the heaviest MAX_TERMS
    lead: Names
    body: Names
    embedding: tuple[int, ...]  # the lead's embedding, times 127, rounded

    def vector(self) -> np.ndarray:
        return self._vector

    @functools.cached_property
    def _vector(self) -> np.ndarray:
        return np.asarray(self.embedding, dtype=np.float32) / 127.0

    @functools.cached_property
    def sets(self) -> dict[str, frozenset[str]]:
        """The names, dates and numbers as sets, by "scope.kind" ("lead.years"), made once a profile.

        People are single words ("Matt Smith" is "Smith", and is "Matt" to the tagger at times).

        >>> p = ArticleProfile("k", "a", 0, "h", ("a:lima",), {}, {}, Names(people=("ann lee",)), Names(), ())
        >>> sorted(p.sets["lead.people"]), p.sets["body.years"]
        (['ann', 'lee'], frozenset())
        """
        found = {}
        for scope in ("lead", "body"):
            names: Names = getattr(self, scope)
            for kind in Names.FIELDS:
                values = getattr(names, kind)
                if kind == "people":
                    values = (w for name in values for w in name.split() if len(w) > 1)
                found[f"{scope}.{kind}"] = frozenset(values)
        return found

    @functools.cached_property
    def anchors(self) -> frozenset[str]:
        """The anchor keys ("a:lindsay lohan")."""
        return frozenset(k for k in self.keys if k.startswith("a:"))

    @functools.cached_property
    def mentioned(self) -> frozenset[str]:
        """Every name of the article as an anchor key, and its people's single words ("a:smith")."""
        body = self.body
        return frozenset(
            f"a:{n}" for n in (*body.people, *body.places, *body.organizations, *self.sets["body.people"])
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.key,
            "id": self.article_id,
            "t": self.event_time_ms,
            "h": self.text_hash,
            "keys": list(self.keys),
            "lt": dict(self.lead_terms),
            "bt": dict(self.terms),
            "l": self.lead.to_dict(),
            "b": self.body.to_dict(),
            "e": list(self.embedding),
        }

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> ArticleProfile:
        """The profile :meth:`to_dict` gave.

        >>> p = ArticleProfile("a@f", "a", 5, "h", ("b0:1",), {"quake": 1.0}, {}, Names(years=("2013",)),
        ...     Names(), (127, 0))
        >>> ArticleProfile.from_dict(json.loads(json.dumps(p.to_dict()))) == p
        True
        """
        return cls(
            key=fields["k"],
            article_id=fields["id"],
            event_time_ms=fields["t"],
            text_hash=fields["h"],
            keys=tuple(fields["keys"]),
            lead_terms=fields["lt"],
            terms=fields["bt"],
            lead=Names.from_dict(fields["l"]),
            body=Names.from_dict(fields["b"]),
            embedding=tuple(fields["e"]),
        )


# --- text --------------------------------------------------------------------------------


def normalized_words(text: str) -> list[str]:
    """The words of ``text``, lowercased, without punctuation or quote marks.

    >>> normalized_words("“Don’t” panic -- it's   OK.")
    ['don', 't', 'panic', 'it', 's', 'ok']
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).translate(_QUOTES).lower())


def text_hash(words: Iterable[str]) -> str:
    """A stable hash of the words (equal for texts equal up to formatting).

    >>> text_hash(normalized_words("A  “quote”.")) == text_hash(normalized_words('a "quote"'))
    True
    """
    return hashlib.blake2b(" ".join(words).encode(), digest_size=8).hexdigest()


@functools.lru_cache(maxsize=65_536)  # a feed's words recur: a lookup is cheaper than the rules
def stem(word: str) -> str:
    """A crude plural-stripping stem, enough to meet "quakes" with "quake".

    >>> [stem(w) for w in ("quakes", "cities", "press", "was")]
    ['quake', 'city', 'press', 'was']
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def term_weights(words: Iterable[str], vocabulary: Vocabulary, limit: int | None = None) -> dict[str, float]:
    """L2-normalized TF-IDF weights of the content words (letters only, not common ones).

    >>> term_weights(["the", "quake", "quakes", "hit"], Vocabulary({"the": 0.01, "hit": 2.0}, 5.0))
    {'quake': 0.973, 'hit': 0.23}
    """
    counts = Counter(stem(w) for w in words if len(w) > 1 and w.isalpha())
    weights = {w: (1 + math.log(n)) * vocabulary.weight(w) for w, n in counts.items()}
    weights = {w: x for w, x in weights.items() if x >= 1.0}
    if limit is not None and len(weights) > limit:
        weights = dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])
    norm = math.sqrt(sum(x * x for x in weights.values())) or 1.0
    return {w: round(x / norm, 3) for w, x in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))}


# --- MinHash -------------------------------------------------------------------------------


@functools.cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    # Multiply-shift hashing: (a * x + b) >> 32 over uint64, wrapping; fixed seed = same keys everywhere.
    rng = np.random.default_rng(20240517)
    a = rng.integers(1, 2**63, size=BANDS * ROWS, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=BANDS * ROWS, dtype=np.uint64)
    return a, b


def band_keys(words: list[str]) -> list[str]:
    """MinHash-LSH band keys of the word shingles (none for a text without words).

    >>> keys = band_keys("a quake hit the coast of indonesia on tuesday".split())
    >>> len(keys), keys == band_keys("a quake hit the coast of indonesia on tuesday".split())
    (16, True)
    """
    if not words:
        return []
    n = min(SHINGLE, len(words))
    shingles = {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
    x = np.fromiter((zlib.crc32(s.encode()) for s in shingles), dtype=np.uint64, count=len(shingles))
    a, b = _permutations()
    signature = ((x[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)).min(axis=0).astype(np.uint32)
    rows = signature.reshape(BANDS, ROWS)
    return [f"b{i}:{zlib.crc32(rows[i].tobytes()):08x}" for i in range(BANDS)]


# --- names and dates -----------------------------------------------------------------------


@functools.lru_cache(maxsize=65_536)  # names recur, across the lead, the body and versions
def name_of(text: str) -> str:
    """A name as compared: lowercase words, no leading article or possessive.

    >>> name_of("the U.S. Geological Survey's"), name_of("Lindsay  Lohan")
    ('u s geological survey', 'lindsay lohan')
    """
    words = normalized_words(text)
    if words and words[-1] == "s" and re.search(r"['’]s\W*$", text):
        words = words[:-1]
    name = " ".join(words)
    for determiner in _DETERMINERS:
        if name.startswith(determiner):
            name = name[len(determiner) :]
    return name


def dates_of(text: str) -> tuple[list[str], list[str], list[str]]:
    """Years, months and days (weekdays, "month-day") a DATE entity names.

    >>> dates_of("Tuesday, July 2nd, 2013")
    (['2013'], ['7'], ['tuesday', '7-2'])
    >>> dates_of("Jan. 4")
    ([], ['1'], ['1-4'])
    """
    words = normalized_words(text)
    years = _YEAR.findall(text)
    months, days = [], []
    for i, word in enumerate(words):
        if word in WEEKDAYS:
            days.append(word)
        elif len(word) >= 3 and word[:3] in MONTHS and (word in _MONTH_WORDS):
            month = str(MONTHS[word[:3]])
            months.append(month)
            for near in words[i + 1 : i + 2] + words[max(i - 1, 0) : i]:
                if (m := _DAY.fullmatch(near)) and not _YEAR.fullmatch(near):
                    days.append(f"{month}-{int(m.group(1))}")
                    break
    return years, months, days


_MONTH_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def numbers_of(text: str) -> list[str]:
    """The numbers a CARDINAL, QUANTITY, MONEY or PERCENT entity names, digits only.

    >>> numbers_of("6.1-magnitude"), numbers_of("five people"), numbers_of("14,000")
    (['6.1'], ['5'], ['14000'])
    """
    found = [n.replace(",", "") for n in _NUMBER.findall(text)]
    found += [NUMBER_WORDS[w] for w in normalized_words(text) if w in NUMBER_WORDS]
    return found


def _ranked(counts: Counter[str]) -> tuple[str, ...]:
    return tuple(name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def names_of(entities: Iterable[tuple[str, str]]) -> Names:
    """The :class:`Names` of (text, label) entities."""
    kinds: dict[str, Counter[str]] = {f: Counter() for f in Names.FIELDS}
    for text, label in entities:
        for kind, values in _entity_names(text, label):
            kinds[kind].update(values)
    return Names(**{f: _ranked(c) for f, c in kinds.items()})


@functools.lru_cache(maxsize=65_536)  # an entity recurs: in the lead and the body, in every version
def _entity_names(text: str, label: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(kind, values) of one entity: its years, months and days, its numbers, or its name."""
    if label in DATES:
        years, months, days = dates_of(text)
        return ("years", tuple(years)), ("months", tuple(months)), ("days", tuple(days))
    if label in NUMBERS:
        return (("numbers", tuple(numbers_of(text))),)
    name = name_of(text)
    for kind, labels in (("people", PEOPLE), ("organizations", ORGANIZATIONS), ("places", PLACES)):
        if name and label in labels:
            return ((kind, (name,)),)
    return ()


# --- the profile ---------------------------------------------------------------------------


def lead_end(article: EnrichedArticle) -> int:
    """Where the lead ends in the text: after LEAD_SENTENCES sentences, or LEAD_WORDS words."""
    end, words = 0, len(normalized_words(article.title or ""))
    for sentence in article.sentences[: LEAD_SENTENCES + 2]:
        end = sentence.end
        words += len(sentence.text.split())
        if sentence.index + 1 >= LEAD_SENTENCES and words >= LEAD_WORDS:
            break
    return end


def anchors_of(lead: Names, body: Names, vocabulary: Vocabulary) -> list[str]:
    """Anchor keys: the lead's names, then the body's, skipping single common words ("us")."""
    found: list[str] = []
    for names in (lead, body):
        for name in (*names.people, *names.places, *names.organizations):
            distinctive = " " in name or vocabulary.weight(name) >= vocabulary.rare * 0.6
            if distinctive and f"a:{name}" not in found and len(found) < MAX_ANCHORS:
                found.append(f"a:{name}")
    return found


def profile_of(
    article: EnrichedArticle, key: str, event_time_ms: int, vocabulary: Vocabulary | None = None
) -> ArticleProfile:
    """The profile of one annotated article, read at ``key``, happening at ``event_time_ms``."""
    from pipelines.embeddings import embed

    vocabulary = vocabulary or default_vocabulary()
    title = article.title or ""
    words = normalized_words(f"{title}\n{article.text}")
    end = lead_end(article)
    lead_text = f"{title}\n{article.text[:end]}".strip()
    in_title = f" {name_of(title)} "
    lead_entities = [
        (e.text, e.label)
        for e in article.entities
        if e.end <= end or ((n := name_of(e.text)) and f" {n} " in in_title)
    ]
    lead = names_of(lead_entities)
    body = names_of((e.text, e.label) for e in article.entities)
    digest = text_hash(words)
    lead_terms = term_weights(normalized_words(lead_text), vocabulary)
    topics = [f"t:{w}" for w in list(lead_terms)[:LEAD_TERM_KEYS]]
    vector = embed([lead_text])[0] if lead_text else np.zeros(0)
    return ArticleProfile(
        key=key,
        article_id=article.article_id,
        event_time_ms=event_time_ms,
        text_hash=digest,
        keys=(*band_keys(words), *anchors_of(lead, body, vocabulary), *topics, f"h:{digest}"),
        lead_terms=lead_terms,
        terms=term_weights(words, vocabulary, MAX_TERMS),
        lead=lead,
        body=body,
        embedding=tuple(int(round(float(x) * 127)) for x in vector),
    )
