"""How often real news gets linked as a re-told story, how right the links are, and the cost.

    .venv/bin/python benchmarks/stories_background.py ../shared/samples/bbc [--folders business tech]
        [--limit N] [--judged benchmarks/data/bbc_story_links.json] [--thresholds 0.35 0.5 0.65]
        [--ecbplus ../shared/data/ecbplus] [--dump FILE]

ECB+, where the story model is trained, is a corpus of re-told stories: every article has ~10
same-story mates. Real news is mostly new stories, with neighbours of the same company, saga or
topic that are *not* the same story. This benchmark streams real articles (the BBC corpus by
default: 2004-2005, no timestamps, so all in one window), in sorted path order, through the
stage itself (:class:`pipelines.stories.stage.LinkStoriesFn` over a SQLite index in a temporary
output folder, as the pipeline runs it), and prints:

- the share of NEW, VERSION and DUPLICATE answers;
- the stage's CPU milliseconds an article, and their split (profile, decide without its index
  reads, claim profiles, claim links, index reads and writes, the rest of the stage);
- with ``--judged``, the precision of the VERSION/DUPLICATE links against judged pairs
  (SAME_STORY, RELATED or UNRELATED; see ``benchmarks/data/bbc_story_links.json``), the links
  not judged, and the recall of the judged SAME_STORY pairs (linked and rejected ones);
- with ``--thresholds``, the same at each story threshold (the model's, ``dataclasses.replace``-d),
  and with ``--ecbplus`` the ECB+ pairwise F1 at that threshold (seeds 1 2 3, in-sample).

The best rejected candidate of a NEW article (the story it would have joined, and that story's
score) is computed beside the stage by the match module's own public pieces
(``decide``'s ``seen`` hook), outside the timings. ``--dump`` writes
every link and rejected candidate, with both headlines, for judging. Articles are annotated by
the project's spaCy pipeline once and cached under /tmp/judge/.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import pickle
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pipelines.stories.stage as stage
from pipelines.records import EnrichedArticle
from pipelines.stories import match
from pipelines.stories.match import StoryModel, default_model
from pipelines.stories.profile import ArticleProfile, default_vocabulary, profile_of

CACHE = Path("/tmp/judge")
#: All articles at one event time (the corpus has none): one window, as the brief's runs.
EVENT_TIME_MS = 1_104_537_600_000
WINDOW_DAYS = 7.0
LABELS = ("SAME_STORY", "RELATED", "UNRELATED")


# --- articles ------------------------------------------------------------------------------


def article_files(root: Path, folders: list[str] | None) -> list[str]:
    """Relative paths ("business/012.txt") of the articles under ``root``, sorted."""
    chosen = [root / f for f in folders] if folders else [root]
    missing = [str(f) for f in chosen if not f.is_dir()]
    if missing:
        raise SystemExit(f"no such folder: {', '.join(missing)}")
    return sorted(str(p.relative_to(root)) for folder in chosen for p in folder.rglob("*.txt"))


def annotated(root: Path, names: list[str], cache: Path = CACHE) -> dict[str, EnrichedArticle]:
    """Relative path -> its article annotated by the project's spaCy pipeline (cached per folder).

    The article id is the path without ".txt", so links read as paths.
    """
    from pipelines import nlp
    from pipelines.parse import parse_article
    from pipelines.records import Message

    articles: dict[str, EnrichedArticle] = {}
    spacy_nlp = None
    for folder in sorted({str(Path(n).parent) for n in names}):
        cached = cache / f"{root.resolve().name}-{folder.replace('/', '_')}.pickle"
        found: dict[str, EnrichedArticle] = pickle.loads(cached.read_bytes()) if cached.is_file() else {}
        todo = [n for n in names if str(Path(n).parent) == folder and n not in found]
        for name in todo:
            if spacy_nlp is None:
                spacy_nlp = nlp.load_model()
            message = Message(
                (root / name).read_bytes(), key=name, path=name, offset=0, timestamp_ms=EVENT_TIME_MS
            )
            article = dataclasses.replace(parse_article(message), article_id=name.removesuffix(".txt"))
            found[name] = nlp.annotate(article, spacy_nlp(article.text), nlp.model_name(spacy_nlp))
        if todo:
            cache.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(pickle.dumps(found))
        articles.update({n: found[n] for n in names if n in found})
    return articles


# --- CPU time, split by part of the stage --------------------------------------------------


class Clock:
    """CPU seconds by bucket; a bucket's time excludes the buckets timed inside it."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._inner: list[float] = []
        self.paused = False

    @contextlib.contextmanager
    def part(self, bucket: str) -> Iterator[None]:
        if self.paused:
            yield
            return
        self._inner.append(0.0)
        started = time.process_time()
        try:
            yield
        finally:
            elapsed = time.process_time() - started
            inner = self._inner.pop()
            self.seconds[bucket] += elapsed - inner
            if self._inner:
                self._inner[-1] += elapsed

    def timed(self, bucket: str, function: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.part(bucket):
                return function(*args, **kwargs)

        return wrapper


# --- the stream ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Answer:
    name: str  # relative path
    relation: str
    story_id: str
    previous: str | None  # relative path of the article it follows
    similarity: float  # the stage's: the followed member's probability
    score: float  # the best candidate story's score (the one chosen, or the best rejected)
    candidate: str | None  # that story's most similar member (relative path)


def best_story(
    profile: ArticleProfile, index: Any, window_ms: int, model: StoryModel
) -> tuple[float, str | None]:
    """(score, most similar member's article id) of the best candidate story, as ``decide`` scores
    them (same candidates, stories and members), whether or not it reaches the threshold."""
    seen: list[match.Scored] = []
    match.decide(profile, index, window_ms, model, seen=seen)
    if not seen:
        return (0.0, None)
    best = max(seen, key=lambda scored: scored.probability)
    pair = model.pair.probabilities([match.pair_features(profile, m) for m in best.members])
    return (best.probability, best.members[int(pair.argmax())].article_id)


@dataclasses.dataclass
class Run:
    answers: list[Answer]
    clock: Clock
    total_seconds: float

    @property
    def duplicates(self) -> int:
        return sum(a.relation == "DUPLICATE" for a in self.answers)


def run_stage(articles: dict[str, EnrichedArticle], model: StoryModel) -> Run:
    """Each article, in sorted path order, through ``LinkStoriesFn`` (SQLite index, temp folder)."""
    clock = Clock()
    shadows: dict[str, tuple[float, str | None]] = {}
    real_decide = stage.decide

    def decide(profile: ArticleProfile, index: Any, window_ms: int) -> match.Decision:
        decision = real_decide(profile, index, window_ms, model)
        clock.paused = True  # the best candidate's score is ours, not the stage's cost
        try:
            shadows[profile.article_id] = best_story(profile, index, window_ms, model)
        finally:
            clock.paused = False
        return decision

    patched = {
        "profile_of": clock.timed("profile", stage.profile_of),
        "decide": clock.timed("decide", decide),
        "claim_profiles": clock.timed("claim profiles", stage.claim_profiles),
        "link_claims": clock.timed("claim links", stage.link_claims),
    }
    saved = {name: getattr(stage, name) for name in patched}
    answers = []
    with tempfile.TemporaryDirectory(prefix="judge-") as output:
        fn = stage.LinkStoriesFn(output, None, WINDOW_DAYS, "judge")
        fn.setup()
        for method in ("get", "candidates", "members", "add", "expire"):
            setattr(fn._index, method, clock.timed("index", getattr(fn._index, method)))
        try:
            for name, value in patched.items():
                setattr(stage, name, value)
            profile_of(articles[min(articles)], "warm-up", 0)  # loads the embedding model
            started = time.process_time()
            linked = []
            for name in sorted(articles):
                with clock.part("stage, the rest"):
                    linked.append((name, fn.link(articles[name])))
            total = time.process_time() - started
        finally:
            for name, value in saved.items():
                setattr(stage, name, value)
            fn.teardown()
    for name, article in linked:
        story = article.story
        score, candidate = shadows.get(article.article_id, (1.0, None))
        answers.append(
            Answer(
                name,
                story.relation,
                story.story_id,
                _path(story.previous_article_id),
                story.similarity,
                round(score, 4),
                _path(candidate),
            )
        )
    return Run(answers, clock, total)


def _path(article_id: str | None) -> str | None:
    return None if article_id is None else f"{article_id}.txt"


# --- scores --------------------------------------------------------------------------------


def load_judged(path: Path) -> dict[frozenset[str], str]:
    """{the two paths: label} from the judged file."""
    try:
        pairs = json.loads(path.read_text("utf-8"))["pairs"]
        judged = {frozenset((p["article"], p["earlier"])): p["label"] for p in pairs}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"cannot read the judged pairs {path}: {e}") from None
    wrong = sorted({label for label in judged.values() if label not in LABELS})
    if wrong:
        raise SystemExit(f"{path}: unknown labels {wrong}, expected one of {LABELS}")
    return judged


@dataclasses.dataclass(frozen=True)
class Precision:
    links: int
    judged: int
    same: int
    related: int
    recalled: int  # judged SAME_STORY pairs in one story
    same_pairs: int  # judged SAME_STORY pairs among the articles run
    versions: int  # judged VERSION links (not DUPLICATE: those are the same text again)
    versions_same: int

    def row(self) -> str:
        if not self.judged:
            return f"{self.links} links, none judged"
        return (
            f"{self.links} links, {self.judged} judged ({self.links - self.judged} not): "
            f"precision SAME_STORY {self.same / self.judged:.3f}, "
            f"SAME_STORY or RELATED {(self.same + self.related) / self.judged:.3f}; "
            f"VERSION links only: SAME_STORY {self.versions_same}/{self.versions}; "
            f"recall of judged SAME_STORY pairs {self.recalled}/{self.same_pairs}"
        )


def precision(answers: list[Answer], judged: dict[frozenset[str], str]) -> Precision:
    """The links among ``answers`` against the judged pairs (a pair is judged whatever its order).

    >>> a = [Answer("b/1.txt", "NEW", "b/1", None, 0.0, 0.0, None),
    ...      Answer("b/2.txt", "VERSION", "b/1", "b/1.txt", 0.9, 0.9, None),
    ...      Answer("b/3.txt", "VERSION", "b/1", "b/2.txt", 0.8, 0.8, None),
    ...      Answer("b/4.txt", "NEW", "b/4", None, 0.0, 0.3, "b/1.txt")]
    >>> judged = {frozenset(("b/1.txt", "b/2.txt")): "SAME_STORY", frozenset(("b/3.txt", "b/2.txt")): "RELATED",
    ...           frozenset(("b/4.txt", "b/1.txt")): "SAME_STORY"}
    >>> precision(a, judged).row()
    '2 links, 2 judged (0 not): precision SAME_STORY 0.500, SAME_STORY or RELATED 1.000; VERSION links only: SAME_STORY 1/2; recall of judged SAME_STORY pairs 1/2'
    """  # noqa: E501
    links = [a for a in answers if a.relation != "NEW"]
    labels = [judged.get(frozenset((a.name, a.previous))) for a in links]
    versions = [label for a, label in zip(links, labels, strict=True) if a.relation == "VERSION" and label]
    story = {a.name: a.story_id for a in answers}
    same_pairs = [
        tuple(pair) for pair, label in judged.items() if label == "SAME_STORY" and pair <= story.keys()
    ]
    return Precision(
        len(links),
        sum(label is not None for label in labels),
        labels.count("SAME_STORY"),
        labels.count("RELATED"),
        sum(story[a] == story[b] for a, b in same_pairs),
        len(same_pairs),
        len(versions),
        versions.count("SAME_STORY"),
    )


def ecbplus_f1(folder: Path, thresholds: list[float], base: StoryModel) -> dict[float, float]:
    """Mean in-sample ECB+ pairwise F1 (seeds 1 2 3) at each threshold (spaCy cached in /tmp/judge)."""
    from pipelines.stories import train

    gold = train.gold_of(folder)
    profiles = train.profiles_of(train.annotated(folder, CACHE), default_vocabulary())
    return {
        t: statistics.mean(
            train.pairwise(gold, train.stream(profiles, train.shuffled(profiles, seed), model))[2]
            for seed in train.SEEDS
        )
        for t in thresholds
        for model in [dataclasses.replace(base, threshold=t)]
    }


# --- report --------------------------------------------------------------------------------


def print_run(run: Run, label: str) -> None:
    n = len(run.answers)
    shares = Counter(a.relation for a in run.answers)
    print(
        f"{label}: {n} articles: "
        + ", ".join(f"{r} {shares[r]} ({shares[r] / n:.1%})" for r in ("NEW", "VERSION", "DUPLICATE"))
    )
    parts = ", ".join(f"{b} {1000 * s / n:.2f}" for b, s in sorted(run.clock.seconds.items()))
    print(f"  stage CPU {1000 * run.total_seconds / n:.2f} ms an article ({parts})")


def dump(run: Run, articles: dict[str, EnrichedArticle], path: Path) -> None:
    """Every link and every NEW article's best rejected candidate, with both headlines."""

    def title(name: str | None) -> str | None:
        return None if name is None else articles[name].title

    rows = [
        {
            "article": a.name,
            "earlier": a.previous if a.relation != "NEW" else a.candidate,
            "relation": a.relation,
            "score": a.score,
            "similarity": a.similarity,
            "titles": [title(a.name), title(a.previous if a.relation != "NEW" else a.candidate)],
        }
        for a in run.answers
        if a.relation != "NEW" or a.candidate is not None
    ]
    path.write_text(json.dumps(rows, indent=1) + "\n", "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("../shared/samples/bbc"))
    parser.add_argument("--folders", nargs="+", help="sub-folders to read (default: all)")
    parser.add_argument("--limit", type=int, help="the first N articles in sorted path order")
    parser.add_argument("--judged", type=Path, help="judged pairs (benchmarks/data/bbc_story_links.json)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[], help="story thresholds to try")
    parser.add_argument("--ecbplus", type=Path, help="the ECB+ folder: F1 at each threshold")
    parser.add_argument(
        "--dump",
        type=Path,
        help="write the links and rejected candidates (JSON; FILE-THRESHOLD.json for others)",
    )
    args = parser.parse_args(argv)

    names = article_files(args.data, args.folders)[: args.limit]
    if not names:
        raise SystemExit(f"no *.txt articles under {args.data}")
    articles = annotated(args.data, names)
    judged = load_judged(args.judged) if args.judged else {}
    base = default_model()
    print(f"model: story threshold {base.threshold}")

    run = run_stage(articles, base)
    print_run(run, f"threshold {base.threshold} (the model's)")
    if judged:
        print("  " + precision(run.answers, judged).row())
    if args.dump:
        dump(run, articles, args.dump)
    thresholds = [t for t in args.thresholds if t != base.threshold]
    f1 = ecbplus_f1(args.ecbplus, [base.threshold, *thresholds], base) if args.ecbplus else {}
    table = [(base.threshold, run)]
    for t in thresholds:
        table.append((t, run_stage(articles, dataclasses.replace(base, threshold=t))))
        print_run(table[-1][1], f"threshold {t}")
        if args.dump:
            dump(table[-1][1], articles, args.dump.with_name(f"{args.dump.stem}-{t}{args.dump.suffix}"))
        if judged:
            print("  " + precision(table[-1][1].answers, judged).row())
    if judged or f1:
        print("\n| threshold | links (VERSION + DUPLICATE) | judged | precision SAME_STORY | "
              "SAME_STORY or RELATED | VERSION links: SAME_STORY | recall of judged SAME_STORY | "
              "ECB+ pairwise F1 |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for t, r in sorted(table):
            p = precision(r.answers, judged)
            same = f"{p.same / p.judged:.3f}" if p.judged else "-"
            either = f"{(p.same + p.related) / p.judged:.3f}" if p.judged else "-"
            recall = f"{p.recalled}/{p.same_pairs}" if p.same_pairs else "-"
            ecb = f"{f1[t]:.3f}" if t in f1 else "-"
            versions = f"{p.versions_same}/{p.versions}" if p.versions else "-"
            row = (
                t,
                f"{p.links} ({p.links - r.duplicates} + {r.duplicates})",
                p.judged,
                same,
                either,
                versions,
            )
            print("| " + " | ".join(str(x) for x in (*row, recall, ecb)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
