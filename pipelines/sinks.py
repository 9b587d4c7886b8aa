"""Sink stage: Avro container files, written whole and then renamed into place.

Each bundle writes one file per source partition it saw (Kafka records) or one
file for its backfill records, named after what it holds:

    DIR/articles/articles-3-000000000120-000000000183.avro   # topic, partition, offsets
    DIR/articles/files-9f2c41d07a1b5e33.avro                 # hash of the input paths

A file is first written under a hidden temporary name, then renamed, so a reader
never sees half a file; a retried bundle rewrites the same name. Paths go through
Beam's ``FileSystems``, so ``--output`` may be a local folder or an object store.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import apache_beam as beam
import fastavro
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines import records

ARTICLES_DIR = "articles"
DEAD_LETTERS_DIR = "dead_letters"


def file_name(group: tuple, batch: list[dict]) -> str:
    """``<topic>-<partition>-<first offset>-<last offset>`` or ``files-<hash>``."""
    topic, partition = group
    if topic is not None:
        offsets = [r["source"]["offset"] for r in batch]
        safe_topic = "".join(c if c.isalnum() or c in "._-" else "_" for c in topic)
        return f"{safe_topic}-{partition}-{min(offsets):012d}-{max(offsets):012d}.avro"
    digest = hashlib.sha256()
    for r in batch:
        digest.update((r["source"]["path"] or r["source"]["key"] or "").encode())
        digest.update(b"\0")
    return f"files-{digest.hexdigest()[:16]}.avro"


def write_avro_file(path: str, schema_name: str, batch: list[dict]) -> None:
    """Write ``batch`` to ``path`` atomically: temporary name, flush, fsync, rename."""
    folder, name = path.rsplit("/", 1)
    temporary = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
    with FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        fastavro.writer(f, records.parsed_schema(schema_name), batch, codec="deflate")
    if "://" not in temporary:  # a local file: make it durable before it becomes visible
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    FileSystems.rename([temporary], [path])


class WriteAvroFilesFn(beam.DoFn):
    """Collects a bundle's records by source partition and writes them at its end."""

    def __init__(self, output: str, subdir: str, schema_name: str, max_records: int = 10_000) -> None:
        self._folder = FileSystems.join(output, subdir)
        self._schema_name = schema_name
        self._max_records = max_records
        self._written = beam.metrics.Metrics.counter("claimstream", subdir)
        self._files = beam.metrics.Metrics.counter("claimstream", f"{subdir}_files")
        # min/max of this distribution give the first and last write times of the run.
        self._write_times = beam.metrics.Metrics.distribution("claimstream", "write_time_ms")

    def setup(self) -> None:
        # Validate the schema once per worker, before any record waits on it.
        records.parsed_schema(self._schema_name)
        if "://" not in self._folder:
            os.makedirs(self._folder, exist_ok=True)

    def start_bundle(self) -> None:
        self._groups: dict[tuple[str | None, int | None], list[dict]] = {}

    def process(self, record: dict) -> None:
        source = record["source"]
        group = (source["topic"], source["partition"])
        batch = self._groups.setdefault(group, [])
        batch.append(record)
        if len(batch) >= self._max_records:
            self._write(group, self._groups.pop(group))

    def finish_bundle(self) -> None:
        for group, batch in self._groups.items():
            self._write(group, batch)
        self._groups = {}

    def _write(self, group: tuple, batch: list[dict]) -> str:
        path = FileSystems.join(self._folder, file_name(group, batch))
        write_avro_file(path, self._schema_name, batch)
        self._written.inc(len(batch))
        self._files.inc()
        self._write_times.update(int(time.time() * 1000))
        return path


class WriteAvroFiles(beam.PTransform):
    """Writes records of one schema to ``<output>/<subdir>/*.avro``."""

    def __init__(self, output: str, subdir: str, schema_name: str) -> None:
        super().__init__()
        self._fn = WriteAvroFilesFn(output, subdir, schema_name)

    def expand(self, pcoll):
        return pcoll | beam.ParDo(self._fn)
