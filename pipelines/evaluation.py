"""Quality measurements on hand-labeled data, shared by the scripts and the tests.

Sentence segmentation: each ``NAME.txt`` in a gold folder has a ``NAME.gold`` with
the sentences it should give, one per line. A predicted sentence counts as correct
when its text equals a gold sentence exactly (both boundaries right).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from spacy.language import Language

from pipelines import nlp
from pipelines.parse import parse_article
from pipelines.source import Message


@dataclasses.dataclass
class Scores:
    correct: int
    predicted: int
    gold: int
    errors: list[str]

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def sentence_scores(gold_folder: Path, spacy_nlp: Language) -> Scores:
    """Exact-match sentence precision, recall and F1 over every article in ``gold_folder``."""
    correct = predicted = gold_total = 0
    errors = []
    for text_file in sorted(gold_folder.glob("*.txt")):
        gold = [line for line in text_file.with_suffix(".gold").read_text("utf-8").splitlines() if line]
        article = parse_article(Message(payload=text_file.read_bytes(), path=str(text_file)))
        sentences = [s["text"] for s in nlp.sentences_of(spacy_nlp(article.text), article.paragraphs)]
        matched = Counter(sentences) & Counter(gold)
        correct += sum(matched.values())
        predicted += len(sentences)
        gold_total += len(gold)
        errors += [f"{text_file.name}: missed  {s!r}" for s in gold if s not in sentences]
        errors += [f"{text_file.name}: wrong   {s!r}" for s in sentences if s not in gold]
    return Scores(correct, predicted, gold_total, errors)
