"""Direct quotations: which sentences are quoted, and who speaks a quotation run.

A quotation that runs over several sentences keeps the speaker named at its start
or end.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.claims.attribution import Attribution

_QUOTES_OPEN = '"\u201c\u201e\u00ab'
_QUOTES_CLOSE = '"\u201d\u00bb'


# --- Quotations -----------------------------------------------------------------------


def quotation_flags(sentences: Sequence[dict]) -> list[bool]:
    """Whether each sentence is part of a direct quotation, tracking open quotes."""
    return [quoted for quoted, _ in _quotation_states(sentences)]


def quotation_states(sentences: Sequence[dict]) -> tuple[list[bool], list[bool]]:
    """Per sentence: part of a direct quotation (:func:`quotation_flags`), and inside one from its start.

    Inside from its start: the quotation opened before it, or by its first character, or its
    first quote mark closes one. A belief there is the quoted speaker's words
    ("“Nobody wanted this.”"); one before a scare quote is not ('Ramos believes in
    journalism that "takes sides."').

    >>> two = [{"text": 'Jo wants "change."', "paragraph": 0}, {"text": '"We won.', "paragraph": 1}]
    >>> quotation_states(two)
    ([True, True], [False, True])
    """
    states = _quotation_states(sentences)
    return [quoted for quoted, _ in states], [start for _, start in states]


def _quotation_states(sentences: Sequence[dict]) -> list[tuple[bool, bool]]:
    """(part of a quotation, inside one from its first character) for each sentence."""
    states = []
    open_quote = False
    paragraph = None
    for s in sentences:
        if s["paragraph"] != paragraph:
            paragraph, open_quote = s["paragraph"], False
        text = s["text"].replace("''", '"')  # the New York Times' ''quote marks''
        inside = open_quote
        at_start = open_quote or text[:1] in _QUOTES_OPEN or _closes_first(text)
        for i, char in enumerate(text):
            if char == '"':
                opening = _opens(text, i) if not open_quote else False
                open_quote, inside = (True, True) if opening else (False, inside)
            elif char in _QUOTES_OPEN:
                open_quote, inside = True, True
            elif char in _QUOTES_CLOSE:
                open_quote = False
        states.append((inside or _is_quote_sentence(text), at_start))
        # An unclosed quote at a sentence end carries over (and over a line break).
    return states


def _closes_first(text: str) -> bool:
    """Whether the first quote mark of ``text`` closes a quotation opened before it.

    >>> _closes_first('Voters want change."'), _closes_first('She wants "change."')
    (True, False)
    """
    for i, char in enumerate(text):
        if char == '"':
            return not _opens(text, i)
        if char in _QUOTES_OPEN or char in _QUOTES_CLOSE:
            return char in _QUOTES_CLOSE
    return False


def _opens(text: str, i: int) -> bool:
    """A straight quote opens when nothing word-like is right before it.

    '"We held prices," he said' opens at 0; 'the whole problem," the official said'
    closes (a comma before it), even at the start of a paragraph.
    """
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return (before.isspace() or before in "([\u2014\u2013-:") and not after.isspace()


def _is_quote_sentence(text: str) -> bool:
    return any(q in text for q in _QUOTES_OPEN + _QUOTES_CLOSE)


def spread_over_quotations(
    attributions: list[Attribution], quoted: Sequence[bool], sentences: Sequence[dict]
) -> None:
    """Give every sentence of a quotation run the speaker named in it.

    A run is a stretch of consecutive quoted sentences in one paragraph, or one
    whose quotation is still open when the paragraph ends: "“A.” “B,” she said." and
    "“A,” said X. “B.”" both give A and B the same speaker.
    """
    for i in range(len(sentences) - 1):
        # "Cruz continued:" gives its speaker to the quotation that follows.
        if sentences[i]["text"].rstrip().endswith(":") and attributions[i].speaker is not None:
            if attributions[i + 1].speaker is None:
                attributions[i + 1] = attributions[i]
    i = 0
    while i < len(quoted):
        if not quoted[i]:
            i += 1
            continue
        j = i
        while (
            j + 1 < len(quoted)
            and quoted[j + 1]
            and (
                sentences[j + 1]["paragraph"] == sentences[j]["paragraph"]
                or _continues_quote(sentences[j]["text"])
            )
        ):
            j += 1
        speaker = next((attributions[k] for k in range(i, j + 1) if attributions[k].speaker), None)
        if speaker is None and j + 1 < len(quoted) and _tags_the_quotation(sentences[j], sentences[j + 1]):
            speaker = attributions[j + 1] if attributions[j + 1].speaker else None
        if speaker is None and i > 0 and quoted[i - 1] and _opens_paragraph(sentences, i):
            before = attributions[i - 1]  # '"...," Trump said.' then a paragraph that goes on quoting him
            speaker = before if before.speaker and before.cue_kind == "REPORTING" else None
        if speaker is not None:
            for k in range(i, j + 1):
                if attributions[k].speaker is None:
                    attributions[k] = speaker
        i = j + 1


def _opens_paragraph(sentences: Sequence[dict], i: int) -> bool:
    """Whether sentence ``i`` opens its paragraph with a quotation mark."""
    new_paragraph = sentences[i]["paragraph"] != sentences[i - 1]["paragraph"]
    return new_paragraph and sentences[i]["text"][:1] in '"\u201c'


def _tags_the_quotation(quotation: dict, after: dict) -> bool:
    """Whether ``after`` is the speech tag of the quotation before it: '"Who are they?" Trump said.'"""
    short = len(after["text"]) < 80 or after["text"][:1].islower()
    return short and after["paragraph"] == quotation["paragraph"]


def _continues_quote(text: str) -> bool:
    """A sentence whose quotation is still open at its end."""
    depth = 0
    for char in text.replace("''", '"'):
        if char in "\u201c\u201e\u00ab":
            depth += 1
        elif char in "\u201d\u00bb":
            depth = max(0, depth - 1)
        elif char == '"':
            depth = 0 if depth else 1
    return depth > 0
