"""Check-worthiness: how much a sentence asserts something a fact-checker could check.

A logistic-regression model over TF-IDF features of the sentence text alone:
word 1-2-grams (lower case, digits folded to 0) and character 2-5-grams inside
word boundaries. Features from the text alone make a sentence's score the same
wherever it is scored: in the pipeline or by ``claimstream score-sentences``.

It is trained by ``claimstream train-checkworthiness`` (pipelines/claims/train.py, with
scikit-learn) on the ClaimBuster sentences and shipped as a small gzipped JSON file
in ``pipelines/models``; scoring needs nothing but this module.

    >>> model = load_model()
    >>> round(model.score("Unemployment fell to 4.1% in 2019, the lowest in 50 years."), 2)
    0.9...
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import importlib.resources
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

MODEL_RESOURCE = "checkworthiness.json.gz"
FORMAT_VERSION = 1

_TOKEN = re.compile(r"\w+|[^\w\s]")
_DIGIT = re.compile(r"\d")
_WHITE_SPACES = re.compile(r"\s\s+")


def word_text(sentence: str) -> str:
    """'Tax rose 5% in 1990.' -> 'tax rose 0 % in 0000 .': the input of the word features."""
    return " ".join(_DIGIT.sub("0", token.lower()) for token in _TOKEN.findall(sentence))


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    """Word n-grams of a space-separated text, as scikit-learn's word analyzer makes them."""
    tokens = text.split()
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams inside word boundaries, as scikit-learn's ``char_wb`` makes them."""
    grams = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < len(padded):
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:  # a short word counts once, whatever n
                break
    return grams


@dataclasses.dataclass
class FeatureBlock:
    """One TF-IDF vectorizer's part of the model: sublinear tf, idf, L2 norm, weights."""

    kind: str  # "words" or "char_wb"
    ngram_range: tuple[int, int]
    index: dict[str, int]
    idf: list[float]
    weights: list[float]

    def __post_init__(self) -> None:
        # Per feature: idf * weight (the numerator) and idf ** 2 (the L2 norm).
        self._idf_weight = [i * w for i, w in zip(self.idf, self.weights, strict=True)]
        self._idf_squared = [i * i for i in self.idf]
        # char_wb n-grams never cross a word boundary: each word's feature indices
        # are computed once and reused (news text repeats its words a lot).
        self._word_cache: dict[str, tuple[int, ...]] = {}

    def grams(self, sentence: str) -> list[str]:
        low, high = self.ngram_range
        if self.kind == "words":
            return word_ngrams(word_text(sentence), low, high)
        return char_wb_ngrams(sentence, low, high)

    def _indices(self, sentence: str) -> list[int]:
        index = self.index
        if self.kind == "words":
            return [i for i in map(index.get, self.grams(sentence)) if i is not None]
        low, high = self.ngram_range
        result: list[int] = []
        cache = self._word_cache
        for word in sentence.lower().split():
            found = cache.get(word)
            if found is None:
                found = tuple(i for i in map(index.get, char_wb_ngrams(word, low, high)) if i is not None)
                if len(cache) < 500_000:
                    cache[word] = found
            result += found
        return result

    def contribution(self, sentence: str) -> float:
        numerator = squares = 0.0
        for i, count in Counter(self._indices(sentence)).items():
            tf = 1.0 + math.log(count) if count > 1 else 1.0
            numerator += tf * self._idf_weight[i]
            squares += tf * tf * self._idf_squared[i]
        return numerator / math.sqrt(squares) if squares else 0.0


@dataclasses.dataclass
class CheckWorthinessModel:
    blocks: list[FeatureBlock]
    intercept: float
    threshold: float  # scores at or above it count as check-worthy
    info: dict  # how it was trained and how it scored on the held-out split

    def score(self, sentence: str) -> float:
        z = self.intercept + sum(block.contribution(sentence) for block in self.blocks)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def scores(self, sentences: Iterable[str]) -> list[float]:
        return [self.score(s) for s in sentences]

    def to_json(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "intercept": self.intercept,
            "threshold": self.threshold,
            "info": self.info,
            "blocks": [
                {
                    "kind": b.kind,
                    "ngram_range": list(b.ngram_range),
                    # terms in index order, with their idf and weight
                    "terms": sorted(b.index, key=b.index.get),
                    "idf": b.idf,
                    "weights": b.weights,
                }
                for b in self.blocks
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> CheckWorthinessModel:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown check-worthiness model format {data.get('format')!r}")
        blocks = [
            FeatureBlock(
                b["kind"],
                tuple(b["ngram_range"]),
                {term: i for i, term in enumerate(b["terms"])},
                b["idf"],
                b["weights"],
            )
            for b in data["blocks"]
        ]
        return cls(blocks, data["intercept"], data["threshold"], data.get("info", {}))

    def save(self, path: Path) -> None:
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
            json.dump(self.to_json(), f, separators=(",", ":"))


def default_model_path():
    return importlib.resources.files("pipelines.models") / MODEL_RESOURCE


@functools.cache
def load_model(path: str | None = None) -> CheckWorthinessModel:
    """The shipped model (or the one at ``path``), loaded once per process."""
    source = Path(path) if path else default_model_path()
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return CheckWorthinessModel.from_json(json.load(f))
