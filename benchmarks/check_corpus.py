"""Run `claimstream run --input` over a folder of articles and check the parse against it.

    .venv/bin/python benchmarks/check_corpus.py ../shared/samples/bbc

Prints: articles in, articles out, dead letters (with reasons), articles without a
title, and articles whose paragraph count differs from the blank-line-separated
blocks of the file (minus the headline block), then the run's throughput.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

from pipelines import pipeline, sinks


def body_blocks(path: Path, title: str | None) -> int:
    """Blank-line separated blocks of the file, without the headline (and its repeat)."""
    text = path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip() for b in re.split(r"\n[ \t]*\n", text) if b.strip()]
    heading = 1 if title else 0
    if title and len(blocks) > 1 and blocks[1] == blocks[0]:
        heading = 2
    return len(blocks) - heading


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__)
        return 2
    corpus = Path(argv[0])
    inputs = sorted(corpus.rglob("*.txt"))
    inputs = [p for p in inputs if p.name.lower() != "readme.txt"]
    with tempfile.TemporaryDirectory() as output:
        # Files directly in the folder, or in its subfolders (the BBC set: one per category).
        pattern = corpus / "*.txt" if any(corpus.glob("*.txt")) else corpus / "**" / "*.txt"
        summary = pipeline.run(["--input", str(pattern), "--output", output])
        articles = list(sinks.read_folder(str(Path(output) / sinks.ARTICLES_DIR)))
        letters = list(sinks.read_folder(str(Path(output) / sinks.DEAD_LETTERS_DIR)))
    by_path = {r["source"]["path"]: r for r in articles}
    untitled = [p for p, r in by_path.items() if not r["title"]]
    mismatched = [
        p for p, r in by_path.items()
        if len({s["paragraph"] for s in r["sentences"]}) != body_blocks(Path(p), r["title"])
    ]  # fmt: skip
    print(f"files: {len(inputs)}  articles: {len(articles)}  dead letters: {len(letters)}")
    for reason, count in Counter(r["error_type"] for r in letters).most_common():
        print(f"  dead letters {reason}: {count}")
    print(f"without a title: {len(untitled)}  paragraph count != blank-line blocks: {len(mismatched)}")
    for path in (untitled + mismatched)[:20]:
        print("  " + path)
    print(
        f"sentences: {sum(len(r['sentences']) for r in articles)}  entities: {summary.entities}  "
        f"claims: {summary.claims}"
    )
    print(f"time: {summary.seconds:.1f} s, {summary.messages_per_second:.1f} articles/s")
    return 0 if not (letters or untitled or mismatched) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
