"""The fine-tuned transformer that decides the sentences the linear score is unsure of.

all-MiniLM-L6-v2 (6 layers, 384 wide), fine-tuned on ClaimBuster: the teacher the linear
model (:mod:`pipelines.claims.checkworthiness`) is distilled from. It ships as an ONNX file,
its weights quantized to int8 per channel (23 MB), with its WordPiece tokenizer; it runs in
onnxruntime on one thread (a pipeline worker has one core), about 2 ms a news sentence.

The file carries its own settings as ONNX metadata, written when it was exported
(``benchmarks/checkworthiness_cascade.py``):

- ``calibration``: Platt scaling ``a b`` of its logit, fitted on the dev split it never
  trained on, with the cut chosen there (with the band) folded in: like the linear score,
  0.5 is the decision;
- ``band``: the linear scores it takes over, ``|score - 0.5| < band``;
- ``max_tokens``: sentences are cut there (as in training).

    >>> model = load_transformer()
    >>> high, low = model.scores(["Unemployment fell to 4.1% in 2019, the lowest in 50 years.",
    ...                           "I think we can do better than this!"])
    >>> high > 0.5 > low
    True
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.claims.checkworthiness import calibrated
from pipelines.errors import InputError

MODEL_RESOURCE = "checkworthiness_transformer.onnx"
TOKENIZER_RESOURCE = "checkworthiness_tokenizer.json.gz"
#: Sentences whose logit is kept, least recently used out first (~250 bytes each: ~2.5 MB).
CACHE = 10_000
#: The metadata keys the exported file must carry.
SETTINGS = ("calibration", "band", "max_tokens")


@dataclasses.dataclass
class TransformerModel:
    session: Any  # onnxruntime.InferenceSession: inputs input_ids, attention_mask; output logit
    tokenizer: Any  # tokenizers.Tokenizer, truncating at max_tokens, no padding
    calibration: tuple[float, float]
    band: float
    info: dict[str, str]  # the file's metadata: its settings and how it was made

    def __post_init__(self) -> None:
        # A story re-told repeats most of its sentences: each is run once while it is recent.
        self._logit = functools.lru_cache(maxsize=CACHE)(self._run)

    def logits(self, sentences: Sequence[str]) -> np.ndarray:
        """The network's raw output (positive minus negative class) for each sentence."""
        return np.array([self._logit(s) for s in sentences], dtype=np.float64)

    def _run(self, sentence: str) -> float:
        """One sentence a run: int8 dynamic quantization scales each run's activations by their
        range, so in a batch a sentence's logit would depend on its neighbours (by up to 0.4
        here), and the same sentence could score apart in the pipeline and in
        ``score-sentences``. Batches of 4 would save ~10% of the time (2.0 against 2.2 ms).
        """
        ids = np.asarray([self.tokenizer.encode(sentence).ids], dtype=np.int64)
        return float(self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])

    def scores(self, sentences: Sequence[str]) -> list[float]:
        """Each sentence's calibrated check-worthiness in 0..1; 0.5 or more is check-worthy."""
        return calibrated(self.logits(sentences), self.calibration) if sentences else []


def default_paths() -> tuple[Path, Path]:
    models = importlib.resources.files("pipelines.models")
    return Path(str(models / MODEL_RESOURCE)), Path(str(models / TOKENIZER_RESOURCE))


@functools.cache
def load_transformer(path: str | None = None, tokenizer: str | None = None) -> TransformerModel:
    """The shipped transformer (or the files given), loaded once per process.

    A file that is not such a model raises :class:`InputError`, one line:

    >>> load_transformer(__file__)
    Traceback (most recent call last):
    ...
    pipelines.errors.InputError: not a check-worthiness transformer: ...transformer.py (...)
    """
    default_model, default_tokenizer = default_paths()
    model_path = Path(path) if path else default_model
    tokenizer_path = Path(tokenizer) if tokenizer else default_tokenizer
    try:
        session = open_session(model_path)
        info = dict(session.get_modelmeta().custom_metadata_map)
        missing = [key for key in SETTINGS if key not in info]
        if missing:
            raise ValueError(f"its metadata has no {', '.join(missing)}")
        a, b = (float(x) for x in info["calibration"].split())
        band, max_tokens = float(info["band"]), int(info["max_tokens"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own kinds, all one line here
        raise InputError(f"not a check-worthiness transformer: {model_path} ({_first_line(e)})") from None
    try:
        words = open_tokenizer(tokenizer_path, max_tokens)
    except Exception as e:  # noqa: BLE001 - the same for the tokenizer's file
        raise InputError(f"not a tokenizer file: {tokenizer_path} ({_first_line(e)})") from None
    return TransformerModel(session, words, (a, b), band, info)


def open_session(path: Path):
    """An onnxruntime session of the file at ``path``, on one thread: a pipeline worker has
    a core of its own, and more threads only contend."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3  # its warnings are not the user's to act on
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def open_tokenizer(path: Path, max_tokens: int):
    """The gzipped WordPiece tokenizer at ``path``, cutting at ``max_tokens``, no padding."""
    from tokenizers import Tokenizer

    with gzip.open(path, "rt", encoding="utf-8") as f:
        words = Tokenizer.from_str(f.read())
    words.no_padding()
    words.enable_truncation(max_tokens)
    return words


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[-1][:200] if text else type(e).__name__
