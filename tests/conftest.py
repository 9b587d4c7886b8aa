"""Shared fixtures: the real embedded broker, the real spaCy model, the fixture articles."""

from __future__ import annotations

import itertools
from pathlib import Path

import fastavro
import pytest

from pipelines import nlp
from pipelines.broker import EmbeddedBroker
from pipelines.records import Message

FIXTURES = Path(__file__).parent / "fixtures"
ARTICLES = FIXTURES / "articles"

#: The fixture articles, by the layout each one stands for.
REPEATED_HEADLINE = ARTICLES / "101_c0ffee0ddba11a55.txt"
LINE_PER_SENTENCE = ARTICLES / "102_5ca1ab1e0fab1e00.txt"
HEADLINE_PARAGRAPHS = ARTICLES / "103_0bada55e5eedf00d.txt"
LATIN1 = ARTICLES / "104_facade00decade00.txt"


@pytest.fixture(scope="session")
def broker():
    """One embedded Tansu broker for the whole session, on a free port."""
    with EmbeddedBroker() as running:
        yield running


_names = itertools.count()


@pytest.fixture
def topic_name(request) -> str:
    """A topic name no other test uses (the broker is shared)."""
    return f"t{next(_names)}-{request.node.name[:40].replace('[', '-').replace(']', '')}"


@pytest.fixture(scope="session")
def spacy_nlp():
    """The real spaCy model, prepared the way the pipeline prepares it."""
    return nlp.load_model()


def message_from(path: Path, **fields) -> Message:
    return Message(payload=path.read_bytes(), path=str(path), **fields)


def read_avro_folder(folder: Path) -> list[dict]:
    """Every record of every visible ``*.avro`` file under ``folder`` (fastavro)."""
    records = []
    for file in sorted(folder.glob("*.avro")):
        with file.open("rb") as f:
            records.extend(fastavro.reader(f))
    return records


def annotated_by_fn(article, **settings) -> list:
    """The ``EnrichedArticle`` an ``AnnotateArticlesFn`` with ``settings`` makes of ``article``,
    through its whole life (setup, one bundle, teardown), in this process."""
    from pipelines.nlp import AnnotateArticlesFn

    fn = AnnotateArticlesFn(nlp.DEFAULT_MODEL, batch_size=2, **settings)
    fn.setup()
    try:
        fn.start_bundle()
        outputs = list(fn.process(article, 0, None)) + list(fn.finish_bundle())
    finally:
        fn.teardown()
    return [wv.value for wv in outputs]
