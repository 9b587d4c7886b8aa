"""Writing the outputs as range-named files, so that the output is exactly once.

Outputs are grouped by source partition. A group is written as its range's files
(:mod:`pipelines.sinks.naming`), dead letters first and articles last, when it
holds ``max_records`` records, when its first record is ``max_seconds`` old, or
when the bundle ends, whichever comes first: a backlog lands in files as it is
processed. A range has a file in each format of ``--format`` and, with
``--partition-by``, in each time folder its records fall into. Each file's
metadata records the range, its counts and how many articles files the range
has, so that on restart :mod:`pipelines.sinks.recovery` can tell complete
ranges from one whose writing a crash interrupted.

A group is written only while this replica still holds the lease its records were
read under (:class:`pipelines.runstate.Leases`); otherwise the partition has moved to
another replica, which reads those records again, and the group is dropped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines import runstate
from pipelines.formats import parsed_schema
from pipelines.records import ARTICLE, DEAD_LETTER, Output, to_avro
from pipelines.sinks.fileformats import FILE_FORMATS, FileFormat, format_of
from pipelines.sinks.naming import FOLDERS, META, event_time_ms, files_name, partition_folder, range_name
from pipelines.sinks.parquetfiles import arrow_schema

_LOG = logging.getLogger(__name__)


class WriteFiles(beam.PTransform):
    """Writes articles to ``<output>/articles`` and dead letters to ``<output>/dead_letters``,
    in each of ``formats`` (``avro``, ``parquet``), in time folders by ``partition_by``."""

    def __init__(self, output: str, **settings) -> None:
        """``settings``: :class:`WriteFilesFn`'s (max_records, max_seconds, run_id, formats, ...)."""
        super().__init__()
        self._fn = WriteFilesFn(output, **settings)

    def expand(self, outputs):
        return outputs | beam.ParDo(self._fn)


@dataclasses.dataclass
class _Group:
    """One partition's outputs read under one lease, in offset order, since its last file."""

    lease: int | None
    opened_at: float = dataclasses.field(default_factory=time.monotonic)
    outputs: list[Output] = dataclasses.field(default_factory=list)

    def parts(self, kind: str, partition_by: str) -> dict[str, list[dict]]:
        """The Avro dicts of ``kind``, by the time folder each one goes to."""
        parts: dict[str, list[dict]] = {}
        for output in self.outputs:
            if output.kind == kind:
                folder = partition_folder(partition_by, event_time_ms(output))
                parts.setdefault(folder, []).append(to_avro(output))
        return parts


class WriteFilesFn(beam.DoFn):
    """Writes each partition's outputs as range-named files, atomically."""

    def __init__(
        self,
        output: str,
        max_records: int = 10_000,
        max_seconds: float = 2.0,
        run_id: str = "default",
        formats: tuple[str, ...] = ("avro",),
        partition_by: str = "none",
    ) -> None:
        self._output = output
        self._max_records = max_records
        self._max_seconds = max_seconds
        self._run_id = run_id
        self._formats = formats
        self._partition_by = partition_by

    def setup(self) -> None:
        for kind in FOLDERS:
            parsed_schema(kind)  # fail here, not on the first record
            if "parquet" in self._formats:
                arrow_schema(kind)
        for folder in FOLDERS.values():
            path = FileSystems.join(self._output, folder)
            if "://" not in path:
                os.makedirs(path, exist_ok=True)
        self._state = runstate.of(self._run_id)

    def start_bundle(self) -> None:
        self._groups: dict[tuple[str | None, int | None], _Group] = {}

    def process(self, output: Output) -> None:
        key = (output.source.topic, output.source.partition)
        group = self._groups.get(key)
        if group is not None and group.lease != output.lease:  # the partition was handed over meanwhile
            self._write(key, self._groups.pop(key))
            group = None
        if group is None:
            group = self._groups[key] = _Group(output.lease)
        group.outputs.append(output)
        # Every group is looked at, not only this one: a partition's file is due on
        # time even while the records arriving are another partition's.
        for due in [k for k, g in self._groups.items() if self._is_due(g)]:
            self._write(due, self._groups.pop(due))

    def _is_due(self, group: _Group) -> bool:
        too_old = time.monotonic() - group.opened_at >= self._max_seconds
        return len(group.outputs) >= self._max_records or too_old

    def finish_bundle(self) -> None:
        for key, group in self._groups.items():
            self._write(key, group)
        self._groups = {}

    def _write(self, key: tuple, group: _Group) -> None:
        topic, partition = key
        if not self._state.leases.holds(key, group.lease):
            self._drop(key, group)
            return
        parts = {kind: group.parts(kind, self._partition_by) for kind in (DEAD_LETTER, ARTICLE)}
        metadata = {
            f"{META}articles": str(sum(map(len, parts[ARTICLE].values()))),
            f"{META}dead_letters": str(sum(map(len, parts[DEAD_LETTER].values()))),
            # The range is complete once all of these are in place (see recovery).
            f"{META}article_files": str(len(parts[ARTICLE]) * len(self._formats)),
            f"{META}dead_letter_files": str(len(parts[DEAD_LETTER]) * len(self._formats)),
        }
        if topic is None:
            name = files_name(group.outputs)
        else:
            name = self._range(topic, partition, group.outputs, metadata)
        # Dead letters first, articles last: the articles files prove their range complete.
        for kind, by_folder in parts.items():
            for folder, batch in by_folder.items():
                for file_format in (FILE_FORMATS[f] for f in self._formats):
                    self._write_file(kind, folder, name, file_format, batch, metadata)
        if topic is not None:
            last = max(o.source.offset for o in group.outputs)
            self._state.leases.written(key, group.lease, last + 1)

    def _write_file(
        self, kind: str, folder: str, name: str, file_format: FileFormat, batch: list[dict], metadata: dict
    ) -> None:
        parent = FileSystems.join(self._output, FOLDERS[kind], *filter(None, [folder]))
        path = _free_path(parent, f"{name.rsplit('.', 1)[0]}.{file_format.name}", metadata)
        file_format.write(path, kind, batch, metadata)
        # Every file counts, but each record only once, in however many formats it is written.
        counted = len(batch) if file_format.name == self._formats[0] else 0
        self._state.counters.wrote(
            counted if kind == ARTICLE else 0, counted if kind == DEAD_LETTER else 0, path
        )

    def _drop(self, key: tuple, group: _Group) -> None:
        offsets = [o.source.offset for o in group.outputs]
        _LOG.warning(
            "%s[%d]: not writing offsets %d-%d: the partition is being handed to another replica, "
            "which reads them again", key[0], key[1], min(offsets), max(offsets),
        )  # fmt: skip
        self._state.counters.count(dropped=len(offsets))

    @staticmethod
    def _range(topic: str, partition: int, outputs: list[Output], metadata: dict) -> str:
        """The range's file name; its last record and fingerprint go into ``metadata``."""
        offsets = sorted(o.source.offset for o in outputs)
        metadata[f"{META}fingerprint"] = _fingerprint(outputs)
        last = max(outputs, key=lambda o: o.source.offset).source
        metadata[f"{META}last_key"] = last.key or ""
        metadata[f"{META}last_timestamp_ms"] = "" if last.timestamp_ms is None else str(last.timestamp_ms)
        return range_name(topic, partition, offsets[0], offsets[-1])


def _free_path(folder: str, name: str, metadata: dict) -> str:
    """``folder/name``, unless a file of that name holds other records.

    The same name with the same fingerprint is a retried bundle: overwrite it. A
    different fingerprint means the broker's log was reset (its offsets began
    again): keep both, the new one as ``name~1.avro``, ``name~2.avro``, ...
    """
    path = FileSystems.join(folder, name)
    fingerprint = metadata.get(f"{META}fingerprint")
    stem, extension = name.rsplit(".", 1)
    suffix = 0
    while fingerprint and FileSystems.exists(path):
        if format_of(path).read_metadata(path).get("fingerprint") == fingerprint:
            return path
        suffix += 1
        path = FileSystems.join(folder, f"{stem}~{suffix}.{extension}")
    return path


def _fingerprint(outputs: list[Output]) -> str:
    digest = hashlib.sha256()
    for output in sorted(outputs, key=lambda o: o.source.offset):
        source = output.source
        digest.update(f"{source.offset}\0{source.key}\0{source.timestamp_ms}\0".encode())
    return digest.hexdigest()[:32]
