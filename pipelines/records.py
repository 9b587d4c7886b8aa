"""Avro schemas and the explicit dict <-> record functions of every output.

The schemas live in ``schemas/*.avsc`` (installed as ``pipelines/schemas``); named
types shared between records, like ``Source``, are defined once in their own file
and loaded first.
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import io
import json
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

import fastavro
from fastavro.schema import load_schema_ordered

import pipelines
from pipelines.source import Message

ARTICLE = "enriched_article"
DEAD_LETTER = "dead_letter"
_SCHEMA_FILES = {
    ARTICLE: ["source.avsc", "enriched_article.avsc"],
    DEAD_LETTER: ["source.avsc", "dead_letter.avsc"],
}


class Output(NamedTuple):
    """A finished record on its way to the sinks: ``kind`` is ARTICLE or DEAD_LETTER.

    Dead letters travel in the same stream as articles (each stage passes them on
    untouched), so that one writer sees all the outcomes of a partition's offsets in
    a bundle and can write them in a recoverable order.
    """

    kind: str
    record: dict

    @property
    def source(self) -> dict:
        return self.record["source"]


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


# --- Confluent wire format ----------------------------------------------------------

#: Schema ids used when no schema registry is given: one per bundled schema version.
#: Consumers without a registry can map these ids to schemas/*.avsc of this release.
FIXED_SCHEMA_IDS = {ARTICLE: 100_001, DEAD_LETTER: 100_002}


class RegistryError(RuntimeError):
    """The schema registry refused or could not be reached; the message names its URL."""


def schema_id(kind: str, topic: str, registry_url: str | None) -> int:
    """The id to frame ``kind`` records with: registered under ``<topic>-value``, or fixed."""
    if not registry_url:
        return FIXED_SCHEMA_IDS[kind]
    subject = f"{topic}-value"
    url = f"{registry_url.rstrip('/')}/subjects/{urllib.parse.quote(subject, safe='')}/versions"
    body = json.dumps({"schema": json.dumps(parsed_schema(kind))}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/vnd.schemaregistry.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(json.load(response)["id"])
    except (OSError, ValueError, KeyError) as e:
        raise RegistryError(
            f"could not register the {kind} schema as {subject!r} at {registry_url} "
            f"(--schema-registry-url): {e}"
        ) from None


def confluent_encode(kind: str, schema_id_: int, record: dict) -> bytes:
    """Magic byte 0, the schema id (4 bytes, big-endian), then the Avro binary body."""
    body = io.BytesIO()
    body.write(b"\x00" + schema_id_.to_bytes(4, "big"))
    fastavro.schemaless_writer(body, parsed_schema(kind), record)
    return body.getvalue()


def confluent_decode(kind: str, value: bytes) -> tuple[int, dict]:
    """(schema id, record) of a Confluent-framed value written with ``kind``'s schema."""
    if len(value) < 5 or value[0] != 0:
        raise ValueError("not in the Confluent wire format (magic byte 0 missing)")
    return int.from_bytes(value[1:5], "big"), fastavro.schemaless_reader(
        io.BytesIO(value[5:]), parsed_schema(kind)
    )
