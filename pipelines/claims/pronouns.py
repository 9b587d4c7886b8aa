"""Whom "he" and "she" stand for: the person most recently given a voice, of the right gender.

News repeats its speakers: "Trump said ... . He notes that ..." means Trump even
when Clinton is named in between, as the object of what he said. So a person who
was the subject of a cue verb (a speaker) outranks one merely mentioned, and a
closer sentence outranks a further one. spaCy has no gender: a title (Mr, Mrs,
Ms) or a common first name gives one, and a surname keeps the gender its full
name had earlier in the article ("Hillary Clinton ... Clinton ... she").
Nothing inside a quotation is a candidate: the people a speaker talks about are
not the speaker.
"""

from __future__ import annotations

import bisect

from spacy import symbols
from spacy.tokens import Doc, Span, Token

from pipelines.claims import cues
from pipelines.claims.words import Words

_MALE_TITLES = frozenset({"mr", "sir", "lord", "king", "prince", "father", "brother"})
_FEMALE_TITLES = frozenset({"mrs", "ms", "miss", "dame", "lady", "queen", "princess", "sister", "madam"})
#: Common first names, a small table: enough for the people news names most.
_MALE_NAMES = frozenset(
    """john james robert michael william david richard joseph thomas charles christopher daniel
    matthew anthony donald mark paul steven andrew kenneth joshua kevin brian george edward
    ronald timothy jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin
    scott brandon benjamin samuel gregory frank alexander raymond patrick jack dennis jerry
    tyler aaron jose adam henry nathan douglas zachary peter kyle walter ethan jeremy harold
    keith christian roger noah gerald carl terry sean austin arthur lawrence jesse dylan
    bryan joe jordan billy bruce albert willie gabriel logan alan juan wayne roy ralph randy
    eugene vincent russell louis bobby philip johnny mike bill barack bernie ted marco jeb
    chris tim rand newt mitt dick al jim tom bob ben rudy reince corey sean rick lindsey
    martin vladimir boris emmanuel""".split()
)
_FEMALE_NAMES = frozenset(
    """mary patricia jennifer linda elizabeth barbara susan jessica sarah karen nancy lisa
    betty margaret sandra ashley kimberly emily donna michelle dorothy carol amanda melissa
    deborah stephanie rebecca sharon laura cynthia kathleen amy shirley angela helen anna
    brenda pamela nicole emma samantha katherine christine debra rachel catherine carolyn
    janet ruth maria heather diane virginia julie joyce victoria olivia kelly christina
    lauren joan evelyn judith megan cheryl andrea hannah martha jacqueline frances gloria
    ann teresa kathryn sara janice jean alice madison doris abigail julia judy grace denise
    amber marilyn beverly danielle theresa sophia marie diana brittany natalie isabella
    charlotte rose alexis kayla hillary huma kellyanne chelsea michelle melania ivanka sarah
    nikki carly elizabeth loretta condoleezza theresa nancy debbie donna hope jill tulsi
    kamala marine""".split()
)


_SPEAKERS = "claimstream_speakers"
#: How many sentences further back a speaker may be than a mere mention (tuned on PolNeAR train).
_SPEAKER_BONUS = 3.0
_RESOLVED = "claimstream_resolved"
_SENTENCE_STARTS = "claimstream_sentence_starts"
_GENDERS = "claimstream_genders"


def gender_of_pronoun(pronoun: Token) -> str | None:
    return {"he": "m", "him": "m", "his": "m", "she": "f", "her": "f"}.get(pronoun.lower_)


def resolve(pronoun: Token, candidates: list[Span], speakers: set[int]) -> Span | None:
    """The candidate "he"/"she" stands for, or None.

    ``candidates`` are the person mentions before the pronoun, in text order;
    ``speakers`` the token indices of the subjects of cue verbs. A pronoun
    resolved earlier counts as a mention of its person where it stands: "Trump
    said ... . He added that Clinton ... . He noted" is Trump twice.
    """
    doc = pronoun.doc
    want = gender_of_pronoun(pronoun)
    genders = _genders(doc)
    here = pronoun.sent.start
    resolved = doc.user_data.setdefault(_RESOLVED, {})
    earlier = [(i, doc[start:end]) for i, (start, end) in resolved.items() if i < pronoun.i]
    best, best_score = None, None
    mentions = sorted([(m.root.i, m) for m in candidates] + earlier, key=lambda pair: pair[0])
    for at, mention in reversed(mentions):
        distance = _sentences_between(doc, at, here)
        if best_score is not None and distance - _SPEAKER_BONUS > best_score:
            break  # nothing further back can do better
        got = _gender_of(mention, genders)
        if want and got and got != want:
            continue
        bonus = _SPEAKER_BONUS if at in speakers else 0.5 if _is_subject(doc[at : at + 1]) else 0.0
        score = distance - bonus
        if best_score is None or score < best_score:
            best, best_score = mention, score
    if best is not None:
        resolved[pronoun.i] = (best.start, best.end)
    return best


def speaker_tokens(doc: Doc, end: int) -> set[int]:
    """The indices of subjects of cue verbs in ``doc[:end]`` (found once per article)."""
    found = doc.user_data.get(_SPEAKERS)
    if found is None:
        words = Words.of(doc)
        found = [
            i
            for i, (dep, head) in enumerate(zip(words.dep, words.head, strict=True))
            if dep == symbols.nsubj
            and words.pos[head] in (symbols.VERB, symbols.AUX)
            and cues.is_cue_verb(words.lower(head))
        ]
        doc.user_data[_SPEAKERS] = found
    return {i for i in found if i < end}


def _is_subject(mention: Span) -> bool:
    return mention.root.dep_ in ("nsubj", "nsubjpass")


def _sentences_between(doc: Doc, start: int, sentence_start: int) -> int:
    """How many sentence breaks lie between token ``start`` and the sentence at ``sentence_start``."""
    starts = doc.user_data.get(_SENTENCE_STARTS)
    if starts is None:
        starts = doc.user_data[_SENTENCE_STARTS] = [s.start for s in doc.sents]
    return bisect.bisect_right(starts, sentence_start) - bisect.bisect_right(starts, start)


def _gender_of(mention: Span, genders: dict[str, str]) -> str | None:
    return _own_gender(mention) or genders.get(mention[-1].lower_)


def _own_gender(mention: Span) -> str | None:
    before = mention.doc[mention.start - 1].lower_.rstrip(".") if mention.start else ""
    for word in (before, *(t.lower_.rstrip(".") for t in mention[:2])):
        if word in _MALE_TITLES:
            return "m"
        if word in _FEMALE_TITLES:
            return "f"
    first = next((t.lower_ for t in mention if t.lower_.rstrip(".") not in _MALE_TITLES | _FEMALE_TITLES), "")
    if len(mention) > 1 and first in _MALE_NAMES:
        return "m"
    if len(mention) > 1 and first in _FEMALE_NAMES:
        return "f"
    return None


def _genders(doc: Doc) -> dict[str, str]:
    """Surname -> gender, from the full names and titles of the whole article (once per doc)."""
    cached = doc.user_data.get(_GENDERS)
    if cached is None:
        cached = {}
        for ent in doc.ents:
            if ent.label_ == "PERSON":
                gender = _own_gender(ent)
                if gender:
                    cached.setdefault(ent[-1].lower_, gender)
        doc.user_data[_GENDERS] = cached
    return cached
