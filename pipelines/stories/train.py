"""Train the story matcher: ``python -m pipelines.stories.train ECBPLUS [--vocabulary BBC]``.

Writes ``pipelines/models/stories.json``: the vocabulary (inverse document frequencies of
common words, from a general news corpus, by default the BBC articles next to the data) and
the pair model of :mod:`.match`.

1. Profiles of the ECB+ articles (21 topics, two stories of one kind per topic; spaCy output
   cached under /tmp/match/), with the vocabulary.
2. Pairs: every two articles the index would bring together (sharing a key); label: same
   gold story. A logistic regression over :func:`.match.pair_features` fits them.
3. The story threshold and the mix of mean and maximum are chosen by running the matcher
   itself (:func:`.match.decide` over a :class:`.index.MemoryIndex`) in shuffled orders and
   taking the best mean pairwise F1.

:func:`loto_clusterings` repeats 2 and 3 without each topic and scores the topic left
out, so the figure is not only in-sample. Needs scikit-learn (``claimstream[train]``).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import pickle
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pipelines.records import EnrichedArticle
from pipelines.stories.index import MemoryIndex
from pipelines.stories.match import FEATURES, Decision, PairModel, decide, pair_features
from pipelines.stories.profile import (
    ArticleProfile,
    Vocabulary,
    default_model_path,
    normalized_words,
    profile_of,
    stem,
)

CACHE = Path("/tmp/match")
SEEDS = (1, 2, 3)
EVENT_TIME_MS = 1_700_000_000_000
WINDOW_MS = 7 * 86_400_000
#: Words in fewer documents than this are "rare" and not listed: the file stays small.
MIN_DF = 8
C = 1.0
THRESHOLDS = tuple(round(0.25 + 0.05 * i, 2) for i in range(8))
MIXES = (0.5, 0.75, 1.0)


# --- data ----------------------------------------------------------------------------------


def vocabulary_from(folder: Path) -> Vocabulary:
    """Inverse document frequencies of the words of every ``*.txt`` under ``folder``."""
    files = sorted(folder.rglob("*.txt"))
    if not files:
        raise SystemExit(f"no *.txt articles under {folder} (--vocabulary)")
    df: Counter[str] = Counter()
    for file in files:
        words = normalized_words(file.read_text("utf-8", errors="replace"))
        df.update({stem(w) for w in words if w.isalpha()})
    n = len(files)
    idf = {w: round(math.log(n / d), 2) for w, d in sorted(df.items()) if d >= MIN_DF}
    return Vocabulary(idf, round(math.log(n / (MIN_DF / 2)), 2))


def gold_of(folder: Path) -> dict[str, str]:
    """File name -> gold story, from ``gold.json``."""
    try:
        return {name: item["story"] for name, item in json.loads((folder / "gold.json").read_text()).items()}
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"cannot read the gold stories {folder / 'gold.json'}: {e}") from None


def annotated(folder: Path, cache: Path = CACHE) -> dict[str, EnrichedArticle]:
    """File name -> its article annotated by the project's spaCy pipeline (cached as a pickle)."""
    from pipelines import nlp
    from pipelines.parse import parse_article
    from pipelines.records import Message

    names = sorted(gold_of(folder))
    cached = cache / f"{folder.resolve().name}-{len(names)}.pickle"
    if cached.is_file():
        return pickle.loads(cached.read_bytes())
    spacy_nlp = nlp.load_model()
    articles = {}
    for name in names:
        article = parse_article(Message((folder / name).read_bytes(), key=name))
        article = dataclasses.replace(article, article_id=name.removesuffix(".txt"))
        articles[name] = nlp.annotate(article, spacy_nlp(article.text), nlp.model_name(spacy_nlp))
    cache.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(articles))
    return articles


def profiles_of(articles: dict[str, EnrichedArticle], vocabulary: Vocabulary) -> dict[str, ArticleProfile]:
    return {name: profile_of(a, f"{name}@ecbplus", EVENT_TIME_MS, vocabulary) for name, a in articles.items()}


# --- scores --------------------------------------------------------------------------------


def pairwise(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the gold one."""
    names = sorted(predicted)
    tp = fp = fn = 0
    for a, b in itertools.combinations(names, 2):
        same_gold, same = gold[a] == gold[b], predicted[a] == predicted[b]
        tp += same_gold and same
        fp += same and not same_gold
        fn += same_gold and not same
    return prf(tp, fp, fn)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def bcubed(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1."""
    by_gold, by_predicted = defaultdict(set), defaultdict(set)
    for name in predicted:
        by_gold[gold[name]].add(name)
        by_predicted[predicted[name]].add(name)
    p = r = 0.0
    for name in predicted:
        mine, theirs = by_predicted[predicted[name]], by_gold[gold[name]]
        p += len(mine & theirs) / len(mine)
        r += len(mine & theirs) / len(theirs)
    p, r = p / len(predicted), r / len(predicted)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


# --- the stream ----------------------------------------------------------------------------


def shuffled(names: Iterable[str], seed: int) -> list[str]:
    order = sorted(names)
    random.Random(seed).shuffle(order)
    return order


def stream(
    profiles: dict[str, ArticleProfile],
    order: Sequence[str],
    model: PairModel,
    features: Callable = pair_features,
    timings: list[float] | None = None,
) -> dict[str, str]:
    """File name -> story id, after feeding the profiles in ``order`` through decide and the index."""
    index = MemoryIndex()
    stories = {}
    for name in order:
        profile = profiles[name]
        started = time.perf_counter()
        decision: Decision = decide(profile, index, WINDOW_MS, model, features)
        if timings is not None:
            timings.append(time.perf_counter() - started)
        entry = index.add(
            profile.key,
            profile.article_id,
            decision.story_id,
            profile.event_time_ms,
            profile.keys,
            {"profile": profile.to_dict()},
        )
        stories[name] = entry.story_id
    return stories


def cached_features() -> Callable[[ArticleProfile, ArticleProfile], list[float]]:
    """pair_features, remembered by the two keys (training runs the stream many times)."""
    memory: dict[tuple[str, str], list[float]] = {}

    def features(a: ArticleProfile, b: ArticleProfile) -> list[float]:
        pair = (a.key, b.key) if a.key < b.key else (b.key, a.key)
        if pair not in memory:
            memory[pair] = pair_features(a, b)
        return memory[pair]

    return features


# --- fitting -------------------------------------------------------------------------------


def training_pairs(
    profiles: dict[str, ArticleProfile], gold: dict[str, str], features: Callable
) -> tuple[list[list[float]], list[int]]:
    """Features and labels of every two articles that share an index key."""
    by_key = defaultdict(list)
    for name, profile in profiles.items():
        for key in profile.keys:
            by_key[key].append(name)
    pairs = {tuple(sorted(p)) for names in by_key.values() for p in itertools.combinations(names, 2)}
    x, y = [], []
    for a, b in sorted(pairs):
        x.append(features(profiles[a], profiles[b]))
        y.append(int(gold[a] == gold[b]))
    return x, y


def fit(
    profiles: dict[str, ArticleProfile],
    gold: dict[str, str],
    features: Callable,
    seeds: Sequence[int] = SEEDS,
    mixes: Sequence[float] = MIXES,
) -> tuple[PairModel, float]:
    """The pair model and its story threshold and mix, and the mean pairwise F1 they reach."""
    from sklearn.linear_model import LogisticRegression

    x, y = training_pairs(profiles, gold, features)
    regression = LogisticRegression(C=C, max_iter=2000).fit(x, y)
    base = PairModel(tuple(float(c) for c in regression.coef_[0]), float(regression.intercept_[0]))
    best = (-1.0, base)
    orders = [shuffled(profiles, seed) for seed in seeds]
    for mix, threshold in itertools.product(mixes, THRESHOLDS):
        model = dataclasses.replace(base, threshold=threshold, mix=mix)
        f1 = sum(pairwise(gold, stream(profiles, order, model, features))[2] for order in orders) / len(
            orders
        )
        if f1 > best[0]:
            best = (f1, model)
    return best[1], best[0]


def topic_of(name: str) -> str:
    return name.split("_", 1)[0]


def loto_clusterings(
    profiles: dict[str, ArticleProfile], gold: dict[str, str], seeds: Sequence[int] = SEEDS
) -> list[dict[str, str]]:
    """One clustering per seed; each topic's articles were clustered by a model fit without it."""
    features = cached_features()
    clusterings: list[dict[str, str]] = [{} for _ in seeds]
    for topic in sorted({topic_of(n) for n in profiles}, key=int):
        train = {n: p for n, p in profiles.items() if topic_of(n) != topic}
        test = {n: p for n, p in profiles.items() if topic_of(n) == topic}
        model, _ = fit(train, gold, features, seeds[:1], (1.0,))  # one order, one mix: minutes, not hours
        for clustering, seed in zip(clusterings, seeds, strict=True):
            clustering.update(
                {n: f"{topic}:{s}" for n, s in stream(test, shuffled(test, seed), model).items()}
            )
    return clusterings


# --- command -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the ECB+ folder (gold.json and the articles)")
    parser.add_argument("--vocabulary", type=Path, help="a folder of *.txt news articles (default: BBC)")
    parser.add_argument("--out", type=Path, default=default_model_path())
    args = parser.parse_args(argv)
    vocabulary_folder = args.vocabulary or args.data.resolve().parent.parent / "samples" / "bbc"

    vocabulary = vocabulary_from(vocabulary_folder)
    print(
        f"vocabulary: {len(vocabulary.idf)} common words from {vocabulary_folder}, rare idf {vocabulary.rare}"
    )
    gold = gold_of(args.data)
    profiles = profiles_of(annotated(args.data), vocabulary)
    model, f1 = fit(profiles, gold, cached_features())
    print(f"pair model: threshold {model.threshold}, mix {model.mix}, in-sample pairwise F1 {f1:.3f}")
    for name, c in sorted(zip(FEATURES, model.coefficients, strict=True), key=lambda nc: -abs(nc[1])):
        print(f"  {name:28} {c:+.3f}")
    document = {
        "about": "Story matching: see pipelines/stories/train.py. idf: common words of the BBC news "
        "corpus (Greene and Cunningham, ICML 2006); pair: trained on ECB+ (Cybulska and Vossen, LREC 2014).",
        "idf": vocabulary.idf,
        "rare_idf": vocabulary.rare,
        "pair": model.to_dict(),
    }
    args.out.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n", "utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
