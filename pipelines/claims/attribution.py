"""Who makes a claim: the speaker of a sentence, from its dependency parse.

The subject of a reporting verb ("A senior US official confirmed ..."), its
inverted form ("..., said Ms Hewitt."), "According to X, ...", a name in
apposition ("Its spokesman, Jan Weber, said"), a title-case headline split at its
cue ("Party Icon Jo Blake Endorses Ted Cruz"). "he"/"she" resolve to the most
recent person named before them in the article, or to the unnamed source just
introduced.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Literal

from spacy.tokens import Doc, Span, Token

from pipelines.claims import cues, learned, pronouns
from pipelines.claims.words import Words

#: Reporting verbs, by surface form (the lemmatizer is not run).
CUE_VERBS = frozenset(
    """say says said saying tell tells told confirm confirms confirmed reveal reveals revealed
    deny denies denied warn warns warned claim claims claimed state states stated add adds
    added announce announces announced report reports reported insist insists insisted
    argue argues argued explain explains explained note notes noted acknowledge
    acknowledges acknowledged admit admits admitted suggest suggests suggested estimate
    estimates estimated allege alleges alleged accuse accuses accused predict predicts
    predicted believe believes believed express expressed describe described describes
    write writes wrote show shows showed found find finds conclude concluded concludes
    disclose disclosed discloses""".split()
)
_PERSON_PRONOUNS = frozenset({"he", "she", "him", "her", "his"})
_PRONOUNS = frozenset({"he", "she", "him", "her", "his", "they", "their", "it", "its", "we", "i", "you"})
#: Subjects that name no one: the speaker inside a quotation, questions, demonstratives.
_SKIPPED_SUBJECTS = frozenset(
    {"we", "i", "you", "who", "what", "that", "this", "which", "there", "nobody", "none", "anyone"}
)
#: Words before a colon that name no one: "Update: ...", "Photo: ...".
_NOT_SOURCES = frozenset(
    "update note photo video watch read editor related breaking exclusive latest".split()
)
#: What a verb of saying is about: "called for", "spoke about", not "spoke in Iowa".
_TOPIC_PREPOSITIONS = frozenset({"for", "against", "about", "of", "to", "with"})
_REFUSALS = frozenset("decline declined declines declining refuse refused refuses refusing".split())
#: The dependencies of what a cue introduces: a clause, an infinitive, a quotation.
_CLAUSE_DEPS = frozenset({"ccomp", "xcomp", "parataxis"})
#: Head nouns of an unnamed source: people named by role, not by name.
_ANONYMOUS_HEADS = frozenset(
    """official officials source sources spokesman spokeswoman spokesperson aide aides
    insider insiders diplomat diplomats person people someone analyst analysts expert
    experts observer observers witness witnesses resident residents officer officers
    researcher researchers scientist scientists economist economists doctor doctors nurse
    nurses worker workers employee employees staff teacher teachers parent parents student
    students passenger passengers campaigner campaigners activist activists protester
    protesters critic critics lawyer lawyers investor investors trader traders member members
    volunteer volunteers shopkeeper shopkeepers farmer farmers engineer engineers
    firefighter firefighters soldier soldiers troops pilot pilots driver drivers commuter
    commuters shopper shoppers customer customers voter voters fan fans local locals villager
    villagers survivor survivors victim victims relative relatives family families patient
    patients pupil pupils neighbour neighbours neighbor neighbors paramedic paramedics medic
    medics surgeon surgeons midwife midwives miner miners
    """.split()
)
#: People in politics :data:`_ANONYMOUS_HEADS` lacks ("The GOP candidate sent ..."): agents all the same.
_POLITICAL_PEOPLE = frozenset(
    """candidate candidates campaign campaigns camp camps nominee nominees frontrunner
    rival rivals opponent opponents supporter supporters donor donors delegate delegates lawmaker
    lawmakers legislator legislators leader leaders adults millennials americans conservatives
    liberals progressives evangelicals women men team administration caucus politician politicians
    authorities ally allies moderator moderators woman man operative operatives group groups
    executive executives demonstrator demonstrators actress actor others""".split()
)
#: Words between a headline's source and its cue: "Al Sharpton Just Said".
_HEADLINE_ADVERBS = frozenset("just now also finally again still reportedly".split())
#: Singular nouns for a group of people: never what "he" or "she" stands for.
_COLLECTIVE_HEADS = frozenset({"family", "staff"})
_ORG_LABELS = frozenset({"ORG", "NORP", "GPE", "FAC"})
#: Nouns that make a speaker an institution even without a recognized name.
_INSTITUTIONS = frozenset(
    """government ministry department agency council committee commission company firm
    court police army military union board bank authority report study survey newspaper
    paper channel network office administration parliament congress senate party group
    cables documents statement regulator insurer watchdog university institute hospital
    review inquiry investigation audit airline club operator supplier trustees charity
    service website association federation organisation organization trust foundation
    inspectorate retailer manufacturer carmaker""".split()
)
#: Last words of a company's name: "Tata Metals" is a company whatever the NER says.
_COMPANY_WORDS = frozenset(
    """metals motors lines holdings group plc ltd inc corp bank airways steel energy
    industries systems partners""".split()
)
#: Titles and roles written before a name: "Headteacher Amina Yusuf" is Amina Yusuf.
_TITLES = frozenset(
    """mr mrs ms dr prof professor sir dame lord lady councillor mayor minister secretary
    president senator sen rep governor gov judge chairman chairwoman chief executive
    director general gen colonel col captain capt headteacher headmaster headmistress
    coach manager chancellor commissioner inspector detective sergeant constable bishop
    archbishop ambassador editor chair""".split()
)
_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "dr"})
#: Parts of speech a learned cue shape can head (:mod:`pipelines.claims.learned`).
_LEARNED_POS = frozenset({"VERB", "AUX", "NOUN"})
#: Pronouns that stand for someone who can hold a view (possessives: "his opposition to").
_AGENT_PRONOUNS = frozenset({"he", "she", "they", "it", "his", "her", "their", "its"})
#: Keys of what is found once per article in ``Doc.user_data``: plain tuples, never spans.
_PEOPLE = "claimstream_people"
_UNNAMED = "claimstream_unnamed"
_QUOTED = "claimstream_quoted"
#: What follows the place of a dateline: "LONDON (Reuters) -", "WASHINGTON \u2014", "PARIS,".
_DATELINE_MARKS = frozenset({"(", ",", "-", "--", "\u2014", "\u2013", "\u2015", ":"})
#: Subjects that only count the one before them: "Republican figures both suggested".
_FLOATING_QUANTIFIERS = frozenset({"both", "all", "each"})
#: Adverbs that open a subject phrase without naming anyone: "Even those who ...".
_FOCUS_WORDS = frozenset("even only also just especially particularly".split())
#: Nouns for a poll whose findings a sentence reports "in" it.
#: Words of a relative clause that asks for anonymity: "who requested anonymity", "not to be named".
_ANONYMITY_WORDS = frozenset("anonymity anonymous condition named identified".split())
#: Verbs of saying that take no person as object: "..., said Jo Link." is an inverted speech tag.
_TAG_VERBS = frozenset(
    "say said says added adds wrote writes noted notes argued argues explained recalled".split()
)
#: Verbs of causing whose object does what the infinitive after them says: "led X to declare".
_CAUSATIVES = frozenset(
    """lead leads led leading leave leaves left leaving prompt prompts prompted prompting cause causes
    caused causing force forces forced forcing drive drives drove driving""".split()
)
#: Shares of people that open a sentence as its subject: "Some view ...", "Many fear ...".
_QUANTIFIERS = frozenset("some many most all both few several".split())
#: Words after a cue word that make it a noun: "Republican fears of", "Trump's views on".
_NOT_CONTENT = frozenset("of on about over for to from with by and or".split())
_POLL_NOUNS = frozenset("poll polls survey surveys average".split())
#: What speaks through a participle: "polls showing", "a letter alleging", "ads demanding".
_MESSAGE_NOUNS = frozenset(
    """poll polls survey surveys report reports study studies letter letters email emails memo
    ad ads advertisement petition statement message messages tweet tweets post posts book op-ed
    editorial column article record records document documents data analysis video calls
    resolution graphics signs""".split()
)
#: Writings that say what they find or read: "A new poll finds ...", "the sign read ...".
_WRITINGS = _MESSAGE_NOUNS | frozenset(
    "editorial headline sign note banner caption suit lawsuit complaint filing indictment text".split()
)
#: Verbs whose subject is a writing: not cues of their own ("voters find it hard").
_WRITING_VERBS = frozenset("find finds read reads".split())
_CLOSING_QUOTES = frozenset({'"', "\u201d", "''", "\u2019"})
_OPENING_QUOTES = frozenset({'"', "\u201c", "``", "''"})
_QUOTE_MARKS = re.compile('["\u201c\u201d]')


CueKind = Literal["REPORTING", "STANCE", "ACCORDING_TO", "NOUN", "COLON"]


@dataclasses.dataclass(frozen=True)
class Attribution:
    """Who (``source`` as written, ``speaker`` resolved) said or thought what (``content``).

    Spans are (start, end) character offsets into the article text; ``source``
    also holds the words as written.
    """

    speaker: str | None = None
    speaker_type: str = "NONE"
    cue: str | None = None
    cue_kind: CueKind = "REPORTING"
    source: tuple[str, int, int] | None = None
    cue_span: tuple[int, int] | None = None
    content: tuple[int, int] | None = None


# --- Rules ----------------------------------------------------------------------


def attribute(span: Span, doc: Doc) -> Attribution:
    """The main speaker of one sentence ``span`` of ``doc``, or an empty :class:`Attribution`."""
    return main_attribution(attributions(span, doc))


def main_attribution(found: Sequence[Attribution]) -> Attribution:
    """The attribution the sentence is told by: the first outermost one.

    "..., the airline agreed to a 6% pay rise, the union said." -> the union: its
    content holds the airline's cue. A belief that comes first is the main one
    ("Clinton supports ..., and recalled ..."): preferring a verb of saying over it
    lost more PolNeAR main speakers on train than it found.
    """
    outer = [a for a in found if not any(_holds(other, a) for other in found)]
    return (outer or list(found) or [Attribution()])[0]


def _holds(outer: Attribution, inner: Attribution) -> bool:
    """Whether ``inner``'s cue lies in the clause ``outer`` introduces."""
    if outer is inner or outer.content is None or inner.cue_span is None or outer.cue_span is None:
        return False
    start, end = outer.content
    return start <= inner.cue_span[0] < end and not start <= outer.cue_span[0] < end


def attributions(span: Span, doc: Doc) -> list[Attribution]:
    """Every attribution of one sentence ``span``: "according to", cue verbs, "Name:" lines.

    Several per sentence, in the order their cues come ("according to" first);
    the same source is kept once per cue.
    """
    found = []
    words = Words.of(doc)
    text = words.text(span)
    according = _according_to(span) if "according" in text.lower() else None
    if according is not None:
        phrase, to = according
        found.append(
            _with_spans(_describe(phrase, "according to", doc), phrase, to.nbor(-1), to, span, "ACCORDING_TO")
        )
    colon = _colon_source(span) if ":" in text else None  # no colon, no "Name:" line
    if colon is not None:
        phrase, mark = colon
        found.append(_with_spans(_describe(phrase, ":", doc), phrase, mark, mark, span, "COLON"))
    verbs, noun = (words.id("VERB"), words.id("AUX")), words.id("NOUN")
    for i in range(span.start, span.end):
        # Only a verb is a cue of the lexicon; a noun only heads a learned shape its stem knows.
        if words.pos[i] not in verbs and not (words.pos[i] == noun and _may_head_a_shape(words.lower(i))):
            continue
        token = doc[i]
        kind = _cue_kind(token)
        shape = kind is None and token.pos_ in _LEARNED_POS
        if shape:  # a shape learned from PolNeAR: "took aim at", "is critical of", "X's opposition to"
            kind = learned.kind_of(token)
        if kind is None or _inside_quotation(token):
            continue  # a cue inside a quotation is the quoted speaker's words
        if token.dep_ == "xcomp" and token.head.dep_ == "relcl" and _asks_anonymity(token.head):
            continue  # "named" of "who did not want to be named"
        attribution = _verb_attribution(token, kind, shape, span, doc)
        if attribution is not None:
            found.append(attribution)
    for poll, preposition in _polls(span, text):  # "In a new CBS poll, Trump leads ...": the poll's finding
        found.append(
            _with_spans(_describe(poll, preposition.text, doc), poll, preposition, preposition, span, "NOUN")
        )
    if not found:
        headline = _headline(span, doc, words) or _misread_opening(span, doc)
        if headline is not None:
            found.append(headline)
    return [a for a in found if not _nested(a, found)]


def _may_head_a_shape(word: str) -> bool:
    """Whether a noun may head a learned shape: what :func:`learned.kind_of` asks before anything else.

    >>> _may_head_a_shape("table"), _may_head_a_shape("is")
    (False, True)
    """
    return word in cues.COPULAS or learned.heads_a_shape(word)


def _headline(span: Span, doc: Doc, words: Words) -> Attribution | None:
    """A title-case headline the tagger read as one name: "Party Icon Jo Blake Endorses Ted Cruz".

    The first word the cue lexicon knows, after a word or more, is the cue; the words before it
    (after a "Label:") are the source.
    """
    alpha = [i for i in range(span.start, span.end) if words.alpha[i]]
    if len(alpha) < 4:
        return None
    capitals = sum(words.content[words.idx[i]].isupper() for i in alpha)  # a token's first character
    if capitals < 0.8 * len(alpha) and span.root.pos_ in ("VERB", "AUX"):
        return None
    colon = span.start
    for token in span[1:]:
        if token.text == ":":
            colon = token.i + 1  # "BUSTED: Emails Reveal ...": the label names no one
        kind = cues.kind_of(token.lower_)
        if kind is None or not token.is_alpha or token.i <= colon:
            continue
        first, last = colon, token.i
        while last > first and doc[last - 1].lower_ in _HEADLINE_ADVERBS:
            last -= 1
        phrase = doc[first:last]
        if not phrase or not any(t.pos_ == "PROPN" or t.ent_type_ for t in phrase):
            return None
        cue_kind: CueKind = "REPORTING" if kind == "reporting" else "STANCE"
        attribution = _describe(phrase, token.text, doc)
        if attribution.speaker is None:
            return None
        return _with_spans(attribution, phrase, token, token, span, cue_kind)
    return None


def _misread_opening(span: Span, doc: Doc) -> Attribution | None:
    """A cue verb the tagger read as a noun after a short opening subject: "Many fear Trump will ...".

    "Trump predicts that ...", "Some view X as ...", "One in five say ...": the words before
    the cue (a name, a noun, a share of people) are its source, the rest of the sentence
    what they say or think.
    """
    for k in range(1, min(5, len(span) - 3)):
        cue = span[k]
        kind = cues.kind_of(cue.lower_)
        if kind is None or cue.tag_ not in ("NN", "NNS", "VBP", "VBZ") or not cue.is_lower:
            continue
        if any(c.dep_ in ("nsubj", "nsubjpass") for c in cue.children):
            return None  # parsed as a verb with its subject: the rules above had their say
        after = doc[cue.i + 1]
        if cue.dep_ != "ROOT" and after.lower_ != "that":
            return None  # "The document release centers on": a noun inside the subject
        if after.is_punct or after.lower_ in _NOT_CONTENT or after.pos_ in ("VERB", "AUX"):
            return None  # "Republican fears of ...", "Democratic hopes are fading": a noun
        phrase = doc[span.start : cue.i]
        if not _opening_subject(phrase):
            return None
        attribution = _describe(phrase, cue.text, doc)
        if attribution.speaker is None:
            return None
        cue_kind: CueKind = "REPORTING" if kind == "reporting" else "STANCE"
        return _with_spans(attribution, phrase, cue, cue, span, cue_kind)
    return None


def _opening_subject(phrase: Span) -> bool:
    """Whether the words opening a sentence can be a subject: a name, a noun or a share of people.

    >>> # "Trump", "Many", "One in five", "Dems"; not "His", "It", "In Iowa"
    """
    first = phrase[0]
    if not (first.is_title or first.is_upper) or first.lower_ in _PRONOUNS | _SKIPPED_SUBJECTS:
        return False
    if first.pos_ == "ADP" or first.tag_ in ("PRP$", "WP", "WRB", "IN", "CC", "RB"):
        return False
    allowed = ("NOUN", "PROPN", "NUM", "DET", "ADJ", "PRON")
    alone = len(phrase) == 1 and (first.pos_ != "DET" or first.lower_ in _QUANTIFIERS)
    if phrase[-1].pos_ not in ("NOUN", "PROPN", "NUM") and not alone:
        return False  # "The campaign", "The murderous attacks": the cue word is the noun
    return all(t.pos_ in allowed or (t.lower_ == "in" and t.i > first.i) for t in phrase)


def _verb_attribution(token: Token, kind: CueKind, shape: bool, span: Span, doc: Doc) -> Attribution | None:
    """The attribution cue ``token`` makes in sentence ``span``: its subject, resolved; else None.

    ``shape``: the cue is no word of the lexicon, so its subject must be an agent.
    """
    subject = _owner(token) if token.pos_ == "NOUN" else _speaking_subject(token)
    if kind == "REPORTING" and subject is not None and _quoted_subject(subject, token, span):
        subject = _inverted_subject(token)  # '... every amendment," said Cruz': Cruz, not the amendment
    elif kind == "REPORTING" and subject is None and _follows_quotation(token, span):
        subject = _inverted_subject(token)  # "...,'' recalled Mr. Rhodes", Rhodes parsed as the object
    elif kind == "REPORTING" and subject is not None and subject.i < token.i and _tag_after_comma(token):
        subject = _inverted_subject(token)  # "... get nervous, said Christine Link, ...": not "Couple"
    if subject is not None and _is_dateline(subject, span):
        subject = None  # the parser took "LONDON (Reuters) - Trump said" for London's words
    if shape and (subject is None or not _is_agent(subject)):
        return None  # a learned shape speaks for a person or an institution only
    finite = token.tag_ in ("VBD", "VBZ", "VBP")
    if kind == "REPORTING" and finite and subject is not None and subject.head.i != token.i:
        if doc[token.i - 1].text == "," and _name_before_aside(token) is not None:
            subject = None  # "It was no accident — Brendan Buck, a spokesman, told": not "it"
    if subject is None and kind == "REPORTING":
        name = _adjacent_name(token)
        if name is None:
            return None
        # a parse that lost the subject: "Bill Clinton said his ..."
        return _with_spans(_describe(name, token.text, doc), name, token, token, span, kind)
    if subject is None or subject.lower_ in _SKIPPED_SUBJECTS or subject.dep_ == "expl":
        return None
    if subject.lower_ in ("they", "it", "their", "its"):
        if subject.lower_ == "it" and subject.head.lower_ in cues.COPULAS:
            return None  # "it is clear that", "it's hard to imagine": no one speaks
        above = _governing_group(subject)
        phrase = _subject_span(above) if above is not None else _group_antecedent(subject, doc)
        if phrase is None:
            return None
        attribution = _describe(phrase, token.text, doc)
        phrase = doc[subject.i : subject.i + 1]
    else:
        phrase = _subject_span(subject)
        attribution = _governing_speaker(subject, doc) or _describe(phrase, token.text, doc)
    unresolved = subject.lower_ in _PRONOUNS and attribution.speaker == subject.text
    if attribution.speaker is None or unresolved:
        return None  # no one, or a pronoun nothing before it resolves
    return _with_spans(attribution, phrase, token, token, span, kind, _content_of(token, span))


def _polls(span: Span, text: str) -> list[tuple[Span, Token]]:
    """The polls a sentence reports by "in": "leads by 9 points in the RealClearPolitics average of polls".

    ``text`` is the sentence's text.
    """
    found = []
    if not any(noun in text for noun in ("poll", "Poll", "survey", "Survey", "average")):
        return found  # most sentences: no word of theirs looked at
    for token in span:
        if token.lower_ != "in" or token.dep_ != "prep" or token.head.pos_ not in ("VERB", "AUX"):
            continue  # "his drop in the polls" reports no finding
        if _inside_quotation(token):
            continue
        poll = next((c for c in token.children if c.dep_ == "pobj" and c.lower_ in _POLL_NOUNS), None)
        if poll is not None:
            found.append((_subject_span(poll), token))
    return found


def _owner(noun: Token) -> Token | None:
    """The possessive a noun cue is owned by: "Trump" of "Trump's opposition to"."""
    return next((c for c in noun.children if c.dep_ == "poss"), None)


def _is_agent(subject: Token) -> bool:
    """Whether a subject can hold a view: a name, a person or group pronoun, a role, an institution.

    "The bill includes" is no attribution, whatever the verb's shape.
    """
    if subject.ent_type_ in ("PERSON", "ORG", "NORP", "GPE") or subject.pos_ == "PROPN":
        return True
    word = subject.lower_
    return (
        word in _AGENT_PRONOUNS
        or word in _ANONYMOUS_HEADS
        or word in _INSTITUTIONS
        or word in _TITLES
        or word in _POLITICAL_PEOPLE
    )


def _quoted_subject(subject: Token, verb: Token, sentence: Span) -> bool:
    """Whether the subject found for ``verb`` lies in the quotation that closes right before it.

    '"Every single amendment," said Cruz': the parser took the quoted words for the
    subject. The quotation may have opened in a sentence before.
    """
    if not _follows_quotation(verb, sentence) or subject.i >= verb.i - 1:
        return False
    doc = verb.doc
    before = doc[verb.i - 1]
    opening = next((t.i for t in reversed(doc[sentence.start : before.i]) if t.text in _OPENING_QUOTES), None)
    return opening is None or opening < subject.i


def _follows_quotation(verb: Token, sentence: Span) -> bool:
    """Whether a finite ``verb`` comes right after a closing quotation mark: '...," said'."""
    doc = verb.doc
    before = doc[verb.i - 1] if verb.i > sentence.start else None
    if before is not None and before.text == "'" and before.i - 1 > sentence.start:
        before = doc[before.i - 1] if doc[before.i - 1].text == "''" else before  # an inner quote closed too
    if before is None or before.text not in _CLOSING_QUOTES or verb.tag_ not in ("VBD", "VBZ", "VBP"):
        return False
    inner = doc[before.i - 1] if before.i > sentence.start else None
    return inner is not None and (not inner.whitespace_ or inner.text in ("'", "\u2019"))  # ",' " said


def _inverted_subject(verb: Token) -> Token | None:
    """The noun phrase right after a verb of saying, by the word heading it: "said Cruz, who ..."."""
    doc = verb.doc
    if verb.i + 1 >= len(doc):
        return None
    token = doc[verb.i + 1]
    if token.pos_ not in ("PROPN", "NOUN", "DET") or token.lower_ in _PRONOUNS:
        return None
    while token.head is not verb and token.head.i > verb.i and token.head.pos_ in ("PROPN", "NOUN"):
        token = token.head
    return token if token.pos_ in ("PROPN", "NOUN") else None


def _tag_after_comma(verb: Token) -> bool:
    """Whether a verb of saying after a comma has a named speaker right after it: "..., said Jo Link."

    The words before the comma are what was said; the parser took them for the subject.
    """
    doc = verb.doc
    if verb.i < 2 or doc[verb.i - 1].text != "," or verb.lower_ not in _TAG_VERBS:
        return False  # not "X, a senator, told AFP": the object of a verb that takes one
    speaker = _inverted_subject(verb)
    if speaker is None or not (speaker.ent_type_ in ("PERSON", "ORG") or speaker.lower_ in _ANONYMOUS_HEADS):
        return False
    end = _subject_span(speaker).end  # then a comma or the end: not 'said Obama "understood'
    return end >= verb.sent.end or doc[end].text in (",", ".", ";")


def _is_dateline(subject: Token, sentence: Span) -> bool:
    """A place in capitals opening the sentence: "LONDON (Reuters) - ...".

    A dash, a parenthesis or a comma follows it; "CNN reported that ..." is CNN's.
    """
    capitals = subject.is_upper and len(subject) > 1 and subject.ent_type_ != "PERSON"
    if not capitals or subject.i != sentence.start:
        return False
    after = subject.nbor(1) if subject.i + 1 < len(subject.doc) else None
    return after is None or after.text in _DATELINE_MARKS


def _adjacent_name(verb: Token) -> Span | None:
    """The person or organization named right before a verb of saying, or right after it."""
    doc = verb.doc
    for i in (verb.i - 1, verb.i + 1):
        token = doc[i] if 0 <= i < len(doc) else None
        if token is None or token.ent_type_ not in ("PERSON", "ORG") or not token.is_title:
            continue
        if i > verb.i and token.head is verb and token.dep_ in ("dobj", "dative"):
            continue  # the one accused, not the accuser: "(Clinton) also accused Sanders of ..."
        start, end = token.i, token.i + 1
        while start > 0 and doc[start].ent_iob_ == "I":
            start -= 1
        while end < len(doc) and doc[end].ent_iob_ == "I":
            end += 1
        return doc[start:end]
    return _name_before_aside(verb)


def _name_before_aside(verb: Token) -> Span | None:
    """A name set off from its verb of saying by an aside: "Patrick F. Kennedy, the undersecretary, wrote".

    The parser hung the name on the clause before it (an appositive of its last noun),
    so the verb has no subject of its own. The aside between the commas holds no verb.
    """
    doc = verb.doc
    comma = verb.i - 1
    if comma < 2 or doc[comma].text != ",":
        return None
    for i in range(comma - 1, max(comma - 12, verb.sent.start) - 1, -1):
        token = doc[i]
        if token.pos_ in ("VERB", "AUX") or token.is_quote or token.text in (";", ":"):
            return None
        if token.text != ",":
            continue
        aside = doc[i + 1]
        if aside.pos_ == "PROPN" and aside.ent_type_ == "PERSON" and aside.ent_iob_ == "B":
            name = doc[i + 1 : comma]
            if all(t.ent_type_ == "PERSON" and t.ent_iob_ == "I" for t in name[1:]):
                return name  # "a spokeswoman, Anna White, said": the name is the aside
        if aside.pos_ == "PROPN" or aside.i == comma:
            return None  # "..., Clinton and husband Bill, thanked": a name, not an aside
        last = doc[i - 1] if i > verb.sent.start else None
        if last is None or last.ent_type_ not in ("PERSON", "ORG") or not last.is_title:
            return None
        start = last.i
        while start > verb.sent.start and doc[start].ent_iob_ == "I":
            start -= 1
        return doc[start : last.i + 1]
    return None


def _nested(attribution: Attribution, found: Sequence[Attribution]) -> bool:
    """Whether a cue other than a verb of saying lies in the content of another attribution.

    "The Daily News suggested the attacks highlight the threat": what the attacks
    "highlight" is the Daily News's claim, not the attacks'; so is a belief in
    "X said voters believe ...".
    """
    if cues.kind_of(attribution.cue or "") == "reporting":
        return False
    return any(_holds(other, attribution) for other in found)


def _cue_kind(token: Token) -> CueKind | None:
    """The kind of cue ``token`` is, if it is one.

    A verb of saying is a cue on its own ("..., the bank said."); one that also
    means something else needs a clause ("Trump called for ...", not "Trump called
    the meeting"); so do beliefs and intentions ("Obama planned to veto ...", not
    "Obama planned the trip"), but for "want", "fear", "oppose" an object will do.
    Any other verb whose subject it gives a clause ("The Post has learned that
    ...") is a reporting cue too.
    """
    if token.pos_ not in ("VERB", "AUX"):
        return None
    dep = token.dep_
    if dep == "xcomp" and token.head.lower_ in _REFUSALS:
        return None  # "declined to comment" says nothing
    if dep == "relcl" and (_asks_anonymity(token) or not _nonrestrictive(token)):
        return None  # "A worker at the plant, who asked not to be named, said"
    word = token.lower_
    kind = cues.kind_of(word)
    if kind is None:
        following = token.nbor(1) if token.i + 1 < len(token.doc) else token
        if following.text == ":" and following.i + 2 >= token.sent.end:
            return "REPORTING"  # "Cruz continued:" introduces the quotation after it
        if _tags_a_quotation(token):
            return "REPORTING"  # '"Go back," Trump barked': any verb tagging a quotation speaks it
        writer = word in _WRITING_VERBS and any(
            c.dep_ == "nsubj" and c.lower_ in _WRITINGS for c in token.children
        )
        if writer:
            return "REPORTING"  # "the poll finds Trump up", '"...," the editorial read'
    children = list(token.children)  # each walk of ``token.children`` builds its tokens anew
    clause = any(c.dep_ in _CLAUSE_DEPS for c in children) or _as_aside(token)
    if kind == "reporting":
        said = clause or any(
            c.dep_ in ("dobj", "oprd")
            or (c.dep_ == "prep" and c.lower_ in _TOPIC_PREPOSITIONS)
            or _calls_on(c)
            for c in children
        )
        return "REPORTING" if said or not cues.needs_clause(word) else None
    objects = [c for c in children if c.dep_ == "dobj"]
    if kind == "stance":
        passive = _by_agent(token) and cues.takes_object(word)  # "was backed by most voters"
        if clause or (objects and cues.takes_object(word)) or (objects and _as_phrase(token)) or passive:
            return "STANCE"
        return None
    if any(c.lower_ in cues.SAYING_NOUNS for c in objects) and cues.is_light_cue(word):
        return "REPORTING"  # "made the case that", "took aim at", "gave a speech"
    if word in ("put", "puts") and any(c.lower_ == "it" for c in objects):
        return "REPORTING"  # "As one strategist put it, ..."
    if word in cues.COPULAS:
        stance = any(c.dep_ == "acomp" and c.lower_ in cues.STANCE_ADJECTIVES for c in children)
        return "STANCE" if stance else None  # "Democrats are confident that ...", "She was critical of"
    if word in cues.LIGHT_VERBS:
        return None
    # A clause after the verb, and no cue itself: "X will investigate ..., the chair announced"
    # parsed with "announced" under "investigate" is the chair's claim.
    clauses = (c for c in children if c.dep_ == "ccomp" and c.i > token.i and not cues.is_cue_verb(c.lower_))
    if any(any(g.dep_ in ("mark", "nsubj") for g in c.children) for c in clauses):
        return "REPORTING"
    return None


def _tags_a_quotation(verb: Token) -> bool:
    """Whether a finite verb and its named subject come right after a quotation: '...," Trump barked'."""
    if verb.tag_ not in ("VBD", "VBZ", "VBP", "VBN") or verb.i < 3:
        return False  # a past participle too: the tagger reads '," Trump barked' as one
    subject = next((c for c in verb.children if c.dep_ == "nsubj" and c.i < verb.i), None)
    if subject is None or subject.right_edge.i != verb.i - 1:
        return False
    if subject.ent_type_ not in ("PERSON", "ORG") and subject.pos_ != "PROPN":
        return False
    doc = verb.doc
    mark, before = doc[subject.left_edge.i - 1], doc[subject.left_edge.i - 2]
    return mark.text in _CLOSING_QUOTES and before.text in (",", "?", "!")


def _as_aside(verb: Token) -> bool:
    """ "as some liberals hope", "as Clinton supporters point out": the sentence is the content.

    Not a verb of saying that needs a clause: "as Blumenthal spoke" tells when.
    """
    if verb.dep_ != "advcl" or not any(c.dep_ == "mark" and c.lower_ == "as" for c in verb.children):
        return False
    return cues.kind_of(verb.lower_) == "stance" or any(
        c.dep_ == "prt" and c.lower_ == "out" for c in verb.children
    )


def _by_agent(verb: Token) -> bool:
    """A passive with its agent: "Sanders was supported by most young voters"."""
    return any(c.dep_ == "agent" for c in verb.children) and any(c.dep_ == "nsubjpass" for c in verb.children)


def _calls_on(preposition: Token) -> bool:
    """ "called on Congress", "spoke on trade", not "spoke on Monday"."""
    if preposition.dep_ != "prep" or preposition.lower_ != "on":
        return False
    return any(c.dep_ == "pobj" and c.ent_type_ not in ("DATE", "TIME") for c in preposition.children)


def _asks_anonymity(verb: Token) -> bool:
    """ "who asked not to be named", "who did not want to be identified": no attribution of its own.

    "who has vowed not to buy ..." is one.
    """
    return any(c.lower_ in _ANONYMITY_WORDS for c in verb.subtree)


def _nonrestrictive(verb: Token) -> bool:
    """Whether a relative clause asserts (", who are wary of Clinton,"), not only picks out its noun.

    "the people who are tired of this said" only says which people spoke; a verb of
    saying or believing asserts either way ("voters who back Clinton").
    """
    first = verb.left_edge
    return cues.is_cue_verb(verb.lower_) or (first.i > 0 and verb.doc[first.i - 1].text == ",")


def _as_phrase(verb: Token) -> bool:
    """Whether a verb of belief sees its object "as" something: "Voters see him as an outsider"."""
    if not cues.takes_as(verb.lower_):
        return False
    return any(c.dep_ == "oprd" or (c.dep_ == "prep" and c.lower_ == "as") for c in verb.children)


def _speaking_subject(verb: Token) -> Token | None:
    """The active subject of a cue verb: in "they were accused" the subject is the target.

    A verb without one takes it from the verb it hangs on: "X welcomed the news but
    warned", "X issued a statement saying", "X wants to argue", "..., saying".
    "by X" is the subject of a passive cue: "it was announced by X".
    """
    verb_ = verb
    for _ in range(4):
        # The nearest of two: "Voters, Clinton suggested, don't have to worry" is Clinton's.
        subjects = [c for c in verb_.children if c.dep_ == "nsubj" and c.lower_ not in _FLOATING_QUANTIFIERS]
        subjects = subjects or [c for c in verb_.children if c.dep_ == "nsubj"]
        before = [c for c in subjects if c.i < verb_.i]
        subject = before[-1] if before else (subjects[0] if subjects else None)
        if subject is not None:
            break
        passive = next((c for c in verb_.children if c.dep_ == "nsubjpass"), None)
        if passive is not None and verb_ is not verb and verb.dep_ == "conj":
            return passive  # "FBI officials were angered by the deal and predicted ...": the officials
        agent = next((c for c in verb_.children if c.dep_ == "agent"), None)
        if agent is not None:
            return next((c for c in agent.children if c.dep_ == "pobj"), None)
        if passive is not None:
            return None
        if verb_.dep_ == "xcomp" and verb_.head.dep_ == "acomp" and verb_.head.pos_ == "ADJ":
            verb_ = verb_.head.head  # "Readers were quick to condemn ...": the readers
        elif verb_.dep_ == "acl" and _misparsed_clause(verb_):
            return verb_.head  # "Romney, the 2012 nominee, tweeted": the verb hung on the name
        elif verb_.dep_ == "xcomp" and _controller(verb_) is not None:
            return _controller(verb_)  # "The victory led Priebus to declare ...": Priebus declares
        elif verb_.dep_ in ("conj", "xcomp", "advcl") and verb_.head.pos_ in ("VERB", "AUX"):
            head = verb_.head
            if verb_.tag_ == "VBG" and verb_.dep_ == "advcl" and head.dep_ == "ccomp" and head.i < verb_.i:
                head = head.head  # "Cruz said Trump is wrong, stating ...": Cruz states, not Trump
            verb_ = head
        elif verb_.dep_ == "acl" and verb_.head.dep_ == "dobj" and _speaks_through(verb_):
            verb_ = verb_.head.head  # "X issued a statement saying ...", "X wrote an op-ed urging ..."
        elif verb_ is verb and _participle_of(verb) is not None:
            return _participle_of(verb)  # "with polls showing ...", "a letter alleging ..."
        elif verb_.dep_ == "pcomp" and verb_.head.dep_ == "prep" and verb_.head.head.pos_ in ("VERB", "AUX"):
            verb_ = verb_.head.head  # "Bolton distanced himself from it by saying ..."
        else:
            return None
    if subject is not None and subject.tag_ in ("WP", "WDT") and verb_.dep_ == "relcl":
        subject = verb_.head  # "sources who described ..." -> "sources"
    if subject is not None and subject.lower_ == "that" and verb_.dep_ == "relcl":
        subject = verb_.head
    return subject


def _participle_of(verb: Token) -> Token | None:
    """The noun a present participle of a cue modifies, which speaks through it: "polls showing".

    "with polls showing her lead gone", "a letter alleging that ..."; not a noun the
    participle follows as its object ("X issued a statement saying": X speaks).
    """
    if verb.dep_ != "acl" or verb.tag_ != "VBG" or verb.i == 0:
        return None
    noun = verb.head
    if noun.pos_ not in ("NOUN", "PROPN") or noun.i != verb.i - 1 or noun.lower_ in _SKIPPED_SUBJECTS:
        return None  # right after its noun: not "an email to supporters stating"
    if noun.dep_ == "dobj" or not (_is_agent(noun) or noun.lower_ in _MESSAGE_NOUNS):
        return None  # "a microphone telling", "her work trying": no one speaks
    return noun


def _speaks_through(verb: Token) -> bool:
    """Whether a verb modifying an object is said by the subject of the verb above it.

    "X issued a statement saying", "X wrote an op-ed urging", "X emailed supporters saying".
    """
    above = verb.head.head
    if above.pos_ not in ("VERB", "AUX"):
        return False
    return verb.head.lower_ in cues.NOUNS or (verb.tag_ == "VBG" and verb.doc[verb.i - 1].i == verb.head.i)


def _controller(infinitive: Token) -> Token | None:
    """The object a cause makes do what an infinitive says: "led Priebus to declare", "caused many to wonder".

    Only after verbs of causing: "urged women to vote" is the urging's, not the women's.
    """
    head = infinitive.head
    if infinitive.tag_ != "VB" or head.lower_ not in _CAUSATIVES:
        return None
    noun = next((c for c in head.children if c.dep_ == "dobj" and c.i < infinitive.i), None)
    if noun is None or noun.lower_ in _PRONOUNS or noun.lower_ in _SKIPPED_SUBJECTS:
        return None
    return noun


def _misparsed_clause(verb: Token) -> bool:
    """Whether a verb the parser hung on a noun as a modifier is the noun's own main verb.

    A finite verb never modifies a noun ("a Baton Rouge newspaper called on ..."); a
    participle after a comma does when its noun is a name and no "by" follows ("Mitt
    Romney, the nominee, tweeted"; not "the report, published by the board,").
    """
    noun = verb.head
    if noun.pos_ not in ("NOUN", "PROPN"):
        return False
    if verb.tag_ in ("VBD", "VBZ", "VBP"):
        return True
    return (
        verb.tag_ == "VBN"
        and verb.doc[verb.i - 1].text == ","
        and noun.ent_type_ in ("PERSON", "ORG")
        and not any(c.dep_ == "agent" for c in verb.children)
    )


def _content_of(verb: Token, sentence: Span) -> tuple[int, int]:
    """The clause a cue verb introduces, else its whole sentence."""
    clause = next((c for c in verb.children if c.dep_ in _CLAUSE_DEPS), None)
    if clause is None:
        return sentence.start_char, sentence.end_char
    last = clause.right_edge
    return clause.left_edge.idx, last.idx + len(last)


def _with_spans(
    attribution: Attribution,
    phrase: Span,
    cue_first: Token,
    cue_last: Token,
    sentence: Span,
    kind: CueKind,
    content: tuple[int, int] | None = None,
) -> Attribution:
    return dataclasses.replace(
        attribution,
        cue_kind=kind,
        source=(phrase.text, phrase.start_char, phrase.end_char),
        cue_span=(cue_first.idx, cue_last.idx + len(cue_last)),
        content=content or (sentence.start_char, sentence.end_char),
    )


def _colon_source(span: Span) -> tuple[Span, Token] | None:
    """The speaker of a transcript line or a round-up: "MS. CLINTON: ...", "Name, Outlet: '...'"."""
    colon = next((t for t in span[:12] if t.text == ":"), None)
    dash = _headline_dash(span)
    if dash is not None:  # a round-up under its headline: "POLLS WERE RIGHT - Mark Blumenthal: “..."
        colon, span = dash
    if colon is None or colon.i == span.start:
        return None
    before = span.doc[span.start : colon.i]
    if before[0].is_punct:
        before = before[1:]
    if not len(before) or any(t.pos_ in ("VERB", "AUX") and not t.is_upper for t in before):
        return None
    comma = next((t.i for t in before if t.text == ","), before.end)
    name = span.doc[before.start : comma]
    if not len(name) or not all(t.pos_ == "PROPN" or t.is_upper or t.is_title or t.is_punct for t in name):
        return None
    after = colon.nbor(1) if colon.i + 1 < span.end else None
    headline = after is not None and (after.is_title or after.is_quote)  # "Poll: Sanders Leads"
    if len(name) == 1 and not (name[0].ent_type_ or name[0].is_upper or headline):
        return None
    if name[0].lower_ in _NOT_SOURCES or name[-1].lower_ in _NOT_SOURCES:
        return None  # "Update: ...", AP's running story "The Latest: ..."
    return name, colon


def _headline_dash(span: Span) -> tuple[Token, Span] | None:
    """The colon of "<headline> - Name: “...", and the sentence from the name on."""
    if ":" not in span.text:
        return None
    for token in span[:40]:
        if token.text not in ("-", "\u2014", "\u2013", "--") or not token.whitespace_:
            continue
        after = token.doc[token.i + 1 : min(token.i + 8, span.end)]
        colon = next((t for t in after if t.text == ":"), None)
        if colon is not None and colon.i + 1 < span.end and span.doc[colon.i + 1].is_quote:
            return colon, span.doc[token.i + 1 : span.end]
    return None


def _governing_speaker(subject: Token, doc: Doc) -> Attribution | None:
    """What "he" stands for in "Trump said he would ...": the subject of the cue above it."""
    if subject.lower_ not in _PERSON_PRONOUNS:
        return None
    verb = subject.head
    while verb.dep_ in _CLAUSE_DEPS and verb.head is not verb:
        verb = verb.head
        above = next((c for c in verb.children if c.dep_ == "nsubj"), None)
        if above is not None and above.lower_ not in _PRONOUNS and cues.is_cue_verb(verb.lower_):
            named = _describe(_subject_span(above), "", doc)
            return named if named.speaker_type != "ORGANIZATION" else None
    return None


def _governing_group(pronoun: Token) -> Token | None:
    """What "they" stands for in "47 percent said they would ...": the plural subject of the cue above.

    "it" likewise, for an institution: "The union said it would strike."
    """
    verb = pronoun.head
    while verb.dep_ in _CLAUSE_DEPS and verb.head is not verb:
        verb = verb.head
        if not cues.is_cue_verb(verb.lower_):
            continue
        above = _speaking_subject(verb)
        if above is None or above.lower_ in _PRONOUNS or above.lower_ in _SKIPPED_SUBJECTS:
            return None
        plural = above.tag_ in ("NNS", "NNPS") or above.ent_type_ == "NORP" or above.lower_ == "percent"
        plural = plural or any(c.dep_ == "conj" for c in above.children)
        if pronoun.lower_ in ("they", "their"):
            return above if plural else None
        institution = above.ent_type_ == "ORG" or above.lower_ in _INSTITUTIONS
        return above if institution and not plural else None
    return None


def _group_antecedent(pronoun: Token, doc: Doc) -> Span | None:
    """What "it" or "they" stands for: the last organization (or, for "they", group) named before it.

    Nothing inside a quotation, and nothing further back than two sentences.
    """
    first = doc[pronoun.sent.start].i
    for _ in range(2):
        if first > 0:
            first = doc[first - 1].sent.start
    for roles in (("nsubj",), ("nsubjpass", "pobj", "dobj", "poss")):  # a subject first
        for token in reversed(doc[first : pronoun.i]):
            if token.dep_ not in roles or _inside_quotation(token):
                continue
            if token.ent_type_ in ("ORG", "NORP") or token.lower_ in _INSTITUTIONS:
                if pronoun.lower_ in ("it", "its") and token.tag_ in ("NNS", "NNPS"):
                    continue
                return _subject_span(token)
            if (
                pronoun.lower_ in ("they", "their")
                and token.tag_ == "NNS"
                and token.lower_ in _ANONYMOUS_HEADS
            ):
                return _subject_span(token)
    return None


def _according_to(span: Span) -> tuple[Span, Token] | None:
    for token in span[:-2]:
        if token.lower_ == "according" and token.nbor(1).lower_ == "to":
            to = token.nbor(1)
            objects = [c for c in to.children if c.dep_ == "pobj"]
            if objects:
                return _subject_span(objects[0]), to
    return None


def _subject_span(head: Token) -> Span:
    """The subject phrase, cut before a comma or relative clause: "The New York Times".

    A name right after its noun stays ("the regulator Ofgem"), and so does a
    participle phrase ("figures published by the health board"); a name the parser
    split off as a second subject is joined back ("the network builder Openreach Rural").
    """
    doc = head.doc
    tokens = [t for t in head.subtree if not (t.i < head.i and t.is_punct and t.i == t.left_edge.i)]
    tokens = tokens or [head]
    start = tokens[0].i
    for token in tokens:
        if token.i < head.i and token.text in ("\u2014", "\u2013", "\u2015", "-") and doc[start].is_upper:
            start = token.i + 1  # a dateline: "WASHINGTON \u2014 Sen. Chuck Grassley"
    while start < head.i and doc[start].lower_ in _FOCUS_WORDS and doc[start].dep_ == "advmod":
        start += 1  # "even a top GOP strategist" is a top GOP strategist
    end = head.i + 1
    # A relative clause starts at its left edge: "an FBI official she spoke to" is "an FBI official".
    clauses = [c.left_edge.i for c in head.children if c.dep_ in ("relcl", "acl") and c.i > head.i]
    for token in tokens:
        if token.i <= head.i:
            continue
        if (
            token.text in (",", "(", "\u2014", "\u2013")
            or token.dep_ == "relcl"
            or (token.dep_ == "case" and token.head.i == head.i)  # "Trump's", not "the senator's allies"
            or token.i in clauses
        ):
            break
        if token.text == "-" and (token.whitespace_ or doc[token.i - 1].whitespace_):
            break  # a dash, not the hyphen of "caucus-goers"
        if token.tag_ in ("WP", "WDT") or token.lower_ in ("who", "that", "which"):
            break  # "a woman who", "the American people who are": never a clause fragment
        if token.dep_ == "acl" and token.tag_ != "VBN":
            break
        end = token.i + 1
    run = end
    while run < len(doc) and doc[run].pos_ == "PROPN":
        run += 1
    if any(t.head == head.head and t.dep_ == head.dep_ for t in doc[end:run]):
        end = run
    return doc[start:end]


def _describe(phrase: Span, cue: str, doc: Doc) -> Attribution:
    """Who the subject phrase names, and what kind of speaker that is."""
    root = phrase.root
    if root.lower_ in _PERSON_PRONOUNS and len(phrase) == 1:
        unnamed = _last_unnamed_person_before(doc, phrase.start)
        if unnamed is not None and _last_person_before(doc, phrase.start, after=unnamed.end) is None:
            # "A government spokesman said ... he added": no one named since the spokesman.
            return Attribution(unnamed.text.strip(" ,"), "ANONYMOUS", cue)
        speakers = pronouns.speaker_tokens(doc, phrase.start)
        named = pronouns.resolve(root, _person_mentions(doc, phrase.start), speakers)
        if named is not None:
            return Attribution(_without_title(named), "PERSON", cue)
        return Attribution(phrase.text, "ANONYMOUS", cue)  # unresolved pronoun
    named = _appositive_name(root)
    if named is not None:  # "Its spokesman, Jan Weber, said", "The operator, Atlantic Lines,"
        return Attribution(*named, cue)
    text = phrase.text.strip(" ,")
    entities = _entities(phrase)
    people = [e for e in entities if e.label_ == "PERSON" and not _names_a_thing(e)]
    labels = {e.label_ for e in entities}
    words = {t.lower_ for t in phrase}
    if root.lower_ in _ANONYMOUS_HEADS:
        kind = "ANONYMOUS"  # even where the model calls "Campaigners" a PERSON
    elif root.lower_ in _INSTITUTIONS:
        kind = "ORGANIZATION"  # "The statement issued by Lycos", whatever the NER calls Lycos
    elif root.lower_ in _TITLES and root.pos_ == "NOUN":
        kind = "PERSON"  # a role holder, one person: "the committee's chair"
    elif people and not all(_names_a_company(e) for e in people):
        kind = "PERSON"
    elif labels & _ORG_LABELS or "PERSON" in labels or words & _INSTITUTIONS or root.ent_type_ in _ORG_LABELS:
        kind = "ORGANIZATION"  # a "PERSON" after "the" is a name of a thing: "The Daily Record"
    elif root.pos_ == "PROPN" and root.tag_ != "NNPS":
        # An unrecognized name. People take no article: "The Daily Record" is a thing.
        kind = "ORGANIZATION" if phrase[0].lower_ == "the" else "PERSON"
    else:
        kind = "ANONYMOUS"  # an unnamed speaker: "shop owners", "its owner"
    return Attribution(text, kind, cue)


def _entities(phrase: Span) -> list[Span]:
    """The named entities inside ``phrase``, from its tokens.

    ``Span.ents`` would rebuild every entity of the doc, on every call.
    """
    found, start, label = [], None, ""
    for token in [*phrase, None]:
        if start is not None and (token is None or token.ent_iob_ != "I"):
            found.append(Span(phrase.doc, start, token.i if token is not None else phrase.end, label=label))
            start = None
        if token is not None and token.ent_iob_ == "B":
            start, label = token.i, token.ent_type_
    return found


def _names_a_thing(entity: Span) -> bool:
    """A "PERSON" the model found that is an institution: "the Daily Record", "the regulator Ofgem"."""
    first = entity[0]
    before = first.nbor(-1).lower_ if first.i > 0 else ""
    return first.lower_ == "the" or before == "the" or before in _INSTITUTIONS


def _appositive_name(head: Token) -> tuple[str, str] | None:
    """The name set off by commas after the subject's noun, and what it names."""
    if head.pos_ == "PROPN" or head.ent_type_:
        return None  # already a name: "said Stefan Voigt, ..., the German Aerospace Centre"
    for child in head.children:
        if child.dep_ != "appos" or child.pos_ != "PROPN" or child.i < head.i:
            continue
        if head.doc[child.left_edge.i - 1].text != ",":
            if head.lower_ in _TITLES | _ANONYMOUS_HEADS and child.ent_type_ == "PERSON":
                entity = next((e for e in _entities(head.doc[child.left_edge.i : child.i + 1])), None)
                if entity is not None and len(entity) > 1:  # "Clinton's spokesman Brian Fallon"
                    return _without_title(entity), "PERSON"
            continue  # "the regulator Ofgem": the name is part of the phrase
        entity = next((e for e in head.doc.ents if e.start <= child.i < e.end), None)
        if entity is None:
            return None
        if head.lower_ in _TITLES or head.lower_ in _ANONYMOUS_HEADS:
            return _without_title(entity), "PERSON"  # "The director of the film, Vinod Pande,"
        # A person is introduced by full name; a lone word is a brand: "The plant's owner, Kemtek,"
        if entity.label_ == "PERSON" and len(entity) > 1 and not _names_a_company(entity):
            if head.lower_ not in _INSTITUTIONS:
                return _without_title(entity), "PERSON"
        return entity.text, "ORGANIZATION"
    return None


def _names_a_company(entity: Span) -> bool:
    return entity[-1].lower_.strip(".") in _COMPANY_WORDS


def _last_person_before(doc: Doc, token_index: int, after: int = 0) -> str | None:
    """The last person named in ``doc[after:token_index]``, without a title."""
    found = [doc[i:j] for i, j, _ in _people(doc) if after <= i < token_index]
    return _without_title(found[-1]) if found else None


def _person_mentions(doc: Doc, token_index: int) -> list[Span]:
    """The people named before ``token_index``, outside quotations, in text order."""
    return [doc[i:j] for i, j, quoted in _people(doc) if i < token_index and not quoted]


def _people(doc: Doc) -> list[tuple[int, int, bool]]:
    """(start, end, inside a quotation) of every person named in ``doc``: found once per article.

    "Ms Mills" is a person whatever the NER calls it.
    """
    found = doc.user_data.get(_PEOPLE)
    if found is None:
        found = [
            (ent.start, ent.end, _inside_quotation(ent[0]))
            for ent in doc.ents
            if (ent.label_ == "PERSON" and not _names_a_thing(ent))
            or ent[0].lower_.rstrip(".") in _HONORIFICS
        ]
        doc.user_data[_PEOPLE] = found
    return found


def _last_unnamed_person_before(doc: Doc, token_index: int) -> Span | None:
    """The last singular unnamed person who is a subject before ``token_index``.

    "A spokeswoman for the Ministry of Defence declined to give details." ->
    "A spokeswoman for the Ministry of Defence"
    """
    found = doc.user_data.get(_UNNAMED)
    if found is None:
        words = Words.of(doc)
        nsubj, noun = words.id("nsubj"), words.id("NN")
        found = [
            i
            for i, (dep, tag) in enumerate(zip(words.dep, words.tag, strict=True))
            if dep == nsubj
            and tag == noun
            and words.lower(i) in _ANONYMOUS_HEADS
            and words.lower(i) not in _COLLECTIVE_HEADS
            and not _inside_quotation(doc[i])
        ]
        doc.user_data[_UNNAMED] = found
    before = [i for i in found if i < token_index]
    return _subject_span(doc[before[-1]]) if before else None


def _inside_quotation(token: Token) -> bool:
    """Whether a quotation opened before ``token`` in its sentence is still open.

    The people a speaker talks about are not the speaker: '"A typical family is ...," he said.'
    Found for every token of the doc at once, the first time it is asked.
    """
    flags = token.doc.user_data.get(_QUOTED)
    if flags is None:
        flags = token.doc.user_data[_QUOTED] = _quotation_flags(token.doc)
    return flags[token.i]


def _opens_quotation(text: str, i: int) -> bool:
    """A quote mark opens after a space and before a word: the ' " of "'Oh, this is important,' " closes."""
    before = i == 0 or text[i - 1] in " ([\u2014\u2013-:"
    return before and i + 1 < len(text) and not text[i + 1].isspace()


def _quotation_flags(doc: Doc) -> list[bool]:
    """Per token: inside a quotation opened earlier in its sentence.

    An opening quote stands after a space ('"We', '\u201cWe', "''We"); a closing one
    after a word ('due," he said', 'here,\u201c said').
    """
    flags = [False] * len(doc)
    words = Words.of(doc)
    for sentence in doc.sents:
        # the New York Times' ''quote marks''; after an inner one, ",''' said" closes both
        text = words.text(sentence).replace("'''", "' \"").replace("''", ' "')
        marks = [(m.start(), _opens_quotation(text, m.start())) for m in _QUOTE_MARKS.finditer(text)]
        if not marks:
            continue
        inside, start, next_mark = False, sentence.start_char, 0
        for i in range(sentence.start, sentence.end):
            while next_mark < len(marks) and marks[next_mark][0] < words.idx[i] - start:
                inside = marks[next_mark][1]
                next_mark += 1
            flags[i] = inside
    return flags


def _without_title(entity: Span) -> str:
    """ "Councillor Mark Evans" -> "Mark Evans": what "he" or an appositive stands for."""
    tokens = list(entity)
    while len(tokens) > 2 and tokens[0].lower_.rstrip(".") in _TITLES:
        tokens = tokens[1:]
    return entity.doc[tokens[0].i : tokens[-1].i + 1].text
