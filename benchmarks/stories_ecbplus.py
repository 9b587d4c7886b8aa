"""Print how well articles are assigned to stories on ECB+, and what it costs an article.

    .venv/bin/python benchmarks/stories_ecbplus.py ../shared/data/ecbplus [--seeds 1 2 3] [--no-loto]

Every article is annotated by the project's spaCy pipeline (cached under /tmp/match/), then
fed in a fixed shuffled order per seed through ``profile_of``, ``decide`` and
``MemoryIndex.add``, all at one event time (one window). Printed: pairwise and B-cubed
precision, recall and F1 against the gold stories, per seed and their mean; milliseconds an
article for the profile and the decision; and leave-one-topic-out F1 (each topic clustered by
a model fit on the other 20 topics, vocabulary unchanged), so the figure is not only in-sample.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from pipelines.stories import train
from pipelines.stories.match import default_model
from pipelines.stories.profile import default_vocabulary, profile_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the ECB+ folder (gold.json and the articles)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(train.SEEDS))
    parser.add_argument("--no-loto", action="store_true", help="skip leave-one-topic-out (minutes)")
    args = parser.parse_args(argv)

    gold = train.gold_of(args.data)
    articles = train.annotated(args.data)
    vocabulary, model = default_vocabulary(), default_model()
    trees = len(getattr(model.story, "trees", ()))
    print(f"{len(articles)} articles, {len(set(gold.values()))} gold stories; threshold {model.threshold}, {trees} trees")

    profile_of(articles[min(articles)], "warm-up", 0)  # loads the embedding model
    started = time.process_time()
    profiles = {name: profile_of(a, f"{name}@ecbplus", train.EVENT_TIME_MS) for name, a in articles.items()}
    profile_ms = 1000 * (time.process_time() - started) / len(articles)

    rows, decide_ms = [], []
    for seed in args.seeds:
        timings: list[float] = []
        predicted = train.stream(profiles, train.shuffled(profiles, seed), model, timings=timings)
        decide_ms.append(1000 * sum(timings) / len(timings))
        rows.append((*train.pairwise(gold, predicted), *train.bcubed(gold, predicted)))
        print(_row(f"seed {seed}", rows[-1], len(set(predicted.values()))))
    print(_row("mean", tuple(statistics.mean(r[i] for r in rows) for i in range(6))))
    print(f"cost an article: profile {profile_ms:.2f} ms CPU, decide {statistics.mean(decide_ms):.2f} ms")
    del vocabulary

    if not args.no_loto:
        clusterings = train.loto_clusterings(profiles, gold, args.seeds)
        scores = [train.pairwise(gold, c) + train.bcubed(gold, c) for c in clusterings]
        print(
            _row("leave-one-topic-out, mean", tuple(statistics.mean(s[i] for s in scores) for i in range(6)))
        )
    return 0


def _row(label: str, scores: tuple, stories: int | None = None) -> str:
    p, r, f, bp, br, bf = scores
    found = f"  ({stories} stories)" if stories is not None else ""
    return f"{label:26} pairwise P {p:.3f} R {r:.3f} F1 {f:.3f}   B3 P {bp:.3f} R {br:.3f} F1 {bf:.3f}{found}"


if __name__ == "__main__":
    sys.exit(main())
