"""Sink stage: Avro files that make the output exactly once, and an Avro Kafka topic.

Files
-----
A bundle's outputs are grouped by source partition. Each group covers a
contiguous offset range ``[first, last]`` of its partition, and is written as up
to two files named after that range:

    DIR/dead_letters/articles-3-000000000120-000000000183.avro   # written first
    DIR/articles/articles-3-000000000120-000000000183.avro       # written last

(backfills: ``files-<hash of the input paths>.avro``). Each file is written under a
hidden temporary name, synced, then renamed, so a reader never sees half a file.
Its Avro metadata records the range and how many articles and dead letters it
has, so that on restart :func:`resume_points` can tell complete ranges from a
range whose writing a crash interrupted. The reader then starts each partition
after the last complete range, even when the offset commit did not happen, and
:func:`discard_interrupted_writes` deletes what the interrupted write left, since
it is written again.

A group also rolls into a new range when it reaches ``max_records``; the reader's
time slices bound how long records wait (``--file-max-seconds``).

Kafka
-----
:class:`PublishOutputsFn` publishes each article (key ``article_id``) and dead
letter in the Confluent wire format, and waits for every acknowledgement before
its bundle ends, so offsets are committed only after their output is safe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator

import apache_beam as beam
import fastavro
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines import kafka, progress, records

_LOG = logging.getLogger(__name__)

ARTICLES_DIR = "articles"
DEAD_LETTERS_DIR = "dead_letters"
_FOLDERS = {records.ARTICLE: ARTICLES_DIR, records.DEAD_LETTER: DEAD_LETTERS_DIR}
_META = "claimstream."
_RANGE_FILE = re.compile(
    r"^(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d{12})-(?P<last>\d{12})(?:~\d+)?\.avro$"
)

#: ``.articles-3-000000000120-000000000183.avro.1f2e3d4c.tmp``: see :func:`write_avro_file`.
_TEMPORARY_FILE = re.compile(r"^\.(?P<name>.+\.avro)\.[0-9a-f]{8}\.tmp$")

# --- Names --------------------------------------------------------------------------


def safe_topic(topic: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "_" for c in topic)


def range_name(topic: str, partition: int, first: int, last: int) -> str:
    """``articles-3-000000000120-000000000183.avro``"""
    return f"{safe_topic(topic)}-{partition}-{first:012d}-{last:012d}.avro"


def files_name(outputs: Iterable[records.Output]) -> str:
    """``files-<hash>.avro`` for backfill records: the same inputs give the same name."""
    digest = hashlib.sha256()
    for output in outputs:
        digest.update((output.source["path"] or output.source["key"] or "").encode())
        digest.update(b"\0")
    return f"files-{digest.hexdigest()[:16]}.avro"


# --- Writing ------------------------------------------------------------------------


def write_avro_file(path: str, schema_name: str, batch: list[dict], metadata: dict | None = None) -> None:
    """Write ``batch`` to ``path`` atomically: temporary name, flush, fsync, rename."""
    folder, name = path.rsplit("/", 1)
    temporary = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
    with FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        fastavro.writer(
            f, records.parsed_schema(schema_name), batch, codec="deflate", metadata=metadata or {}
        )
    if "://" not in temporary:  # a local file: make it durable before it becomes visible
        _fsync(temporary)
    FileSystems.rename([temporary], [path])
    if "://" not in path:
        _fsync(folder)  # and make the rename itself durable


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_folder(folder: str) -> Iterator[dict]:
    """Every record of the ``*.avro`` files in ``folder``, file by file in name order.

    Temporary files (hidden, ``.tmp``) are never matched.
    """
    for metadata in sorted(FileSystems.match([FileSystems.join(folder, "*.avro")])[0].metadata_list,
                           key=lambda m: m.path):  # fmt: skip
        with FileSystems.open(metadata.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            yield from fastavro.reader(f)


def read_metadata(path: str) -> dict:
    """The ``claimstream.*`` metadata of an Avro file, without its prefix."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        metadata = fastavro.reader(f).metadata
    return {k[len(_META) :]: v for k, v in metadata.items() if k.startswith(_META)}


@dataclasses.dataclass
class _Group:
    """One partition's outputs in the current bundle."""

    outputs: list[records.Output] = dataclasses.field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict]:
        return [o.record for o in self.outputs if o.kind == kind]


class WriteOutputsFn(beam.DoFn):
    """Writes each bundle's outputs, per source partition, as range-named Avro files."""

    def __init__(self, output: str, max_records: int = 10_000) -> None:
        self._output = output
        self._max_records = max_records

    def setup(self) -> None:
        for schema in (records.ARTICLE, records.DEAD_LETTER):
            records.parsed_schema(schema)  # fail here, not on the first record
        for folder in _FOLDERS.values():
            path = FileSystems.join(self._output, folder)
            if "://" not in path:
                os.makedirs(path, exist_ok=True)
        self._counters = {
            kind: beam.metrics.Metrics.counter("claimstream", folder) for kind, folder in _FOLDERS.items()
        }
        self._files = beam.metrics.Metrics.counter("claimstream", "files")
        # min/max of this distribution give the first and last write times of the run.
        self._write_times = beam.metrics.Metrics.distribution("claimstream", "write_time_ms")

    def start_bundle(self) -> None:
        self._groups: dict[tuple[str | None, int | None], _Group] = {}

    def process(self, output: records.Output) -> None:
        key = (output.source["topic"], output.source["partition"])
        group = self._groups.setdefault(key, _Group())
        group.outputs.append(output)
        if len(group.outputs) >= self._max_records:
            self._write(key, self._groups.pop(key))

    def finish_bundle(self) -> None:
        for key, group in self._groups.items():
            self._write(key, group)
        self._groups = {}

    def _write(self, key: tuple, group: _Group) -> None:
        topic, partition = key
        articles = group.of_kind(records.ARTICLE)
        letters = group.of_kind(records.DEAD_LETTER)
        metadata = {f"{_META}articles": str(len(articles)), f"{_META}dead_letters": str(len(letters))}
        if topic is None:
            name = files_name(group.outputs)
        else:
            offsets = sorted(o.source["offset"] for o in group.outputs)
            name = range_name(topic, partition, offsets[0], offsets[-1])
            metadata[f"{_META}fingerprint"] = _fingerprint(group.outputs)
            last = max(group.outputs, key=lambda o: o.source["offset"])
            metadata[f"{_META}last_key"] = last.source["key"] or ""
            timestamp = last.source["timestamp_ms"]
            metadata[f"{_META}last_timestamp_ms"] = "" if timestamp is None else str(timestamp)
        # Dead letters first, articles last: an articles file proves its range complete.
        for kind, batch in ((records.DEAD_LETTER, letters), (records.ARTICLE, articles)):
            if batch:
                path = self._free_path(FileSystems.join(self._output, _FOLDERS[kind]), name, metadata)
                write_avro_file(path, kind, batch, metadata)
                self._counters[kind].inc(len(batch))
                self._files.inc()
                if kind == records.ARTICLE:
                    progress.counters.wrote(batch, 0, path)
                else:
                    progress.counters.wrote([], len(batch), path)
        self._write_times.update(int(time.time() * 1000))

    @staticmethod
    def _free_path(folder: str, name: str, metadata: dict) -> str:
        """``folder/name``, unless a file of that name holds other records.

        The same name with the same fingerprint is a retried bundle: overwrite it.
        A different fingerprint means the broker's log was reset (its offsets began
        again): keep both, the new one as ``name~1.avro``, ``name~2.avro``, ...
        """
        path = FileSystems.join(folder, name)
        fingerprint = metadata.get(f"{_META}fingerprint")
        suffix = 0
        while fingerprint and FileSystems.exists(path):
            if read_metadata(path).get("fingerprint") == fingerprint:
                return path
            suffix += 1
            path = FileSystems.join(folder, name.replace(".avro", f"~{suffix}.avro"))
        return path


def _fingerprint(outputs: list[records.Output]) -> str:
    digest = hashlib.sha256()
    for output in sorted(outputs, key=lambda o: o.source["offset"]):
        source = output.source
        digest.update(f"{source['offset']}\0{source['key']}\0{source['timestamp_ms']}\0".encode())
    return digest.hexdigest()[:32]


class WriteOutputs(beam.PTransform):
    """Writes articles to ``<output>/articles`` and dead letters to ``<output>/dead_letters``."""

    def __init__(self, output: str, max_records: int = 10_000) -> None:
        super().__init__()
        self._fn = WriteOutputsFn(output, max_records)

    def expand(self, outputs):
        return outputs | beam.ParDo(self._fn)


# --- Recovery -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    """Where the files say a partition's output ends: read on from ``next_offset``."""

    next_offset: int
    last_key: str
    last_timestamp_ms: int | None


def _range_files(output: str, topic: str) -> dict[tuple[int, int, int], dict[str, str]]:
    """``{(partition, first, last): {kind: path}}`` for the range-named files of ``topic``."""
    ranges: dict[tuple[int, int, int], dict[str, str]] = {}
    for kind, folder in _FOLDERS.items():
        pattern = FileSystems.join(output, folder, f"{safe_topic(topic)}-*.avro")
        for metadata in FileSystems.match([pattern])[0].metadata_list:
            match = _RANGE_FILE.match(metadata.path.rsplit("/", 1)[-1])
            if match and match["topic"] == safe_topic(topic):
                key = (int(match["partition"]), int(match["first"]), int(match["last"]))
                ranges.setdefault(key, {})[kind] = metadata.path
    return ranges


def _range_end(last: int, paths: dict[str, str]) -> tuple[bool, ResumePoint]:
    """Whether a range's files are complete, and the point right after the range.

    A range is complete when its articles file exists (it is renamed last), or when
    its dead-letters file exists and says the range had no articles.
    """
    complete = records.ARTICLE in paths
    meta = read_metadata(paths[records.ARTICLE if complete else records.DEAD_LETTER])
    complete = complete or meta.get("articles", "0") == "0"
    timestamp = meta.get("last_timestamp_ms")
    return complete, ResumePoint(last + 1, meta.get("last_key", ""), int(timestamp) if timestamp else None)


def resume_points(output: str, topic: str) -> dict[int, ResumePoint]:
    """For each partition of ``topic``: the end of its last complete offset range in the files."""
    points: dict[int, ResumePoint] = {}
    # Newest first: a partition's metadata is read only down to its last complete range.
    newest_first = sorted(_range_files(output, topic).items(), key=lambda item: item[0][2], reverse=True)
    for (partition, _first, last), paths in newest_first:
        if partition in points:
            continue
        complete, end = _range_end(last, paths)
        if complete:
            points[partition] = end
    return points


def discard_interrupted_writes(output: str, bootstrap_servers: str, topic: str) -> list[str]:
    """Delete what writes a crash interrupted left of ``topic``'s ranges; return the paths.

    Such a range has its dead-letters file but not its articles file. Its offsets
    were never committed, so the reader reads them again, and the new bundle may
    end elsewhere (``[120, 190]`` where the crashed one had ``[120, 183]``): the
    old file would then hold a second copy of each of its dead letters. It is only
    deleted while the broker still holds the range's last record (same key and
    timestamp); after a log reset its records cannot be read again, so it is kept.
    Temporary files (never renamed, never read) are deleted too.
    """
    discarded = []
    for (partition, first, last), paths in sorted(_range_files(output, topic).items()):
        if records.ARTICLE in paths:
            continue  # complete, no need to read it
        complete, end = _range_end(last, paths)
        if complete or not kafka.holds_record(
            bootstrap_servers, topic, partition, last, end.last_key, end.last_timestamp_ms
        ):
            continue
        for path in paths.values():
            FileSystems.delete([path])
            discarded.append(path)
            _LOG.warning(
                "%s[%d]: deleted %s, left by a write that was interrupted; offsets %d-%d are read again",
                topic, partition, path, first, last,
            )  # fmt: skip
    for folder in _FOLDERS.values():  # and the temporary files of writes that never got renamed
        pattern = FileSystems.join(output, folder, f".{safe_topic(topic)}-*.tmp")
        for metadata in FileSystems.match([pattern])[0].metadata_list:
            match = _TEMPORARY_FILE.match(metadata.path.rsplit("/", 1)[-1])
            name = match and _RANGE_FILE.match(match["name"])
            if name and name["topic"] == safe_topic(topic):
                FileSystems.delete([metadata.path])
                discarded.append(metadata.path)
    return discarded


def count_outputs(output: str) -> dict[str, int]:
    """Records, entities, claims and files under ``output``: a summary for runners without metrics."""
    counts = {ARTICLES_DIR: 0, DEAD_LETTERS_DIR: 0, "entities": 0, "claims": 0, "files": 0}
    for folder in _FOLDERS.values():
        path = FileSystems.join(output, folder)
        counts["files"] += len(FileSystems.match([FileSystems.join(path, "*.avro")])[0].metadata_list)
        for record in read_folder(path):
            counts[folder] += 1
            counts["entities"] += len(record.get("entities", ()))
            counts["claims"] += len(record.get("claims", ()))
    return counts


# --- Kafka output ---------------------------------------------------------------------


class PublishOutputsFn(beam.DoFn):
    """Publishes articles and dead letters as Confluent-framed Avro, acks=all.

    Every send of a bundle is acknowledged in ``finish_bundle``, before the bundle
    is committed and so before its input offsets are.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        article_topic: str | None,
        dead_letter_topic: str | None,
        registry_url: str | None = None,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topics = {records.ARTICLE: article_topic, records.DEAD_LETTER: dead_letter_topic}
        self._registry_url = registry_url

    def setup(self) -> None:
        for topic in filter(None, self._topics.values()):
            kafka.ensure_topic(self._bootstrap_servers, topic)  # a broker may not create topics on use
        self._producer = kafka.new_producer(self._bootstrap_servers, idempotent=True)
        self._schema_ids = {
            kind: records.schema_id(kind, topic, self._registry_url)
            for kind, topic in self._topics.items()
            if topic
        }
        self._published = beam.metrics.Metrics.counter("claimstream", "published")

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, output: records.Output) -> None:
        topic = self._topics[output.kind]
        if not topic:
            return
        key = output.record["article_id"] if output.kind == records.ARTICLE else output.source["key"]
        value = records.confluent_encode(output.kind, self._schema_ids[output.kind], output.record)
        self._pending.append(self._producer.send(topic, key=key.encode() if key else None, value=value))

    def finish_bundle(self) -> None:
        self._producer.flush()
        for future in self._pending:
            future.get(timeout=60)  # raises, failing the bundle, if the broker refused it
        self._published.inc(len(self._pending))
        self._pending = []

    def teardown(self) -> None:
        if hasattr(self, "_producer"):
            self._producer.close()
