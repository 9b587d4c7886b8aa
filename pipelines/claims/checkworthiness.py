"""Check-worthiness: how much a sentence asserts something a fact-checker could check.

A logistic regression over three kinds of features of the sentence text alone:

- TF-IDF of word 1-2-grams (lower case, digits folded to 0) and of character
  2-5-grams inside word boundaries;
- a few hand-made cues (:func:`cue_features`): figures, years, percentages, money,
  comparatives, first person, modal verbs, questions, capitalised words;
- the mean and the maximum of the sentence's ``wordllama`` token vectors (their
  first dimensions), the embeddings the story stage uses too (weights in its wheel).

Its output goes through a Platt scaling fitted on out-of-fold scores, shifted so
that **0.5 is the decision threshold** (the cut with the best cross-validated F1):
a sentence scoring 0.5 or more is check-worthy. The score orders sentences and
sets that cut; it is not a probability. Features from the text alone make a
sentence's score the same wherever it is scored: in the pipeline or by
``claimstream score-sentences``.

It is trained by ``claimstream train-checkworthiness`` (pipelines/claims/train.py, with
scikit-learn) on the ClaimBuster sentences, distilled from a fine-tuned transformer: fitted
to the transformer's soft targets (mixed with the gold labels) on a larger transfer set of
augmented copies and news sentences (:mod:`pipelines.claims.transfer`). It ships as a
gzipped JSON file in ``pipelines/models``; scoring needs numpy and wordllama, nothing else
(no transformer). Score an article's sentences in one :meth:`CheckWorthinessModel.scores`
call: the embeddings are computed as one batch. The pipeline's score is this model's, and the
transformer's where this one is unsure (:mod:`pipelines.claims.scorer`).

    >>> model = load_model()
    >>> high, low = model.scores(["Unemployment fell to 4.1% in 2019, the lowest in 50 years.",
    ...                           "I think we can do better than this!"])
    >>> high > THRESHOLD > low
    True
"""

from __future__ import annotations

import array
import dataclasses
import functools
import gzip
import importlib.resources
import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from pipelines import embeddings
from pipelines.errors import InputError

MODEL_RESOURCE = "checkworthiness.json.gz"
FORMAT_VERSION = 2
#: Scores at or above it are check-worthy: the calibration puts the decision here.
THRESHOLD = 0.5
#: Words whose character n-gram indices are kept per block (~200 bytes each with the word:
#: 10 MB at most; the 1,800 BBC articles use 35,000 words).
WORD_CACHE = 50_000
_INDEX_BYTES = array.array("i").itemsize  # np.intc's: the packed indices are read back as that

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
        idf = np.asarray(self.idf, dtype=np.float64)
        self._idf_weight = idf * np.asarray(self.weights, dtype=np.float64)
        self._idf_squared = idf * idf
        # char_wb n-grams never cross a word boundary: each word's feature indices
        # are computed once and reused (news text repeats its words a lot), kept as
        # packed int32 bytes: ~90 bytes a word where a tuple of ints took ~600.
        self._word_cache: dict[str, bytes] = {}

    def grams(self, sentence: str) -> list[str]:
        low, high = self.ngram_range
        if self.kind == "words":
            return word_ngrams(word_text(sentence), low, high)
        return char_wb_ngrams(sentence, low, high)

    def _indices(self, sentence: str) -> bytes:
        """The sentence's feature indices (repeats kept), as packed int32 bytes."""
        index = self.index
        if self.kind == "words":
            return _packed(map(index.get, self.grams(sentence)))
        low, high = self.ngram_range
        cache = self._word_cache
        found = []
        for word in sentence.lower().split():
            packed = cache.get(word)
            if packed is None:
                packed = _packed(map(index.get, char_wb_ngrams(word, low, high)))
                if len(cache) >= WORD_CACHE:
                    cache.clear()  # a feed's vocabulary keeps growing: start again, bounded
                cache[word] = packed
            found.append(packed)
        return b"".join(found)

    def contributions(self, sentences: Sequence[str]) -> np.ndarray:
        """Each sentence's TF-IDF vector (sublinear tf, L2 norm) dotted with the weights.

        All sentences at once: (sentence, feature) pairs are counted in one ``np.unique``.
        """
        rows = [self._indices(s) for s in sentences]
        lengths = [len(r) // _INDEX_BYTES for r in rows]
        n, size = len(rows), len(self.idf)
        result = np.zeros(n)
        if not sum(lengths):
            return result
        features = np.frombuffer(b"".join(rows), dtype=np.intc).astype(np.int64)
        pairs = np.repeat(np.arange(n, dtype=np.int64), lengths) * size + features
        pairs, counts = np.unique(pairs, return_counts=True)
        row, feature = np.divmod(pairs, size)
        tf = 1.0 + np.log(counts)  # sublinear tf: 1 for a feature seen once
        numerator = np.bincount(row, tf * self._idf_weight[feature], minlength=n)
        squares = np.bincount(row, tf * tf * self._idf_squared[feature], minlength=n)
        return np.divide(numerator, np.sqrt(squares), out=result, where=squares > 0)


def _packed(indices: Iterable[int | None]) -> bytes:
    """The indices found (None: an n-gram not in the vocabulary), as int32 bytes.

    >>> np.frombuffer(_packed([3, None, 70_000]), dtype=np.intc).tolist()
    [3, 70000]
    """
    return array.array("i", [i for i in indices if i is not None]).tobytes()


#: The hand-made cues, each a pattern whose matches are counted (see cue_features).
_CUES = {
    "digits": re.compile(r"\d+"),
    "percent": re.compile(r"%|\bper ?cent\b", re.I),
    "year": re.compile(r"\b(?:1[89]|20)\d\d\b"),
    "money": re.compile(
        r"[$\u20ac\u00a3]|\b(?:dollars?|euros?|pounds?|billions?|millions?|trillions?)\b", re.I
    ),
    "comparative": re.compile(
        r"\b(?:more|less|fewer|higher|lower|most|least|increased?|decreased?|doubled|tripled|"
        r"rose|fell|cut|raised?|\w{3,}est)\b",
        re.I,
    ),
    "first_person": re.compile(r"\b(?:I|I'm|I've|I'll|me|my|we|we're|we've|we'll|us|our)\b"),
    "modal": re.compile(r"\b(?:think|believe|should|must|will|want|hope|need|ought|would|can|could)\b", re.I),
    "question": re.compile(r"\?"),
}
CUE_NAMES = ("words", *_CUES, "capitalised")


def cue_features(sentence: str) -> list[float]:
    """The hand-made cues of a sentence: log word count, then matches per word (capitalised:
    words after the first one that start with a capital, named-entity-ish).

    >>> dict(zip(CUE_NAMES, cue_features("Taxes rose 5% in 1990, said Bush."))).items() >= {
    ...     "percent": 1 / 7, "year": 1 / 7, "capitalised": 1 / 7}.items()
    True
    """
    words = sentence.split()
    n = max(len(words), 1)
    capitalised = sum(1 for w in words[1:] if w[:1].isupper())
    return [math.log1p(len(words)), *(len(p.findall(sentence)) / n for p in _CUES.values()), capitalised / n]


def dense_features(sentences: Sequence[str], dimensions: int) -> np.ndarray:
    """The cues and the embedding pools of each sentence, one row each (before scaling)."""
    cues = np.array([cue_features(s) for s in sentences], dtype=np.float32).reshape(len(sentences), -1)
    return np.hstack([cues, embeddings.pools(sentences, dimensions)])


@dataclasses.dataclass
class DenseBlock:
    """The cues and embedding pools: standardized, scaled, then weighted (all folded into
    ``weights`` and ``offset``: ``features @ weights + offset``)."""

    dimensions: int  # wordllama dimensions pooled
    weights: list[float]
    offset: float

    def __post_init__(self) -> None:
        self._weights = np.asarray(self.weights, dtype=np.float64)

    def contributions(self, sentences: Sequence[str]) -> np.ndarray:
        return dense_features(sentences, self.dimensions).astype(np.float64) @ self._weights + self.offset


@dataclasses.dataclass
class CheckWorthinessModel:
    blocks: list[FeatureBlock]
    dense: DenseBlock
    intercept: float
    #: Platt scaling (a, b), shifted so that THRESHOLD is the decision: score = sigmoid(a z + b).
    calibration: tuple[float, float]
    info: dict  # how it was trained and how it scored on the held-out split

    threshold = THRESHOLD  # scores at or above it count as check-worthy

    def logits(self, sentences: Sequence[str]) -> np.ndarray:
        """The linear model's raw output for each sentence (before calibration)."""
        sparse = sum(block.contributions(sentences) for block in self.blocks)
        return self.intercept + sparse + self.dense.contributions(sentences)

    def scores(self, sentences: Sequence[str]) -> list[float]:
        """Each sentence's check-worthiness in 0..1; at least 0.5 means check-worthy.

        One call per article: the embeddings of its sentences are one batch.
        """
        sentences = list(sentences)
        return calibrated(self.logits(sentences), self.calibration) if sentences else []

    def score(self, sentence: str) -> float:
        return self.scores([sentence])[0]

    def to_json(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "intercept": self.intercept,
            "calibration": list(self.calibration),
            "threshold": THRESHOLD,
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
            "dense": dataclasses.asdict(self.dense),
        }

    @classmethod
    def from_json(cls, data: dict) -> CheckWorthinessModel:
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            found = data.get("format") if isinstance(data, dict) else None
            raise ValueError(f"format {found!r}, not {FORMAT_VERSION} (claimstream train-checkworthiness)")
        if data.get("threshold") != THRESHOLD:
            raise ValueError(f"its threshold is {data.get('threshold')!r}, not {THRESHOLD}")
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
        dense = DenseBlock(**data["dense"])
        a, b = data["calibration"]
        return cls(blocks, dense, float(data["intercept"]), (float(a), float(b)), data.get("info", {}))

    def save(self, path: Path) -> None:
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
            json.dump(self.to_json(), f, separators=(",", ":"))


def calibrated(logits: np.ndarray, calibration: tuple[float, float]) -> list[float]:
    """Platt-scaled scores, sigmoid(a * logit + b), as plain floats.

    >>> calibrated(np.array([0.0, 2.0]), (1.0, -2.0))
    [0.11920292202211755, 0.5]
    """
    a, b = calibration
    z = np.clip(a * logits + b, -700.0, 700.0)
    return [float(x) for x in 1.0 / (1.0 + np.exp(-z))]


def default_model_path():
    return importlib.resources.files("pipelines.models") / MODEL_RESOURCE


@functools.cache
def load_model(path: str | None = None) -> CheckWorthinessModel:
    """The shipped model (or the one at ``path``), loaded once per process.

    A file that is not a model of this format raises :class:`InputError`, one line:

    >>> load_model(__file__)
    Traceback (most recent call last):
    ...
    pipelines.errors.InputError: not a check-worthiness model: ...checkworthiness.py (Not a gzipped file ...)
    """
    source = Path(path) if path else default_model_path()
    try:
        with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
            return CheckWorthinessModel.from_json(json.load(f))
    except (OSError, EOFError, ValueError, KeyError, TypeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"not a check-worthiness model: {source} ({reason})") from None
