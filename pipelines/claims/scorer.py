"""The check-worthiness score a claim gets: linear, and the transformer where that is unsure.

The linear model (:mod:`pipelines.claims.checkworthiness`, 0.1 ms a sentence) scores every
sentence; the fine-tuned transformer it was distilled from (:mod:`pipelines.claims.transformer`,
~2 ms) scores again the sentences whose linear score is within the transformer's ``band`` of
0.5 (0.2: about 14% of ClaimBuster's sentences and 20% of BBC news sentences), and its score
replaces the linear one there. Both are calibrated so that 0.5 is the decision, so the score
means the same whichever model gave it. On the held-out ClaimBuster split: F1 0.823 linear,
0.823 the int8 transformer, 0.836 the cascade (the two err on different sentences).

``--checkworthiness linear`` keeps the linear score alone (no onnxruntime session: ~8 ms
an article and ~60 MB a worker less).

    >>> sentence = "They said the war would be over in weeks."
    >>> round(load_scorer("linear").scores([sentence])[0], 2), round(load_scorer().scores([sentence])[0], 2)
    (0.67, 0.31)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from pipelines.claims.checkworthiness import THRESHOLD, CheckWorthinessModel, load_model
from pipelines.claims.transformer import TransformerModel, load_transformer
from pipelines.errors import OptionError

#: The values of ``--checkworthiness``; the first is the default.
KINDS = ("cascade", "linear")


class Scorer(Protocol):
    threshold: float

    def scores(self, sentences: Sequence[str]) -> list[float]: ...


@dataclasses.dataclass
class CascadeScorer:
    """The linear score, replaced by the transformer's where it is within ``band`` of 0.5."""

    linear: CheckWorthinessModel
    transformer: TransformerModel

    threshold = THRESHOLD

    def scores(self, sentences: Sequence[str]) -> list[float]:
        """Each sentence's check-worthiness in 0..1; the sentences of an article in one call
        (the linear model's embeddings are made as one batch)."""
        sentences = list(sentences)
        scores = self.linear.scores(sentences)
        unsure = [i for i, s in enumerate(scores) if abs(s - THRESHOLD) < self.transformer.band]
        for i, score in zip(unsure, self.transformer.scores([sentences[i] for i in unsure]), strict=True):
            scores[i] = score
        return scores


def check_kind(kind: str) -> None:
    """``--checkworthiness`` names a scorer, or the user hears which ones there are.

    >>> check_kind("bert")
    Traceback (most recent call last):
    ...
    pipelines.errors.OptionError: --checkworthiness must be one of cascade, linear, not 'bert'
    """
    if kind not in KINDS:
        raise OptionError(f"--checkworthiness must be one of {', '.join(KINDS)}, not {kind!r}")


def load_scorer(kind: str = KINDS[0], model: str | None = None) -> Scorer:
    """The scorer ``--checkworthiness`` names, with the linear model at ``model`` (default:
    the shipped one); the models are loaded once per process."""
    check_kind(kind)
    linear = load_model(model)
    return linear if kind == "linear" else CascadeScorer(linear, load_transformer())
