"""Print sentence segmentation precision, recall and F1 on the hand-checked gold set.

.venv/bin/python benchmarks/sentence_accuracy.py [GOLD_FOLDER]
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines import evaluation, nlp

DEFAULT_GOLD = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sentences"


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else DEFAULT_GOLD
    scores = evaluation.sentence_scores(folder, nlp.load_model())
    print(f"gold set: {folder} ({len(list(folder.glob('*.txt')))} articles, {scores.gold} sentences)")
    print(f"predicted {scores.predicted}, exactly right {scores.correct}")
    print(f"precision {scores.precision:.3f}  recall {scores.recall:.3f}  F1 {scores.f1:.3f}")
    for error in scores.errors:
        print("  " + error)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
