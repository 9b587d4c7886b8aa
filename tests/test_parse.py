"""The parse stage: layouts, normalization, ids, rejections, and its Beam composite."""

from __future__ import annotations

import datetime
import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.parse import ParseArticles, ParseError, parse_article
from pipelines.records import Article, DeadLetter, Message
from tests.conftest import HEADLINE_PARAGRAPHS, LATIN1, LINE_PER_SENTENCE, REPEATED_HEADLINE, message_from


def parse_bytes(payload: bytes, **fields):
    return parse_article(Message(payload=payload, **fields))


def test_repeated_headline_appears_once_as_title():
    article = parse_article(message_from(REPEATED_HEADLINE))
    assert article.title == "Exclusive: Port Authority Plans to Sell Northern Terminal"
    assert article.title not in article.text
    assert article.text.startswith("A senior port official confirmed")
    assert len(article.paragraphs) == 5


def test_headline_then_paragraphs():
    article = parse_article(message_from(HEADLINE_PARAGRAPHS))
    assert article.title == "Retail sales rise for third month"
    assert len(article.paragraphs) == 3
    first = article.paragraphs[0]
    assert article.text[first[0] : first[1]].startswith("UK retail sales rose by 0.8%")


def test_paragraph_offsets_slice_the_text():
    article = parse_article(message_from(REPEATED_HEADLINE))
    blocks = article.text.split("\n\n")
    assert [article.text[s:e] for s, e in article.paragraphs] == blocks


def test_line_per_sentence_has_no_headline_and_rejoins_abbreviation_breaks():
    article = parse_article(message_from(LINE_PER_SENTENCE))
    assert article.title is None
    assert "cables from the U.S. Central Command reveal" in article.text
    assert "in conjunction with the U.S. Army Corps" in article.text
    assert not article.text.endswith("\n")  # trailing blank lines dropped


def test_first_line_that_is_a_sentence_is_not_a_headline():
    article = parse_bytes(b"The minister said taxes would rise.\n\nShe gave no date.")
    assert article.title is None
    assert article.text.startswith("The minister said")


def test_article_id_from_feed_file_name_else_text_hash():
    assert parse_article(message_from(REPEATED_HEADLINE)).article_id == "c0ffee0ddba11a55"
    keyed = parse_bytes(b"Body text here.", key="007_ABCDEF0123456789.txt")
    assert keyed.article_id == "abcdef0123456789"
    a = parse_bytes(b"Same   text\r\n here.", key="a.txt")
    b = parse_bytes(b"Same text\n here.", key="b.txt")
    assert a.article_id == b.article_id and len(a.article_id) == 16


def test_line_endings_spaces_and_invisible_characters_are_normalized():
    article = parse_bytes(
        b"\xef\xbb\xbfTitle here\r\n\r\nOne\ttwo  three\xc2\xa0four\xe2\x80\x8bfive.\rNext line.\x0cNew para."
    )
    assert article.title == "Title here"
    assert article.text == "One two three fourfive.\nNext line.\n\nNew para."


def test_curly_quotes_and_dashes_are_kept():
    article = parse_bytes("Title\n\n\u201cIt is done \u2014 finally,\u201d she said.".encode())
    assert article.text == "\u201cIt is done \u2014 finally,\u201d she said."


def test_latin1_falls_back_to_cp1252_and_says_so():
    article = parse_article(message_from(LATIN1))
    assert article.encoding == "cp1252"
    assert article.title == "Café chain expands"
    assert "£4 million" in article.text


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        (b"", "empty"),
        (b"  \n\t\r\n ", "empty"),
        (b"text\x00with a NUL", "binary"),
        (bytes(range(1, 9)) * 20, "binary"),
        (b"... --- !!!", "no_text"),
    ],
)
def test_bad_input_is_rejected_with_its_own_error_type(payload, error_type):
    with pytest.raises(ParseError) as raised:
        parse_bytes(payload)
    assert raised.value.error_type == error_type


def test_too_large_is_rejected_before_decoding():
    with pytest.raises(ParseError) as raised:
        parse_article(Message(payload=b"x" * 101), max_bytes=100)
    assert raised.value.error_type == "too_large"
    assert "101" in str(raised.value)


def test_parse_articles_composite_passes_on_articles_and_dead_letters():
    messages = [
        message_from(HEADLINE_PARAGRAPHS),
        Message(b"", key="empty.txt"),
        Message(b"\x00\x01", key="bin"),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        parsed = p | beam.Create(messages) | ParseArticles(max_bytes=1000, run_id="parse-test")
        articles = parsed | "Articles" >> beam.Filter(lambda e: isinstance(e, Article))
        letters = parsed | "Letters" >> beam.Filter(lambda e: isinstance(e, DeadLetter))
        assert_that(articles | beam.Map(lambda a: a.title), equal_to(["Retail sales rise for third month"]))
        assert_that(
            letters | beam.Map(lambda o: (o.kind, o.source.key, o.stage, o.error_type)),
            equal_to(
                [("dead_letter", "empty.txt", "parse", "empty"), ("dead_letter", "bin", "parse", "binary")]
            ),
            label="dead letters",
        )


@pytest.mark.parametrize(
    "headline",
    ["What now for British tennis?", "'My memories of Marley...'", "Rivals of the \u00a3400 Apple\u2026"],
)
def test_questions_and_ellipses_can_be_headlines(headline):
    article = parse_bytes(f"{headline}\n\nThe first paragraph says something.".encode())
    assert article.title == headline.replace("\u00a0", " ")
    assert article.text == "The first paragraph says something."


def test_long_question_first_line_is_a_sentence():
    question = "Would the minister explain why the budget for the new hospital in the north rose by half?"
    article = parse_bytes(f"{question}\n\nHe did not.".encode())
    assert article.title is None


# --- JSON envelopes -------------------------------------------------------------------------


def envelope(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_an_envelope_gives_its_fields_and_keeps_unknown_keys_as_strings():
    body = REPEATED_HEADLINE.read_text(encoding="utf-8")
    payload = envelope(
        id="wire-42", title="  Port  to sell terminal ", body=body, url="https://news.example/42",
        published_at="2026-03-01T09:30:00+01:00", outlet="Example News", language="en",
        authors=["A. Writer"], section="business", tags=["ports", "sales"], rank=3,
    )  # fmt: skip
    article = parse_bytes(b"  \n" + payload)
    assert (article.article_id, article.title) == ("wire-42", "Port to sell terminal")
    # The body is parsed like plain text, but an envelope says its title: no headline guessed.
    assert article.text.startswith("Exclusive: Port Authority Plans")
    assert len(article.paragraphs) == len(parse_bytes(body.encode()).paragraphs) + 2
    assert article.envelope.url == "https://news.example/42"
    assert article.envelope.published_at_ms == int(
        datetime.datetime(2026, 3, 1, 8, 30, tzinfo=datetime.UTC).timestamp() * 1000
    )
    assert (article.envelope.outlet, article.envelope.language, article.envelope.authors) == (
        "Example News", "en", ("A. Writer",),
    )  # fmt: skip
    assert article.envelope.metadata == {"section": "business", "tags": '["ports", "sales"]', "rank": "3"}


def test_an_envelope_with_text_and_epoch_millis_and_no_id_gets_a_text_hash():
    article = parse_bytes(envelope(text="Taxes rise, the minister said.", published_at=1_772_352_000_000))
    assert article.envelope.published_at_ms == 1_772_352_000_000 and article.title is None
    assert article.article_id == parse_bytes(b"Taxes rise, the minister said.").article_id


@pytest.mark.parametrize(
    ("payload", "error_type", "says"),
    [
        (b'{"id": 1, "body": "Text." ', "bad_json", "not valid JSON"),
        (b'{"body": "Text.", "published_at": "last Tuesday"}', "bad_json", "published_at"),
        (b'{"body": "Text.", "authors": [1, 2]}', "bad_json", "authors"),
        (b'{"body": ["Text."]}', "bad_json", "'body' must be a string"),
        (b'{"id": "x", "title": "Only a title"}', "no_text", "no text"),
        (b'{"body": "   "}', "no_text", "no text"),
    ],
    ids=["truncated", "bad-date", "bad-authors", "body-not-text", "no-body", "blank-body"],
)
def test_bad_envelopes_are_rejected_with_the_reason(payload, error_type, says):
    with pytest.raises(ParseError) as raised:
        parse_bytes(payload)
    assert raised.value.error_type == error_type and says in str(raised.value)


def test_input_format_decides_what_is_json():
    payload = b'{"body": "The council said it would spend more."}'
    assert parse_article(Message(payload), input_format="text").text == payload.decode()
    assert parse_article(Message(payload), input_format="json").envelope == parse_bytes(payload).envelope
    with pytest.raises(ParseError) as raised:
        parse_article(Message(b"Headline\n\nBody."), input_format="json")
    assert raised.value.error_type == "bad_json"


def test_a_bad_envelope_becomes_a_dead_letter_with_its_payload():
    bad = Message(b'{"body": ', topic="news", partition=0, offset=3, headers=(("trace", b"t1"),))
    with TestPipeline(runner="FnApiRunner") as p:
        outputs = p | beam.Create([bad]) | ParseArticles(1_000_000, "test-envelopes", "auto")
        assert_that(
            outputs | beam.Map(lambda o: (o.error_type, o.payload, o.source.headers)),
            equal_to([("bad_json", b'{"body": ', {"trace": b"t1"})]),
        )
