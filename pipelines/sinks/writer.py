"""Writing the outputs as range-named Avro files, so that the output is exactly once.

Outputs are grouped by source partition. A group is written as its range's files
(:mod:`pipelines.sinks.naming`), dead letters first and articles last, when it
holds ``max_records`` records, when its first record is ``max_seconds`` old, or
when the bundle ends, whichever comes first: a backlog lands in files as it is
processed. Each file's Avro metadata records the range and its counts, so that on
restart :mod:`pipelines.sinks.recovery` can tell complete ranges from one whose
writing a crash interrupted.

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
from pipelines.sinks.avrofiles import read_metadata, write_avro_file
from pipelines.sinks.naming import FOLDERS, META, files_name, range_name

_LOG = logging.getLogger(__name__)


class WriteFiles(beam.PTransform):
    """Writes articles to ``<output>/articles`` and dead letters to ``<output>/dead_letters``."""

    def __init__(
        self, output: str, max_records: int = 10_000, max_seconds: float = 2.0, run_id: str = "default"
    ) -> None:
        super().__init__()
        self._fn = WriteFilesFn(output, max_records, max_seconds, run_id)

    def expand(self, outputs):
        return outputs | beam.ParDo(self._fn)


@dataclasses.dataclass
class _Group:
    """One partition's outputs read under one lease, in offset order, since its last file."""

    lease: int | None
    opened_at: float = dataclasses.field(default_factory=time.monotonic)
    outputs: list[Output] = dataclasses.field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict]:
        return [to_avro(o) for o in self.outputs if o.kind == kind]


class WriteFilesFn(beam.DoFn):
    """Writes each partition's outputs as range-named Avro files, atomically."""

    def __init__(
        self, output: str, max_records: int = 10_000, max_seconds: float = 2.0, run_id: str = "default"
    ) -> None:
        self._output = output
        self._max_records = max_records
        self._max_seconds = max_seconds
        self._run_id = run_id

    def setup(self) -> None:
        for kind in FOLDERS:
            parsed_schema(kind)  # fail here, not on the first record
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
        articles, letters = group.of_kind(ARTICLE), group.of_kind(DEAD_LETTER)
        metadata = {f"{META}articles": str(len(articles)), f"{META}dead_letters": str(len(letters))}
        if topic is None:
            name = files_name(group.outputs)
        else:
            name = self._range(topic, partition, group.outputs, metadata)
        # Dead letters first, articles last: an articles file proves its range complete.
        for kind, batch in ((DEAD_LETTER, letters), (ARTICLE, articles)):
            if batch:
                path = _free_path(FileSystems.join(self._output, FOLDERS[kind]), name, metadata)
                write_avro_file(path, kind, batch, metadata)
                written = len(batch)
                self._state.counters.wrote(
                    written if kind == ARTICLE else 0, written if kind == DEAD_LETTER else 0, path
                )
        if topic is not None:
            last = max(o.source.offset for o in group.outputs)
            self._state.leases.written(key, group.lease, last + 1)

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
    suffix = 0
    while fingerprint and FileSystems.exists(path):
        if read_metadata(path).get("fingerprint") == fingerprint:
            return path
        suffix += 1
        path = FileSystems.join(folder, name.replace(".avro", f"~{suffix}.avro"))
    return path


def _fingerprint(outputs: list[Output]) -> str:
    digest = hashlib.sha256()
    for output in sorted(outputs, key=lambda o: o.source.offset):
        source = output.source
        digest.update(f"{source.offset}\0{source.key}\0{source.timestamp_ms}\0".encode())
    return digest.hexdigest()[:32]
