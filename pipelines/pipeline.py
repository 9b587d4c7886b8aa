"""The claimstream pipeline: read -> parse -> entities and claims -> Avro.

    messages = ReadMessages              (Kafka partitions, or files for a backfill)
    articles = ParseArticles             + dead letters (empty, binary, too_large, ...)
    outputs  = ExtractEntitiesAndClaims  + dead letters (nlp_error), passed through
    WriteFiles(outputs)                  articles/ and dead_letters/, exactly once
    PublishToKafka(outputs)              optional: --output-topic, --dead-letter-topic

It is one fused chain with no GroupByKey, because a local runner never fires
anything behind a GroupByKey that follows an unbounded read, and no Flatten,
which breaks the chain there too. So dead letters travel in the same stream as
articles, and one writer sees every outcome of a partition's offsets in a bundle.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import apache_beam as beam
import spacy
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
)

from pipelines import nlp, progress, records, sinks, source
from pipelines.nlp import DEFAULT_MODEL, AnnotateArticlesFn
from pipelines.parse import DEFAULT_MAX_BYTES, ParseArticlesFn
from pipelines.sinks import ARTICLES_DIR, DEAD_LETTERS_DIR

_LOG = logging.getLogger(__name__)

#: The local runner. DirectRunner would first try to download the Prism binary.
LOCAL_RUNNER = "FnApiRunner"
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"


class OptionsError(ValueError):
    """A command-line option is missing or wrong; the message names it."""


class ClaimstreamOptions(PipelineOptions):
    """Every option of ``claimstream run``; Beam's own options (--runner, ...) pass through."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        kafka = parser.add_argument_group("Kafka source")
        kafka.add_argument("--bootstrap-servers", dest="bootstrap_servers", help="HOST:PORT[,HOST:PORT]")
        kafka.add_argument("--topic", help="topic of the articles")
        kafka.add_argument(
            "--group-id",
            dest="group_id",
            default="claimstream",
            help="consumer group whose committed offsets say where to resume",
        )
        kafka.add_argument(
            "--start-from",
            dest="start_from",
            default="earliest",
            choices=("earliest", "latest"),
            help="where to start a partition the group has no offset for",
        )
        kafka.add_argument(
            "--until-idle",
            dest="until_idle",
            type=float,
            default=None,
            help="stop once no record arrived for this many seconds",
        )
        kafka.add_argument(
            "--max-articles",
            dest="max_articles",
            type=int,
            default=None,
            help="stop after reading this many messages",
        )
        files = parser.add_argument_group("File source (backfill)")
        files.add_argument("--input", help="glob of article files, e.g. 'articles/*.txt'")
        files.add_argument(
            "--dask-address",
            dest="dask_address",
            help="run the backfill on this Dask scheduler (tcp://HOST:PORT)",
        )
        files.add_argument(
            "--dask-partitions",
            dest="dask_partitions",
            type=int,
            default=None,
            help="Dask partitions per stage (default: Dask's choice)",
        )
        parser.add_argument("--output", help="output folder (local or a FileSystems path)")
        parser.add_argument(
            "--spacy-model",
            dest="spacy_model",
            default=DEFAULT_MODEL,
            help="installed spaCy pipeline package",
        )
        parser.add_argument(
            "--nlp-batch-size",
            dest="nlp_batch_size",
            type=int,
            default=8,
            help="articles per nlp.pipe call (one task of an NLP worker process)",
        )
        parser.add_argument(
            "--nlp-processes", dest="nlp_processes", type=int, default=0,
            help="NLP worker processes; 0 = one per core on the local runner, 1 elsewhere",
        )  # fmt: skip
        parser.add_argument(
            "--max-message-bytes",
            dest="max_message_bytes",
            type=int,
            default=DEFAULT_MAX_BYTES,
            help="larger messages go to the dead letters as too_large",
        )
        files_out = parser.add_argument_group("Avro files")
        files_out.add_argument(
            "--file-max-records",
            dest="file_max_records",
            type=int,
            default=10_000,
            help="start a new file after this many records",
        )
        files_out.add_argument(
            "--file-max-seconds",
            dest="file_max_seconds",
            type=float,
            default=0.4,
            help="records read from Kafka are in a file within about this many seconds",
        )
        watch = parser.add_argument_group("Watching a run (local runner)")
        watch.add_argument(
            "--progress-interval",
            dest="progress_interval",
            type=float,
            default=10.0,
            help="seconds between progress lines; 0 for none",
        )
        watch.add_argument(
            "--metrics-port",
            dest="metrics_port",
            type=int,
            default=None,
            help="serve Prometheus metrics on this port",
        )
        watch.add_argument(
            "--metrics-host", dest="metrics_host", default="127.0.0.1",
            help="address to serve metrics on (0.0.0.0 in a container)",
        )  # fmt: skip
        topic_out = parser.add_argument_group("Kafka output (Confluent-framed Avro)")
        topic_out.add_argument(
            "--output-topic",
            dest="output_topic",
            help="also publish each EnrichedArticle here (key: article_id)",
        )
        topic_out.add_argument(
            "--dead-letter-topic", dest="dead_letter_topic", help="also publish each DeadLetter here"
        )
        topic_out.add_argument(
            "--schema-registry-url",
            dest="schema_registry_url",
            help="Confluent-compatible registry for the schema ids (else fixed ids)",
        )


def validate(options: ClaimstreamOptions) -> None:
    """Raise :class:`OptionsError` naming the option at fault."""
    if not options.output:
        raise OptionsError("--output is required: the folder to write Avro files to")
    if options.input and options.topic:
        raise OptionsError("give either --input (files) or --topic (Kafka), not both")
    if not options.input and not options.topic:
        raise OptionsError("nothing to read: give --bootstrap-servers and --topic, or --input")
    publishes = options.output_topic or options.dead_letter_topic
    if (options.topic or publishes) and not options.bootstrap_servers:
        needed = "--topic" if options.topic else "--output-topic/--dead-letter-topic"
        raise OptionsError(f"--bootstrap-servers is required with {needed}")
    if options.schema_registry_url and not publishes:
        raise OptionsError("--schema-registry-url needs --output-topic or --dead-letter-topic")
    if options.metrics_port is not None and not 0 < options.metrics_port < 65536:
        raise OptionsError(f"--metrics-port must be a TCP port (1-65535), not {options.metrics_port}")
    if options.nlp_processes < 0:
        raise OptionsError(f"--nlp-processes must be 0 (one per core) or more, not {options.nlp_processes}")
    positive = ("until_idle", "max_articles", "nlp_batch_size", "max_message_bytes",
                "file_max_records", "file_max_seconds")  # fmt: skip
    for name in positive:
        value = getattr(options, name)
        if value is not None and value <= 0:
            raise OptionsError(f"--{name.replace('_', '-')} must be positive, not {value}")
    if options.input and not FileSystems.match([options.input])[0].metadata_list:
        raise OptionsError(f"no file matches --input {options.input!r}")
    if not (spacy.util.is_package(options.spacy_model) or Path(options.spacy_model).is_dir()):
        raise OptionsError(
            f"--spacy-model {options.spacy_model!r} is neither an installed spaCy pipeline package "
            "nor a model folder (models are never downloaded at run time)"
        )


# --- Composites -------------------------------------------------------------------------


class ReadMessages(beam.PTransform):
    """Kafka records or files, as :class:`~pipelines.source.Message`s.

    The source is made when this is: the broker is asked for its partitions, or the
    glob is listed, once, before anything runs.
    """

    def __init__(self, options: ClaimstreamOptions, run_id: str) -> None:
        super().__init__()
        o = options
        if o.input:
            self._source = source.ReadArticleFiles(o.input, o.max_message_bytes)
            self.file_count: int | None = self._source.file_count
        else:
            # Before the resume points are read: a crash may have left part of a range.
            sinks.discard_interrupted_writes(o.output, o.bootstrap_servers, o.topic)
            self._source = source.ReadFromKafka(
                o.bootstrap_servers, o.topic, o.group_id, o.start_from,
                until_idle=o.until_idle, max_records=o.max_articles, run_id=run_id,
                resume_points=sinks.resume_points(o.output, o.topic),
                slice_seconds=o.file_max_seconds, slice_records=min(256, o.file_max_records),
            )  # fmt: skip
            self.file_count = None

    def expand(self, pbegin):
        return pbegin | self._source


class ParseArticles(beam.PTransform):
    """Messages -> articles, and dead-letter outputs for the messages that are not."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self._max_bytes = max_bytes

    def expand(self, messages):
        return messages | beam.ParDo(ParseArticlesFn(self._max_bytes))


class ExtractEntitiesAndClaims(beam.PTransform):
    """Articles -> ``EnrichedArticle`` outputs; dead letters pass through."""

    def __init__(self, model: str, batch_size: int, processes: int = 1) -> None:
        super().__init__()
        self._fn = AnnotateArticlesFn(model, batch_size, processes)

    def expand(self, articles):
        return articles | beam.ParDo(self._fn)


def build(
    pipeline: beam.Pipeline, options: ClaimstreamOptions, run_id: str, read: ReadMessages | None = None
) -> None:
    """Wire the named composites into ``pipeline`` (``read``: a source already made)."""
    messages = pipeline | "ReadMessages" >> (read or ReadMessages(options, run_id))
    articles = messages | "ParseArticles" >> ParseArticles(options.max_message_bytes)
    outputs = articles | "ExtractEntitiesAndClaims" >> ExtractEntitiesAndClaims(
        options.spacy_model, options.nlp_batch_size, options.nlp_processes
    )
    outputs | "WriteFiles" >> sinks.WriteOutputs(options.output, options.file_max_records)
    if options.output_topic or options.dead_letter_topic:
        outputs | "PublishToKafka" >> beam.ParDo(
            sinks.PublishOutputsFn(
                options.bootstrap_servers,
                options.output_topic,
                options.dead_letter_topic,
                options.schema_registry_url,
            )
        )


# --- Running --------------------------------------------------------------------------


@dataclasses.dataclass
class RunSummary:
    """What a run did, from the pipeline's metrics."""

    articles: int
    entities: int
    claims: int
    dead_letters: int
    files: int
    seconds: float  # the whole run, start-up and idle wait included
    busy_seconds: float  # from the start of the run to its last file written
    output: str
    startup_seconds: float = 0.0  # from the start of the run to the first record read

    @property
    def messages_per_second(self) -> float:
        """Throughput while there was work: first record read to last file written."""
        messages = self.articles + self.dead_letters
        working = self.busy_seconds - self.startup_seconds
        return messages / working if working > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"articles: {self.articles}  entities: {self.entities}  claims: {self.claims}  "
            f"dead letters: {self.dead_letters}\n"
            f"output: {self.output} ({self.files} Avro files)\n"
            f"time: {self.seconds:.1f} s in all: {self.startup_seconds:.1f} s start-up, "
            f"{self.busy_seconds - self.startup_seconds:.1f} s from the first record read to the last "
            f"file written; throughput: {self.messages_per_second:.1f} messages/s"
        )


def pipeline_options(argv: Sequence[str] | None) -> ClaimstreamOptions:
    """Parse ``argv``; the local runner is FnApiRunner with one worker unless --runner says."""
    options = PipelineOptions(list(argv or []))
    standard = options.view_as(StandardOptions)
    claimstream = options.view_as(ClaimstreamOptions)
    if claimstream.dask_address:
        _use_dask(options, claimstream)
    if standard.runner is None:
        standard.runner = LOCAL_RUNNER
    if standard.runner == LOCAL_RUNNER:
        # More workers silently drop the residuals of the splittable Kafka reader.
        options.view_as(DirectOptions).direct_num_workers = 1
    validate(claimstream)
    if claimstream.nlp_processes == 0:
        # Locally, use every core; a distributed runner already runs one worker per core.
        local = standard.runner == LOCAL_RUNNER
        claimstream.nlp_processes = (os.cpu_count() or 1) if local else 1
    if claimstream.topic and standard.runner != LOCAL_RUNNER:
        standard.streaming = True
    return claimstream


def _use_dask(options: PipelineOptions, claimstream: ClaimstreamOptions) -> None:
    """--dask-address: Beam's own DaskRunner, for bounded (file) pipelines."""
    if not claimstream.input:
        raise OptionsError(
            "--dask-address runs backfills: give --input (Kafka streams need Flink, Spark or Dataflow)"
        )
    try:
        from apache_beam.runners.dask.dask_runner import DaskOptions
    except ImportError:
        raise OptionsError("--dask-address needs Dask: pip install 'claimstream[dask]'") from None
    options.view_as(StandardOptions).runner = DASK_RUNNER
    dask = options.view_as(DaskOptions)
    dask.address = claimstream.dask_address
    # Beam 2.77's DaskRunner collects a bundle's outputs before it calls finish_bundle,
    # so what a DoFn emits there is lost: annotate each article as it comes instead.
    claimstream.nlp_batch_size = 1
    if claimstream.dask_partitions:
        dask.npartitions = claimstream.dask_partitions


def _check_registry(options: ClaimstreamOptions) -> None:
    """Register the output schemas before anything runs: a bad URL is an error here, not in a worker."""
    if not options.schema_registry_url:
        return
    topics = {records.ARTICLE: options.output_topic, records.DEAD_LETTER: options.dead_letter_topic}
    for kind, topic in topics.items():
        if topic:
            try:
                records.schema_id(kind, topic, options.schema_registry_url)
            except records.RegistryError as e:
                raise OptionsError(str(e)) from None


def run(argv: Sequence[str] | None = None) -> RunSummary:
    """Build and run the pipeline until its input ends, it is idle, or it is stopped."""
    options = pipeline_options(argv)
    _check_registry(options)
    run_id = uuid.uuid4().hex
    source.reset_stop()
    started = time.time()
    progress.reset()
    try:
        metrics = (
            progress.serve_metrics(options.metrics_port, options.metrics_host)
            if options.metrics_port
            else None
        )
    except ValueError as e:
        raise OptionsError(str(e)) from None
    read = ReadMessages(options, run_id)
    reporter = None
    if options.progress_interval > 0:
        reporter = progress.ProgressReporter(
            options.progress_interval, options.bootstrap_servers, read.file_count
        )
        reporter.start()
    with _stop_on_signals():
        pipeline = beam.Pipeline(options=options)
        build(pipeline, options, run_id, read)
        result = None
        try:
            result = pipeline.run()
            result.wait_until_finish()
        finally:
            if hasattr(result, "client"):
                # Beam's DaskRunner leaves its client open; it would try to reconnect
                # for 30 s once the scheduler is gone, and log an error.
                result.client.close()
            # The local runner does not always tear DoFns down: stop their workers here.
            nlp.shutdown_worker_pools()
            if reporter is not None:
                reporter.stop()
            if metrics is not None:
                metrics.shutdown()
    return _summary(result, options.output, started)


def _summary(result, output: str, started: float) -> RunSummary:
    counters: dict[str, int] = {}
    last_write_ms = None
    no_metrics = False
    try:
        query = result.metrics().query(MetricsFilter().with_namespace("claimstream"))
    except NotImplementedError:  # some runners (Dask) report no metrics
        query, no_metrics = {"counters": [], "distributions": []}, True
    for counter in query["counters"]:
        name = counter.key.metric.name
        counters[name] = counters.get(name, 0) + (counter.committed or 0)
    first_read_ms = None
    for distribution in query["distributions"]:
        if not distribution.committed:
            continue
        if distribution.key.metric.name == "write_time_ms":
            last_write_ms = max(last_write_ms or 0, distribution.committed.max)
        elif distribution.key.metric.name == "read_time_ms":
            first_read_ms = min(first_read_ms or distribution.committed.min, distribution.committed.min)
    ended = time.time()
    if no_metrics:  # count what was written instead
        counters = sinks.count_outputs(output)
    return RunSummary(
        articles=counters.get(ARTICLES_DIR, 0),
        entities=counters.get("entities", 0),
        claims=counters.get("claims", 0),
        dead_letters=counters.get(DEAD_LETTERS_DIR, 0),
        files=counters.get("files", 0),
        seconds=ended - started,
        busy_seconds=(last_write_ms / 1000.0 - started) if last_write_ms else 0.0,
        output=output,
        startup_seconds=(first_read_ms / 1000.0 - started) if first_read_ms else 0.0,
    )


class _stop_on_signals:
    """Ctrl-C / SIGTERM: let the readers finish their slice, commit, and end the run.

    A second Ctrl-C interrupts at once.
    """

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if source.stop_requested():
            raise KeyboardInterrupt
        _LOG.warning("stopping: finishing the current bundle (Ctrl-C again to abort)")
        source.request_stop()

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
