"""Print how well articles are assigned to stories on ECB+, and what it costs an article.

    .venv/bin/python benchmarks/stories_ecbplus.py ../shared/data/ecbplus [--seeds 1 2 3] [--no-loto]
        [--window 10000]

Every article is annotated by the project's spaCy pipeline (cached under /tmp/match/), then
fed in a fixed shuffled order per seed through ``profile_of``, ``decide`` and
``MemoryIndex.add``, all at one event time (one window). Printed: pairwise and B-cubed
precision, recall and F1 against the gold stories, per seed and their mean; milliseconds an
article for the profile and the decision; and leave-one-topic-out F1 (each topic clustered by
a model fit on the other 20 topics, vocabulary unchanged), so the figure is not only in-sample;
with ``--window``, the cost of a decision with that many articles in the index.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

from pipelines.stories import train
from pipelines.stories.index import MemoryIndex
from pipelines.stories.match import clear_caches, decide, default_model
from pipelines.stories.profile import default_vocabulary, profile_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the ECB+ folder (gold.json and the articles)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(train.SEEDS))
    parser.add_argument("--no-loto", action="store_true", help="skip leave-one-topic-out (minutes)")
    parser.add_argument("--window", type=int, default=0, help="also time decide with this many in the index")
    args = parser.parse_args(argv)

    gold = train.gold_of(args.data)
    articles = train.annotated(args.data)
    vocabulary, model = default_vocabulary(), default_model()
    trees = len(getattr(model.story, "trees", ()))
    print(f"{len(articles)} articles, {len(set(gold.values()))} gold stories; ", end="")
    print(f"story threshold {model.threshold}, {trees} trees")

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
    print(f"cost an article: profile {profile_ms:.2f} ms CPU, decide {statistics.mean(decide_ms):.2f} ms CPU")
    del vocabulary
    if args.window:
        for shared in (False, True):
            ms = _decide_in_window(profiles, gold, args.window, shared)
            label = "copies sharing the keys (worst case)" if shared else "other stories"
            print(f"decide in a window of {args.window:,} articles ({label}): {ms:.2f} ms CPU")

    if not args.no_loto:
        clusterings = train.loto_clusterings(profiles, gold, args.seeds)
        scores = [train.pairwise(gold, c) + train.bcubed(gold, c) for c in clusterings]
        print(
            _row("leave-one-topic-out, mean", tuple(statistics.mean(s[i] for s in scores) for i in range(6)))
        )
    return 0


def _decide_in_window(profiles: dict, gold: dict[str, str], size: int, shared: bool) -> float:
    """CPU ms a decision, the index first filled with copies of the articles up to ``size`` entries.

    The copies are other stories (their keys renamed, so only they find each other), or, with
    ``shared``, copies keeping the keys: every article then meets many near-identical stories.
    """
    clear_caches()  # the stories met in the seeds' runs must not be remembered
    index = MemoryIndex()
    names = sorted(profiles)
    for i in range(size // len(names) - 1):
        for name in names:
            p = profiles[name]
            keys = p.keys if shared else [f"{k}#{i}" for k in p.keys]
            copy = dataclasses.replace(p, key=f"{p.key}#{i}", text_hash=f"{p.text_hash}#{i}")
            index.add(copy.key, f"{p.article_id}#{i}", f"{gold[name]}#{i}", p.event_time_ms, keys,
                      {"profile": copy.to_dict()})  # fmt: skip
    spent = 0.0
    for name in train.shuffled(profiles, 1):
        p = profiles[name]
        started = time.process_time()
        decision = decide(p, index, train.WINDOW_MS)
        spent += time.process_time() - started
        index.add(p.key, p.article_id, decision.story_id, p.event_time_ms, p.keys, {"profile": p.to_dict()})
    return 1000 * spent / len(profiles)


def _row(label: str, scores: tuple, stories: int | None = None) -> str:
    p, r, f, bp, br, bf = scores
    found = f"  ({stories} stories)" if stories is not None else ""
    return f"{label:26} pairwise P {p:.3f} R {r:.3f} F1 {f:.3f}   B3 P {bp:.3f} R {br:.3f} F1 {bf:.3f}{found}"


if __name__ == "__main__":
    sys.exit(main())
