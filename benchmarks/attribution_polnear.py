"""Print attribution recall and precision on PolNeAR (Newell et al., LREC 2018).

    .venv/bin/python benchmarks/attribution_polnear.py ../shared/data/polnear [--split dev|train]

PATH holds the corpus as ``<split>/text/*.txt`` and ``<split>/attributions/*.ann``
(brat standoff; the first annotator's file in sorted order). The data is never
committed: pass its path. Rules are tuned on ``train``; the figures reported
are those of ``dev``.

Definitions:

- gold attributions: relations whose Source is named (not a pronoun: he, she,
  they, it, I, we, you, ...). Those whose Source is he/she/they/it make the
  separate pronoun figure: there the gold speaker is the antecedent, the
  nearest named Source annotated before the pronoun in the article.
- a relative pronoun Source ("the Post, which said ...") stands for the four words
  before it (the last word is the noun it attaches to).
- found: a claim on the sentence that holds the gold Content's start carries an
  attribution whose speaker (or source as written) matches the gold Source. Two
  names match when their last words are the same (a possessive "'s", a
  parenthesis and a leading "the" aside) or one is inside the other; each
  comma-separated part of the gold Source counts ("Alan Abramowitz, a
  demographer" is matched by "Abramowitz"). *main* counts only the
  claim's main ``speaker``; *any* counts all of its ``attributions``.
- precision: of the attributions output on sentences that hold any gold
  attribution, the share whose speaker matches a gold Source of that sentence
  (a pronoun Source standing for its antecedent). Sentences with no gold
  attribution are left out: the corpus does not say they hold none.
- cue kind of a gold attribution, from its Cue's words: reporting verb
  (said, told, wrote, added, ...), according to, belief-intention-stance
  (fear, believe, plan, want, argue, deny, ...), noun cue (statement,
  interview, ...), other.
- ms/article: CPU time of the claims stage only (check-worthiness and attribution;
  spaCy's parse is cached in ``--cache``).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import re
import sys
import time
from pathlib import Path

from spacy.tokens import DocBin

from pipelines import claims, nlp
from pipelines.claims import checkworthiness, cues
from pipelines.nlp.annotate import sentences_of
from pipelines.parse import parse_article
from pipelines.records import Message

PRONOUNS = frozenset("he she they it him her them his its their".split())
OTHER_PRONOUNS = frozenset("i we you me us my our your this that one".split())
#: Relative pronouns: a source "which" stands for the phrase right before it.
RELATIVES = frozenset("who whom whose which".split())
NOUN_CUES = frozenset(
    """statement statements interview interviews letter report reports remarks speech comments
    comment tweet tweets post release memo testimony email emails op-ed poll polls survey
    announcement claim claims view views opinion criticism warning message""".split()
)


# --- Corpus -----------------------------------------------------------------------------


def read_ann(path: Path) -> list[dict]:
    """The relations of one brat file: source/cue/content as (start, end, text)."""
    spans, relations = {}, []
    for line in path.read_text("utf-8").splitlines():
        parts = line.split("\t")
        if line.startswith("T") and len(parts) >= 3:
            label, _, ranges = parts[1].partition(" ")
            first = ranges.split(";")[0].split()
            spans[parts[0]] = (label, int(first[0]), int(ranges.split(";")[-1].split()[-1]), parts[2])
        elif line.startswith("E") and len(parts) >= 2:
            roles = dict(r.split(":", 1) for r in parts[1].split())
            relations.append({k.lower(): spans.get(v) for k, v in roles.items()})
    return [r for r in relations if r.get("content") and r.get("cue")]


def articles(root: Path, split: str) -> list[tuple[str, str, list[dict]]]:
    texts = sorted((root / split / "text").glob("*.txt"))
    result = []
    for text in texts:
        anns = sorted((root / split / "attributions").glob(text.stem + "_*.ann"))
        if anns:
            result.append((text.stem, text.read_text("utf-8"), read_ann(anns[0])))
    return result


def offset_map(raw: str, text: str) -> list[int]:
    """For each index of ``raw``, the index of ``text`` it became (white space collapsed).

    The headline, which the parser keeps out of ``text``, maps to -1.

    >>> offset_map("Title\\n\\nA  b.", "A b.")
    [-1, -1, -1, -1, -1, -1, -1, 0, 1, 1, 2, 3, 4]
    """
    start = re.search(r"\s+".join(map(re.escape, text[:40].split())), raw)
    body = start.start() if start else 0
    mapping, j = [-1] * body, 0
    for char in raw[body:]:
        if j < len(text) and (char == text[j] or (char.isspace() and text[j].isspace())):
            mapping.append(j)
            j += 1
        else:
            mapping.append(max(j - 1, 0) if char.isspace() else j)
    mapping.append(len(text))
    return mapping


# --- Matching ---------------------------------------------------------------------------


def norm(name: str) -> str:
    """A name without a parenthesis, a possessive, quote marks or "the".

    >>> norm("Sen. John Cornyn (R-Texas)"), norm("the NYPD's")
    ('sen john cornyn', 'nypd')
    """
    name = re.sub(r"\([^)]*\)", " ", name)
    name = re.sub(r"['\u2019]s\b", "", name.lower())
    name = re.sub(r"[^\w\s-]", " ", name)
    words = [w for w in name.split() if w not in ("the", "a", "an")]
    return " ".join(words)


def same(predicted: str | None, gold: str | None) -> bool:
    """Whether two names match: the same last word, or one inside the other.

    A gold source's appositives count on their own: "Alan Abramowitz, a demographer"
    is matched by "Alan Abramowitz".

    >>> same("Abramowitz", "Alan Abramowitz, a demographer at Emory"), same("Trump", "Clinton")
    (True, False)
    """
    if not predicted or not gold:
        return False
    p = norm(predicted)
    for part in [gold, *gold.split(",")]:
        g = norm(part)
        if p and g and (p.split()[-1] == g.split()[-1] or f" {p} " in f" {g} " or f" {g} " in f" {p} "):
            return True
    return False


def cue_kind(cue: str) -> str:
    words = cue.lower().replace("\u2019", "'").split()
    if "according" in words:
        return "according to"
    if any(cues.kind_of(w) == "reporting" for w in words):
        return "reporting verb"
    if any(cues.kind_of(w) == "stance" for w in words):
        return "belief-intention-stance"
    if any(w.strip(",.") in NOUN_CUES for w in words):
        return "noun cue"
    return "other"


def names(attribution: dict) -> list[str]:
    source = attribution.get("source") or {}
    return [n for n in (attribution.get("speaker"), source.get("text")) if n]


# --- Run --------------------------------------------------------------------------------


def parse_all(items, spacy_nlp, cache: Path):
    """(article, doc) per item, spaCy's docs cached in ``cache`` between runs."""
    parsed = [parse_article(Message(payload=raw.encode(), path=name + ".txt")) for name, raw, _ in items]
    if cache.is_file():
        docs = list(DocBin().from_disk(cache).get_docs(spacy_nlp.vocab))
        if len(docs) == len(parsed) and all(d.text == a.text for d, a in zip(docs, parsed, strict=True)):
            return list(zip(parsed, docs, strict=True))
    docs = list(spacy_nlp.pipe(a.text for a in parsed))
    bin_ = DocBin(store_user_data=False)
    for doc in docs:
        bin_.add(doc)
    cache.parent.mkdir(parents=True, exist_ok=True)
    bin_.to_disk(cache)
    return list(zip(parsed, docs, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the PolNeAR folder (holding train/ and dev/)")
    parser.add_argument("--split", default="dev", choices=("dev", "train"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N articles")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/claimstream-polnear"))
    parser.add_argument("--show", type=int, default=0, help="print N examples of each error class")
    args = parser.parse_args(argv)
    if not (args.path / args.split / "text").is_dir():
        print(f"no PolNeAR {args.split} split at {args.path}", file=sys.stderr)
        return 2

    items = articles(args.path, args.split)
    if args.limit:
        items = items[: args.limit]
    spacy_nlp = nlp.load_model()
    # The linear score: attributions do not depend on it, and the claims stage's time stays
    # comparable with the earlier rows (the pipeline's cascade adds ~8.6 ms an article).
    scorer = checkworthiness.load_model()
    cache = args.cache / f"{args.split}-{len(items)}.spacy"
    pairs = parse_all(items, spacy_nlp, cache)

    tally = Tally(args.show)
    elapsed = 0.0
    for (_, raw, relations), (article, doc) in zip(items, pairs, strict=True):
        started = time.process_time()
        sentences = [s.__dict__ for s in sentences_of(doc, article.paragraphs)]
        found = claims.find_claims(doc, sentences, article.article_id, scorer)
        elapsed += time.process_time() - started
        tally.sentences += len(sentences)
        tally.claims += len(found)
        tally.add(sentences, found, gold_by_sentence(raw, article.text, sentences, relations))
    counts, kinds, errors, examples = tally.counts, tally.kinds, tally.errors, tally.examples
    sentence_total, claim_total = tally.sentences, tally.claims

    def ratio(a: str, b: str) -> str:
        return f"{counts[a] / counts[b]:.3f} ({counts[a]}/{counts[b]})" if counts[b] else "n/a"

    named = counts["named gold"]
    print(f"PolNeAR {args.split}: {len(items)} articles, {named} attributions with a named source")
    print(f"  recall main {ratio('named main', 'named gold')}  any {ratio('named any', 'named gold')}")
    precision = ratio("main output right", "main output"), ratio("output right", "output")
    print(f"  precision main {precision[0]}  all {precision[1]}")
    print(
        f"  pronoun sources (he/she/they/it) right: main {ratio('pronoun main', 'pronoun gold')}"
        f"  any {ratio('pronoun any', 'pronoun gold')}"
    )
    share = claim_total / max(sentence_total, 1)
    print(
        f"  claims {claim_total} of {sentence_total} sentences ({share:.0%});"
        f" claims stage {1000 * elapsed / max(len(items), 1):.2f} ms/article"
    )
    print("  recall (any) per cue kind:")
    for kind, c in sorted(kinds.items(), key=lambda kv: -kv[1]["gold"]):
        print(f"    {kind:24} {c['any'] / c['gold']:.3f} ({c['any']}/{c['gold']})")
    print("  precision (all) per cue kind output:")
    for kind, c in sorted(tally.output_kinds.items(), key=lambda kv: -kv[1]["output"]):
        print(f"    {kind:24} {c['right'] / c['output']:.3f} ({c['right']}/{c['output']})")
    print("  error classes:")
    for error, n in errors.most_common():
        print(f"    {error:40} {n}")
        for example in examples.get(error, []):
            print("      " + example)
    return 0


def gold_by_sentence(raw: str, text: str, sentences: list[dict], relations: list[dict]) -> dict:
    """Sentence index -> [(gold name, source is a pronoun, relation)] of one article."""
    mapping = offset_map(raw, text)
    starts = [s["start"] for s in sentences]
    named_before = sorted(
        (r["source"][1], r["source"][3])
        for r in relations
        if r.get("source") and norm(r["source"][3]) not in PRONOUNS | OTHER_PRONOUNS | RELATIVES
    )
    result = collections.defaultdict(list)
    for r in relations:
        source = r.get("source")
        key = norm(source[3]) if source else ""
        if not key or key in OTHER_PRONOUNS:
            continue
        pronoun = key in PRONOUNS
        gold_name = antecedent(raw, source[1]) if key in RELATIVES else source[3]
        if pronoun:
            before = [n for o, n in named_before if o < source[1]]
            if not before:
                continue  # no antecedent to resolve against
            gold_name = before[-1]
        at = mapping[min(first_word(raw, r["content"][1]), len(mapping) - 1)]
        index = bisect.bisect_right(starts, at) - 1
        if index >= 0:
            result[index].append((gold_name, pronoun, r))
    return result


def antecedent(raw: str, start: int) -> str:
    """What a relative pronoun at ``start`` stands for: the last words before it, up to 4.

    >>> antecedent("It came after the Huffington Post, which said so.", 35)
    'after the Huffington Post'
    """
    before = re.split(r"[.;:!?\n\u2014()]", raw[:start].rstrip(" ,"))[-1]
    return " ".join(before.split()[-4:])


def first_word(raw: str, start: int) -> int:
    """The offset of the first letter or digit from ``start``: a Content may start with its quote marks."""
    match = re.compile(r"\w").search(raw, start)
    return match.start() if match else start


class Tally:
    """The counts of a run, article by article."""

    def __init__(self, show: int) -> None:
        self.show = show
        self.counts = collections.Counter()
        self.kinds = collections.defaultdict(collections.Counter)
        self.output_kinds = collections.defaultdict(collections.Counter)
        self.errors = collections.Counter()
        self.examples = collections.defaultdict(list)
        self.sentences = self.claims = 0

    def example(self, error: str, text: str) -> None:
        self.errors[error] += 1
        if len(self.examples[error]) < self.show:
            self.examples[error].append(text)

    def add(self, sentences: list[dict], found: list[dict], golds_by_sentence: dict) -> None:
        by_sentence = {c["sentence"]: c for c in found}
        counts = self.counts
        for index, golds in golds_by_sentence.items():
            claim = by_sentence.get(index)
            attributions = claim.get("attributions", []) if claim else []
            main = claim.get("speaker") if claim else None
            if claim is not None and not attributions and main:
                attributions = [{"speaker": main}]
            text = sentences[index]["text"][:160]
            wanted = [g for g, _, _ in golds]
            for attribution in attributions:
                counts["output"] += 1
                kind = self.output_kinds[attribution.get("cue_kind", "REPORTING")]
                kind["output"] += 1
                if any(any(same(n, g) for n in names(attribution)) for g in wanted):
                    counts["output right"] += 1
                    kind["right"] += 1
                else:
                    got = names(attribution) + [(attribution.get("cue") or {}).get("text")]
                    self.example(output_error(attribution), f"{text!r}\n      got {got}; gold {wanted}")
            if main:
                counts["main output"] += 1
                counts["main output right"] += any(same(main, g) for g in wanted)
            for gold_name, pronoun, r in golds:
                group = "pronoun" if pronoun else "named"
                hit_main = same(main, gold_name)
                hit_any = hit_main or any(any(same(n, gold_name) for n in names(a)) for a in attributions)
                counts[f"{group} gold"] += 1
                counts[f"{group} main"] += hit_main
                counts[f"{group} any"] += hit_any
                if not pronoun:
                    kind = cue_kind(r["cue"][3])
                    self.kinds[kind]["gold"] += 1
                    self.kinds[kind]["any"] += hit_any
                if not hit_any:
                    self.example(
                        miss_error(attributions, golds, pronoun),
                        f"{text!r}\n      gold {r['source'][3]!r} ({gold_name!r}) cue {r['cue'][3]!r};"
                        f" got {[names(a) for a in attributions]}",
                    )


def miss_error(attributions: list[dict], golds: list, pronoun: bool) -> str:
    """Why a gold attribution was missed."""
    if pronoun and attributions:
        return "missed: wrong pronoun antecedent"
    if not attributions:
        return "missed: no attribution on the sentence"
    if any(any(same(n, g) for n in names(a)) for a in attributions for g, _, _ in golds):
        return "missed: second attribution of a sentence"
    if any(is_fragment(n) for a in attributions for n in names(a)):
        return "missed: fragment speaker"
    return "missed: other speaker"


def output_error(attribution: dict) -> str:
    """Why an attribution output matches no gold source of its sentence."""
    if any(is_fragment(n) for n in names(attribution)):
        return "wrong: fragment speaker"
    cue = attribution.get("cue") or {}
    source = attribution.get("source") or {}
    if cue and source and source.get("start", 0) > cue.get("start", 0):
        return "wrong: speaker after its cue (object?)"
    if norm(source.get("text", "")) in PRONOUNS:
        return "wrong: pronoun antecedent"
    return "wrong: other speaker"


def is_fragment(name: str) -> bool:
    words = norm(name).split()
    return bool(words) and (
        words[-1] in ("who", "that", "which", "are", "is", "has", "was")
        or words[0] in ("if", "who", "that", "when", "because")
    )


if __name__ == "__main__":
    sys.exit(main())
