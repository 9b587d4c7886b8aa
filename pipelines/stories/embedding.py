"""Sentence embeddings for story linking: ``wordllama``, whose weights ship in its wheel.

About 0.03 ms a sentence on one core, loaded in a third of a second, nothing
downloaded. Vectors are L2-normalized, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Leading dimensions kept (wordllama's vectors are Matryoshka-trained: a prefix is
#: itself an embedding). 64 of 256 keeps the index small at a small cost in accuracy.
DIMENSIONS = 64


@functools.cache
def _model() -> tuple[Any, np.ndarray]:
    """wordllama's tokenizer (without padding) and its token embedding matrix.

    wordllama's own ``embed`` pads a batch to its longest text and builds every token's
    offsets; an embedding is only the mean of the token rows, so summing the rows of
    each text (normalized after) gives the same vector at half the cost.
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


def embed(texts: Sequence[str]) -> np.ndarray:
    """One unit-length float32 row per text (a zero row for an empty text).

    >>> vectors = embed(["Iran denied any involvement.", "Iran has denied any role.", ""])
    >>> vectors.shape, round(float(vectors[0] @ vectors[1]), 1) > 0.5, float(abs(vectors[2]).sum())
    ((3, 64), True, 0.0)
    """
    tokenizer, rows = _model()
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for i, encoding in enumerate(tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)):
        if ids := encoding.ids:
            vectors[i] = rows[ids].sum(axis=0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
