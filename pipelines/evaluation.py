"""Quality measurements on hand-labeled data, shared by the scripts and the tests.

Sentence segmentation: each ``NAME.txt`` in a gold folder has a ``NAME.gold`` with
the sentences it should give, one per line. A predicted sentence counts as correct
when its text equals a gold sentence exactly (both boundaries right).

Speaker attribution: a JSON-lines file, one article a line, with labels
``[sentence fragment, speaker or null, speaker_type]`` for its sentences. A
predicted speaker is correct when it equals the gold one (case and a leading
"the" aside); precision is over the sentences given a speaker, recall over the
sentences that have one.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

from spacy.language import Language

from pipelines import nlp
from pipelines.claims import train
from pipelines.claims.scorer import Scorer, load_scorer
from pipelines.parse import parse_article
from pipelines.records import Message


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
        sentences = [s.text for s in nlp.sentences_of(spacy_nlp(article.text), article.paragraphs)]
        matched = Counter(sentences) & Counter(gold)
        correct += sum(matched.values())
        predicted += len(sentences)
        gold_total += len(gold)
        errors += [f"{text_file.name}: missed  {s!r}" for s in gold if s not in sentences]
        errors += [f"{text_file.name}: wrong   {s!r}" for s in sentences if s not in gold]
    return Scores(correct, predicted, gold_total, errors)


def _same_speaker(predicted: str | None, gold: str | None) -> bool:
    def norm(s: str) -> str:
        s = s.strip().lower()
        return s[4:] if s.startswith("the ") else s

    return predicted is not None and gold is not None and norm(predicted) == norm(gold)


def attribution_scores(gold_file: Path, spacy_nlp: Language, with_type: bool = True) -> Scores:
    """Speaker precision and recall over the labeled sentences of ``gold_file``.

    ``with_type``: a speaker counts as right only with the right ``speaker_type`` too.
    """
    correct = predicted = gold_total = 0
    errors = []
    for line in gold_file.read_text("utf-8").splitlines():
        item = json.loads(line)
        article = parse_article(Message(payload=item["article"].encode()))
        record = nlp.annotate(article, spacy_nlp(article.text), "evaluation")
        for fragment, speaker, speaker_type in item["labels"]:
            claim = next((c for c in record.claims if fragment in c.text), None)
            got = claim.speaker if claim else None
            got_type = claim.speaker_type if claim else "NONE"
            predicted += got is not None
            gold_total += speaker is not None
            right = _same_speaker(got, speaker) and (got_type == speaker_type or not with_type)
            correct += right
            if not right and (got or speaker):
                errors.append(f"{fragment[:50]!r}: got {got!r} {got_type}, want {speaker!r} {speaker_type}")
    return Scores(correct, predicted, gold_total, errors)


def checkworthiness_scores(data: Path, model: Scorer | None = None) -> dict:
    """Precision, recall and F1 of the shipped check-worthiness score (default: the cascade) on
    the held-out split.

    ``data`` is the ClaimBuster ``train.json`` the model was trained from; the split
    is recomputed exactly as training made it (stratified 15%, seed 13).
    """
    model = model or load_scorer()
    texts, labels = train.read_data(data)
    _, held_out = train.held_out_split(labels)
    scores = model.scores([texts[i] for i in held_out])
    return {
        "sentences": len(held_out),
        **train.prf([labels[i] for i in held_out], [s >= model.threshold for s in scores]),
    }
