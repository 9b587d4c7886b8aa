"""From one article's spaCy ``Doc`` to its sentences, named entities and claims.

Entity and sentence offsets are character offsets into the article's ``text``,
exactly: ``text[start:end]`` is the sentence or entity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from spacy.tokens import Doc

from pipelines import claims
from pipelines.claims.scorer import Scorer
from pipelines.claims.words import Words
from pipelines.records import Article, Claim, EnrichedArticle, Entity, Sentence


@dataclasses.dataclass(frozen=True)
class Annotations:
    """What the NLP stage adds to an article."""

    sentences: tuple[Sentence, ...]
    entities: tuple[Entity, ...]
    claims: tuple[Claim, ...]
    story_features: Any = None  # pipelines.stories.features.StoryFeatures, when asked for


def sentences_of(doc: Doc, paragraphs: Sequence[tuple[int, int]]) -> list[Sentence]:
    """Sentences with white space trimmed, each with its paragraph index.

    A fragment without words (a closing quote the parser split off) ends the
    sentence before it.
    """
    text = Words.of(doc).content  # read once: ``doc.text`` joins every token each time
    result: list[Sentence] = []
    paragraph = 0
    for sent in doc.sents:
        start, end = _trimmed(text, sent.start_char, sent.end_char)
        if start == end:
            continue
        while paragraph + 1 < len(paragraphs) and start >= paragraphs[paragraph + 1][0]:
            paragraph += 1
        if result and result[-1].paragraph == paragraph and not any(c.isalnum() for c in text[start:end]):
            last = result[-1]
            result[-1] = dataclasses.replace(last, end=end, text=text[last.start : end])
            continue
        result.append(Sentence(len(result), paragraph, start, end, text[start:end]))
    return result


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` without the white space at either end.

    >>> _trimmed("  One.  ", 0, 8)
    (2, 6)
    """
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def entities_of(doc: Doc, sentences: Sequence[Sentence]) -> list[Entity]:
    """Named entities, each pointing at the sentence that holds its start."""
    starts = [s.start for s in sentences]
    text = Words.of(doc).content
    result = []
    index = 0
    for ent in doc.ents:
        while index + 1 < len(starts) and ent.start_char >= starts[index + 1]:
            index += 1
        start, end = ent.start_char, ent.end_char  # ``ent.text`` would join its tokens
        result.append(Entity(text[start:end], ent.label_, start, end, index))
    return result


def extract(
    doc: Doc,
    paragraphs: Sequence[tuple[int, int]],
    article_id: str,
    scorer: Scorer | None = None,
) -> Annotations:
    """Sentences, entities and claims of one article body's spaCy doc."""
    sentences = sentences_of(doc, paragraphs)
    sentence_dicts = [_as_dict(s) for s in sentences]
    found = claims.find_claims(doc, sentence_dicts, article_id, scorer)
    entities = tuple(entities_of(doc, sentences))
    return Annotations(tuple(sentences), entities, tuple(Claim.of(c) for c in found))


def _as_dict(sentence: Sentence) -> dict:
    """``dataclasses.asdict(sentence)`` without its deep copies: a sentence holds only ints and a str.

    >>> _as_dict(Sentence(0, 0, 0, 3, "Yes")) == dataclasses.asdict(Sentence(0, 0, 0, 3, "Yes"))
    True
    """
    s = sentence
    return {"index": s.index, "paragraph": s.paragraph, "start": s.start, "end": s.end, "text": s.text}


def keep_claims(annotations: Annotations, min_score: float) -> Annotations:
    """``annotations`` without the claims that have no speaker and score below ``min_score``.

    An attributed claim stays whatever its score: who said what is worth keeping.

    >>> claim = Claim("a:0", 0, "It rained.", 0, 10, score=0.6)
    >>> said = dataclasses.replace(claim, claim_id="a:1", score=0.1, speaker="Ann")
    >>> [c.claim_id for c in keep_claims(Annotations((), (), (claim, said)), 0.7).claims]
    ['a:1']
    """
    if min_score <= 0.0:
        return annotations
    kept = tuple(c for c in annotations.claims if c.speaker is not None or c.score >= min_score)
    return dataclasses.replace(annotations, claims=kept)


def enriched(article: Article, annotations: Annotations, model: str) -> EnrichedArticle:
    """The ``EnrichedArticle`` of one parsed article and its annotations."""
    return EnrichedArticle(
        article_id=article.article_id,
        source=article.message.source,
        title=article.title,
        text=article.text,
        encoding=article.encoding,
        sentences=annotations.sentences,
        entities=annotations.entities,
        claims=annotations.claims,
        model=model,
        lease=article.message.lease,
        story_features=annotations.story_features,
        **article.envelope.fields(),
    )


def annotate(article: Article, doc: Doc, model: str, scorer: Scorer | None = None) -> EnrichedArticle:
    """The ``EnrichedArticle`` of one parsed article and its spaCy doc (in this process)."""
    return enriched(article, extract(doc, article.paragraphs, article.article_id, scorer), model)
