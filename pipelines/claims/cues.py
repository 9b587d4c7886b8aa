"""Cue words: the verbs and nouns that tie a source to what it said, thought or intends.

Two kinds of verb: *reporting* (say, tell, write, announce, ...) and *stance*
(beliefs, intentions and positions: fear, believe, plan, want, argue, deny, ...).
The lemmatizer is not run, so each verb is listed with its inflected forms,
built once at import from the base forms below (a small table, no model).

>>> kind_of("insisted"), kind_of("fears"), kind_of("table")
('reporting', 'stance', None)
"""

from __future__ import annotations

#: Verbs of saying and writing.
REPORTING = """say tell add note write announce claim state report explain confirm reveal
    reply respond answer declare insist argue warn deny accuse allege admit acknowledge
    tweet post testify recall comment remark stress emphasize emphasise assert contend
    maintain predict estimate suggest describe disclose concede complain charge
    quip joke boast vow promise pledge urge ask question repeat reiterate observe point
    conclude find show indicate signal tout praise criticize criticise slam blast attack
    dismiss reject decry lament mock label call brand characterize characterise
    acknowledge assure caution tell inform notify agree disagree announce proclaim
    cite quote concede confess mention suggest recount recommend demand propose endorse thank
    denounce condemn discuss speak express offer applaud welcome defend highlight
    challenge ridicule request plead lobby campaign push accuse vote talk refer apologize
    apologise release issue publish email echo voice rail list portray continue order
    shout yell bark snap scream exclaim muse opine bemoan hail vouch chant""".split()

#: Verbs of belief, intention and stance.
STANCE = """believe think fear worry hope expect plan want intend wish feel consider doubt
    suspect assume understand see view regard seek aim prefer favor favour support
    oppose decide choose refuse threaten try hint imply guess figure reckon suppose
    insist back love hate dislike trust distrust decline know wonder recognize recognise""".split()

#: Irregular forms, by base form.
IRREGULAR = {
    "say": "says said saying",
    "tell": "tells told telling",
    "write": "writes wrote written writing",
    "think": "thinks thought thinking",
    "understand": "understands understood understanding",
    "see": "sees saw seen seeing",
    "find": "found",  # "voters find it hard": the present is rarely a cue
    "feel": "feels felt feeling",
    "know": "knows knew knowing",  # not "as he is known"
    "seek": "seeks sought seeking",
    "choose": "chooses chose chosen choosing",
    "show": "shows showed shown showing",
    "forecast": "forecasts forecast forecasting",
    "speak": "speaks spoke spoken speaking",
    "take": "takes took taken taking",
    "give": "gives gave given giving",
    "make": "makes made making",
    "lay": "lays laid laying",
    "cast": "casts cast casting",
}

#: Nouns that carry a statement: "in a statement", "X issued a statement saying".
NOUNS = frozenset(
    """statement statements interview remarks speech comments comment tweet tweets release
    letter memo testimony email op-ed announcement""".split()
)


#: Reporting verbs that mean something else without a clause: "Trump called the meeting".
_NEED_CLAUSE = """call ask show find point signal indicate charge attack question cite quote mention
    repeat agree disagree  conclude praise slam blast dismiss reject label brand tout
    answer post inform notify recommend demand propose promise vow pledge urge endorse thank
    denounce condemn discuss speak express offer applaud welcome defend highlight challenge
    request plead lobby campaign push vote talk refer apologize apologise release issue publish email
    echo voice rail list portray continue order bemoan hail vouch""".split()
#: Beliefs and intentions an object completes: "Obama wants a deal", "Democrats fear a loss".
_OBJECT_VERBS = """want fear oppose support favor favour prefer doubt back love hate dislike
    trust distrust""".split()
#: Beliefs and intentions that take an object and "as": "Voters see him as an outsider".
_AS_VERBS = """see view regard consider describe portray""".split()
#: Light verbs that make a cue of a noun of saying: "made the case", "took aim at", "gave a speech".
_LIGHT_CUE_VERBS = "make take give lay offer raise cast deliver launch level voice".split()
#: What those verbs make a cue of.
SAYING_NOUNS = frozenset(
    """case point argument arguments comment comments remark remarks statement statements claim claims
    promise promises pledge pledges vow vows speech speeches address announcement appeal plea call
    calls demand demands threat threats warning warnings attack attacks swipe swipes shot shots aim
    issue stance position message joke jokes apology accusation accusations allegation allegations
    charge charges criticism defense defence endorsement prediction predictions suggestion proposal
    proposals request pitch reference references mention secret note notes concern concerns
    objection objections support opposition vision plan plans argument assurance assurances
    apologies excuse excuses""".split()
)
#: Adjectives of a stance: "Democrats are confident that ...", "She was critical of ...".
STANCE_ADJECTIVES = frozenset(
    """eager confident optimistic pessimistic skeptical sceptical worried concerned critical wary
    hopeful convinced certain sure aware adamant firm clear open opposed supportive determined
    reluctant unwilling willing ready keen anxious afraid fearful nervous upset angry furious
    frustrated unhappy happy pleased proud fond tired unsure uncertain doubtful divided unified
    united unanimous vocal outspoken insistent dismissive appreciative grateful thankful sympathetic
    hostile enthusiastic lukewarm ambivalent unconvinced satisfied dissatisfied disappointed
    comfortable uncomfortable interested uninterested committed""".split()
)
#: Forms of "be": "the problem is that ..." attributes nothing.
#: Light verbs: "make sure that", "let me say that" attribute nothing of their own.
LIGHT_VERBS = frozenset("make makes made making let lets have has had get gets got see sees saw help".split())
COPULAS = frozenset("be is are was were been being 's 're \u2019s \u2019re".split())


def _forms(base: str) -> list[str]:
    """The inflected forms of a regular verb: "plan" -> plans, planned, planning."""
    if base in IRREGULAR:
        return [base, *IRREGULAR[base].split()]
    if base.endswith("e"):
        return [base, base + "s", base + "d", base[:-1] + "ing"]
    if base.endswith("y") and base[-2] not in "aeiou":
        return [base, base[:-1] + "ies", base[:-1] + "ied", base + "ing"]
    if base.endswith(("s", "sh", "ch", "x", "z")):
        return [base, base + "es", base + "ed", base + "ing"]
    if len(base) <= 4 and base[-1] in "bdgmnpt" and base[-2] in "aeiou" and base[-3] not in "aeiou":
        return [base, base + "s", base + base[-1] + "ed", base + base[-1] + "ing"]  # plan, admit
    if base in ("admit", "regret", "commit", "refer", "prefer", "omit"):
        return [base, base + "s", base + base[-1] + "ed", base + base[-1] + "ing"]
    return [base, base + "s", base + "ed", base + "ing"]


def _table() -> dict[str, str]:
    table = {}
    for kind, bases in (("stance", STANCE), ("reporting", REPORTING)):
        for base in bases:
            for form in _forms(base):
                table[form] = kind  # reporting wins where a verb is in both
    return table


_KINDS = _table()
_NEEDS_CLAUSE = frozenset(f for base in _NEED_CLAUSE for f in _forms(base))
_TAKES_OBJECT = frozenset(f for base in _OBJECT_VERBS for f in _forms(base))
_TAKES_AS = frozenset(f for base in _AS_VERBS for f in _forms(base))
_LIGHT = frozenset(f for base in _LIGHT_CUE_VERBS for f in _forms(base))


def kind_of(word: str) -> str | None:
    """``"reporting"``, ``"stance"``, or None for a word that is no cue verb."""
    return _KINDS.get(word.lower())


def is_cue_verb(word: str) -> bool:
    return word.lower() in _KINDS


def needs_clause(word: str) -> bool:
    """Whether a reporting verb is a cue only with a clause: "called for", not "called the meeting"."""
    return word.lower() in _NEEDS_CLAUSE


def takes_object(word: str) -> bool:
    """Whether a belief or intention verb is a cue with a plain object: "wants a deal"."""
    return word.lower() in _TAKES_OBJECT


def takes_as(word: str) -> bool:
    """Whether a verb is a cue with an object and "as": "Voters see him as an outsider"."""
    return word.lower() in _TAKES_AS


def is_light_cue(word: str) -> bool:
    """Whether a verb is a cue with a noun of saying as its object: "made the case", "took aim"."""
    return word.lower() in _LIGHT
