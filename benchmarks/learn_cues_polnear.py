"""Learn cue shapes from PolNeAR train: write ``pipelines/claims/learned_cues.json``.

    .venv/bin/python benchmarks/learn_cues_polnear.py ../shared/data/polnear [--folds 5] [--write]

For every word where the hand-written rules find no cue but a learned shape could
(:mod:`pipelines.claims.learned`: a verb, a light verb and its object, "be" and an
adjective, a noun with an owner) and which has a subject (outside quotations;
not "we", "I", "you", "who"), the shape counts one occurrence; it counts one
attribution when a PolNeAR Cue holds the word and that relation's Source overlaps
the subject. A shape is kept when it occurs at least ``--min-count`` times and is
an attribution at least ``--min-precision`` of them and ``--min-attributions`` times
(2: a shape seen once as a cue is chance).

``--folds K`` chooses those two thresholds without fitting the noise: the train
articles are split into K folds; shapes are counted on K-1 and scored on the one
left out, for each pair of thresholds on a grid; it prints the held-out precision
and the number of attributions found. ``--write`` keeps the shapes counted on all
of train with the thresholds given. The file holds shape keys and counts, no text.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

from attribution_polnear import articles, offset_map, parse_all

from pipelines import nlp
from pipelines.claims import attribution, learned

OUT = Path(__file__).resolve().parents[1] / "pipelines" / "claims" / learned.RESOURCE


def subject_of(token):
    """The source a learned shape at ``token`` would name, as :func:`attribution.attributions` finds it."""
    if token.pos_ == "NOUN":
        subject = attribution._owner(token)
    elif token.pos_ == "VERB":
        subject = attribution._speaking_subject(token)
    else:
        subject = next((c for c in token.children if c.dep_ == "nsubj"), None)
    if subject is None or subject.lower_ in attribution._SKIPPED_SUBJECTS or subject.dep_ == "expl":
        return None
    return subject if attribution._is_agent(subject) else None


def occurrences(doc, relations, mapping) -> list[tuple[list[str], bool]]:
    """(shape keys, is an attribution) for every word of ``doc`` a learned shape could make a cue."""
    spans = []
    for r in relations:
        if not r.get("source"):
            continue
        cue = (mapping[r["cue"][1]], mapping[min(r["cue"][2], len(mapping) - 1)])
        source = (mapping[r["source"][1]], mapping[min(r["source"][2], len(mapping) - 1)])
        spans.append((cue, source))
    found = []
    for token in doc:
        keys = learned.keys(token)
        if not keys or attribution._inside_quotation(token):
            continue
        if token.pos_ in ("VERB", "AUX") and attribution._cue_kind(token) is not None:
            continue  # the hand-written rules see a cue: nothing to learn
        subject = subject_of(token)
        if subject is None:
            continue
        words = [token] + [c for c in token.children if c.dep_ == "acomp"]
        first, last = subject.left_edge, subject.right_edge
        around = (first.idx, last.idx + len(last))
        hit = any(
            any(cue[0] <= w.idx < max(cue[1], cue[0] + 1) for w in words)
            and source[0] < around[1]
            and around[0] < source[1]
            for cue, source in spans
        )
        found.append((keys, hit))
    return found


def count(instances) -> dict[str, list[int]]:
    """Shape key -> [attributions, occurrences]."""
    counts = collections.defaultdict(lambda: [0, 0])
    for keys, hit in instances:
        for key in keys:
            counts[key][0] += hit
            counts[key][1] += 1
    return counts


def kept(counts, min_count: int, min_precision: float, min_attributions: int = 1) -> dict[str, list[int]]:
    """Shapes seen ``min_count`` times, a cue ``min_attributions`` times and a ``min_precision`` share."""
    return {
        k: c
        for k, c in counts.items()
        if c[1] >= min_count and c[0] >= min_precision * c[1] and c[0] >= min_attributions
    }


def score(instances, patterns) -> tuple[int, int]:
    """(attributions, occurrences) of the held-out words a kept shape makes a cue."""
    fired = [hit for keys, hit in instances if any(k in patterns for k in keys)]
    return sum(fired), len(fired)


def as_json(document: dict) -> str:
    """The document as JSON with one pattern a line: small diffs when it is learned again."""
    head = {k: v for k, v in document.items() if k != "patterns"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in document["patterns"].items()]
    return json.dumps(head, indent=1)[:-2] + ',\n "patterns": {\n' + ",\n".join(lines) + "\n }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the PolNeAR folder (holding train/)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/claimstream-polnear"))
    parser.add_argument("--folds", type=int, default=0, help="cross-validate the thresholds over K folds")
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--min-precision", type=float, default=0.6)
    parser.add_argument("--min-attributions", type=int, default=1, help="a shape a cue at least N times")
    parser.add_argument("--write", action="store_true", help=f"write the kept shapes to {OUT.name}")
    args = parser.parse_args(argv)
    if not (args.path / "train" / "text").is_dir():
        print(f"no PolNeAR train split at {args.path}", file=sys.stderr)
        return 2
    items = articles(args.path, "train")
    pairs = parse_all(items, nlp.load_model(), args.cache / f"train-{len(items)}.spacy")
    per_article = []
    for (_, raw, relations), (article, doc) in zip(items, pairs, strict=True):
        per_article.append(occurrences(doc, relations, offset_map(raw, article.text)))

    if args.folds:
        grid = [(n, p) for n in (3, 5, 8, 12) for p in (0.4, 0.5, 0.6, 0.7, 0.8)]
        totals = collections.defaultdict(lambda: [0, 0])
        for fold in range(args.folds):
            train = [i for k, a in enumerate(per_article) if k % args.folds != fold for i in a]
            held = [i for k, a in enumerate(per_article) if k % args.folds == fold for i in a]
            counts = count(train)
            for n, p in grid:
                hits, fired = score(held, kept(counts, n, p))
                totals[n, p][0] += hits
                totals[n, p][1] += fired
        print(f"held-out over {args.folds} folds: min count, min precision -> precision (attributions/fired)")
        for (n, p), (hits, fired) in totals.items():
            print(f"  {n:3d} {p:.2f} -> {hits / max(fired, 1):.3f} ({hits}/{fired})")

    counts = count(i for a in per_article for i in a)
    patterns = kept(counts, args.min_count, args.min_precision, args.min_attributions)
    hits = sum(c[0] for c in patterns.values())
    print(f"{len(patterns)} shapes kept (count >= {args.min_count}, precision >= {args.min_precision})")
    if args.write:
        document = {
            "about": "Cue shapes learned from PolNeAR v1.0.0 train (840 articles) by "
            "benchmarks/learn_cues_polnear.py: key -> [attributions, occurrences].",
            "min_count": args.min_count,
            "min_precision": args.min_precision,
            "min_attributions": args.min_attributions,
            "attributions": hits,
            "patterns": dict(sorted(patterns.items())),
        }
        OUT.write_text(as_json(document), encoding="utf-8")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
