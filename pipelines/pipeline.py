"""The claimstream pipeline: read -> parse -> entities and claims -> files (and topics).

    messages = ReadMessages              Kafka partitions, or files for a backfill
    articles = ParseArticles             + dead letters (empty, binary, too_large, ...)
    outputs  = ExtractEntitiesAndClaims  + dead letters (nlp_error); earlier ones passed on
    outputs  = LinkStories               story, version, claim links and changes (--no-stories: off)
    WriteFiles(outputs)                  articles/ and dead_letters/, exactly once
    PublishToKafka(outputs)              optional: --output-topic, --dead-letter-topic

It is one fused chain with no GroupByKey, because a local runner never fires
anything behind a GroupByKey that follows an unbounded read, and no Flatten,
which breaks the chain there too. So dead letters travel in the same stream as
articles, and one writer sees every outcome of a partition's offsets in a bundle.

:func:`run` first checks the broker connection (TLS, login) and what to read (the
topic exists, the files match), then
builds the chain and runs it until its input ends, it is idle, or it is stopped.
Replicas with the same ``--group-id`` share the topic's partitions; each replica
starts a partition it is given after what the output files already hold
(:func:`pipelines.sinks.start_of_partition`: the recovery step, at run time).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
import uuid
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import StandardOptions

from pipelines import heap, kafka, runstate, sinks
from pipelines.errors import OptionError, RegistryError
from pipelines.kafka.preflight import check_connection
from pipelines.nlp import ExtractEntitiesAndClaims
from pipelines.nlp.workers import shutdown_pools, start_pool
from pipelines.options import DASK_RUNNER, LOCAL_RUNNER, ClaimstreamOptions, parse
from pipelines.parse import ParseArticles
from pipelines.records import ARTICLE, DEAD_LETTER
from pipelines.runstate import RunState
from pipelines.service.signals import StopOnSignals
from pipelines.service.watch import watching
from pipelines.sinks import PublishToKafka, WriteFiles
from pipelines.sinks.registry import schema_id
from pipelines.source import ReadArticleFiles, ReadFromKafka, ReadTopicFn, list_files
from pipelines.stories import LinkStories, check_state


def build(pipeline: beam.Pipeline, options: ClaimstreamOptions, run_id: str, source: beam.PTransform) -> None:
    """Wire the stages into ``pipeline``; ``source`` is :func:`read_messages`' transform."""
    messages = pipeline | "ReadMessages" >> source
    articles = messages | "ParseArticles" >> ParseArticles(
        options.max_message_bytes, run_id, options.input_format
    )
    outputs = articles | "ExtractEntitiesAndClaims" >> ExtractEntitiesAndClaims(
        options.spacy_model,
        options.nlp_batch_size,
        options.nlp_processes,
        run_id,
        options.min_checkworthiness,
        options.stories,
        options.checkworthiness,
    )
    if options.stories:
        outputs = outputs | "LinkStories" >> LinkStories(
            options.output, options.state, options.story_window_days, options.group_id
        )
    outputs | "WriteFiles" >> WriteFiles(
        options.output, max_records=options.file_max_records, max_seconds=options.file_max_seconds,
        run_id=run_id, formats=options.file_formats, partition_by=options.partition_by,
    )  # fmt: skip
    if options.publishes:
        outputs | "PublishToKafka" >> PublishToKafka(
            options.kafka,
            options.output_topic,
            options.dead_letter_topic,
            options.registry,
            run_id,
        )


def read_messages(options: ClaimstreamOptions, run_id: str) -> beam.PTransform:
    """The source: the files of ``--input``, or the topic as members of the consumer group,
    each partition started after what the output files already hold."""
    if options.input:
        return ReadArticleFiles(list_files(options.input), options.max_message_bytes, run_id)
    kafka.list_partitions(options.kafka, options.topic)  # the topic exists: say so now if not
    read_fn = ReadTopicFn(
        run_id, functools.partial(sinks.start_of_partition, options.output, options.kafka),
        options.until_idle, options.max_articles,
        slice_seconds=options.read_slice_seconds, slice_records=min(256, options.file_max_records),
    )  # fmt: skip
    return ReadFromKafka(
        options.kafka, options.topic, options.group_id, read_fn, options.start_from, options.readers
    )


def run(
    argv: Sequence[str] | None = None, stop: threading.Event | None = None, started_at: float | None = None
) -> RunSummary:
    """Run the pipeline until its input ends, it is idle, or it is stopped; say what it did.

    ``stop`` (set by Ctrl-C or SIGTERM) ends the run cleanly at any moment: before the
    pipeline starts, or after the bundle in progress is written and committed.
    ``started_at``: when the command started, for the summary's start-up figure.
    """
    stop = stop or threading.Event()
    with StopOnSignals(stop):
        options = parse(argv)
        if options.topic or options.publishes:
            check_connection(options.kafka)  # TLS, Kafka and login, each bounded in time
        _check_registry(options)
        if options.stories:
            check_state(options.state, options.output, options.group_id)  # the story index opens
        state = runstate.begin(uuid.uuid4().hex, options.max_articles, options.until_idle, stop)
        state.started_at = started_at or state.started_at
        result = None
        try:
            result = _prepare_and_run(options, state)
        finally:
            for member in state.leases.members():
                member.close()  # leave the group now, so the others take over at once
            # The local runner does not always tear DoFns down: stop their workers here.
            shutdown_pools(at_once=result is None)
            runstate.end(state.run_id)
    return summarize(result, state, options)


def _prepare_and_run(options: ClaimstreamOptions, state: RunState):
    """The pipeline's result, or None when stopped before it started."""
    heap.steady_heap()  # a long run's large buffers go back to the system when freed
    if options.nlp_processes > 1 and options.view_as(StandardOptions).runner == LOCAL_RUNNER:
        # The models load while the rest starts.
        start_pool(options.spacy_model, options.nlp_processes, options.checkworthiness)
    source = read_messages(options, state.run_id)
    if state.stop_requested:
        return None
    total = None if options.topic else source.file_count
    watch = watching(
        state, options.progress_interval, options.metrics_port, options.metrics_host,
        options.kafka if options.topic else None, total,
    )  # fmt: skip
    with watch:
        pipeline = beam.Pipeline(options=options)
        build(pipeline, options, state.run_id, source)
        return _run_to_the_end(pipeline)


def _run_to_the_end(pipeline: beam.Pipeline):
    result = pipeline.run()
    try:
        result.wait_until_finish()
    finally:
        if hasattr(result, "client"):
            # Beam's DaskRunner leaves its client open; it would try to reconnect for
            # 30 s once the scheduler is gone, and log an error.
            result.client.close()
    return result


def _check_registry(options: ClaimstreamOptions) -> None:
    """Register the output schemas before anything runs: a bad URL is an error here, not in a worker."""
    if not options.schema_registry_url:
        return
    for kind, topic in ((ARTICLE, options.output_topic), (DEAD_LETTER, options.dead_letter_topic)):
        if topic:
            try:
                schema_id(kind, topic, options.registry)
            except RegistryError as e:
                raise OptionError(f"{e} (--schema-registry-url)") from None


# --- What a run did -----------------------------------------------------------------------


@dataclasses.dataclass
class RunSummary:
    """What a run wrote, and how long it took."""

    articles: int
    entities: int
    claims: int
    dead_letters: int
    files: int
    output: str
    seconds: float  # the whole run, start-up and idle wait included
    startup_seconds: float  # from the start of the run to the first record read
    busy_seconds: float  # from the start of the run to its last file written
    stopped: bool = False  # by Ctrl-C or SIGTERM

    @property
    def messages_per_second(self) -> float:
        """Throughput while there was work: first record read to last file written."""
        working = self.busy_seconds - self.startup_seconds
        return (self.articles + self.dead_letters) / working if working > 0 else 0.0

    def __str__(self) -> str:
        stopped = "stopped on request: what was read is written and committed\n" if self.stopped else ""
        if not self.articles + self.dead_letters:
            return stopped + f"nothing was read; output: {self.output}; time: {self.seconds:.1f} s"
        return stopped + (
            f"articles: {self.articles}  entities: {self.entities}  claims: {self.claims}  "
            f"dead letters: {self.dead_letters}\n"
            f"output: {self.output} ({self.files} files)\n"
            f"time: {self.seconds:.1f} s in all: {self.startup_seconds:.1f} s to the first record read, "
            f"{self.busy_seconds - self.startup_seconds:.1f} s from it to the last file written; "
            f"throughput: {self.messages_per_second:.1f} messages/s"
        )


def summarize(result, state: RunState, options: ClaimstreamOptions) -> RunSummary:
    """The summary from the run's counters (local runner), Beam's metrics, or the files written."""
    runner = options.view_as(StandardOptions).runner
    if runner == LOCAL_RUNNER or result is None:
        counts = state.counters.snapshot().counts
    elif runner == DASK_RUNNER:  # reports no metrics: count what was written
        counts = sinks.count_outputs(options.output)
    else:
        counts = _beam_counters(result)
    ended = time.time()
    first_read, last_write = state.counters.first_read_at, state.counters.last_write_at
    return RunSummary(
        articles=counts.get("written_articles", 0),
        entities=counts.get("entities", 0),
        claims=counts.get("claims", 0),
        dead_letters=counts.get("written_dead_letters", 0),
        files=counts.get("files", 0),
        output=options.output,
        seconds=ended - state.started_at,
        startup_seconds=first_read - state.started_at if first_read else 0.0,
        busy_seconds=last_write - state.started_at if last_write else 0.0,
        stopped=state.stop_requested,
    )


def _beam_counters(result) -> dict[str, int]:
    counts: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(runstate.NAMESPACE))
    for counter in query["counters"]:
        name = counter.key.metric.name
        counts[name] = counts.get(name, 0) + (counter.committed or 0)
    return counts
