"""NLP worker processes: spaCy and the claim rules, one model per process, every core busy.

spaCy runs on one core. To use every core the NLP stage keeps a pool of worker
processes, each with its models loaded once. A task is a chunk of article bodies
(text, paragraph offsets, id: never the raw payload); its result is the
annotations, or an error text per article. With one process the same functions
run in the calling process.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import multiprocessing
import os
import signal
import threading
import time
import weakref

from spacy.tokens import Doc

from pipelines import heap
from pipelines.claims import scorer
from pipelines.nlp.annotate import Annotations, extract, keep_claims
from pipelines.nlp.model import load_model
from pipelines.records import EnrichedArticle, Source

#: One task's input: (text, paragraphs, article_id, title) per article.
Chunk = list[tuple[str, tuple[tuple[int, int], ...], str, str | None]]

#: Signals a worker never acts on: Ctrl-C or SIGTERM to the process group is the parent's
#: to handle (finish the bundle, commit); a worker exits with its parent.
_PARENTS_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Articles spaCy's parser takes at once. Its arrays grow with a batch's tokens: a chunk of
#: 8 long articles (30,000 characters) took a worker ~110 MB above its level at the peak;
#: by 4, samples every 2 s stayed within ~50 MB of it (mostly 10), for ~1% more CPU (52.3-53.4
#: against 51.8-52.7 ms an article; by 2: 53.2-54.1, by 1: 57.6-58.5).
SPACY_BATCH = 4

_worker: dict = {}  # this process's models, once init_worker has run
_pools: weakref.WeakSet = weakref.WeakSet()  # every pool this process started
_started: dict[tuple[str, int, str], tuple] = {}  # see start_pool


def init_worker(model: str, parent: int | None = None, checkworthiness: str = scorer.KINDS[0]) -> None:
    """Load the spaCy model and the check-worthiness scorer (``--checkworthiness``) once in
    this process.

    A worker process exits by itself when ``parent`` goes away, even if it was
    killed and could not shut its pool down.
    """
    if parent is not None:
        for sig in _PARENTS_SIGNALS:  # blocked since the process started: see new_pool
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _PARENTS_SIGNALS)
    heap.steady_heap()  # spaCy's large batch blocks go back to the system when freed
    _worker["nlp"] = load_model(model)
    _worker["scorer"] = scorer.load_scorer(checkworthiness)
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="watch-parent").start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def annotate_chunk(
    items: Chunk, stories: bool = False, min_checkworthiness: float = 0.0
) -> list[Annotations | str]:
    """Each article's annotations, or why it failed: one bad article spoils nothing else.

    Claims without a speaker scoring below ``min_checkworthiness`` are left out. With
    ``stories``, also what the story stage needs of each article alone (its profiles:
    ``pipelines.stories.features``), made from the claims kept, here, in parallel,
    rather than on the stage's one thread.

    Inside a spaCy memory zone: the strings a chunk adds to the vocabulary are freed
    after it, so a worker's memory stays flat however many new words the feed brings.
    Nothing of a ``Doc`` leaves the zone but plain values.
    """
    with _worker["nlp"].memory_zone():
        return _annotate(items, stories, min_checkworthiness)


def _annotate(items: Chunk, stories: bool, min_checkworthiness: float) -> list[Annotations | str]:
    nlp = _worker["nlp"]
    try:
        docs: list[Doc | None] = list(nlp.pipe((text for text, *_ in items), batch_size=SPACY_BATCH))
    except Exception:  # noqa: BLE001 - find the article at fault, one by one
        docs = [None] * len(items)
    results: list[Annotations | str] = []
    for (text, paragraphs, article_id, title), doc in zip(items, docs, strict=True):
        try:
            found = extract(doc if doc is not None else nlp(text), paragraphs, article_id, _worker["scorer"])
            found = keep_claims(found, min_checkworthiness)
            if stories:
                features = _story_features(found, text, article_id, title)
                found = dataclasses.replace(found, story_features=features)
            results.append(found)
        except Exception as e:  # noqa: BLE001 - bad input must never stop the stream
            results.append(f"{type(e).__name__}: {e}")
    return results


def _story_features(found: Annotations, text: str, article_id: str, title: str | None):
    from pipelines.stories.features import story_features  # only where stories are on

    article = EnrichedArticle(
        article_id, Source(), title, text, "", found.sentences, found.entities, found.claims, ""
    )
    return story_features(article)


def new_pool(
    model: str, processes: int, checkworthiness: str = scorer.KINDS[0]
) -> tuple[concurrent.futures.ProcessPoolExecutor, list]:
    """A pool of ``processes`` workers, started now, and a future per worker that is done
    once its models are loaded.

    Spawned, not forked: the parent runs threads (Beam, kafka-python) a fork could
    deadlock on. Like any spawned pool, it needs the calling script to guard its
    top-level code with ``if __name__ == "__main__":``. The workers start with
    SIGINT and SIGTERM blocked (a signal mask is inherited), so a Ctrl-C to the
    process group while they start never reaches them; they then ignore both.
    """
    pool = concurrent.futures.ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(model, os.getpid(), checkworthiness),
    )
    _pools.add(pool)
    with _parents_signals_blocked():
        # Each submit to a pool without an idle worker starts one more worker.
        loaded = [pool.submit(annotate_chunk, []) for _ in range(processes)]
    return pool, loaded


def start_pool(model: str, processes: int, checkworthiness: str = scorer.KINDS[0]) -> None:
    """Start a pool now, for the NLP stage to take later (:func:`take_pool`): the
    workers load their models while the rest of the run starts."""
    key = (model, processes, checkworthiness)
    if key not in _started:
        _started[key] = new_pool(*key)


def take_pool(
    model: str, processes: int, checkworthiness: str = scorer.KINDS[0]
) -> tuple[concurrent.futures.ProcessPoolExecutor, list]:
    """The pool :func:`start_pool` started for these settings, else a new one."""
    key = (model, processes, checkworthiness)
    return _started.pop(key, None) or new_pool(*key)


@contextlib.contextmanager
def _parents_signals_blocked():
    """SIGINT and SIGTERM blocked in this thread (and so in the processes it starts).

    A blocked signal is not lost: another thread of this process takes it.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _PARENTS_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def shutdown_pools(at_once: bool = False) -> None:
    """Stop the NLP worker processes this process started (the end of a local run).

    ``at_once``: do not wait for workers still loading their models (a run stopped
    during start-up); they ignore SIGTERM, so they are killed.
    """
    _started.clear()
    for pool in list(_pools):
        if at_once:
            for process in list((getattr(pool, "_processes", None) or {}).values()):  # no public way
                process.kill()
        pool.shutdown(wait=not at_once, cancel_futures=True)
