"""The ``claimstream`` command.

    claimstream run --bootstrap-servers 127.0.0.1:9092 --topic articles --output out/
    claimstream run --input 'articles/*.txt' --output out/
    claimstream produce --bootstrap-servers 127.0.0.1:9092 --topic articles articles/
    claimstream inspect out/articles
    claimstream broker --port 9092
    claimstream demo

Every error a user can cause ends in one line naming what is at fault, exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

EXIT_USAGE = 2


class UsageError(Exception):
    """A user error outside the pipeline's own options (a path, a port)."""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _configure_logging()
    parser = _parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    handlers = {
        "run": _run,
        "produce": _produce,
        "inspect": _inspect,
        "broker": _broker,
        "demo": _demo,
        "score-sentences": _score_sentences,
        "train-checkworthiness": _train,
    }
    if command not in handlers:
        parser.error(f"unknown command {command!r}; choose from {', '.join(handlers)}")
    from pipelines.broker import BrokerError
    from pipelines.kafka import KafkaError
    from pipelines.pipeline import OptionsError

    try:
        return handlers[command](rest)
    except (UsageError, OptionsError, KafkaError, BrokerError) as e:
        print(f"claimstream {command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"claimstream {command}: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claimstream",
        description="Streaming claim-and-entity extraction for news feeds (Apache Beam).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "commands:\n"
            "  run       run the pipeline on a Kafka topic or on files (--help for options)\n"
            "  produce   publish article files to a topic\n"
            "  inspect   print Avro output as JSON lines\n"
            "  broker    run the embedded Kafka-compatible broker in the foreground\n"
            "  demo      embedded broker + sample articles + pipeline, then a summary\n"
            "  score-sentences        check-worthiness of each stdin line: score<TAB>sentence\n"
            "  train-checkworthiness  retrain the check-worthiness model (needs the [train] extra)\n"
            "  score-sentences        check-worthiness of each stdin line: score<TAB>sentence\n"
            "  train-checkworthiness  retrain the check-worthiness model (needs [train] extras)\n"
        ),
    )
    parser.add_argument("command", help="one of the commands below")
    return parser


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipelines").setLevel(logging.INFO)
    # Beam warns at import time about Google Cloud client libraries this tool never uses.
    logging.getLogger().addFilter(lambda record: "apitools" not in record.getMessage())


# --- run ------------------------------------------------------------------------------


def _run(argv: list[str]) -> int:
    from pipelines import pipeline

    if any(a in ("-h", "--help") for a in argv):
        _run_help()
        return 0
    summary = pipeline.run(argv)
    print(summary)
    return 0


def _run_help() -> None:
    from pipelines.pipeline import ClaimstreamOptions

    parser = argparse.ArgumentParser(
        prog="claimstream run",
        description=(
            "Run the pipeline. Kafka: --bootstrap-servers and --topic (runs until stopped, "
            "or --until-idle / --max-articles). Files: --input GLOB. Beam options such as "
            "--runner pass through."
        ),
    )
    ClaimstreamOptions._add_argparse_args(parser)
    parser.print_help()


# --- produce --------------------------------------------------------------------------


def article_files(paths: Sequence[str]) -> Iterator[Path]:
    """The files named, and every ``*.txt`` file below the folders named, sorted."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.txt") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            yield path
        else:
            raise UsageError(f"no such file or folder: {name}")


def with_progress(items: list, what: str) -> Iterator:
    """``items`` one by one, with a progress bar on a terminal, or a line per tenth otherwise."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, desc=what, unit="file", file=sys.stderr)
        return
    step = max(1, len(items) // 10)
    for i, item in enumerate(items, 1):
        yield item
        if i % step == 0 or i == len(items):
            print(f"{what}: {i}/{len(items)} files", file=sys.stderr, flush=True)


def _produce(argv: list[str]) -> int:
    from pipelines import kafka

    parser = argparse.ArgumentParser(
        prog="claimstream produce", description="Publish article files: key = file name, value = its bytes."
    )
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument(
        "--partitions", type=int, default=1, help="partitions when the topic has to be created (default 1)"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args(argv)
    files = list(article_files(args.paths))
    if not files:
        raise UsageError(f"no *.txt files under {' '.join(args.paths)}")
    kafka.ensure_topic(args.bootstrap_servers, args.topic, args.partitions)
    count = kafka.publish(
        args.bootstrap_servers,
        args.topic,
        ((f.name.encode(), f.read_bytes()) for f in with_progress(files, "publishing")),
    )
    print(f"published {count} articles to {args.topic} at {args.bootstrap_servers}")
    return 0


# --- inspect --------------------------------------------------------------------------


def _inspect(argv: list[str]) -> int:
    import fastavro

    from pipelines.records import to_json

    parser = argparse.ArgumentParser(
        prog="claimstream inspect", description="Print Avro records (a file or a folder) as JSON lines."
    )
    parser.add_argument("path")
    args = parser.parse_args(argv)
    path = Path(args.path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.avro") if not p.name.startswith("."))
    elif path.is_file():
        files = [path]
    else:
        raise UsageError(f"no such file or folder: {args.path}")
    for file in files:
        with file.open("rb") as f:
            try:
                for record in fastavro.reader(f):
                    print(to_json(record))
            except (ValueError, EOFError) as e:
                raise UsageError(f"{file} is not an Avro container file: {e}") from None
    return 0


# --- broker ---------------------------------------------------------------------------


def _broker(argv: list[str]) -> int:
    from pipelines.broker import EmbeddedBroker

    parser = argparse.ArgumentParser(
        prog="claimstream broker", description="Run the embedded broker (Tansu, memory only) on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=9092)
    args = parser.parse_args(argv)
    broker = EmbeddedBroker(args.port, log_path="/dev/stderr").start()
    # Explicit handlers: SIGTERM would otherwise end Python without stopping the broker,
    # and a shell script's background job starts with SIGINT ignored.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _interrupt)
    print(f"embedded broker listening on {broker.bootstrap_servers} (Ctrl-C stops it)", flush=True)
    try:
        return broker.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


# --- demo -----------------------------------------------------------------------------


def _demo(argv: list[str]) -> int:
    from pipelines import demo

    parser = argparse.ArgumentParser(
        prog="claimstream demo",
        description=(
            "Start the embedded broker, publish the sample articles (and one bad message), "
            "run the pipeline until idle and print a summary."
        ),
    )
    parser.add_argument("--output", default="out/demo")
    parser.add_argument(
        "--articles",
        nargs="*",
        default=None,
        metavar="PATH",
        help="article files or folders instead of the bundled samples",
    )
    parser.add_argument("--partitions", type=int, default=2)
    args = parser.parse_args(argv)
    paths = list(article_files(args.articles)) if args.articles else None
    demo.run_demo(args.output, paths, args.partitions)
    return 0


# --- check-worthiness -------------------------------------------------------------------


def _score_sentences(argv: list[str]) -> int:
    from pipelines.claims import checkworthiness

    parser = argparse.ArgumentParser(
        prog="claimstream score-sentences",
        description="Read one sentence per line on stdin; write score<TAB>sentence, the score the "
        "pipeline puts in claims[].score.",
    )
    parser.add_argument("--model", help="a model file (default: the shipped one)")
    args = parser.parse_args(argv)
    if args.model and not Path(args.model).is_file():
        raise UsageError(f"no such model file: {args.model} (--model)")
    model = checkworthiness.load_model(args.model)
    for line in sys.stdin:
        sentence = line.rstrip("\r\n")
        if sentence.strip():
            print(f"{model.score(sentence):.4f}\t{sentence}")
    return 0


def _train(argv: list[str]) -> int:
    import json

    from pipelines.claims import train

    parser = argparse.ArgumentParser(
        prog="claimstream train-checkworthiness",
        description="Train the check-worthiness model on labeled sentences (ClaimBuster train.json).",
    )
    parser.add_argument("--data", required=True, help="JSON list of {sentence_id, label, text}")
    parser.add_argument("--output", default=None, help="model file (default: the package's own)")
    args = parser.parse_args(argv)
    if not Path(args.data).is_file():
        raise UsageError(f"no such file: {args.data} (--data)")
    output = Path(args.output) if args.output else train.default_output()
    try:
        info = train.train(Path(args.data), output)
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(json.dumps(info, indent=2))
    print(f"model written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
