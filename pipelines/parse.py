"""Parse stage: one message's bytes -> an :class:`Article` (title, text, paragraphs).

The format (docs/format.md says it in full):

    Exclusive: U.S. Prepares to Finalize Iraq Exit        <- headline (optional)
                                                          <- blank line
    Exclusive: U.S. Prepares to Finalize Iraq Exit        <- repeated headline (dropped)

    A senior US official confirmed to the channel ...     <- paragraph 0
                                                          <- blank line
    This decision, announced in September 2024, ...       <- paragraph 1

Paragraphs are separated by blank lines. Inside a paragraph every line break is
kept, except where a naive splitter broke a sentence after an abbreviation
("... from the U.S." / "Central Command reveals ..."): such lines are joined with a
space, so that sentence segmentation sees one sentence. Sentences themselves come
from the NLP stage; this stage only decides what the text *is*.

A message may also be a JSON envelope (:mod:`pipelines.envelopes`): its ``body``
is then the text above, its title and metadata come from the envelope.

Rejections raise :class:`ParseError`, whose ``error_type`` is stable and goes into
the dead letter: ``too_large``, ``empty``, ``binary``, ``bad_json``, ``no_text``.
:class:`ParseArticles` is the stage: messages in, articles and dead letters out.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator

import apache_beam as beam

from pipelines import runstate
from pipelines.envelopes import EnvelopeError, InputFormat, is_envelope, read_envelope
from pipelines.records import Article, DeadLetter, Envelope, ErrorType, Message

DEFAULT_MAX_BYTES = 2 * 1024 * 1024

#: Decoding: UTF-8 first (a BOM is dropped); bytes that are not UTF-8 are read as
#: Windows-1252, the usual encoding of "Latin-1" news text (it is a superset of
#: ISO-8859-1's printable range and also maps curly quotes and dashes).
FALLBACK_ENCODING = "cp1252"

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_FILE_ID = re.compile(r"^\d+_([0-9a-fA-F]{8,})(?:\.txt)?$")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")
# Words that end with a period without ending a sentence. A line that ends with
# one of them continues on the next line when that line starts with a capital.
_ABBREVIATIONS = frozenset(
    """u.s. u.k. u.n. e.u. u.s.a. mr. mrs. ms. dr. prof. st. gen. col. lt. sgt. capt.
    sen. rep. gov. pres. jr. sr. inc. corp. co. ltd. no. vs. jan. feb. mar. apr. aug.
    sept. sep. oct. nov. dec. a.m. p.m. d.c. ft. mt.""".split()
)


_CLOSING_QUOTES = "\"'\u201d\u2019)]"
_HEADLINE_MAX_WORDS = 30
_QUESTION_HEADLINE_MAX_WORDS = 15


class ParseError(ValueError):
    """The message is not an article. ``error_type`` names why, for dead letters."""

    def __init__(self, error_type: ErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def parse_article(
    message: Message, max_bytes: int = DEFAULT_MAX_BYTES, input_format: InputFormat = "auto"
) -> Article:
    """Parse one message, plain text or (``input_format``) a JSON envelope, or raise :class:`ParseError`.

    >>> parse_article(Message(b"Headline\\n\\nFirst paragraph.\\n\\nSecond.")).title
    'Headline'
    >>> parse_article(Message(b'{"body": "First.", "outlet": "Daily"}')).envelope.outlet
    'Daily'
    """
    payload = message.payload
    if len(payload) > max_bytes:
        raise ParseError("too_large", f"message is {len(payload):,} bytes, over the limit of {max_bytes:,}")
    if not payload.strip():
        raise ParseError("empty", "message is empty or only white space")
    if _looks_binary(payload):
        raise ParseError("binary", "message is not text: it holds NUL or mostly control bytes")
    raw, encoding = decode(payload)
    identifier, title, envelope = None, None, None
    if is_envelope(payload, input_format):
        try:
            document = read_envelope(raw)
        except EnvelopeError as e:
            raise ParseError(e.error_type, str(e)) from None
        identifier, raw, envelope = document.article_id, document.text, document.envelope
        title = " ".join((document.title or "").split()) or None
    blocks = _blocks(normalize(raw))
    if not blocks:
        raise ParseError("no_text", "message has no text after normalization")

    if envelope is None and len(blocks) > 1 and _is_headline(blocks[0]):  # an envelope says its title
        title = blocks.pop(0)
        if blocks and blocks[0] == title:  # the feed repeats the headline once
            blocks.pop(0)
    if not any(any(c.isalnum() for c in b) for b in blocks):
        raise ParseError("no_text", "message has no words outside its headline")

    paragraphs = []
    position = 0
    for block in blocks:
        paragraphs.append((position, position + len(block)))
        position += len(block) + 2
    text = "\n\n".join(blocks)
    return Article(
        article_id=identifier or article_id(message, text),
        title=title,
        text=text,
        paragraphs=tuple(paragraphs),
        encoding=encoding,
        message=message,
        envelope=envelope or Envelope(),
    )


def decode(payload: bytes) -> tuple[str, str]:
    """Bytes -> (text, encoding name), never failing: UTF-8, else the fallback."""
    try:
        return payload.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return payload.decode(FALLBACK_ENCODING, errors="replace"), FALLBACK_ENCODING


def normalize(raw: str) -> str:
    """Line ends to ``\\n``, form feeds to paragraph breaks, white space runs to one space.

    Zero-width characters and soft hyphens are removed; curly quotes, dashes and
    every other character are kept as they are.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = text.replace("\v", "\n").translate(_ZERO_WIDTH)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines).strip("\n")


def _blocks(text: str) -> list[str]:
    """Blank-line separated blocks, each with broken sentences re-joined."""
    return [_join_broken_lines(b) for b in _BLANK_LINES.split(text) if b.strip()]


def _join_broken_lines(block: str) -> str:
    lines = block.split("\n")
    joined = [lines[0]]
    for line in lines[1:]:
        if _continues(joined[-1], line):
            joined[-1] += " " + line
        else:
            joined.append(line)
    return "\n".join(joined)


def _continues(previous: str, line: str) -> bool:
    """True when ``line`` goes on with the sentence that ``previous`` left open."""
    last_word = previous.rsplit(" ", 1)[-1].lower()
    if last_word in _ABBREVIATIONS:
        return True
    # A line cut without any closing punctuation, followed by a lower-case word.
    return not _SENTENCE_END.search(previous) and line[:1].islower()


def _is_headline(block: str) -> bool:
    """A headline is one short line that does not end like a statement.

    "Qantas sees profits fly to record" and "What now for British tennis?" are
    headlines; "The minister said taxes would rise." is a sentence, even as a first
    line. A trailing ellipsis ("'My memories of Marley...'") is still a headline.
    """
    if "\n" in block:
        return False
    words = len(block.split())
    core = block.rstrip(_CLOSING_QUOTES)
    if core.endswith(("...", "\u2026")):
        return words <= _HEADLINE_MAX_WORDS
    if core.endswith(("?", "!")):
        return words <= _QUESTION_HEADLINE_MAX_WORDS
    return words <= _HEADLINE_MAX_WORDS and not core.endswith((".", ";", ":", ","))


def _looks_binary(payload: bytes) -> bool:
    if b"\x00" in payload:
        return True
    sample = payload[:4096]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(sample) * 0.1


def article_id(message: Message, text: str) -> str:
    """Stable id: ``96e8961fbe36ce22`` from ``000_96e8961fbe36ce22.txt``, else a text hash."""
    name = message.name
    if name:
        match = _FILE_ID.match(name)
        if match:
            return match.group(1).lower()
    canonical = unicodedata.normalize("NFC", " ".join(text.split()))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class ParseArticles(beam.PTransform):
    """Messages -> articles, and dead letters for the messages that are not articles."""

    def __init__(self, max_bytes: int, run_id: str, input_format: InputFormat = "auto") -> None:
        super().__init__()
        self._fn = ParseArticlesFn(max_bytes, run_id, input_format)

    def expand(self, messages):
        return messages | beam.ParDo(self._fn)


class ParseArticlesFn(beam.DoFn):
    """Messages in; an :class:`Article`, or a :class:`DeadLetter`, out."""

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, run_id: str = "default", input_format: InputFormat = "auto"
    ) -> None:
        self._max_bytes = max_bytes
        self._run_id = run_id
        self._input_format = input_format

    def setup(self) -> None:
        self._state = runstate.of(self._run_id)

    def process(self, message: Message) -> Iterator[Article | DeadLetter]:
        try:
            yield parse_article(message, self._max_bytes, self._input_format)
        except ParseError as e:
            yield self._rejected(message, e.error_type, str(e))
        except Exception as e:  # noqa: BLE001 - a parser bug must not stop the stream
            yield self._rejected(message, "parser_error", f"{type(e).__name__}: {e}")

    def _rejected(self, message: Message, error_type: ErrorType, error: str) -> DeadLetter:
        self._state.counters.count(dead_letters=1)
        return DeadLetter.of(message, "parse", error_type, error)
