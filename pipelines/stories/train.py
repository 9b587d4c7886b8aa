"""Train the story matcher: ``python -m pipelines.stories.train ECBPLUS [--vocabulary BBC]``.

Writes ``pipelines/models/stories.json``: the vocabulary (inverse document frequencies of
common words, from a general news corpus, by default the BBC articles next to the data) and
the pair and story models of :mod:`.match`.

1. Profiles of the ECB+ articles (21 topics, two stories of one kind per topic; spaCy output
   cached under /tmp/match/), with the vocabulary.
2. Pairs: every two articles the index would bring together (sharing a key); label: same
   gold story. A logistic regression over :func:`.match.pair_features` fits them.
3. The story model learns in the simulated stream: the articles are fed in shuffled orders
   through :func:`.match.decide` and a :class:`.index.MemoryIndex`, and every candidate story
   an article is compared with becomes an example (label: most of the story's members are of
   the article's gold story); gradient-boosted trees over :func:`.match.story_features` fit
   them (exported node by node into the model file). The first pass follows a plain rule
   (the mean probability of the story's closest members); the next follows the model fit so
   far, so the model learns from the stories it builds itself, mistakes included (as in
   DAgger).
4. The threshold is the one giving the best mean pairwise F1 over the seeds' orders.

:func:`loto_clusterings` repeats 2 to 4 without each topic and scores the topic left
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
from pipelines.stories.match import (
    FEATURES,
    STORY_FEATURES,
    Decision,
    Logistic,
    Scored,
    StoryModel,
    Trees,
    decide,
    pair_features,
)
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
#: Orders the story model learns from (more orders, more of the matcher's own mistakes seen).
TRAINING_SEEDS = (1, 2, 3, 4, 5, 6)
PASSES = 2
#: The story model's trees: shallow and regularized by their number, not grown to fit ECB+.
TREE_COUNT = 100
TREE_DEPTH = 2
LEARNING_RATE = 0.1
THRESHOLDS = tuple(round(0.15 + 0.05 * i, 2) for i in range(7))
LOTO_THRESHOLDS = (0.2, 0.3, 0.4)


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
    model: StoryModel,
    features: Callable = pair_features,
    timings: list[float] | None = None,
    seen: list[tuple[str, Scored]] | None = None,
) -> dict[str, str]:
    """File name -> story id, after feeding the profiles in ``order`` through decide and the index.

    ``seen``, if given, receives (file name, candidate story) for every story scored.
    """
    index = MemoryIndex()
    stories = {}
    for name in order:
        profile = profiles[name]
        scored: list[Scored] | None = [] if seen is not None else None
        started = time.process_time()
        decision: Decision = decide(profile, index, WINDOW_MS, model, features, scored)
        if timings is not None:
            timings.append(time.process_time() - started)
        if seen is not None and scored:
            seen.extend((name, story) for story in scored)
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


def fit_pair(profiles: dict[str, ArticleProfile], gold: dict[str, str], features: Callable) -> Logistic:
    """The pair model: a logistic regression over the pairs the index brings together."""
    from sklearn.linear_model import LogisticRegression

    x, y = training_pairs(profiles, gold, features)
    regression = LogisticRegression(C=C, max_iter=2000).fit(x, y)
    return Logistic(FEATURES, tuple(float(c) for c in regression.coef_[0]), float(regression.intercept_[0]))


def bootstrap(pair: Logistic) -> StoryModel:
    """The first pass's rule: join the story whose closest members' mean probability passes 0.35."""
    coefficients = tuple(12.0 if name == "pair_top_mean" else 0.0 for name in STORY_FEATURES)
    return StoryModel(pair, Logistic(STORY_FEATURES, coefficients, -12.0 * 0.35), 0.5)


def story_examples(
    profiles: dict[str, ArticleProfile], gold: dict[str, str], model: StoryModel, features: Callable
) -> tuple[list[tuple[float, ...]], list[int]]:
    """Candidate stories met in the training orders, and whether most of their members are the article's."""
    x, y = [], []
    for seed in TRAINING_SEEDS:
        seen: list[tuple[str, Scored]] = []
        stream(profiles, shuffled(profiles, seed), model, features, seen=seen)
        for name, story in seen:
            same = sum(gold[m.key.split("@", 1)[0]] == gold[name] for m in story.members)
            x.append(story.features)
            y.append(int(2 * same > len(story.members)))
    return x, y


def fit_story(x: Sequence[Sequence[float]], y: Sequence[int]) -> Trees:
    """The story model: gradient-boosted trees of depth TREE_DEPTH, exported node by node."""
    import numpy as np
    from sklearn.ensemble import GradientBoostingClassifier

    booster = GradientBoostingClassifier(
        n_estimators=TREE_COUNT, max_depth=TREE_DEPTH, learning_rate=LEARNING_RATE, random_state=0
    ).fit(x, y)
    rate = sum(y) / len(y)  # the booster starts from the log-odds of the prior ("prior" init)
    trees = []
    for (estimator,) in booster.estimators_:
        tree = estimator.tree_
        trees.append(
            tuple(
                (
                    int(tree.feature[i]) if tree.children_left[i] >= 0 else -1,
                    float(tree.threshold[i]),
                    int(tree.children_left[i]),
                    int(tree.children_right[i]),
                    LEARNING_RATE * float(tree.value[i].ravel()[0]),
                )
                for i in range(tree.node_count)
            )
        )
    model = Trees(STORY_FEATURES, math.log(rate / (1 - rate)), tuple(trees))
    sample = np.asarray(x[:: max(1, len(x) // 200)], dtype=float)
    expected = booster.predict_proba(sample)[:, 1]
    one_by_one = np.array([model.probability(row) for row in sample])
    if max(np.abs(one_by_one - expected).max(), np.abs(model.probabilities(sample) - expected).max()) > 1e-4:
        raise SystemExit("the exported trees do not reproduce the booster (scikit-learn changed?)")
    return model


def fit(
    profiles: dict[str, ArticleProfile],
    gold: dict[str, str],
    features: Callable,
    seeds: Sequence[int] = SEEDS,
    thresholds: Sequence[float] = THRESHOLDS,
) -> tuple[StoryModel, float]:
    """The pair and story models and the threshold, and the mean pairwise F1 they reach."""
    model = bootstrap(fit_pair(profiles, gold, features))
    x: list[tuple[float, ...]] = []
    y: list[int] = []
    for _ in range(PASSES):
        more_x, more_y = story_examples(profiles, gold, model, features)
        x, y = x + more_x, y + more_y
        model = StoryModel(model.pair, fit_story(x, y), 0.3)
    orders = [shuffled(profiles, seed) for seed in seeds]
    best = (-1.0, model)
    for threshold in thresholds:
        candidate = dataclasses.replace(model, threshold=threshold)
        f1 = sum(pairwise(gold, stream(profiles, order, candidate, features))[2] for order in orders)
        if f1 / len(orders) > best[0]:
            best = (f1 / len(orders), candidate)
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
        model, _ = fit(train, gold, features, seeds[:1], LOTO_THRESHOLDS)  # one order: minutes, not hours
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
    print(f"story threshold {model.threshold}, in-sample mean pairwise F1 {f1:.3f}")
    print("pair model coefficients:")
    for name, c in sorted(zip(FEATURES, model.pair.coefficients, strict=True), key=lambda nc: -abs(nc[1])):
        print(f"  {name:28} {c:+.3f}")
    if isinstance(model.story, Trees):
        splits = Counter(STORY_FEATURES[f] for tree in model.story.trees for f, *_ in tree if f >= 0)
        print(f"story model: {len(model.story.trees)} trees; splits by feature:")
        for name, n in splits.most_common():
            print(f"  {name:28} {n}")
    document = {
        "about": "Story matching: see pipelines/stories/train.py. idf: common words of the BBC news "
        "corpus (Greene and Cunningham, ICML 2006); matcher: trained on ECB+ (Cybulska and Vossen, "
        "LREC 2014).",
        "idf": vocabulary.idf,
        "rare_idf": vocabulary.rare,
        "matcher": model.to_dict(),
    }
    args.out.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n", "utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
