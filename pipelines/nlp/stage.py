"""The NLP stage: parsed articles in, ``EnrichedArticle``s out, dead letters passed on.

spaCy and the claim rules run in worker processes (:mod:`pipelines.nlp.workers`),
because the claims need the dependency parse and a ``Doc`` is costly to move
between processes: a worker returns finished annotations.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from pipelines import runstate
from pipelines.claims.scorer import KINDS
from pipelines.nlp import workers
from pipelines.nlp.annotate import Annotations, enriched
from pipelines.nlp.model import DEFAULT_MODEL, model_name_of
from pipelines.records import Article, DeadLetter

_LOG = logging.getLogger(__name__)


class ExtractEntitiesAndClaims(beam.PTransform):
    """Articles -> ``EnrichedArticle``s with sentences, entities and claims; dead letters pass on."""

    def __init__(
        self,
        model: str,
        batch_size: int,
        processes: int = 1,
        run_id: str = "default",
        min_checkworthiness: float = 0.0,
        stories: bool = False,
        checkworthiness: str = KINDS[0],
    ) -> None:
        super().__init__()
        self._fn = AnnotateArticlesFn(
            model, batch_size, processes, run_id, min_checkworthiness, stories, checkworthiness
        )

    def expand(self, articles):
        return articles | beam.ParDo(self._fn)


@dataclasses.dataclass
class _Chunk:
    """Consecutive elements of a bundle: the articles go to a worker as one task."""

    elements: list[WindowedValue]
    future: concurrent.futures.Future | None = None

    def articles(self) -> list[Article]:
        return [wv.value for wv in self.elements if isinstance(wv.value, Article)]


class AnnotateArticlesFn(beam.DoFn):
    """Annotates articles in chunks of ``batch_size`` (one ``nlp.pipe`` call each).

    Chunks go to ``processes`` worker processes as they fill, so reading and parsing
    go on while the workers annotate; every chunk is back before the bundle ends.
    Elements leave in the order they came, dead letters included, so that the
    writer sees each partition's offsets in order. Each keeps its timestamp and
    window. An article spaCy or the claim rules fail on becomes a dead letter; the
    rest of its chunk is unaffected. Claims without a speaker scoring below
    ``min_checkworthiness`` are dropped (``--min-checkworthiness``).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        batch_size: int = 8,
        processes: int = 1,
        run_id: str = "default",
        min_checkworthiness: float = 0.0,
        stories: bool = False,
        checkworthiness: str = KINDS[0],
    ) -> None:
        self._model = model
        self._checkworthiness = checkworthiness
        self._batch_size = batch_size
        self._processes = processes
        self._run_id = run_id
        # What a worker does with a chunk: annotate it, keep the claims asked for, and make
        # what the story stage needs when it runs.
        self._annotate = functools.partial(
            workers.annotate_chunk, stories=stories, min_checkworthiness=min_checkworthiness
        )

    def setup(self) -> None:
        self._model_name = model_name_of(self._model)
        self._state = runstate.of(self._run_id)
        self._pool = None
        if self._processes > 1:
            # The workers load their models while reading starts (run() may have started
            # them already); the first chunk waits for them if it has to.
            self._pool, loaded = workers.take_pool(self._model, self._processes, self._checkworthiness)
            _when_all_done(loaded, self._loaded)
        else:
            workers.init_worker(self._model, checkworthiness=self._checkworthiness)
            self._loaded()

    def _loaded(self) -> None:
        self._state.health.model_loaded = True

    def start_bundle(self) -> None:
        self._filling = _Chunk([])
        self._in_flight: collections.deque[_Chunk] = collections.deque()

    def process(
        self, element: Article | DeadLetter, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam
    ) -> Iterator[WindowedValue | DeadLetter]:
        if isinstance(element, DeadLetter) and not self._filling.elements and not self._in_flight:
            yield element  # nothing ahead of it
            return
        self._filling.elements.append(WindowedValue(element, timestamp, [window]))
        if len(self._filling.articles()) >= self._batch_size:
            yield from self._submit()
        # Keep a few chunks in flight per worker; wait for the oldest beyond that.
        while len(self._in_flight) > 2 * max(1, self._processes):
            yield from self._collect(self._in_flight.popleft())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        # The bundle waits for what is left: share it among the workers.
        yield from self._submit(pieces=self._processes)
        while self._in_flight:
            yield from self._collect(self._in_flight.popleft())

    def _submit(self, pieces: int = 1) -> Iterator[WindowedValue]:
        chunk, self._filling = self._filling, _Chunk([])
        if not chunk.elements:
            return
        if self._pool is None:
            yield from self._outputs(chunk, self._annotate(_task(chunk)))
            return
        for piece in _split(chunk, pieces):
            if piece.articles():
                piece.future = self._pool.submit(self._annotate, _task(piece))
            self._in_flight.append(piece)

    def _collect(self, chunk: _Chunk) -> Iterator[WindowedValue]:
        try:
            results = chunk.future.result() if chunk.future else []
        except concurrent.futures.process.BrokenProcessPool:
            results = self._after_a_crash(chunk)
        yield from self._outputs(chunk, results)

    def _after_a_crash(self, chunk: _Chunk) -> list[Annotations | str]:
        """A worker died (out of memory, a crash in native code): isolate the article at fault."""
        _LOG.error("an NLP worker process died; retrying its %d articles one by one", len(chunk.articles()))
        self._replace_pool()
        results: list[Annotations | str] = []
        for article in chunk.articles():
            try:
                results += self._pool.submit(self._annotate, [_item(article)]).result()
            except concurrent.futures.process.BrokenProcessPool:
                results.append("the NLP worker process died on this article")
                self._replace_pool()  # a pool is only replaced when it broke
        for pending in self._in_flight:  # the broken pool's other tasks died with it
            if pending.future is not None:
                pending.future = self._pool.submit(self._annotate, _task(pending))
        return results

    def _replace_pool(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool, _ = workers.new_pool(self._model, self._processes)

    def _outputs(self, chunk: _Chunk, results: list[Annotations | str]) -> Iterator[WindowedValue]:
        annotated = iter(results)
        for wv in chunk.elements:
            if isinstance(wv.value, DeadLetter):
                yield wv
                continue
            result = next(annotated)
            if isinstance(result, str):
                self._state.counters.count(dead_letters=1)
                yield wv.with_value(DeadLetter.of(wv.value.message, "nlp", "nlp_error", result))
                continue
            self._state.counters.count(articles=1, entities=len(result.entities), claims=len(result.claims))
            yield wv.with_value(enriched(wv.value, result, self._model_name))

    def teardown(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _when_all_done(futures: list[concurrent.futures.Future], callback) -> None:
    """Call ``callback`` once every future is done (in the thread that completes the last)."""
    remaining = [len(futures)]

    def one_done(_future) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            callback()

    for future in futures:
        future.add_done_callback(one_done)


def _split(chunk: _Chunk, pieces: int) -> list[_Chunk]:
    """``chunk`` cut into up to ``pieces`` runs of consecutive elements with about as many articles."""
    size = max(1, -(-len(chunk.articles()) // max(1, pieces)))  # ceiling division
    result = [_Chunk([])]
    count = 0
    for wv in chunk.elements:
        if isinstance(wv.value, Article):
            if count == size:
                result.append(_Chunk([]))
                count = 0
            count += 1
        result[-1].elements.append(wv)
    return result


def _item(article: Article) -> tuple[str, tuple[tuple[int, int], ...], str, str | None]:
    return article.text, article.paragraphs, article.article_id, article.title


def _task(chunk: _Chunk) -> workers.Chunk:
    return [_item(article) for article in chunk.articles()]
