"""Avro schemas and the explicit dict <-> record functions of every output.

The schemas live in ``schemas/*.avsc`` (installed as ``pipelines/schemas``); named
types shared between records, like ``Source``, are defined once in their own file
and loaded first.
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import json
from typing import Any

from fastavro.schema import load_schema_ordered

import pipelines
from pipelines.source import Message

ARTICLE = "enriched_article"
DEAD_LETTER = "dead_letter"
_SCHEMA_FILES = {
    ARTICLE: ["source.avsc", "enriched_article.avsc"],
    DEAD_LETTER: ["source.avsc", "dead_letter.avsc"],
}

SPEAKER_TYPES = ("PERSON", "ORGANIZATION", "ANONYMOUS", "NONE")


def schema_dir():
    """The folder of the bundled ``.avsc`` files."""
    return importlib.resources.files("pipelines.schemas")


@functools.cache
def parsed_schema(name: str) -> dict:
    """The fastavro-parsed schema ``ARTICLE`` or ``DEAD_LETTER``, loaded once."""
    with importlib.resources.as_file(schema_dir()) as folder:
        return load_schema_ordered([str(folder / f) for f in _SCHEMA_FILES[name]])


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def dead_letter(
    message: Message, stage: str, error_type: str, error: str, failed_at: datetime.datetime | None = None
) -> dict:
    """A ``DeadLetter`` record: the message kept whole, with why it failed.

    >>> dead_letter(Message(b""), "parse", "empty", "message is empty")["error_type"]
    'empty'
    """
    return {
        "source": message.source_record(),
        "payload": message.payload,
        "stage": stage,
        "error_type": error_type,
        "error": error,
        "failed_at": failed_at or now_utc(),
        "pipeline_version": pipelines.__version__,
    }


def article_record(
    *,
    article_id: str,
    message: Message,
    title: str | None,
    text: str,
    encoding: str,
    sentences: list[dict],
    entities: list[dict],
    claims: list[dict],
    model: str,
    processed_at: datetime.datetime | None = None,
) -> dict:
    """An ``EnrichedArticle`` record from the parts the NLP stage computed."""
    return {
        "article_id": article_id,
        "source": message.source_record(),
        "title": title,
        "text": text,
        "encoding": encoding,
        "sentences": sentences,
        "entities": entities,
        "claims": claims,
        "processed_at": processed_at or now_utc(),
        "pipeline_version": pipelines.__version__,
        "model": model,
    }


def to_json(record: dict) -> str:
    """One record as a JSON line: bytes as text (invalid UTF-8 escaped), times as ISO 8601."""
    return json.dumps(record, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
