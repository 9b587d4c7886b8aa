"""What each output format costs: write time per article, file size, and a DuckDB query.

    .venv/bin/python benchmarks/file_formats.py [--articles PATH] [--limit N] [--per-file N]

Annotates the articles once (the BBC samples in ../shared/samples/bbc when present,
else the bundled samples repeated), then writes the same records through the
writer's formats, ``--per-file`` records a file (atomic write: temporary name,
fsync, rename, as in a run), and prints for Avro (deflate) and Parquet (zstd): the
write time per article, the bytes per article, and the time of the README's
"claims per outlet per day" query over the Parquet files with DuckDB.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import duckdb  # the test extra

from pipelines import nlp
from pipelines.parse import parse_article
from pipelines.records import ARTICLE, Message, to_avro
from pipelines.sinks.fileformats import FILE_FORMATS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "samples" / "bbc"
BUNDLED = Path(__file__).resolve().parents[1] / "pipelines" / "samples"


def records(folder: Path, limit: int) -> list[dict]:
    paths = sorted(folder.rglob("*.txt"))
    paths = (paths * (limit // max(1, len(paths)) + 1))[:limit]
    model = nlp.load_model()
    name = nlp.model_name(model)
    result = []
    for i, path in enumerate(paths):
        article = parse_article(Message(path.read_bytes(), path=str(path)))
        enriched = nlp.annotate(article, model(article.text), name)
        result.append(to_avro(dataclasses.replace(enriched, outlet=f"outlet-{i % 5}", published_at_ms=i)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=SHARED if SHARED.is_dir() else BUNDLED)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--per-file", type=int, default=50)
    args = parser.parse_args()
    batch = records(args.articles, args.limit)
    print(f"{len(batch)} articles from {args.articles}, {args.per_file} a file")
    with tempfile.TemporaryDirectory() as folder:
        for file_format in FILE_FORMATS.values():
            started = time.perf_counter()
            for i in range(0, len(batch), args.per_file):
                path = f"{folder}/{file_format.name}/news-0-{i:012d}.{file_format.name}"
                file_format.write(path, ARTICLE, batch[i : i + args.per_file], {"claimstream.n": "1"})
            seconds = time.perf_counter() - started
            size = sum(p.stat().st_size for p in Path(folder, file_format.name).iterdir())
            print(
                f"{file_format.name:8} write {seconds / len(batch) * 1000:6.2f} ms/article  "
                f"{size / len(batch) / 1024:6.1f} KiB/article"
            )
        started = time.perf_counter()
        rows = duckdb.sql(
            f"SELECT outlet, sum(len(claims)) FROM read_parquet('{folder}/parquet/*.parquet') GROUP BY outlet"
        ).fetchall()
        milliseconds = (time.perf_counter() - started) * 1000
        print(f"duckdb   claims per outlet over the Parquet files: {milliseconds:.1f} ms ({len(rows)} rows)")


if __name__ == "__main__":
    main()
