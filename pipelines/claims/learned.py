"""Cue patterns learned from PolNeAR train: the long tail the hand-written lexicon cannot list.

Besides "say" and "believe", news attributes through words that are cues only in
one shape: "Trump is critical of", "Clinton took aim at", "Sanders' opposition
to", "the senator backed the bill". ``benchmarks/learn_cues_polnear.py`` counts,
on PolNeAR's train split, how often each shape is an annotated attribution where
the hand-written rules see none, and keeps those that are one often enough
(statistics, no corpus text) in ``learned_cues.json``, read once per process.

A shape is a key of the cue's stem, what it is, and what follows it:

- ``V <verb> <complement>``: a verb with its subject ("backed obj", "accused prep:of");
- ``L <verb> <noun> <complement>``: a light verb and its object ("took aim prep:at");
- ``A <adjective> <complement>``: "be" and an adjective ("is critical prep:of");
- ``P <noun> <complement>``: a noun whose owner is the source ("Trump's opposition prep:to").

The lemmatizer is not run, so words are reduced to a crude stem (:func:`stem`),
the same in learning and in use.

>>> stem("worried"), stem("worries"), stem("planning"), stem("plans"), stem("told")
('worri', 'worri', 'plan', 'plan', 'tell')
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Literal

from spacy.tokens import Token

from pipelines.claims import cues

RESOURCE = "learned_cues.json"
Kind = Literal["REPORTING", "STANCE"]
_CLAUSES = frozenset({"ccomp", "parataxis"})
_OBJECT_POS = frozenset({"NOUN", "PROPN"})
#: Irregular forms back to their base: "told" -> "tell" (from the cue lexicon's own table).
_BASES = {form: base for base, forms in cues.IRREGULAR.items() for form in forms.split()}


@functools.lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A crude stem: the same key for "plan", "plans", "planned", "planning"."""
    w = word.lower()
    if w in _BASES:
        return _BASES[w]
    for suffix in ("ing", "ied", "ies", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not (suffix == "s" and w.endswith("ss")):
            w = w[: -len(suffix)] + ("i" if suffix in ("ied", "ies") else "")
            break
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    if w.endswith("y") and len(w) > 3:
        w = w[:-1] + "i"
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


def complement(token: Token, skip: Token | None = None) -> str:
    """What follows a cue word: a clause, an infinitive, a preposition, an object, or nothing."""
    children = [c for c in token.children if c is not skip]
    if any(c.dep_ in _CLAUSES for c in children):
        return "clause"
    if any(c.dep_ == "xcomp" for c in children):
        return "to"
    for c in children:
        if c.dep_ == "prep" and c.i > token.i and any(g.dep_ in ("pobj", "pcomp") for g in c.children):
            return "prep:" + c.lower_
    if any(c.dep_ == "acl" for c in children):
        return "acl"
    if any(c.dep_ == "dobj" for c in children):
        return "obj"
    return "-"


def keys(token: Token) -> list[str]:
    """The shapes ``token`` heads as a cue: its own, and for a light verb the one with its object.

    The cue token of an adjective shape is the "be" it follows; of a noun shape, the noun.
    """
    if token.pos_ == "VERB":
        found = [f"V {stem(token.lower_)} {complement(token)}"]
        obj = next((c for c in token.children if c.dep_ == "dobj" and c.pos_ in _OBJECT_POS), None)
        if obj is not None:
            after = complement(token, skip=obj)
            after = complement(obj) if after == "-" else after
            found.append(f"L {stem(token.lower_)} {stem(obj.lower_)} {after}")
        return found
    if token.lower_ in cues.COPULAS:
        return [f"A {stem(c.lower_)} {complement(c)}" for c in token.children if c.dep_ == "acomp"]
    if token.pos_ == "NOUN" and any(c.dep_ == "poss" for c in token.children):
        return [f"P {stem(token.lower_)} {complement(token)}"]
    return []


def kind_of(token: Token) -> Kind | None:
    """The kind of cue a learned shape makes of ``token``, or None.

    A verb that introduces a clause reports; everything else is a stance. Most
    words head no kept shape: their stem alone rules them out, before any look at
    their children.
    """
    word = token.lower_
    if word in cues.COPULAS:
        if not any(c.dep_ == "acomp" and heads_a_shape(c.lower_) for c in token.children):
            return None
    elif not heads_a_shape(word):
        return None
    table = _table()
    for key in keys(token):
        if key in table:
            return "REPORTING" if key.startswith("V ") and key.endswith(" clause") else "STANCE"
    return None


@functools.cache
def _table() -> frozenset[str]:
    """The kept shapes of the shipped file, read once per process."""
    return load_patterns(importlib.resources.files("pipelines.claims") / RESOURCE)


def heads_a_shape(word: str) -> bool:
    """Whether ``word``'s stem heads a kept shape ("critical" of "A critic prep:of"), per word once."""
    known = _HEADS_BY_WORD.get(word)
    if known is None:
        known = _HEADS_BY_WORD[word] = stem(word) in _heads()
    return known


#: Word -> whether it heads a kept shape: a dict lookup per word of an article, not a stem.
_HEADS_BY_WORD: dict[str, bool] = {}


@functools.cache
def _heads() -> frozenset[str]:
    """The stems that head a kept shape."""
    return frozenset(key.split()[1] for key in _table())


def load_patterns(path) -> frozenset[str]:
    """The keys of the kept patterns in a learned-cues file (``{"patterns": {key: counts}}``)."""
    with path.open("r", encoding="utf-8") as f:
        return frozenset(json.load(f)["patterns"])
