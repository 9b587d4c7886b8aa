"""Throughput, latency and memory of the pipeline against raw spaCy and a naive consumer.

    .venv/bin/python benchmarks/throughput.py [--articles PATH] [--limit N] [--soak N]

On the same articles (the BBC samples in ../shared/samples/bbc when present, else
the bundled samples repeated), it measures and prints:

1. raw spaCy: nlp.pipe over the article bodies with the pipeline's model and
   components, in one process and with n_process = cores;
2. a naive consumer, as a user would write it: a kafka-python consumer loop,
   nlp(text) per message, a fastavro record appended per message;
3. the pipeline: articles published to the embedded broker, `claimstream run
   --until-idle`, from the process start to the last Avro file written, with the
   peak resident memory of its whole process tree (workers included);
4. end-to-end latency (Kafka record timestamp -> its Avro file in place) in a
   streaming run fed at half of the rate measured in 3;
5. with --soak N: resident memory over a run of N articles (warm-up vs end);
6. with --only stories: the pipeline with story linking (the default) against
   ``--no-stories``, best of two runs each, alternating, and the ratio;
7. with --only ratio [--rounds N]: raw spaCy (n_process = cores) and the pipeline (as
   shipped, and with ``--checkworthiness linear``) in alternating runs, each pair's ratio
   and their median (the machine's speed drifts).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import fastavro

from pipelines import kafka, nlp
from pipelines.broker import EmbeddedBroker
from pipelines.kafka import KafkaConfig
from pipelines.parse import parse_article
from pipelines.records import Message

ROOT = Path(__file__).resolve().parent.parent
BBC = ROOT.parent / "shared" / "samples" / "bbc"
CORES = os.cpu_count() or 1
CLAIMSTREAM = [sys.executable, "-m", "pipelines.cli"]


def load_articles(path: Path | None, limit: int) -> list[tuple[str, bytes]]:
    if path is None:
        path = BBC if BBC.is_dir() else ROOT / "pipelines" / "samples"
    files = sorted(p for p in path.rglob("*.txt") if p.name.lower() != "readme.txt")
    articles = [(p.name, p.read_bytes()) for p in files]
    while len(articles) < limit:  # a small folder is repeated, under new names
        articles += [(f"{len(articles)}-{name}", body) for name, body in articles[: limit - len(articles)]]
    return articles[:limit]


def bodies(articles) -> list[str]:
    return [parse_article(Message(payload=body, key=name)).text for name, body in articles]


def rate(label: str, count: int, words: int, seconds: float) -> dict:
    result = {
        "what": label,
        "articles": count,
        "seconds": round(seconds, 2),
        "articles_per_s": round(count / seconds, 2),
        "words_per_s": round(words / seconds),
    }
    print(
        f"  {label:42} {result['articles_per_s']:8.2f} articles/s {result['words_per_s']:9,} words/s"
        f"  ({count} in {seconds:.1f} s)",
        flush=True,
    )
    return result


# --- 1. raw spaCy -------------------------------------------------------------------


def raw_spacy(texts: list[str], words: int) -> list[dict]:
    model = nlp.load_model()
    list(model.pipe(texts[:20]))  # warm up
    results = [raw_rate(model, texts, words, 1)]
    if CORES > 1:
        results.append(raw_rate(model, texts, words, CORES))
    return results


def raw_rate(model, texts: list[str], words: int, processes: int) -> dict:
    """``nlp.pipe`` over ``texts`` in ``processes`` processes (their start-up counted)."""
    started = time.perf_counter()
    for _ in model.pipe(texts, batch_size=8, n_process=processes):
        pass
    label = "raw spaCy, 1 process" if processes == 1 else f"raw spaCy, n_process={processes}"
    return rate(label, len(texts), words, time.perf_counter() - started)


# --- 2. a naive consumer --------------------------------------------------------------

NAIVE_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "NaiveArticle",
        "fields": [
            {"name": "key", "type": ["null", "string"]},
            {"name": "text", "type": "string"},
            {
                "name": "entities",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "E",
                        "fields": [{"name": "text", "type": "string"}, {"name": "label", "type": "string"}],
                    },
                },
            },
        ],
    }
)


def naive_consumer(bootstrap: str, topic: str, count: int, words: int, folder: Path) -> dict:
    """What a user writes first: poll, nlp(text) per message, append a record per message."""
    import spacy
    from kafka import KafkaConsumer, TopicPartition

    model = spacy.load(nlp.DEFAULT_MODEL)  # as a user loads it: every default component on
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)  # not subscribe(): the embedded broker's group join is slow
    consumer.seek_to_beginning()
    seen = 0
    started = None
    with open(folder / "naive.avro", "a+b") as out:
        writer = fastavro.write.Writer(out, NAIVE_SCHEMA)
        while seen < count:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    started = started or time.perf_counter()
                    text = record.value.decode("utf-8", "replace")
                    doc = model(text)
                    writer.write(
                        {
                            "key": record.key.decode() if record.key else None,
                            "text": text,
                            "entities": [{"text": e.text, "label": e.label_} for e in doc.ents],
                        }
                    )
                    seen += 1
        writer.flush()
    consumer.close()
    return rate("naive consumer (nlp per message)", count, words, time.perf_counter() - started)


# --- 3. the pipeline --------------------------------------------------------------------


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        except (OSError, AttributeError):
            pass
    return total


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stopped = pid, every, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((time.monotonic(), tree_rss_kb(self.pid)))
            time.sleep(self.every)


def written(folder: Path) -> list[tuple[dict, float]]:
    """(record, mtime of its file) for every article and dead letter written."""
    result = []
    for sub in ("articles", "dead_letters"):
        for file in sorted((folder / sub).glob("*.avro")) if (folder / sub).is_dir() else []:
            mtime = file.stat().st_mtime
            with file.open("rb") as f:
                result += [(r, mtime) for r in fastavro.reader(f)]
    return result


def start_pipeline(bootstrap: str, topic: str, group: str, folder: Path, *extra: str) -> subprocess.Popen:
    """`claimstream run` on a topic, as a separate process."""
    command = [*CLAIMSTREAM, "run", "--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", group]
    return subprocess.Popen(
        [*command, "--output", str(folder), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def pipeline_run(
    bootstrap: str, topic: str, count: int, words: int, folder: Path, group: str = "bench", *extra: str
) -> tuple[dict, int]:
    started_wall = time.time()
    process = start_pipeline(bootstrap, topic, group, folder, "--until-idle", "3", *extra)
    sampler = MemorySampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    sampler.stopped.set()
    if process.returncode:
        sys.exit(f"the pipeline failed: {err[-2000:]}")
    outputs = written(folder)
    assert len(outputs) == count, f"{len(outputs)} records written, {count} expected"
    last = max(mtime for _, mtime in outputs)
    label = f"the pipeline (claimstream run {' '.join(extra)})".replace(" )", ")")
    result = rate(label, count, words, last - started_wall)
    peak = max(kb for _, kb in sampler.samples)
    print(f"  {'':42} peak resident memory {peak / 1024:.0f} MB (process tree)")
    return result, peak


def stories_cost(bootstrap: str, articles, words: int, folder: Path, rounds: int = 2) -> dict:
    """Whole-run throughput with story linking on and off, best of ``rounds`` each."""
    kafka.ensure_topic(KafkaConfig.of(bootstrap), "stories", 2)
    kafka.publish(KafkaConfig.of(bootstrap), "stories", [(n.encode(), b) for n, b in articles])
    best: dict[str, float] = {}
    for i in range(rounds):
        for label, extra in (("on", ()), ("off", ("--no-stories",))):
            result, _ = pipeline_run(
                bootstrap, "stories", len(articles), words, folder / f"{label}{i}", f"{label}{i}", *extra
            )
            best[label] = max(best.get(label, 0.0), result["articles_per_s"])
    ratio = best["on"] / best["off"]
    print(f"   best with stories {best['on']:.2f}, without {best['off']:.2f} articles/s: ratio {ratio:.2f}")
    return {"with_stories": best["on"], "without_stories": best["off"], "ratio": round(ratio, 3)}


def paired_ratio(bootstrap: str, articles, words: int, folder: Path, rounds: int = 3) -> dict:
    """The pipeline against raw spaCy (``n_process`` = cores) in alternating runs, and the
    median of each pair's ratio: this machine's speed drifts by the hour (raw spaCy alone
    has read 26 to 34 articles/s), so each pipeline run is set against the raw run beside it.
    Each round runs the pipeline twice: as shipped, and with ``--checkworthiness linear``
    (no transformer)."""
    kafka.ensure_topic(KafkaConfig.of(bootstrap), "ratio", 2)
    kafka.publish(KafkaConfig.of(bootstrap), "ratio", [(n.encode(), b) for n, b in articles])
    model, texts = nlp.load_model(), bodies(articles)
    variants = {"as shipped": (), "--checkworthiness linear": ("--checkworthiness", "linear")}
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(rounds):
        raw = raw_rate(model, texts, words, CORES)
        for k, (name, extra) in enumerate(variants.items()):
            run = folder / f"run{i}-{k}"
            result, _ = pipeline_run(bootstrap, "ratio", len(articles), words, run, f"ratio{i}-{k}", *extra)
            ratios[name].append(result["articles_per_s"] / raw["articles_per_s"])
            print(f"   round {i + 1}, {name}: pipeline / raw spaCy {ratios[name][-1]:.3f}", flush=True)
    medians = {name: statistics.median(r) for name, r in ratios.items()}
    for name, median in medians.items():
        print(f"   {name}: median of {rounds}: {median:.3f}")
    return {name: {"ratios": [round(x, 3) for x in ratios[name]], "median": round(medians[name], 3)}
            for name in variants}  # fmt: skip


# --- 4. latency ---------------------------------------------------------------------------


def latency(bootstrap: str, articles, per_second: float, seconds: float, folder: Path) -> dict:
    topic = "latency"
    kafka.ensure_topic(KafkaConfig.of(bootstrap), topic, 2)
    process = start_pipeline(bootstrap, topic, "latency", folder)
    time.sleep(8)  # start-up: model loads; not part of a record's latency
    producer = kafka.new_producer(KafkaConfig.of(bootstrap))
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        name, body = articles[sent % len(articles)]
        producer.send(topic, key=f"{sent}-{name}".encode(), value=body)
        sent += 1
        time.sleep(max(0.0, started + sent / per_second - time.monotonic()))
    producer.flush()
    producer.close()
    deadline = time.monotonic() + 60
    while len(written(folder)) < sent and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    delays = sorted(mtime - r["source"]["timestamp_ms"] / 1000 for r, mtime in written(folder))
    p50 = statistics.median(delays)
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(
        f"  {sent} articles at {per_second:.1f}/s for {seconds:.0f} s: latency p50 {p50:.2f} s, "
        f"p95 {p95:.2f} s, max {delays[-1]:.2f} s ({len(delays)} written)"
    )
    return {
        "rate_per_s": round(per_second, 2),
        "sent": sent,
        "written": len(delays),
        "p50_s": round(p50, 3),
        "p95_s": round(p95, 3),
        "max_s": round(delays[-1], 3),
    }


def soak(bootstrap: str, articles, count: int, folder: Path) -> dict:
    topic = "soak"
    kafka.ensure_topic(KafkaConfig.of(bootstrap), topic, 2)
    batch = [
        (f"{i}-{articles[i % len(articles)][0]}".encode(), articles[i % len(articles)][1])
        for i in range(count)
    ]
    kafka.publish(KafkaConfig.of(bootstrap), topic, batch)
    process = start_pipeline(bootstrap, topic, "soak", folder, "--until-idle", "5")
    sampler = MemorySampler(process.pid, every=1.0)
    sampler.start()
    process.communicate()
    sampler.stopped.set()
    kb = [k for _, k in sampler.samples]
    tenth = len(kb) // 10
    warm = max(kb[tenth : 2 * tenth + 1])
    end = max(kb[-2 * tenth - 1 : -tenth or None])
    print(
        f"  {count} articles: resident memory after warm-up {warm / 1024:.0f} MB, "
        f"near the end {end / 1024:.0f} MB, peak {max(kb) / 1024:.0f} MB"
    )
    return {
        "articles": count,
        "warm_mb": round(warm / 1024),
        "end_mb": round(end / 1024),
        "peak_mb": round(max(kb) / 1024),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=Path, help="a folder of *.txt articles (default: the BBC samples)")
    parser.add_argument("--limit", type=int, default=1800)
    parser.add_argument("--latency-seconds", type=float, default=40)
    parser.add_argument("--soak", type=int, default=0, help="also run N articles and watch memory")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--only", choices=("latency", "soak", "stories", "ratio"), help="run just this part")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs for --only ratio")
    parser.add_argument("--rate", type=float, help="articles/s for --only latency")
    args = parser.parse_args(argv)
    if args.only:
        articles = load_articles(args.articles, args.limit)
        with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
            if args.only in ("stories", "ratio"):
                words = sum(len(t.split()) for t in bodies(articles))
            if args.only == "stories":
                print(f"story linking on and off, {len(articles)} articles")
                stories_cost(broker.bootstrap_servers, articles, words, Path(tmp))
            elif args.only == "ratio":
                print(f"the pipeline against raw spaCy, alternating, {len(articles)} articles")
                paired_ratio(broker.bootstrap_servers, articles, words, Path(tmp), args.rounds)
            elif args.only == "latency":
                if not args.rate:
                    parser.error("--only latency needs --rate (half the pipeline's articles/s)")
                print(f"latency at {args.rate} articles/s")
                latency(broker.bootstrap_servers, articles, args.rate, args.latency_seconds, Path(tmp) / "l")
            else:
                print(f"memory over {args.soak or 10_000} articles")
                soak(broker.bootstrap_servers, articles, args.soak or 10_000, Path(tmp) / "s")
        return 0

    articles = load_articles(args.articles, args.limit)
    texts = bodies(articles)
    words = sum(len(t.split()) for t in texts)
    print(f"{len(articles)} articles, {words:,} words; {CORES} cores; Python {sys.version.split()[0]}")
    report: dict = {"articles": len(articles), "words": words, "cores": CORES}
    print("1. raw spaCy")
    report["raw_spacy"] = raw_spacy(texts, words)
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        kafka.ensure_topic(broker.config, "bench", 2)
        kafka.publish(broker.config, "bench", [(n.encode(), b) for n, b in articles])
        print("2. naive consumer")
        report["naive"] = naive_consumer(broker.bootstrap_servers, "bench", len(articles), words, Path(tmp))
        print("3. pipeline")
        report["pipeline"], peak = pipeline_run(
            broker.bootstrap_servers, "bench", len(articles), words, Path(tmp) / "run"
        )
        report["pipeline"]["peak_rss_mb"] = round(peak / 1024)
        best_raw = max(r["articles_per_s"] for r in report["raw_spacy"])
        ratio_raw = report["pipeline"]["articles_per_s"] / best_raw
        ratio_naive = report["pipeline"]["articles_per_s"] / report["naive"]["articles_per_s"]
        print(f"   pipeline / best raw spaCy: {ratio_raw:.2f}   pipeline / naive consumer: {ratio_naive:.2f}")
        report["pipeline_vs_best_raw"], report["pipeline_vs_naive"] = (
            round(ratio_raw, 3),
            round(ratio_naive, 3),
        )
        print("4. latency at half the pipeline's rate")
        report["latency"] = latency(
            broker.bootstrap_servers,
            articles,
            report["pipeline"]["articles_per_s"] / 2,
            args.latency_seconds,
            Path(tmp) / "latency",
        )
        if args.soak:
            print("5. memory over a long run")
            report["soak"] = soak(broker.bootstrap_servers, articles, args.soak, Path(tmp) / "soak")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
