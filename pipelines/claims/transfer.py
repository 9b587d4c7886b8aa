"""The transfer set of the distilled check-worthiness model, and its teacher's logits.

The shipped scorer is a linear model distilled from a fine-tuned transformer (the
teacher, see benchmarks/checkworthiness_distil.py): it is fitted to the teacher's
soft targets on many more sentences than the labelled ones (Tang et al. 2019, *Distilling
Task-Specific Knowledge from BERT into Simple Neural Networks*). Those sentences, the
*transfer set*, are the training part of ClaimBuster, augmented copies of them (words
dropped at random, sometimes cut to an n-gram window) and sentences of unlabelled news
articles. Everything here is seeded: the same data and folders give the same set, in the
same order, on every machine.

Training cannot run the teacher (it needs torch). Its logits ship instead, as a table
keyed by a hash of each sentence (:func:`sentence_key`; no text is stored: the news
sentences are not ours to redistribute), ``pipelines/models/checkworthiness_teacher.npz``.
A sentence the table does not know (other folders or data given) is left out of training
and counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import random
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipelines.errors import InputError

TEACHER_RESOURCE = "checkworthiness_teacher.npz"

#: (seed, augmented copies of each labelled sentence, new sentences from each folder): the
#: rounds that build the shipped transfer set, 36,340 sentences with PolNeAR train and the BBC
#: sample. A second round (14, 4, 6_000), 75,460 sentences in all, did no better (out-of-fold
#: F1 0.7824 both; dev split 0.766 against 0.778) and trains in 290 s, not 180.
ROUNDS: tuple[tuple[int, int, int], ...] = ((13, 2, 8_000),)

_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)]))\s+(?=[\"'\u201c\u2018(]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """A cheap splitter: paragraphs, then ends of sentences; 5 to 60 words kept.

    >>> split_sentences("Taxes rose by 5% in 1990, he said. Then they fell again last year.\\n\\nToo short.")
    ['Taxes rose by 5% in 1990, he said.', 'Then they fell again last year.']
    """
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        out += [s for s in _SENTENCE_END.split(paragraph) if 5 <= len(s.split()) <= 60]
    return out


def augment(sentence: str, rng: random.Random, drop: float = 0.1, window: float = 0.25) -> str:
    """Tang et al. 2019 without synonyms: words dropped at random, sometimes an n-gram window.

    >>> augment("The deficit rose to 4% of GDP in 2024, the treasury said.", random.Random(1))
    '4% of GDP in 2024,'
    """
    words = sentence.split()
    if len(words) > 4 and rng.random() < window:
        n = rng.randint(max(3, len(words) // 3), len(words) - 1)
        start = rng.randint(0, len(words) - n)
        words = words[start : start + n]
    kept = [w for w in words if rng.random() >= drop]
    return " ".join(kept or words)


def folder_sentences(folder: Path) -> list[str]:
    """The distinct sentences of a folder's articles (``*.txt``, any depth; README.txt is
    not one; the first line, the headline, is left out), sorted."""
    found: set[str] = set()
    for path in sorted(Path(folder).rglob("*.txt")):
        if path.name.upper() == "README.TXT":
            continue
        lines = path.read_text("utf-8", errors="replace").split("\n", 1)
        found.update(split_sentences(lines[1] if len(lines) > 1 else lines[0]))
    return sorted(found)


def transfer_set(
    texts: Sequence[str],
    train_idx: Sequence[int],
    folders: Sequence[Path] = (),
    rounds: Sequence[tuple[int, int, int]] = ROUNDS,
) -> list[tuple[str, int]]:
    """(sentence, origin) pairs: the labelled sentences ``texts[i]`` (origin i) first, then per
    round (seed, copies, per_folder): ``copies`` augmented copies of each (origin: the one it
    comes from), and up to ``per_folder`` sentences of each folder not in the set when the round began
    (origin -1).

    >>> texts = ["Taxes rose by 5% in 1990, he said.", "We will win.", "Crime fell by a third."]
    >>> transfer_set(texts, [0, 2], rounds=[(13, 1, 0)])  # doctest: +NORMALIZE_WHITESPACE
    [('Taxes rose by 5% in 1990, he said.', 0), ('Crime fell by a third.', 2),
     ('Taxes rose by 5% in 1990, he said.', 0), ('by a third.', 2)]
    """
    pairs = [(texts[i], i) for i in train_idx]
    sentences: dict[Path, list[str]] = {}
    for seed, copies, per_folder in rounds:
        # News sentences new to the set as it was when the round began (so the rounds can be
        # computed one after the other: the second one's logits were, after the first's).
        seen = {s for s, _ in pairs}
        rng = random.Random(seed)
        pairs += [(augment(texts[i], rng), i) for _ in range(copies) for i in train_idx]
        for folder in folders:
            if folder not in sentences:
                sentences[folder] = folder_sentences(folder)
            found = [s for s in sentences[folder] if s not in seen]
            rng.shuffle(found)
            pairs += [(s, -1) for s in found[:per_folder]]
    return pairs


def sentence_key(sentence: str) -> int:
    """The teacher table's key of a sentence: the first 8 bytes of its BLAKE2b digest (UTF-8).

    >>> hex(sentence_key("Taxes rose."))
    '0x1814e1ce37172b25'
    """
    return int.from_bytes(hashlib.blake2b(sentence.encode("utf-8"), digest_size=8).digest(), "little")


@dataclasses.dataclass(frozen=True)
class TeacherTable:
    """Teacher logits (positive minus negative class) by sentence key: ``keys`` sorted."""

    keys: np.ndarray  # uint64
    logits: np.ndarray  # float32

    @classmethod
    def build(cls, sentences: Sequence[str], logits: Sequence[float]) -> TeacherTable:
        """A table of these sentences' logits (a sentence seen twice keeps its first logit).

        >>> table = TeacherTable.build(["Taxes rose.", "We win.", "Taxes rose."], [1.5, -2.0, 1.4])
        >>> table.lookup(["We win.", "Taxes rose.", "Unknown."])
        (array([-2. ,  1.5,  nan], dtype=float32), array([ True,  True, False]))
        """
        first: dict[int, float] = {}
        for sentence, logit in zip(sentences, logits, strict=True):
            first.setdefault(sentence_key(sentence), float(logit))
        keys = np.array(sorted(first), dtype=np.uint64)
        return cls(keys, np.array([first[int(k)] for k in keys], dtype=np.float32))

    def lookup(self, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each sentence's logit (nan when unknown) and whether it is known."""
        wanted = np.array([sentence_key(s) for s in sentences], dtype=np.uint64)
        at = np.minimum(np.searchsorted(self.keys, wanted), max(len(self.keys) - 1, 0))
        found = self.keys[at] == wanted if len(self.keys) else np.zeros(len(wanted), dtype=bool)
        values = np.where(found, self.logits[at] if len(self.keys) else np.nan, np.nan)
        return values.astype(np.float32), found

    def save(self, path: Path) -> None:
        np.savez_compressed(path, keys=self.keys, logits=self.logits)


def default_teacher_path():
    return importlib.resources.files("pipelines.models") / TEACHER_RESOURCE


def load_teacher(path: Path | None = None) -> TeacherTable:
    """The shipped teacher table (or the one at ``path``); a missing or broken one raises
    :class:`InputError`, one line naming the file:

    >>> load_teacher(Path(__file__))
    Traceback (most recent call last):
    ...
    pipelines.errors.InputError: not a teacher logits table: ...transfer.py (...)
    """
    source = Path(str(path or default_teacher_path()))
    try:
        with np.load(source, allow_pickle=False) as data:
            keys, logits = data["keys"], data["logits"]
        if keys.dtype != np.uint64 or keys.shape != logits.shape or keys.ndim != 1:
            raise ValueError("keys and logits do not match")
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
            raise ValueError("keys not sorted")
    except (OSError, ValueError, KeyError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"not a teacher logits table: {source} ({reason})") from None
    return TeacherTable(keys, logits.astype(np.float32))
