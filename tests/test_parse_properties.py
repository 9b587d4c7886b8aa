"""Property tests: whatever bytes or text arrive, the parser returns an article or its own error.

And every offset it or the NLP stage reports slices ``text`` to exactly what it claims.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import evaluation, nlp
from pipelines.parse import ParseError, parse_article
from pipelines.records import Message

# Text that looks like articles often enough to reach the NLP stage: words, line
# breaks, punctuation, quotes, dashes and odd white space, mixed with anything.
ARTICLE_ALPHABET = st.sampled_from(
    list("abcdefghij ABCDE .,!?;:'\"\n\n\r\t")
    + ["U.S.", "Mr.", "\u201c", "\u201d", "\u2014", "\u00a0", "\u200b", "\f"]
)
article_like = st.lists(ARTICLE_ALPHABET, max_size=300).map("".join)
any_text = st.one_of(article_like, st.text(max_size=300))

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def check_article(payload: bytes, spacy_nlp=None) -> None:
    try:
        article = parse_article(Message(payload=payload), max_bytes=10_000)
    except ParseError as e:
        assert e.error_type in {"too_large", "empty", "binary", "bad_json", "no_text"}
        return
    assert article.text and article.text == article.text.strip()
    assert article.encoding in {"utf-8", "cp1252"}
    for start, end in article.paragraphs:
        assert article.text[start:end].strip()
    if spacy_nlp is not None:
        sentences = nlp.sentences_of(spacy_nlp(article.text), article.paragraphs)
        for sentence in sentences:
            assert article.text[sentence.start : sentence.end] == sentence.text
            assert sentence.start < sentence.end
        assert [s.index for s in sentences] == list(range(len(sentences)))


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes(payload):
    check_article(payload)


@SETTINGS
@given(any_text, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
def test_arbitrary_text_through_the_nlp_stage(spacy_nlp, text, encoding):
    check_article(text.encode(encoding, errors="replace"), spacy_nlp)


def test_sentence_segmentation_on_the_gold_set(spacy_nlp):
    """64 hand-checked sentences over every layout (tests/fixtures/sentences)."""
    scores = evaluation.sentence_scores(Path(__file__).parent / "fixtures" / "sentences", spacy_nlp)
    assert scores.gold >= 60
    assert scores.f1 >= 0.95, "\n".join(scores.errors)
