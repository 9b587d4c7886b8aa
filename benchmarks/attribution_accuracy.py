"""Print speaker attribution precision and recall on the hand-labeled sets.

    .venv/bin/python benchmarks/attribution_accuracy.py

`gold.jsonl` was used to develop the rules; `heldout.jsonl` was written afterwards
and never tuned on: its figures are the honest ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipelines import evaluation, nlp

FOLDER = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "attribution"


def main() -> int:
    spacy_nlp = nlp.load_model()
    for name in ("gold.jsonl", "heldout.jsonl"):
        path = FOLDER / name
        articles = path.read_text("utf-8").splitlines()
        labels = sum(len(json.loads(line)["labels"]) for line in articles)
        print(f"{name}: {len(articles)} articles, {labels} labeled sentences")
        for with_type, what in ((False, "speaker"), (True, "speaker + type")):
            s = evaluation.attribution_scores(path, spacy_nlp, with_type=with_type)
            print(
                f"  {what:15} precision {s.precision:.3f} ({s.correct}/{s.predicted})  "
                f"recall {s.recall:.3f} ({s.correct}/{s.gold})"
            )
        for error in evaluation.attribution_scores(path, spacy_nlp).errors:
            print("    " + error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
