"""Claim links and typed changes: how a re-told article's claims stand to its story's earlier claims.

Each article's claims get a compact profile (:func:`claim_profiles`): its words,
its named entities by slot, its speaker, a negation cue and an embedding. The
profiles are JSON-able, so the story index keeps them with the article, and a
later version is compared with them, never with the earlier article itself.

:func:`link_claims` matches each claim with the most similar claim of the story's
earlier versions. The embedding alone does not separate related from unrelated
claims of one topic (two claims about the same war score 0.6 to 0.75), so the
similarity also counts shared words and shared entities, which do. Within a
version the matching is one-to-one, best pairs first. A re-told story also fuses
sentences ("the US took action ..." and "the strike took place in late 2023"
become "the U.S. conducted a strike in late May 2024 ..."): an unmatched earlier
claim next to a matched one, sharing enough with its continuation, is folded
into it, so it is not dropped and its dates and numbers are compared too.

The typed changes of a changed claim come from the profiles (dates, times,
numbers, people, organizations, places, the speaker) and from a parse of the
two sentences (the agent, the negation): the ``Doc`` is gone by then, and only
the changed pairs, a few per re-told article and none for most articles, are
parsed again.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import functools
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from pipelines import embeddings
from pipelines.claims.agents import DENIALS, Syntax, syntax
from pipelines.records import Change, Claim, ClaimLink, DroppedClaim, EnrichedArticle, Slot

#: spaCy's entity labels by the slot they fill. NORP ("American", "Iranian") describes
#: rather than names an actor; only its acronyms ("ISIL") count as organizations.
SLOT_OF_LABEL: dict[str, Slot] = {
    "DATE": "DATE",
    "TIME": "TIME",
    "CARDINAL": "NUMBER",
    "ORDINAL": "NUMBER",
    "MONEY": "NUMBER",
    "PERCENT": "NUMBER",
    "QUANTITY": "NUMBER",
    "PERSON": "PERSON",
    "ORG": "ORGANIZATION",
    "NORP": "ORGANIZATION",
    "GPE": "PLACE",
    "LOC": "PLACE",
    "FAC": "PLACE",
}
ENTITY_SLOTS: tuple[Slot, ...] = ("DATE", "TIME", "NUMBER", "PERSON", "ORGANIZATION", "PLACE")

#: A pair of claims at or above this similarity is a link; below, the claim is new.
LINK_THRESHOLD = 0.22
#: An unmatched earlier claim at most this many sentences from a matched one is folded
#: into that one's continuation (sentence fusion) when it is as similar to it as a link
#: is, or when a date, time or number moved from it into the continuation and it shares
#: a word or two with it (FOLD_THRESHOLD).
FOLD_DISTANCE = 2
FOLD_THRESHOLD = 0.04
#: A profile's embedding is kept as float16, base64 in the JSON: as precise as three
#: decimals (a cosine moves by less than 0.001), and three times faster to encode and
#: decode than a list of floats.
EMBEDDING_TYPE = np.float16
#: Similarity = this weight on the rescaled embedding cosine, the rest on the weighted
#: overlap of words and names. Cosines below EMBEDDING_FLOOR are what unrelated claims
#: of one topic score with this embedding, so they count as nothing.
SEMANTIC_WEIGHT = 0.35
EMBEDDING_FLOOR = 0.45
#: Words kept: the first letters of each (a cheap stemmer: "targeted", "targeting").
STEM = 5

STOPWORDS = frozenset(
    """a about after again against all also an and any are as at be been before being but by can could
    did do does doing during each for from further had has have having he her here hers him his how i if
    in into is it its itself just may me might more most must my no nor not now of off on once only or
    other our out over own same she should so some such than that the their them then there these they
    this those through to too under until up very was we were what when where which while who whom why
    will with would you your said says say""".split()
)
NEGATORS = frozenset("not n't never no nobody nothing none neither nor".split())
NEGATIONS = NEGATORS | DENIALS
#: ASCII punctuation to spaces: splitting on them is twice as fast as a regular expression.
_SPACES = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c in ".,")})
_DOTS = re.compile(r"\.(?!\d)")  # of "U.S.", not of "1.5"
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_MONTHS = (
    "jan feb mar apr may jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
    "saturday sunday spring summer autumn fall winter"
).split()
_ABSOLUTE_DATE = re.compile(r"\d|\b(?:" + "|".join(_MONTHS) + r")", re.IGNORECASE)
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|first|second|third|\w+th)\b",
    re.IGNORECASE,
)
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-"})


@dataclasses.dataclass(frozen=True)
class ClaimLinks:
    """An article's claims with their links set, the previous version's dropped claims, the changes."""

    claims: tuple[Claim, ...]
    dropped: tuple[DroppedClaim, ...]
    changes: tuple[Change, ...]


# --- profiles -------------------------------------------------------------------------


def claim_profiles(article: EnrichedArticle) -> list[dict[str, Any]]:
    """One JSON-able profile per claim of ``article``, embeddings in one batch.

    >>> from pipelines.records import Entity, Source
    >>> text = "Officials said 12 people did not survive the fire in Lyon."
    >>> article = EnrichedArticle("a1", Source(), None, text, "utf-8", (),
    ...     (Entity("12", "CARDINAL", 15, 17, 0), Entity("Lyon", "GPE", 53, 57, 0)),
    ...     (Claim("a1:0", 0, text, 0, len(text), 0.9, "Officials", "ANONYMOUS", "said"),), "m")
    >>> profile = claim_profiles(article)[0]
    >>> profile["entities"], profile["negation"], profile["words"][:4], _vectors([profile]).shape
    ({'NUMBER': ['12'], 'PLACE': ['Lyon']}, 'not', ['offic', '12', 'peopl', 'survi'], (1, 64))
    """
    claims = article.claims
    if not claims:
        return []
    vectors = [_packed(v) for v in embeddings.embed([c.text for c in claims])]
    entities = _entities_by_claim(article)
    return [
        {
            "claim_id": claim.claim_id,
            "article_id": article.article_id,
            "sentence": claim.sentence,
            "text": claim.text,
            "speaker": claim.speaker,
            "speaker_type": claim.speaker_type,
            "entities": found,
            "negation": negation,
            **({"syntax": list(claim.syntax)} if claim.syntax is not None else {}),
            "words": words,
            "embedding": vector,
        }
        for claim, found, vector, (words, negation) in zip(
            claims, entities, vectors, map(_words_and_negation, (c.text for c in claims)), strict=True
        )
    ]


def _entities_by_claim(article: EnrichedArticle) -> list[dict[str, list[str]]]:
    """Per claim, the entities inside its sentence by slot, each text once, in order."""
    by_sentence: dict[int, list] = {}
    for entity in article.entities:
        by_sentence.setdefault(entity.sentence, []).append(entity)
    result = []
    for claim in article.claims:
        found: dict[str, list[str]] = {}
        for entity in by_sentence.get(claim.sentence, ()):
            slot = _slot_of(entity.label, entity.text)
            if slot is None or entity.end > claim.end:
                continue
            values = found.setdefault(slot, [])
            if entity.text not in values:
                values.append(entity.text)
        result.append(found)
    return result


def _slot_of(label: str, text: str) -> Slot | None:
    """The slot of an entity: a date without a year, month or weekday that counts ("the eighth
    consecutive day", "three weeks") is a number.

    >>> _slot_of("DATE", "the eighth day"), _slot_of("DATE", "late 2023"), _slot_of("NORP", "Iranian")
    ('NUMBER', 'DATE', None)
    """
    slot = SLOT_OF_LABEL.get(label)
    if slot == "DATE" and not _ABSOLUTE_DATE.search(text) and _NUMBER_WORD.search(text):
        return "NUMBER"
    if label == "NORP" and not text.isupper():
        return None
    return slot


def words_of(text: str) -> list[str]:
    """The content words of ``text``, stemmed, each once, in order.

    >>> words_of("The strikes targeted 2 U.S. bases; the strike hit the base.")
    ['strik', 'targe', '2', 'us', 'bases', 'hit', 'base']
    """
    return _words_and_negation(text)[0]


def negation_cue(text: str) -> str | None:
    """The first word of ``text`` that negates or denies ("n't" reads "not").

    >>> negation_cue("Iran has denied any involvement."), negation_cue("It isn’t so."), negation_cue("Yes.")
    ('denied', 'not', None)
    """
    return _words_and_negation(text)[1]


def _words_and_negation(text: str) -> tuple[list[str], str | None]:
    """Both in one pass over the words: the profile's share of the stage's budget is small."""
    plain = _DOTS.sub("", _plain(text).replace("'s", "").replace("n't", " not"))
    tokens = [w for w in (w.strip(".,") for w in plain.translate(_SPACES).split()) if w]
    negation = None if NEGATIONS.isdisjoint(tokens) else next(w for w in tokens if w in NEGATIONS)
    words = dict.fromkeys(w if w[0].isdigit() else w[:STEM] for w in tokens if w not in STOPWORDS)
    return list(words), negation


def _plain(text: str) -> str:
    """Lower case, straight quotes and dashes, compatibility forms folded."""
    return (text if text.isascii() else unicodedata.normalize("NFKC", text).translate(_QUOTES)).lower()


def same_text(a: str, b: str) -> bool:
    """Whether two texts are the same up to formatting: case, quotes, dashes, spaces, punctuation.

    >>> same_text("“It’s over,” he said.", '"it\\'s  over" he said'), same_text("Ten died.", "Nine died.")
    (True, False)
    """
    return _WORD.findall(_plain(a).replace("'", "")) == _WORD.findall(_plain(b).replace("'", ""))


# --- links ----------------------------------------------------------------------------


def link_claims(
    article: EnrichedArticle,
    profiles: Sequence[dict[str, Any]],
    earlier: Sequence[tuple[str, list[dict[str, Any]]]],
    previous_article_id: str | None,
) -> ClaimLinks:
    """Link ``article``'s claims to the claims of its story's ``earlier`` versions (in version order).

    ``profiles`` are the article's own (:func:`claim_profiles`); the dropped claims are
    those of the version ``previous_article_id`` that no claim continues.
    """
    versions = [(article_id, list(found)) for article_id, found in earlier if found]
    if not versions or not profiles:
        previous = next((found for article_id, found in versions if article_id == previous_article_id), [])
        dropped = tuple(DroppedClaim(p["article_id"], p["claim_id"], p["text"]) for p in previous)
        return ClaimLinks(tuple(article.claims), dropped, ())
    # Per version: new claim index -> (old index, similarity), and the folded old indices.
    matches: list[dict[int, tuple[int, float]]] = []
    folds: list[dict[int, list[int]]] = []
    for _, old in versions:
        scores = _similarities(profiles, old)
        matched = _one_to_one(scores, LINK_THRESHOLD)
        matches.append(matched)
        folds.append(_folded(scores, matched, old, profiles))

    links: list[ClaimLink | None] = []
    pairs: list[tuple[dict, dict, list[dict]]] = []  # (old, new, folded old) of each CHANGED link
    for i, profile in enumerate(profiles):
        # The most similar earlier claim; of equals, the latest version's.
        best = max(
            ((v, *m[i]) for v, m in enumerate(matches) if i in m), key=lambda t: (t[2], t[0]), default=None
        )
        if best is None:
            links.append(None)
            continue
        v, j, similarity = best
        old = versions[v][1][j]
        change = "SAME" if same_text(old["text"], profile["text"]) else "CHANGED"
        links.append(ClaimLink(old["article_id"], old["claim_id"], round(similarity, 4), change))
        if change == "CHANGED":
            pairs.append((old, profile, [versions[v][1][k] for k in folds[v].get(i, ())]))

    dropped: list[DroppedClaim] = []
    for v, (article_id, old) in enumerate(versions):
        if article_id == previous_article_id:
            continued = {j for j, _ in matches[v].values()} | {k for ks in folds[v].values() for k in ks}
            dropped = [
                DroppedClaim(p["article_id"], p["claim_id"], p["text"])
                for j, p in enumerate(old)
                if j not in continued
            ]
    by_id = {p["claim_id"]: link for p, link in zip(profiles, links, strict=True)}
    claims = tuple(dataclasses.replace(c, link=by_id.get(c.claim_id)) for c in article.claims)
    return ClaimLinks(claims, tuple(dropped), tuple(changes_of(pairs)))


def _packed(vector: np.ndarray) -> str:
    """A unit vector as float16 in base64 (what a profile stores)."""
    return base64.b64encode(vector.astype(EMBEDDING_TYPE).tobytes()).decode()


def _vectors(profiles: Sequence[dict[str, Any]]) -> np.ndarray:
    """The profiles' embeddings, one row each (a list of floats: stored by an earlier release).

    >>> v = np.array([0.6, -0.8], dtype=np.float32)
    >>> _vectors([{"embedding": _packed(v)}, {"embedding": [0.6, -0.8]}]).round(3)
    array([[ 0.6, -0.8],
           [ 0.6, -0.8]], dtype=float32)
    """
    rows = [
        np.frombuffer(base64.b64decode(e), dtype=EMBEDDING_TYPE) if isinstance(e, str) else e
        for e in (p["embedding"] for p in profiles)
    ]
    return np.asarray(rows, dtype=np.float32).reshape(len(profiles), -1)


def _entity_keys(profile: dict[str, Any]) -> set[str]:
    return {f"{slot}:{name_key(v)}" for slot, values in profile["entities"].items() for v in values}


def _similarities(new: Sequence[dict[str, Any]], old: Sequence[dict[str, Any]]) -> np.ndarray:
    """Similarity in 0..1 of each new claim (rows) to each old one (columns).

    Words and entity names count by their rarity among both versions' claims: in a
    story about Iraq, "Iraq" says little about which claim is which, "strike" a lot.
    """
    cosine = _vectors(new) @ _vectors(old).T
    semantic = np.clip((cosine - EMBEDDING_FLOOR) / (1 - EMBEDDING_FLOOR), 0.0, 1.0)
    new_terms = [_terms(p) for p in new]
    old_terms = [_terms(p) for p in old]
    counts = collections.Counter(t for terms in (*new_terms, *old_terms) for t in terms)
    total = len(new_terms) + len(old_terms) + 1
    column = {t: k for k, t in enumerate(counts)}
    weight = np.log(total / (np.fromiter(counts.values(), float, len(counts)) + 0.5))
    has_new, has_old = _incidence(new_terms, column), _incidence(old_terms, column)
    shared = (has_new * weight) @ has_old.T  # the weight of the terms each pair shares
    mass = (has_new @ weight)[:, None] + (has_old @ weight)[None, :]
    lexical = np.divide(2 * shared, mass, out=np.zeros_like(shared), where=mass > 0)
    lexical = lexical.round(12)  # a claim repeated in two versions ties at 1.0: the latest wins
    return SEMANTIC_WEIGHT * semantic + (1 - SEMANTIC_WEIGHT) * lexical


def _incidence(term_sets: Sequence[set[str]], column: dict[str, int]) -> np.ndarray:
    """One row per set, 1.0 in the column of each of its terms.

    >>> _incidence([{"a"}, {"a", "b"}], {"a": 0, "b": 1})
    array([[1., 0.],
           [1., 1.]])
    """
    rows = np.zeros((len(term_sets), len(column)))
    for i, terms in enumerate(term_sets):
        rows[i, [column[t] for t in terms]] = 1.0
    return rows


def _terms(profile: dict[str, Any]) -> set[str]:
    """The words of a claim and its entities' names (a name of several words counts once more)."""
    return set(profile["words"]) | _entity_keys(profile)


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


def _one_to_one(scores: np.ndarray, threshold: float) -> dict[int, tuple[int, float]]:
    """Greedy one-to-one matching, best pairs first: new index -> (old index, similarity).

    >>> _one_to_one(np.array([[0.9, 0.8], [0.85, 0.1]]), 0.3)
    {0: (0, 0.9)}
    """
    rows, columns = np.nonzero(scores >= threshold)
    order = np.argsort(-scores[rows, columns], kind="stable")
    result: dict[int, tuple[int, float]] = {}
    taken: set[int] = set()
    for k in order:
        i, j = int(rows[k]), int(columns[k])
        if i not in result and j not in taken:
            result[i] = (j, float(scores[i, j]))
            taken.add(j)
    return result


def _folded(
    scores: np.ndarray, matched: dict[int, tuple[int, float]], old: list[dict[str, Any]], new: Sequence[dict]
) -> dict[int, list[int]]:
    """Unmatched old claims folded into the new claim that continues a neighbour: new -> old indices."""
    taken = {j for j, _ in matched.values()}
    result: dict[int, list[int]] = {}
    for k, profile in enumerate(old):
        if k in taken:
            continue
        near = [
            i
            for i, (j, _) in matched.items()
            if abs(old[j]["sentence"] - profile["sentence"]) <= FOLD_DISTANCE
            and (
                scores[i, k] >= LINK_THRESHOLD
                or (scores[i, k] >= FOLD_THRESHOLD and _moved(profile, old[j], new[i]))
            )
        ]
        if near:
            result.setdefault(max(near, key=lambda i: scores[i, k]), []).append(k)
    return result


def _moved(folded: dict[str, Any], matched: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a date, time or number of ``folded`` moved into ``new``, the continuation of its
    neighbour ``matched``: the same value, or a value where ``matched`` had none."""
    for slot in ("DATE", "TIME", "NUMBER"):
        values = [v for v in folded["entities"].get(slot, ()) if _comparable(slot, [v])]
        before = [v for v in matched["entities"].get(slot, ()) if _comparable(slot, [v])]
        after = [v for v in new["entities"].get(slot, ()) if _comparable(slot, [v])]
        if not values or not after:
            continue
        if not before or any(
            same_name(v, w) and not any(same_name(v, b) for b in before) for v in values for w in after
        ):
            return True
    return False


# --- changes --------------------------------------------------------------------------


def changes_of(pairs: Sequence[tuple[dict, dict, list[dict]]]) -> list[Change]:
    """The typed changes of each (old, new, folded old) claim pair."""
    # The NLP workers give each claim's syntax; a claim read back from a file is parsed here.
    unparsed = [c["text"] for old, new, _ in pairs for c in (old, new) if "syntax" not in c]
    parsed = _syntax_of(unparsed) if unparsed else {}

    def syntax_of(claim: dict) -> Syntax:
        return Syntax(*claim["syntax"]) if "syntax" in claim else parsed[claim["text"]]

    result: list[Change] = []
    for old, new, folded in pairs:
        result.extend(_entity_changes(old, new, folded))
        result.extend(_speaker_change(old, new))
        before, after = syntax_of(old), syntax_of(new)
        # Who says it is the speaker's business: an agent that is a speaker is not compared.
        speakers = [s for s in (old.get("speaker"), new.get("speaker")) if s]
        agents = (before.agent, after.agent)
        if (
            all(agents)
            and _different_names(*agents)
            and not any(same_name(a, s) for a in agents for s in speakers)
        ):
            result.append(Change("AGENT", before.agent, after.agent, old["claim_id"], new["claim_id"]))
        if before.negated != after.negated:
            result.append(
                Change("NEGATION", before.polarity, after.polarity, old["claim_id"], new["claim_id"])
            )
    return result


def _entity_changes(old: dict, new: dict, folded: list[dict]) -> Iterable[Change]:
    """Entities of a slot on one side only (not even as words of the other side's text).

    A date, time or number that went is paired with one that came, most alike first: a
    figure corrected. A name is paired only when one went and one came (a substitution);
    otherwise each is a change of its own.
    """
    old_words = f" {' '.join(name_key(p['text']) for p in (old, *folded))} "
    new_words = f" {name_key(new['text'])} "
    for slot in ENTITY_SLOTS:
        before = [(v, p["claim_id"]) for p in (old, *folded) for v in p["entities"].get(slot, ())]
        before = [(v, c) for v, c in before if _comparable(slot, [v])]
        after = [v for v in new["entities"].get(slot, ()) if _comparable(slot, [v])]
        gone = [
            (v, c)
            for v, c in _unique(before)
            if not any(same_name(v, w) for w in after) and f" {name_key(v)} " not in new_words
        ]
        came = [
            v
            for v, _ in _unique([(v, "") for v in after])
            if not any(same_name(v, w) for w, _ in before) and f" {name_key(v)} " not in old_words
        ]
        if slot in ("DATE", "TIME", "NUMBER") or (len(gone) == 1 and len(came) == 1):
            paired = _paired([v for v, _ in gone], came)
        else:
            paired = []
        went = {i for i, _ in paired}
        arrived = {k for _, k in paired}
        for i, k in paired:
            yield Change(slot, gone[i][0], came[k], gone[i][1], new["claim_id"])
        for i, (value, claim_id) in enumerate(gone):
            if i not in went:
                yield Change(slot, value, None, claim_id, new["claim_id"])
        for k, value in enumerate(came):
            if k not in arrived:
                yield Change(slot, None, value, old["claim_id"], new["claim_id"])


def _comparable(slot: str, values: Iterable[str]) -> bool:
    """Dates compare when absolute ("late 2023", "on Monday"); "earlier this year" moves with the
    publication date, so "this year" against "2024" says nothing about the story."""
    return any(slot != "DATE" or _ABSOLUTE_DATE.search(v) for v in values)


def _unique(values: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, tuple[str, str]] = {}
    for value, claim_id in values:
        seen.setdefault(name_key(value), (value, claim_id))
    return list(seen.values())


def _paired(gone: list[str], came: list[str]) -> list[tuple[int, int]]:
    """Indices of removed and added values paired most alike first (shared words, then order).

    >>> _paired(["late 2023", "12"], ["15", "late May 2024"])
    [(0, 1), (1, 0)]
    """
    gone_words, came_words = [set(words_of(g)) for g in gone], [set(words_of(c)) for c in came]
    candidates = sorted(
        (-_dice(a, b), i, k) for i, a in enumerate(gone_words) for k, b in enumerate(came_words)
    )
    pairs: list[tuple[int, int]] = []
    paired_gone: set[int] = set()
    paired_came: set[int] = set()
    for _, i, k in candidates:
        if i not in paired_gone and k not in paired_came:
            pairs.append((i, k))
            paired_gone.add(i)
            paired_came.add(k)
    return sorted(pairs)


def _speaker_change(old: dict, new: dict) -> Iterable[Change]:
    before, after = old.get("speaker"), new.get("speaker")
    if (before or after) and _different_names(before, after):
        yield Change("SPEAKER", before, after, old["claim_id"], new["claim_id"])


@functools.lru_cache(maxsize=65_536)  # the same names recur in every version of a story
def name_key(name: str) -> str:
    """A name as compared: lower case, without "the", periods and possessives.

    >>> name_key("the U.S."), name_key("Iraq’s")
    ('us', 'iraq')
    """
    key = _plain(name).replace(".", "").replace("'s", "").strip()
    key = re.sub(r"^the\s+", "", key)
    return " ".join(re.findall(r"[a-z0-9$%]+", key))


def same_name(a: str, b: str) -> bool:
    """Whether two mentions name the same thing: equal, one inside the other, or an acronym of it.

    >>> same_name("US", "the United States"), same_name("Air Force", "the U.S. Air Force")
    (True, True)
    >>> same_name("eighth", "ninth"), same_name("12", "120")
    (False, False)
    """
    x, y = name_key(a), name_key(b)
    if x == y:
        return True
    if not x or not y:
        return False
    short, long = sorted((x, y), key=len)
    if f" {short} " in f" {long} ":
        return not short.isdigit()
    initials = "".join(w[0] for w in long.split() if w not in ("of", "and", "for"))
    return " " not in short and short == initials


def _different_names(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is not b
    return not same_name(a, b)


# --- syntax the NLP workers did not give (claims read back from files): parsed here ---


_CACHE_SIZE = 4096
_syntax_cache: collections.OrderedDict[str, Syntax] = collections.OrderedDict()
_lock = threading.Lock()


def _syntax_of(texts: Sequence[str]) -> dict[str, Syntax]:
    """Each text's syntax, parsing only those not seen lately (an earlier version's claims recur)."""
    with _lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _syntax_cache))
    parsed = (
        dict(zip(missing, (syntax(doc) for doc in _parser().pipe(missing)), strict=True)) if missing else {}
    )
    with _lock:
        for text, found in parsed.items():
            _syntax_cache[text] = found
            if len(_syntax_cache) > _CACHE_SIZE:
                _syntax_cache.popitem(last=False)
        result = {}
        for text in texts:
            if text not in parsed:
                _syntax_cache.move_to_end(text)
            result[text] = parsed.get(text) or _syntax_cache[text]
    return result


@functools.cache
def _parser():
    """The project's spaCy model, tagger and parser only: loaded once, on the first changed claim."""
    from pipelines.nlp.model import DEFAULT_MODEL, load_model

    nlp = load_model(DEFAULT_MODEL)
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in ("tok2vec", "tagger", "parser")])
    return nlp
