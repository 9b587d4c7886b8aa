"""JSON envelopes: an article as a JSON object with its metadata, as most feeds carry it.

    {"id": "a1", "title": "Rates rise", "body": "The bank said ...", "url": "https://...",
     "published_at": "2026-03-01T08:00:00Z", "outlet": "Example News", "language": "en",
     "authors": ["A. Writer"], "section": "business"}

``body`` or ``text`` is the article; ``published_at`` is ISO 8601 (UTC unless it
says otherwise) or milliseconds since the epoch; keys not listed here are kept in
``metadata``, their values as strings (JSON for what is not a string). The parse
stage (:mod:`pipelines.parse`) turns the text into paragraphs as for plain text.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any, Literal

from pipelines.records import Envelope

InputFormat = Literal["auto", "text", "json"]
INPUT_FORMATS = ("auto", "text", "json")

_KNOWN = frozenset({"id", "title", "body", "text", "url", "published_at", "outlet", "language", "authors"})


class EnvelopeError(ValueError):
    """The payload is not a usable envelope; ``error_type`` is ``bad_json`` or ``no_text``."""

    def __init__(self, error_type: Literal["bad_json", "no_text"], message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclasses.dataclass(frozen=True)
class Document:
    """One decoded envelope: the article's own id, title and text, and its :class:`Envelope`."""

    article_id: str | None
    title: str | None
    text: str
    envelope: Envelope


def is_envelope(payload: bytes, input_format: InputFormat) -> bool:
    """Whether to read ``payload`` as JSON: always, never, or (auto) when it starts with ``{``.

    >>> is_envelope(b'  {"body": "x"}', "auto"), is_envelope(b"Headline", "auto")
    (True, False)
    """
    if input_format != "auto":
        return input_format == "json"
    return payload.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] == b"{"


def read_envelope(text: str) -> Document:
    """The :class:`Document` in an envelope's JSON text, or :class:`EnvelopeError`.

    >>> doc = read_envelope('{"id": 7, "body": "Text.", "published_at": 0, "tier": 2}')
    >>> doc.article_id, doc.text, doc.envelope.published_at_ms, doc.envelope.metadata
    ('7', 'Text.', 0, {'tier': '2'})
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise EnvelopeError("bad_json", f"not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise EnvelopeError("bad_json", f"a JSON envelope must be an object, not {type(value).__name__}")
    body = value.get("body", value.get("text"))
    if body is None or (isinstance(body, str) and not body.strip()):
        raise EnvelopeError("no_text", "the JSON envelope has no text: neither 'body' nor 'text' holds any")
    envelope = Envelope(
        url=_string(value, "url"),
        published_at_ms=published_at_ms(value.get("published_at")),
        outlet=_string(value, "outlet"),
        language=_string(value, "language"),
        authors=_authors(value.get("authors")),
        metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items() if k not in _KNOWN},
    )
    identifier = value.get("id")
    if isinstance(identifier, dict | list | bool):
        raise EnvelopeError("bad_json", f"'id' must be a string or a number, not {json.dumps(identifier)}")
    return Document(
        None if identifier in (None, "") else str(identifier),
        _string(value, "title"),
        _string(value, "body" if "body" in value else "text"),
        envelope,
    )


def published_at_ms(value: Any) -> int | None:
    """ISO 8601 text (UTC when it names no zone) or epoch milliseconds -> epoch milliseconds.

    >>> published_at_ms("2026-03-01T08:00:00Z"), published_at_ms("2026-03-01T09:00:00+01:00")
    (1772352000000, 1772352000000)
    >>> published_at_ms(1772352000000)
    1772352000000
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.UTC)
            return int(moment.timestamp() * 1000)
    raise EnvelopeError("bad_json", f"'published_at' is neither ISO 8601 nor epoch milliseconds: {value!r}")


def _string(value: dict, key: str) -> str | None:
    found = value.get(key)
    if found is None or isinstance(found, str):
        return found
    raise EnvelopeError("bad_json", f"{key!r} must be a string, not {json.dumps(found)[:80]}")


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return tuple(value)
    raise EnvelopeError("bad_json", f"'authors' must be a list of strings, not {json.dumps(value)[:80]}")
