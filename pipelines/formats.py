"""The output formats: Avro schemas, the Confluent wire format, JSON lines.

The schemas live in ``schemas/*.avsc`` (installed as ``pipelines/schemas``); named
types shared between records, like ``Source``, are defined once in their own file
and loaded first. Records become Avro dicts in :func:`pipelines.records.to_avro`.
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import io
import json
from typing import Any

import fastavro
from fastavro.schema import load_schema_ordered

from pipelines.records import ARTICLE, DEAD_LETTER, Kind

_SCHEMA_FILES = {
    ARTICLE: ["source.avsc", "enriched_article.avsc"],
    DEAD_LETTER: ["source.avsc", "dead_letter.avsc"],
}

#: Schema ids used when no schema registry is given: one per bundled schema version.
#: Consumers without a registry can map these ids to schemas/*.avsc of this release.
FIXED_SCHEMA_IDS = {ARTICLE: 100_001, DEAD_LETTER: 100_002}


def schema_dir():
    """The folder of the bundled ``.avsc`` files."""
    return importlib.resources.files("pipelines.schemas")


@functools.cache
def parsed_schema(kind: Kind) -> dict:
    """The fastavro-parsed schema of ``ARTICLE`` or ``DEAD_LETTER`` records, loaded once."""
    with importlib.resources.as_file(schema_dir()) as folder:
        return load_schema_ordered([str(folder / f) for f in _SCHEMA_FILES[kind]])


def confluent_encode(kind: Kind, schema_id: int, record: dict) -> bytes:
    """Magic byte 0, the schema id (4 bytes, big-endian), then the Avro binary body."""
    body = io.BytesIO()
    body.write(b"\x00" + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(body, parsed_schema(kind), record)
    return body.getvalue()


def confluent_decode(kind: Kind, value: bytes) -> tuple[int, dict]:
    """(schema id, record) of a Confluent-framed value written with ``kind``'s schema."""
    if len(value) < 5 or value[0] != 0:
        raise ValueError("not in the Confluent wire format (magic byte 0 missing)")
    return int.from_bytes(value[1:5], "big"), fastavro.schemaless_reader(
        io.BytesIO(value[5:]), parsed_schema(kind)
    )


def to_json(record: dict) -> str:
    """One record as a JSON line: bytes as text (invalid UTF-8 escaped), times as ISO 8601.

    >>> to_json({"payload": b"caf\\xc3\\xa9"})
    '{"payload": "café"}'
    """
    return json.dumps(record, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
