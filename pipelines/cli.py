"""The ``claimstream`` command: the edge where command lines become calls.

    claimstream run --bootstrap-servers 127.0.0.1:9092 --topic articles --output out/
    claimstream run --input 'articles/*.txt' --output out/
    claimstream produce --bootstrap-servers 127.0.0.1:9092 --topic articles articles/
    claimstream inspect out/articles
    claimstream stories out/
    claimstream broker --port 9092
    claimstream demo

Every error a user can cause is a :class:`~pipelines.errors.ClaimstreamError`,
caught in :func:`main` alone: one line naming what is at fault, exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipelines.environment import environment_flags
from pipelines.errors import ClaimstreamError, InputError
from pipelines.service.signals import StopOnSignals

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: How the settings that errors name are spelled on the command line.
FLAGS = {
    "bootstrap_servers": "--bootstrap-servers",
    "topic": "--topic",
    "input": "--input",
    "output": "--output",
    "spacy_model": "--spacy-model",
    "schema_registry_url": "--schema-registry-url",
    "state": "--state",
    "port": "--port",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error here."""

    def error(self, message: str) -> None:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def main(argv: Sequence[str] | None = None) -> int:
    started_at = time.time()
    argv = list(sys.argv[1:] if argv is None else argv)
    stop = threading.Event()
    try:
        if argv[:1] == ["run"]:
            # First thing: a signal during start-up is a clean stop too.
            with StopOnSignals(stop):
                return _main(argv, stop=stop, started_at=started_at)
        return _main(argv)
    except KeyboardInterrupt:
        print(f"claimstream {argv[0] if argv else ''}: interrupted".replace("  ", " "), file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str], **run_context) -> int:
    _configure_logging()
    # The run options import Beam and spaCy: only for `run`, so that the other commands start fast.
    parser = build_parser(with_run_options=argv[:1] == ["run"])
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    commands = _commands(parser)
    if not argv[0].startswith("-") and argv[0] not in commands:
        parser.error(f"unknown command {argv[0]!r}; choose from {', '.join(commands)}")
    if argv[0] == "produce":
        # Variables first: a flag given on the command line wins over its variable.
        argv = [argv[0], *environment_flags(PRODUCE_ENVIRONMENT, os.environ), *argv[1:]]
    args, extra = parser.parse_known_args(argv)
    if extra and not args.passes_through:
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.run_context = run_context
    try:
        return args.handler(args, argv[1:])
    except ClaimstreamError as e:
        print(f"claimstream {args.command}: error: {_describe(e)}", file=sys.stderr)
        return EXIT_USAGE


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(subparsers.choices)


def _describe(error: ClaimstreamError) -> str:
    """The error's line, with the command-line flag of the setting at fault."""
    message = str(error)
    flag = FLAGS.get(error.setting or "")
    return f"{message} ({flag})" if flag and flag not in message else message


def build_parser(with_run_options: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="claimstream", description="Streaming claim-and-entity extraction for news feeds (Apache Beam)."
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    def command(name: str, handler, help_text: str, passes_through: bool = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler, parser=sub, passes_through=passes_through)
        return sub

    run = command(
        "run", _run, "run the pipeline on a Kafka topic or on files (Beam options pass through)",
        passes_through=True,
    )  # fmt: skip
    if with_run_options:
        from pipelines.options import ClaimstreamOptions

        ClaimstreamOptions._add_argparse_args(run)
    _produce_arguments(command("produce", _produce, "publish article files to a topic"))
    command(
        "inspect", _inspect, "print Avro or Parquet output (a file or a folder) as JSON lines"
    ).add_argument("path")
    command(
        "stories", _stories, "report the stories of an output folder: versions, changed, dropped, new claims"
    ).add_argument("output", metavar="OUTPUT")
    command("broker", _broker, "run the embedded Kafka-compatible broker in the foreground").add_argument(
        "--port", type=int, default=9092
    )
    _demo_arguments(command("demo", _demo, "embedded broker + sample articles + pipeline, then a summary"))
    _healthcheck_arguments(
        command("healthcheck", _healthcheck, "ask a running pipeline if it is alive (or ready): exit 0 or 1")
    )
    _score_arguments(
        command(
            "score-sentences", _score_sentences, "check-worthiness of each stdin line: score<TAB>sentence"
        )
    )
    _train_arguments(
        command(
            "train-checkworthiness", _train, "retrain the check-worthiness model (needs the [train] extra)"
        )
    )
    return parser


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipelines").setLevel(logging.INFO)
    # Beam warns at import time about Google Cloud client libraries this tool never uses.
    logging.getLogger().addFilter(lambda record: "apitools" not in record.getMessage())
    # kafka-python logs its own retries and shutdown races as errors with tracebacks;
    # claimstream says itself, in one line, when a broker cannot be reached.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


# --- run ------------------------------------------------------------------------------


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    from pipelines import pipeline

    print(pipeline.run(argv, **args.run_context))
    return 0


# --- produce --------------------------------------------------------------------------


#: The options of ``produce`` that may also come from the environment, as CLAIMSTREAM_<OPTION>.
PRODUCE_ENVIRONMENT = ("--bootstrap-servers", "--topic", "--kafka-config-file")


def _produce_arguments(parser: argparse.ArgumentParser) -> None:
    from pipelines.kafka.config import add_kafka_config_arguments

    parser.add_argument("--bootstrap-servers", required=True, help="HOST:PORT[,HOST:PORT]")
    parser.add_argument("--topic", required=True)
    add_kafka_config_arguments(parser)
    parser.add_argument(
        "--partitions", type=int, default=1, help="partitions when the topic has to be created (default 1)"
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="article files, or folders of *.txt files; a .jsonl file is one message a line",
    )  # fmt: skip


def article_files(paths: Sequence[str]) -> Iterator[Path]:
    """The files named, and every ``*.txt`` and ``*.jsonl`` file below the folders named, sorted."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = (p for pattern in ("*.txt", "*.jsonl") for p in path.rglob(pattern))
            yield from sorted(p for p in found if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            yield path
        else:
            raise InputError(f"no such file or folder: {name}")


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


def _produce(args: argparse.Namespace, argv: list[str]) -> int:
    from pipelines import kafka

    files = list(article_files(args.paths))
    if not files:
        raise InputError(f"no *.txt or *.jsonl files under {' '.join(args.paths)}")
    from pipelines.kafka.preflight import check_connection

    config = kafka.KafkaConfig.resolve(
        args.bootstrap_servers, args.kafka_config or (), args.kafka_config_file
    )
    check_connection(config)
    kafka.ensure_topic(config, args.topic, args.partitions)
    messages = (m for f in with_progress(files, "publishing") for m in messages_of(f))
    count = kafka.publish(config, args.topic, messages)
    print(f"published {count} articles to {args.topic} at {args.bootstrap_servers}")
    return 0


def messages_of(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of a file: the whole file, keyed by its name; or of a ``.jsonl`` file,
    each non-blank line, keyed ``<name>:<line number>``."""
    if path.suffix != ".jsonl":
        yield path.name.encode(), path.read_bytes()
        return
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield f"{path.name}:{number}".encode(), line.rstrip(b"\r\n")


# --- inspect --------------------------------------------------------------------------


def _inspect(args: argparse.Namespace, argv: list[str]) -> int:
    from pipelines.formats import to_json
    from pipelines.sinks.fileformats import FILE_FORMATS, format_of

    path = Path(args.path)
    if path.is_dir():
        # One format: a run with --format avro,parquet holds every record twice.
        by_format = {
            name: sorted(p for p in path.rglob(f"*.{name}") if not p.name.startswith("."))
            for name in FILE_FORMATS
        }
        files = next((found for found in by_format.values() if found), [])
    elif path.is_file():
        files = [path]
    else:
        raise InputError(f"no such file or folder: {args.path}")
    for file in files:
        if file.suffix[1:] not in FILE_FORMATS:
            raise InputError(f"{file} is neither .avro nor .parquet")
        try:
            for record in format_of(str(file)).read(str(file)):
                print(to_json(record))
        except (ValueError, EOFError, OSError) as e:
            kind = "an Avro container" if file.suffix == ".avro" else "a Parquet"
            raise InputError(f"{file} is not {kind} file: {e}") from None
    return 0


# --- stories --------------------------------------------------------------------------


def _stories(args: argparse.Namespace, argv: list[str]) -> int:
    from pipelines.stories import report

    print(report.render(report.read_articles(args.output)))
    return 0


# --- broker ---------------------------------------------------------------------------


def _broker(args: argparse.Namespace, argv: list[str]) -> int:
    from pipelines.broker import EmbeddedBroker

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


# --- healthcheck ----------------------------------------------------------------------


def _healthcheck_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=9464, help="the run's --metrics-port (default 9464)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ready", action="store_true", help="ask /readyz instead of /healthz")


def _healthcheck(args: argparse.Namespace, argv: list[str]) -> int:
    """For container health checks: no curl or wget needed in the image."""
    import urllib.error
    import urllib.request

    url = f"http://{args.host}:{args.port}/{'readyz' if args.ready else 'healthz'}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as e:
        print(e.read().decode())
    except OSError as e:
        print(f"no answer from {url}: {e}")
    return 1


# --- demo -----------------------------------------------------------------------------


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="out/demo")
    parser.add_argument(
        "--articles", nargs="*", default=None, metavar="PATH",
        help="article files or folders instead of the bundled samples",
    )  # fmt: skip
    parser.add_argument(
        "--partitions", type=int, default=1,
        help="of the demo topic; with one, a story's versions are read in the order published",
    )  # fmt: skip


def _demo(args: argparse.Namespace, argv: list[str]) -> int:
    from pipelines import demo

    paths = list(article_files(args.articles)) if args.articles else None
    demo.run_demo(args.output, paths, args.partitions)
    return 0


# --- check-worthiness -------------------------------------------------------------------


def _score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="the linear model's file (default: the shipped one)")
    parser.add_argument(
        "--checkworthiness",
        default="cascade",
        help="cascade (default; the pipeline's) or linear: the linear model alone",
    )


def _score_sentences(args: argparse.Namespace, argv: list[str]) -> int:
    from pipelines.claims import scorer

    if args.model and not Path(args.model).is_file():
        raise InputError(f"no such model file: {args.model} (--model)")
    model = scorer.load_scorer(args.checkworthiness, args.model)
    # Lines are scored in batches (the embeddings are one call), one by one when typed.
    size = 1 if sys.stdin.isatty() else SCORE_BATCH
    batch: list[str] = []
    for line in sys.stdin:
        sentence = line.rstrip("\r\n")
        if sentence.strip():
            batch.append(sentence)
        if len(batch) >= size:
            _print_scores(model, batch)
            batch = []
    _print_scores(model, batch)
    return 0


#: Lines of a file or pipe scored in one call.
SCORE_BATCH = 64


def _print_scores(model, sentences: list[str]) -> None:
    for score, sentence in zip(model.scores(sentences), sentences, strict=True):
        print(f"{score:.4f}\t{sentence}", flush=True)


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="JSON list of {sentence_id, label, text}")
    parser.add_argument(
        "--unlabeled",
        nargs="+",
        default=[],
        metavar="FOLDER",
        help="folders of news articles (*.txt) whose sentences join the transfer set (default: none; "
        "the shipped model: PolNeAR train/text and the BBC sample)",
    )
    parser.add_argument(
        "--teacher", default=None, help="teacher logits table (default: the package's own, .npz)"
    )
    parser.add_argument("--output", default=None, help="model file (default: the package's own)")


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    import json

    from pipelines.claims import train

    if not Path(args.data).is_file():
        raise InputError(f"no such file: {args.data} (--data)")
    for folder in args.unlabeled:
        if not Path(folder).is_dir():
            raise InputError(f"no such folder: {folder} (--unlabeled)")
    if args.teacher and not Path(args.teacher).is_file():
        raise InputError(f"no such file: {args.teacher} (--teacher)")
    output = Path(args.output) if args.output else train.default_output()
    try:
        info = train.train(
            Path(args.data),
            output,
            [Path(f) for f in args.unlabeled],
            Path(args.teacher) if args.teacher else None,
        )
    except ValueError as e:
        raise InputError(str(e)) from None
    print(json.dumps(info, indent=2))
    missing = info["transfer_set"]["without_teacher_logits"]
    if missing:
        print(f"note: {missing} transfer sentences have no teacher logits (other data or folders?): left out")
    print(f"model written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
