"""Word-vector sentence features from ``wordllama``, whose weights ship in its wheel.

Two stages use them, in the same processes: the check-worthiness score (the mean
and the maximum of a sentence's token vectors) and the story stage (a sentence's
mean vector, unit length, as its embedding). One model is loaded per process, and a
sentence's tokens are kept a while, so a sentence scored for check-worthiness is not
tokenized again for its claim's profile.

Only the first :data:`DIMENSIONS` of wordllama's 256 dimensions are kept: its
vectors are Matryoshka-trained, so a prefix is itself an embedding. Nothing is
downloaded; the model loads in about a tenth of a second.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Leading dimensions kept: 64 of 256 keeps the story index small at a small cost in accuracy.
DIMENSIONS = 64
#: Sentences whose tokens are kept (a chunk of articles is a few hundred).
TOKEN_CACHE = 4_096

_tokens: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
_lock = threading.Lock()


@functools.cache
def _model() -> tuple[Any, np.ndarray]:
    """wordllama's tokenizer (without padding) and its token vectors (the first DIMENSIONS).

    wordllama's own ``embed`` pads a batch to its longest text and builds every token's
    offsets; a sentence's vector is only the mean of its token rows, so summing the
    rows of each text gives the same at half the cost.
    """
    # The tokenizer's own thread pool only spins on a machine whose cores the NLP workers
    # keep busy: a sentence or two at a time gains nothing from it (unless the user says).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import wordllama

    model = wordllama.WordLlama.load(
        cache_dir=Path(wordllama.__file__).parent, disable_download=True, trunc_dim=DIMENSIONS
    )
    tokenizer = model.tokenizer  # this model's own: its embed() is never called
    tokenizer.no_padding()
    return tokenizer, np.ascontiguousarray(model.embedding[:, :DIMENSIONS], dtype=np.float32)


def token_ids(texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's token ids (the texts seen lately from a cache, the rest in one batch).

    >>> [len(ids) > 0 for ids in token_ids(["Taxes rose.", ""])]
    [True, False]
    """
    tokenizer, rows = _model()
    with _lock:
        found = {t: _tokens[t] for t in texts if t in _tokens}
    missing = list(dict.fromkeys(t for t in texts if t not in found))
    if missing:
        encoded = tokenizer.encode_batch_fast(missing, add_special_tokens=False)
        last = len(rows) - 1  # an id past the vectors (none is known) reads the last row
        new = {
            t: np.minimum(np.asarray(e.ids, dtype=np.int64), last)
            for t, e in zip(missing, encoded, strict=True)
        }
        found.update(new)
        with _lock:
            _tokens.update(new)
            while len(_tokens) > TOKEN_CACHE:
                _tokens.popitem(last=False)
    return [found[t] for t in texts]


def embed(texts: Sequence[str]) -> np.ndarray:
    """One unit-length float32 row per text (a zero row for an empty text).

    >>> vectors = embed(["Iran denied any involvement.", "Iran has denied any role.", ""])
    >>> vectors.shape, round(float(vectors[0] @ vectors[1]), 1) > 0.5, float(abs(vectors[2]).sum())
    ((3, 64), True, 0.0)
    """
    _, rows = _model()
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for i, ids in enumerate(token_ids(texts)):
        if len(ids):
            vectors[i] = rows[ids].sum(axis=0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def pools(texts: Sequence[str], dimensions: int = DIMENSIONS) -> np.ndarray:
    """Per text, the mean then the maximum of its first ``dimensions`` token vectors (zeros if none).

    >>> pools(["Taxes rose.", ""], 64).shape
    (2, 128)
    """
    if dimensions > DIMENSIONS:
        raise ValueError(f"at most {DIMENSIONS} dimensions are kept, not {dimensions}")
    _, rows = _model()
    result = np.zeros((len(texts), 2 * dimensions), dtype=np.float32)
    for i, ids in enumerate(token_ids(texts)):
        if len(ids):
            vectors = rows[ids, :dimensions]
            result[i, :dimensions] = vectors.mean(axis=0)
            result[i, dimensions:] = vectors.max(axis=0)
    return result
