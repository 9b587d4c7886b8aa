"""Every option of ``claimstream run``, in one place, and their checks.

Beam's own options (``--runner`` and the runner's) pass through. :func:`parse`
turns a command line into checked options, or raises an
:class:`~pipelines.errors.OptionError` naming the option at fault.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence

from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from pipelines.claims.scorer import KINDS, check_kind
from pipelines.envelopes import INPUT_FORMATS
from pipelines.environment import environment_flags
from pipelines.errors import OptionError
from pipelines.kafka import KafkaConfig
from pipelines.kafka.config import add_kafka_config_arguments
from pipelines.nlp.model import DEFAULT_MODEL, is_installed
from pipelines.parse import DEFAULT_MAX_BYTES
from pipelines.sinks.fileformats import FILE_FORMATS
from pipelines.sinks.naming import PARTITIONINGS
from pipelines.sinks.registry import RegistryConfig

#: The local runner. DirectRunner would first try to download the Prism binary.
LOCAL_RUNNER = "FnApiRunner"
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"

#: The options that may also come from the environment, as CLAIMSTREAM_<OPTION>.
ENVIRONMENT_OPTIONS = (
    "--bootstrap-servers", "--topic", "--group-id", "--output", "--kafka-config-file",
    "--output-topic", "--dead-letter-topic", "--schema-registry-url", "--state",
)  # fmt: skip


class ClaimstreamOptions(PipelineOptions):
    """The options of ``claimstream run``."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        _kafka_source(parser.add_argument_group("Kafka source"))
        _file_source(parser.add_argument_group("File source (backfill)"))
        _processing(parser.add_argument_group("Processing"))
        _stories(parser.add_argument_group("Story linking"))
        _file_output(parser.add_argument_group("Output files"))
        _topic_output(parser.add_argument_group("Kafka output (Confluent-framed Avro)"))
        _watching(parser.add_argument_group("Watching a run (local runner)"))

    @property
    def kafka(self) -> KafkaConfig:
        """Flags over the properties file over the environment, resolved on each use (cheap)."""
        return KafkaConfig.resolve(
            self.bootstrap_servers or "", self.kafka_config or (), self.kafka_config_file
        )

    @property
    def registry(self) -> RegistryConfig | None:
        if not self.schema_registry_url:
            return None
        return RegistryConfig.resolve(self.schema_registry_url, self.schema_registry_config or ())

    @property
    def publishes(self) -> bool:
        return bool(self.output_topic or self.dead_letter_topic)

    @property
    def file_formats(self) -> tuple[str, ...]:
        """``--format avro,parquet`` as ``("avro", "parquet")``."""
        return tuple(dict.fromkeys(f.strip() for f in (self.format or "").split(",") if f.strip()))


def _kafka_source(group) -> None:
    group.add_argument("--bootstrap-servers", dest="bootstrap_servers", help="HOST:PORT[,HOST:PORT]")
    group.add_argument("--topic", help="topic of the articles")
    add_kafka_config_arguments(group)
    group.add_argument(
        "--group-id", dest="group_id", default="claimstream",
        help="consumer group whose committed offsets say where to resume",
    )  # fmt: skip
    group.add_argument(
        "--start-from", dest="start_from", default="earliest", choices=("earliest", "latest"),
        help="where to start a partition the group has no offset for",
    )  # fmt: skip
    group.add_argument(
        "--until-idle", dest="until_idle", type=float, default=None,
        help="stop once no record arrived for this many seconds",
    )  # fmt: skip
    group.add_argument(
        "--max-articles", dest="max_articles", type=int, default=None,
        help="stop after reading this many messages",
    )  # fmt: skip
    group.add_argument(
        "--readers", type=int, default=1,
        help="consumer-group members this process runs (on a cluster runner: reading parallelism)",
    )  # fmt: skip
    group.add_argument(
        "--read-slice-seconds", dest="read_slice_seconds", type=float, default=0.4,
        help="the reader hands its records on (ends its bundle) after about this long",
    )  # fmt: skip


def _file_source(group) -> None:
    group.add_argument(
        "--input", help="glob of article files, e.g. 'articles/*.txt' ('*.jsonl' files: one article a line)"
    )
    group.add_argument(
        "--dask-address",
        dest="dask_address",
        help="run the backfill on this Dask scheduler (tcp://HOST:PORT)",
    )
    group.add_argument(
        "--dask-partitions", dest="dask_partitions", type=int, default=None,
        help="Dask partitions per stage (default: Dask's choice)",
    )  # fmt: skip


def _processing(group) -> None:
    group.add_argument(
        "--spacy-model", dest="spacy_model", default=DEFAULT_MODEL, help="installed spaCy pipeline package"
    )
    group.add_argument(
        "--nlp-batch-size", dest="nlp_batch_size", type=int, default=8,
        help="articles per nlp.pipe call (one task of an NLP worker process)",
    )  # fmt: skip
    group.add_argument(
        "--nlp-processes", dest="nlp_processes", type=int, default=0,
        help="NLP worker processes; 0 = one per core on the local runner, 1 elsewhere",
    )  # fmt: skip
    group.add_argument(
        "--max-message-bytes", dest="max_message_bytes", type=int, default=DEFAULT_MAX_BYTES,
        help="larger messages go to the dead letters as too_large",
    )  # fmt: skip
    group.add_argument(
        "--min-checkworthiness", dest="min_checkworthiness", type=float, default=0.0,
        help="drop claims without a speaker whose check-worthiness is below this (0..1; default 0: keep all)",
    )  # fmt: skip
    group.add_argument(
        "--checkworthiness", dest="checkworthiness", default=KINDS[0],
        help="cascade: the linear score, the transformer's where it is within 0.2 of 0.5 (~2 ms a "
        "sentence it scores); linear: the linear score alone (faster, less accurate)",
    )  # fmt: skip
    group.add_argument(
        "--input-format", dest="input_format", default="auto",
        help="text, json (envelopes) or auto: JSON when the first non-space byte is '{'",
    )  # fmt: skip


def _stories(group) -> None:
    group.add_argument(
        "--no-stories", dest="stories", action="store_false",
        help="do not link articles to their stories and claims to their earlier forms",
    )  # fmt: skip
    group.add_argument(
        "--story-window-days", dest="story_window_days", type=float, default=7.0,
        help="earlier articles of a story are looked for this far back, by event time",
    )  # fmt: skip
    group.add_argument(
        "--state", dest="state",
        help="the story index: a SQLite file or folder (default: _stories/ in --output), "
        "or redis://HOST:PORT/DB shared by replicas on several machines",
    )  # fmt: skip


def _file_output(group) -> None:
    group.add_argument("--output", help="output folder (local or a FileSystems path)")
    group.add_argument(
        "--format", default="avro", help=f"file formats, comma-separated: {', '.join(FILE_FORMATS)}"
    )
    group.add_argument(
        "--partition-by", dest="partition_by", default="none",
        help="none, day (folders dt=YYYY-MM-DD/) or hour (and hour=HH/), by event time in UTC",
    )  # fmt: skip
    group.add_argument(
        "--file-max-records", dest="file_max_records", type=int, default=10_000,
        help="a file holds at most this many records",
    )  # fmt: skip
    group.add_argument(
        "--file-max-seconds", dest="file_max_seconds", type=float, default=2.0,
        help="a file is closed once its first record is this old (and at the end of each bundle)",
    )  # fmt: skip


def _topic_output(group) -> None:
    group.add_argument(
        "--output-topic", dest="output_topic", help="also publish each EnrichedArticle here (key: article_id)"
    )
    group.add_argument(
        "--dead-letter-topic", dest="dead_letter_topic", help="also publish each DeadLetter here"
    )
    group.add_argument(
        "--schema-registry-url", dest="schema_registry_url",
        help="Confluent-compatible registry for the schema ids (else fixed ids)",
    )  # fmt: skip
    group.add_argument(
        "--schema-registry-config", dest="schema_registry_config", action="append", metavar="KEY=VALUE",
        help="registry client setting: basic.auth.user.info=USER:PASSWORD, ssl.ca.location=PATH",
    )  # fmt: skip


def _watching(group) -> None:
    group.add_argument(
        "--progress-interval", dest="progress_interval", type=float, default=10.0,
        help="seconds between progress lines; 0 for none",
    )  # fmt: skip
    group.add_argument(
        "--metrics-port",
        dest="metrics_port",
        type=int,
        default=None,
        help="serve Prometheus metrics on this port",
    )
    group.add_argument(
        "--metrics-host", dest="metrics_host", default="127.0.0.1",
        help="address to serve metrics on (0.0.0.0 in a container)",
    )  # fmt: skip


# --- Parsing and checking -----------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> ClaimstreamOptions:
    """Checked options from a command line; the local runner is FnApiRunner with one worker."""
    argv = [*environment_flags(ENVIRONMENT_OPTIONS, os.environ), *(argv or [])]
    _reject_unknown(argv)
    options = PipelineOptions(argv)
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
        claimstream.nlp_processes = (os.cpu_count() or 1) if standard.runner == LOCAL_RUNNER else 1
    if claimstream.topic and standard.runner != LOCAL_RUNNER:
        standard.streaming = True
    if claimstream.topic and standard.runner == LOCAL_RUNNER and claimstream.readers > 1:
        # One thread reads them all, and kafka-python 3.0 loses the answers to joins it is not
        # polling for: two members in one process joined 11 times and left partitions unread.
        raise OptionError(
            f"--readers {claimstream.readers} needs a cluster runner: on the local runner run "
            f"{claimstream.readers} replicas (processes) with --readers 1 instead"
        )
    return claimstream


def _reject_unknown(argv: list[str]) -> None:
    """An option neither claimstream nor Beam knows is a typo: say which, and the nearest."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(argv)
    if unknown:
        name = unknown[0].split("=", 1)[0]
        known = [o for action in parser._actions for o in action.option_strings]
        nearest = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {nearest[0]}?)" if nearest else ""
        raise OptionError(f"unknown option {name}{hint}")


def validate(options: ClaimstreamOptions) -> None:
    """Raise :class:`OptionError` naming the option at fault."""
    _check_sources(options)
    for name, allowed in (("input_format", INPUT_FORMATS), ("partition_by", PARTITIONINGS)):
        if getattr(options, name) not in allowed:
            flag = f"--{name.replace('_', '-')}"
            raise OptionError(f"{flag} must be one of {', '.join(allowed)}, not {getattr(options, name)!r}")
    unknown = [f for f in options.file_formats if f not in FILE_FORMATS]
    if unknown or not options.file_formats:
        raise OptionError(
            f"--format must be one or more of {', '.join(FILE_FORMATS)}, not {options.format!r}"
        )
    if options.schema_registry_url and not options.publishes:
        raise OptionError("--schema-registry-url needs --output-topic or --dead-letter-topic")
    if options.schema_registry_config and not options.schema_registry_url:
        raise OptionError("--schema-registry-config needs --schema-registry-url")
    options.kafka  # noqa: B018 - resolving the properties checks them: name a wrong key now
    options.registry  # noqa: B018
    if options.metrics_port is not None and not 0 < options.metrics_port < 65536:
        raise OptionError(f"--metrics-port must be a TCP port (1-65535), not {options.metrics_port}")
    if options.nlp_processes < 0:
        raise OptionError(f"--nlp-processes must be 0 (one per core) or more, not {options.nlp_processes}")
    check_kind(options.checkworthiness)
    if not 0.0 <= options.min_checkworthiness <= 1.0:  # also rejects nan
        raise OptionError(f"--min-checkworthiness must be between 0 and 1, not {options.min_checkworthiness}")
    positive = ("until_idle", "max_articles", "nlp_batch_size", "max_message_bytes",
                "file_max_records", "file_max_seconds", "read_slice_seconds", "readers",
                "story_window_days")  # fmt: skip
    for name in positive:
        value = getattr(options, name)
        if value is not None and value <= 0:
            raise OptionError(f"--{name.replace('_', '-')} must be positive, not {value}")
    if not is_installed(options.spacy_model):
        raise OptionError(
            f"--spacy-model {options.spacy_model!r} is neither an installed spaCy pipeline package "
            "nor a model folder (models are never downloaded at run time)"
        )


def _check_sources(options: ClaimstreamOptions) -> None:
    if not options.output:
        raise OptionError("--output is required: the folder to write Avro files to")
    if options.input and options.topic:
        raise OptionError("give either --input (files) or --topic (Kafka), not both")
    if not options.input and not options.topic:
        raise OptionError("nothing to read: give --bootstrap-servers and --topic, or --input")
    if (options.topic or options.publishes) and not options.bootstrap_servers:
        needed = "--topic" if options.topic else "--output-topic/--dead-letter-topic"
        raise OptionError(f"--bootstrap-servers is required with {needed}")


def _use_dask(options: PipelineOptions, claimstream: ClaimstreamOptions) -> None:
    """--dask-address: Beam's own DaskRunner, for bounded (file) pipelines."""
    if not claimstream.input:
        raise OptionError(
            "--dask-address runs backfills: give --input (Kafka streams need Flink, Spark or Dataflow)"
        )
    try:
        from apache_beam.runners.dask.dask_runner import DaskOptions
    except ImportError:
        raise OptionError("--dask-address needs Dask: pip install 'claimstream[dask]'") from None
    options.view_as(StandardOptions).runner = DASK_RUNNER
    dask = options.view_as(DaskOptions)
    dask.address = claimstream.dask_address
    # Beam 2.77's DaskRunner collects a bundle's outputs before it calls finish_bundle,
    # so what a DoFn emits there is lost: annotate each article as it comes instead.
    claimstream.nlp_batch_size = 1
    if claimstream.dask_partitions:
        dask.npartitions = claimstream.dask_partitions
