"""Recovery from the output files: where each partition's output ends, and what a crash left.

A crash between writing a range's files and committing its offsets leaves files
the group's committed offset does not know about. When a run starts,
:func:`recover` deletes what interrupted writes left (:func:`discard_interrupted_writes`)
and returns, per partition, the offset after the last complete range
(:func:`resume_points`), once the broker confirms it still holds the record the
files end with. The reader never starts a partition before that point.
"""

from __future__ import annotations

import dataclasses
import logging

from apache_beam.io.filesystems import FileSystems

from pipelines import kafka
from pipelines.kafka import KafkaConfig
from pipelines.records import ARTICLE, DEAD_LETTER
from pipelines.sinks.avrofiles import read_folder, read_metadata
from pipelines.sinks.naming import (
    ARTICLES_DIR,
    DEAD_LETTERS_DIR,
    FOLDERS,
    RANGE_FILE,
    TEMPORARY_FILE,
    safe_topic,
)

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    """Where the files say a partition's output ends: read on from ``next_offset``."""

    next_offset: int
    last_key: str
    last_timestamp_ms: int | None


def recover(output: str, config: KafkaConfig, topic: str) -> dict[int, int]:
    """Clean up after interrupted writes, then each partition's first offset to read at least."""
    discard_interrupted_writes(output, config, topic)
    floors = {}
    for partition, point in resume_points(output, topic).items():
        last = point.next_offset - 1
        if kafka.holds_record(config, topic, partition, last, point.last_key, point.last_timestamp_ms):
            floors[partition] = point.next_offset
        else:
            _LOG.warning(
                "%s[%d]: the output files end at offset %d, but the broker holds another record "
                "there (its log was reset): not resuming from the files",
                topic, partition, last,
            )  # fmt: skip
    return floors


def _range_files(output: str, topic: str) -> dict[tuple[int, int, int], dict[str, str]]:
    """``{(partition, first, last): {kind: path}}`` for the range-named files of ``topic``."""
    ranges: dict[tuple[int, int, int], dict[str, str]] = {}
    for kind, folder in FOLDERS.items():
        pattern = FileSystems.join(output, folder, f"{safe_topic(topic)}-*.avro")
        for metadata in FileSystems.match([pattern])[0].metadata_list:
            match = RANGE_FILE.match(metadata.path.rsplit("/", 1)[-1])
            if match and match["topic"] == safe_topic(topic):
                key = (int(match["partition"]), int(match["first"]), int(match["last"]))
                ranges.setdefault(key, {})[kind] = metadata.path
    return ranges


def _range_end(last: int, paths: dict[str, str]) -> tuple[bool, ResumePoint]:
    """Whether a range's files are complete, and the point right after the range.

    A range is complete when its articles file exists (it is renamed last), or when
    its dead-letters file exists and says the range had no articles.
    """
    complete = ARTICLE in paths
    meta = read_metadata(paths[ARTICLE if complete else DEAD_LETTER])
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


def discard_interrupted_writes(output: str, config: KafkaConfig, topic: str) -> list[str]:
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
        if ARTICLE in paths:
            continue  # complete, no need to read it
        complete, end = _range_end(last, paths)
        if complete or not kafka.holds_record(
            config, topic, partition, last, end.last_key, end.last_timestamp_ms
        ):
            continue
        for path in paths.values():
            FileSystems.delete([path])
            discarded.append(path)
            _LOG.warning(
                "%s[%d]: deleted %s, left by a write that was interrupted; offsets %d-%d are read again",
                topic, partition, path, first, last,
            )  # fmt: skip
    return discarded + _discard_temporary_files(output, topic)


def _discard_temporary_files(output: str, topic: str) -> list[str]:
    """The temporary files of ``topic``'s writes that never got renamed (only that topic's:
    another pipeline may share the folder)."""
    discarded = []
    for folder in FOLDERS.values():
        pattern = FileSystems.join(output, folder, f".{safe_topic(topic)}-*.tmp")
        for metadata in FileSystems.match([pattern])[0].metadata_list:
            match = TEMPORARY_FILE.match(metadata.path.rsplit("/", 1)[-1])
            name = match and RANGE_FILE.match(match["name"])
            if name and name["topic"] == safe_topic(topic):
                FileSystems.delete([metadata.path])
                discarded.append(metadata.path)
    return discarded


def count_outputs(output: str) -> dict[str, int]:
    """Records, entities, claims and files under ``output``: a summary for runners without metrics."""
    counts = {"written_articles": 0, "written_dead_letters": 0, "entities": 0, "claims": 0, "files": 0}
    for name, folder in (("written_articles", ARTICLES_DIR), ("written_dead_letters", DEAD_LETTERS_DIR)):
        path = FileSystems.join(output, folder)
        counts["files"] += len(FileSystems.match([FileSystems.join(path, "*.avro")])[0].metadata_list)
        for record in read_folder(path):
            counts[name] += 1
            counts["entities"] += len(record.get("entities", ()))
            counts["claims"] += len(record.get("claims", ()))
    return counts
