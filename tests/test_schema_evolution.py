"""Schema evolution: the first released schemas (tests/fixtures/schemas/v1) stay compatible.

Files written by the current code must be readable with the v1 schemas, and
records written with v1 readable with the current ones: fields added since are
nullable or have defaults. When a schema changes, add the new version's fixture
folder beside v1 and extend these tests to it; never edit v1.
"""

from __future__ import annotations

import io
from pathlib import Path

import fastavro
import pytest
from fastavro.schema import load_schema_ordered

from pipelines import nlp
from pipelines.formats import parsed_schema
from pipelines.parse import parse_article
from pipelines.records import ARTICLE, DEAD_LETTER, DeadLetter, Message, from_avro, to_avro
from tests.conftest import REPEATED_HEADLINE, message_from

V1 = Path(__file__).parent / "fixtures" / "schemas" / "v1"
FILES = {ARTICLE: "enriched_article.avsc", DEAD_LETTER: "dead_letter.avsc"}


def v1_schema(kind: str) -> dict:
    return load_schema_ordered([str(V1 / "source.avsc"), str(V1 / FILES[kind])])


@pytest.fixture(scope="module")
def current_records(spacy_nlp) -> dict[str, list[dict]]:
    article = parse_article(message_from(REPEATED_HEADLINE, topic="news", partition=0, offset=7))
    enriched = nlp.annotate(article, spacy_nlp(article.text), nlp.model_name(spacy_nlp))
    letter = DeadLetter.of(Message(b"\x00", key="bad.bin"), "parse", "binary", "not text")
    return {ARTICLE: [to_avro(enriched)], DEAD_LETTER: [to_avro(letter)]}


def round_trip(records_: list[dict], writer_schema: dict, reader_schema: dict) -> list[dict]:
    buffer = io.BytesIO()
    fastavro.writer(buffer, writer_schema, records_)
    buffer.seek(0)
    return list(fastavro.reader(buffer, reader_schema=reader_schema))


@pytest.mark.parametrize("kind", [ARTICLE, DEAD_LETTER])
def test_current_files_read_with_the_v1_schema(kind, current_records):
    read = round_trip(current_records[kind], parsed_schema(kind), v1_schema(kind))
    assert read[0]["source"] == current_records[kind][0]["source"]
    if kind == ARTICLE:
        # A v1 reader sees every claim field but the attributions added since.
        claims = current_records[kind][0]["claims"]
        assert read[0]["claims"] == [{k: v for k, v in c.items() if k != "attributions"} for c in claims]


@pytest.mark.parametrize("kind", [ARTICLE, DEAD_LETTER])
def test_v1_files_read_with_the_current_schema(kind, current_records):
    v1_fields = {f["name"] for f in v1_schema(kind)["fields"]}
    old = [{k: v for k, v in r.items() if k in v1_fields} for r in current_records[kind]]
    read = round_trip(old, v1_schema(kind), parsed_schema(kind))
    assert read[0]["source"] == current_records[kind][0]["source"]
    if kind == ARTICLE:
        # v1 claims gain an empty list of attributions, and still become typed records.
        assert read[0]["claims"] and all(c["attributions"] == [] for c in read[0]["claims"])
        assert from_avro(kind, read[0]).claims[0].speaker == current_records[kind][0]["claims"][0]["speaker"]


def test_current_attributions_survive_a_round_trip(current_records):
    """The attributions written are read back whole, as typed records."""
    record = current_records[ARTICLE][0]
    read = round_trip([record], parsed_schema(ARTICLE), parsed_schema(ARTICLE))[0]
    assert read["claims"] == record["claims"]
    attributions = [a for c in from_avro(ARTICLE, read).claims for a in c.attributions]
    assert attributions and all(record["text"][a.cue.start : a.cue.end] == a.cue.text for a in attributions)


def _added_fields_without_default(current: dict, old: dict, path: str = "") -> list[str]:
    old_fields = {f["name"]: f for f in old.get("fields", [])}
    missing = []
    for field in current.get("fields", []):
        name = f"{path}{field['name']}"
        if field["name"] not in old_fields:
            if "default" not in field:
                missing.append(name)
        elif isinstance(field["type"], dict) and field["type"].get("type") == "record":
            missing += _added_fields_without_default(
                field["type"], old_fields[field["name"]]["type"], name + "."
            )
    return missing


@pytest.mark.parametrize("kind", [ARTICLE, DEAD_LETTER])
def test_every_field_added_since_v1_has_a_default(kind):
    assert _added_fields_without_default(parsed_schema(kind), v1_schema(kind)) == []
