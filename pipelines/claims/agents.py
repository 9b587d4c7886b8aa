"""Who did what a claim says, and whether it says it did not: from the dependency parse.

Computed in the NLP workers for every claim, next to the ``Doc`` (a sentence's tokens
already parsed: a walk over them, no new parse), so the story stage can compare a
claim's agent and polarity with its earlier form's without parsing again. Not written
to the output: it travels with the claim to the next stage only.
"""

from __future__ import annotations

import dataclasses

from spacy.tokens import Doc

from pipelines.claims.words import Words

DENIALS = frozenset("deny denies denied denying refute refutes refuted rejected rejects".split())
#: Prepositions that add a partner to a "by" phrase ("by the CIA alongside the Air Force").
PARTNERS = frozenset("with alongside".split())
AFFIRMATIONS = frozenset("confirm confirms confirmed confirming acknowledged admitted".split())


@dataclasses.dataclass(frozen=True)
class Syntax:
    """What the parse of one claim says: who did it, and whether it is negated."""

    agent: str | None
    negation: str | None  # the negation or denial as written: "did not", "denied"
    affirmation: str | None  # a confirming verb: "confirmed"

    @property
    def negated(self) -> bool:
        return self.negation is not None

    @property
    def polarity(self) -> str | None:
        return self.negation or self.affirmation


def syntax(doc) -> Syntax:
    """The agent and negation of one parsed sentence: a ``Doc`` or a ``Span`` of one.

    The predicate is the root, or for "X said (that) ..." the reported clause's verb.
    The agent is a "by" phrase on the predicate or on a participle describing its
    subject ("The strike, carried out by the CIA, targeted ..."), else the subject
    of an active predicate; either only when it names someone (a proper noun), as a
    whole noun phrase.
    """
    whole, start, end = (doc, 0, len(doc)) if isinstance(doc, Doc) else (doc.doc, doc.start, doc.end)
    root = Words.of(whole).first_root(start, end)  # a walk over ids, not over Token objects
    if root is None:
        return Syntax(None, None, None)
    chain = [whole[root]]
    while (inner := next((c for c in chain[-1].children if c.dep_ in ("ccomp", "xcomp")), None)) is not None:
        chain.append(inner)
    reported = [t for t in chain if t.dep_ in ("ROOT", "ccomp")]
    return Syntax(_agent(reported[-1]), *_polarity(chain))


def _agent(predicate) -> str | None:
    subjects = [c for c in predicate.children if c.dep_ in ("nsubj", "nsubjpass")]
    described = [c for s in subjects for c in s.children if c.dep_ in ("acl", "relcl")]
    for head in (predicate, *described):
        for by in (c for c in head.children if c.dep_ == "agent"):
            for noun in (c for c in by.children if c.dep_ == "pobj"):
                if (phrase := _named_phrase(noun, head)) is not None:
                    return phrase
    for subject in subjects:
        if subject.dep_ == "nsubj":
            return _named_phrase(subject)
    return None


def _named_phrase(head, verb=None) -> str | None:
    """The noun phrase under ``head`` without its clauses and appositions, if it names someone;
    for a "by" phrase, with its partners ("by the CIA in conjunction with the U.S. Air Force")."""
    cut = {"acl", "relcl", "appos", "punct", "advcl"}
    tokens = sorted(
        [head, *(t for c in head.children if c.dep_ not in cut for t in c.subtree)], key=lambda t: t.i
    )
    if not any(t.tag_ in ("NNP", "NNPS") for t in tokens) or head.tag_ == "PRP":
        return None
    start, end = tokens[0].i, tokens[-1].i + 1
    if verb is not None:
        for partner in (c for c in verb.children if c.dep_ == "prep" and c.i == end):
            if partner.lower_ in PARTNERS or any(
                t.lower_ == "with" for t in partner.subtree if t.i <= partner.i + 2
            ):
                end = max(t.i for t in partner.subtree) + 1
    return head.doc[start:end].text


def _polarity(chain) -> tuple[str | None, str | None]:
    """(negation as written, affirming verb) along the main predicates."""
    for token in chain:
        for child in token.children:
            if child.dep_ == "neg":
                doc = token.doc
                start = (
                    child.i - 1 if child.i > 0 and doc[child.i - 1].dep_ in ("aux", "auxpass") else child.i
                )
                return doc[start : child.i + 1].text, None
        if token.lower_ in DENIALS:
            return token.text, None
    affirmed = next((t.text for t in chain if t.lower_ in AFFIRMATIONS), None)
    return None, affirmed
