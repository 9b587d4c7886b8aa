"""Schema evolution: the released schemas (tests/fixtures/schemas/v1, v2) stay compatible.

Files written by the current code must be readable with every released schema,
and records written with one readable with the current ones: fields added since
are nullable or have defaults. When a schema changes, add the new version's
fixture folder beside the others and add it to VERSIONS; never edit a released one.
v2 added the JSON envelope's fields (url, published_at_ms, outlet, language,
authors, metadata) and the Kafka headers (source.headers); v3 the claims' attributions;
v4 the story fields (story, dropped_claims, changes, claims[].link); v5 claims[].check_worthy.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest
from fastavro.schema import load_schema_ordered

from pipelines import nlp
from pipelines.formats import parsed_schema
from pipelines.parse import parse_article
from pipelines.records import ARTICLE, DEAD_LETTER, DeadLetter, Message, from_avro, to_avro
from tests.conftest import REPEATED_HEADLINE

SCHEMAS = Path(__file__).parent / "fixtures" / "schemas"
VERSIONS = ["v1", "v2", "v3", "v4", "v5"]
FILES = {ARTICLE: "enriched_article.avsc", DEAD_LETTER: "dead_letter.avsc"}


def old_schema(version: str, kind: str) -> dict:
    folder = SCHEMAS / version
    return load_schema_ordered([str(folder / "source.avsc"), str(folder / FILES[kind])])


def v1_schema(kind: str) -> dict:
    return old_schema("v1", kind)


@pytest.fixture(scope="module")
def current_records(spacy_nlp) -> dict[str, list[dict]]:
    """An article from a JSON envelope with Kafka headers (every field filled), and a dead letter."""
    envelope = json.dumps({
        "id": "env-1", "title": "Rates rise", "body": REPEATED_HEADLINE.read_text(encoding="utf-8"),
        "url": "https://news.example/rates", "published_at": "2026-03-01T08:00:00Z",
        "outlet": "Example News", "language": "en", "authors": ["A. Writer"], "desk": "economy",
    })  # fmt: skip
    message = Message(
        envelope.encode(), topic="news", partition=0, offset=7, headers=(("trace", b"\x01\x02"),)
    )
    article = parse_article(message)
    enriched = nlp.annotate(article, spacy_nlp(article.text), nlp.model_name(spacy_nlp))
    letter = DeadLetter.of(Message(b"\x00", key="bad.bin"), "parse", "binary", "not text")
    return {ARTICLE: [to_avro(enriched)], DEAD_LETTER: [to_avro(letter)]}


def fields_of(schema: dict) -> set[str]:
    return {f["name"] for f in schema["fields"]}


def as_of(version: str, kind: str, record: dict) -> dict:
    """``record`` with only the fields ``version``'s schemas had, its source's and claims' too."""
    schema = old_schema(version, kind)
    nested = {f["name"]: f["type"] for f in schema["fields"]}
    source_fields = fields_of(old_schema(version, ARTICLE)["fields"][1]["type"])
    old = {k: v for k, v in record.items() if k in nested}
    old["source"] = {k: v for k, v in record["source"].items() if k in source_fields}
    if "claims" in old:
        claim_fields = fields_of(nested["claims"]["items"])
        old["claims"] = [{k: v for k, v in c.items() if k in claim_fields} for c in record["claims"]]
    return old


def round_trip(records_: list[dict], writer_schema: dict, reader_schema: dict) -> list[dict]:
    buffer = io.BytesIO()
    fastavro.writer(buffer, writer_schema, records_)
    buffer.seek(0)
    return list(fastavro.reader(buffer, reader_schema=reader_schema))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", [ARTICLE, DEAD_LETTER])
def test_current_files_read_with_a_released_schema(kind, version, current_records):
    schema = old_schema(version, kind)
    written = current_records[kind][0]
    read = round_trip([written], parsed_schema(kind), schema)[0]
    assert set(read) == fields_of(schema)
    assert read["source"] == as_of(version, kind, written)["source"]
    if kind == ARTICLE:
        assert read["claims"] == as_of(version, kind, written)["claims"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", [ARTICLE, DEAD_LETTER])
def test_released_files_read_with_the_current_schema(kind, version, current_records):
    schema = old_schema(version, kind)
    written = current_records[kind][0]
    old = as_of(version, kind, written)
    read = round_trip([old], schema, parsed_schema(kind))[0]
    assert {k: v for k, v in read["source"].items() if k in old["source"]} == old["source"]
    if kind == ARTICLE:
        assert read["article_id"] == old["article_id"]
        # Claims read back as written, with defaults for the fields added since.
        kept = [{k: v for k, v in c.items() if k in old["claims"][0]} for c in read["claims"]]
        assert kept == old["claims"]
        if "attributions" not in old["claims"][0]:
            assert all(c["attributions"] == [] for c in read["claims"])
        assert from_avro(kind, read).claims[0].speaker == written["claims"][0]["speaker"]
    else:
        assert (read["payload"], read["error_type"]) == (old["payload"], old["error_type"])


def test_v1_articles_read_now_have_the_envelope_defaults(current_records):
    written = current_records[ARTICLE][0]
    assert written["outlet"] == "Example News" and written["source"]["headers"] == {"trace": b"\x01\x02"}
    old = as_of("v1", ARTICLE, written)
    read = round_trip([old], v1_schema(ARTICLE), parsed_schema(ARTICLE))[0]
    assert (read["url"], read["published_at_ms"], read["outlet"], read["language"]) == (None,) * 4
    assert (read["authors"], read["metadata"], read["source"]["headers"]) == ([], {}, {})


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


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", [ARTICLE, DEAD_LETTER])
def test_every_field_added_since_a_release_has_a_default(kind, version):
    assert _added_fields_without_default(parsed_schema(kind), old_schema(version, kind)) == []


def test_the_latest_release_is_the_current_schema():
    latest = VERSIONS[-1]
    for kind in (ARTICLE, DEAD_LETTER):
        assert old_schema(latest, kind) == parsed_schema(kind), f"add a fixture folder after {latest}"
