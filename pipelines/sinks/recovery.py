"""Recovery from the output files: where each partition's output ends, and what a crash left.

A crash between writing a range's files and committing its offsets leaves files
the group's committed offset does not know about. When a partition is assigned to
a replica, :func:`start_of_partition` deletes what interrupted writes left of it
(:func:`discard_interrupted_writes`) and starts it after its last complete range
(:func:`resume_points`), once the broker confirms it still holds the record the
files end with, and never before the group's committed offset.
"""

from __future__ import annotations

import dataclasses
import logging

from apache_beam.io.filesystems import FileSystems
from kafka import TopicPartition

from pipelines import kafka
from pipelines.kafka import KafkaConfig
from pipelines.records import ARTICLE, DEAD_LETTER
from pipelines.sinks.fileformats import FILE_FORMATS, format_of, list_files, read_folder
from pipelines.sinks.naming import (
    ARTICLES_DIR,
    DEAD_LETTERS_DIR,
    FOLDERS,
    PARTITION_GLOBS,
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


def start_of_partition(
    output: str, config: KafkaConfig, tp: TopicPartition, committed: int | None
) -> int | None:
    """Where a newly assigned partition starts: after what the output files hold, never
    before ``committed``; None when neither says (the consumer's reset policy decides)."""
    discard_interrupted_writes(output, config, tp.topic, tp.partition)
    point = resume_points(output, tp.topic, tp.partition).get(tp.partition)
    if point is None:
        return committed
    last = point.next_offset - 1
    if not kafka.holds_record(config, tp.topic, tp.partition, last, point.last_key, point.last_timestamp_ms):
        _LOG.warning(
            "%s[%d]: the output files end at offset %d, but the broker holds another record "
            "there (its log was reset): not resuming from the files",
            tp.topic, tp.partition, last,
        )  # fmt: skip
        return committed
    if committed is None or point.next_offset > committed:
        _LOG.info(
            "%s[%d]: the output files already hold offsets up to %d (the commit after them "
            "did not happen): starting there", tp.topic, tp.partition, last,
        )  # fmt: skip
        return point.next_offset
    return committed


def _range_files(
    output: str, topic: str, partition: int | None = None
) -> dict[tuple[int, int, int], dict[str, list[str]]]:
    """``{(partition, first, last): {kind: [path, ...]}}`` for the range-named files of
    ``topic``: in every format and every time-partition folder."""
    ranges: dict[tuple[int, int, int], dict[str, list[str]]] = {}
    prefix = safe_topic(topic) if partition is None else f"{safe_topic(topic)}-{partition}"
    for kind, folder in FOLDERS.items():
        for path in list_files(FileSystems.join(output, folder), f"{prefix}-*"):
            match = RANGE_FILE.match(path.rsplit("/", 1)[-1])
            if match and match["topic"] == safe_topic(topic):
                if partition is not None and int(match["partition"]) != partition:
                    continue
                key = (int(match["partition"]), int(match["first"]), int(match["last"]))
                ranges.setdefault(key, {}).setdefault(kind, []).append(path)
    return ranges


def _range_end(last: int, paths: dict[str, list[str]]) -> tuple[bool, ResumePoint]:
    """Whether a range's files are complete, and the point right after the range.

    A range is complete when all its articles files exist (they are renamed last:
    one per format and time folder, as many as its metadata says), or, when it had
    no articles, all its dead-letters files.
    """
    any_file = (paths.get(ARTICLE) or paths[DEAD_LETTER])[0]
    meta = format_of(any_file).read_metadata(any_file)
    # Files written before these counts existed: one file of a kind was all of it.
    last_kind = ARTICLE if meta.get("articles", "0") != "0" else DEAD_LETTER
    expected = int(meta.get("article_files" if last_kind == ARTICLE else "dead_letter_files", "1"))
    complete = len(paths.get(last_kind, ())) >= expected
    timestamp = meta.get("last_timestamp_ms")
    return complete, ResumePoint(last + 1, meta.get("last_key", ""), int(timestamp) if timestamp else None)


def resume_points(output: str, topic: str, partition: int | None = None) -> dict[int, ResumePoint]:
    """For each partition of ``topic`` (or just ``partition``): the end of its last complete
    offset range in the files."""
    points: dict[int, ResumePoint] = {}
    # Newest first: a partition's metadata is read only down to its last complete range.
    ranges = _range_files(output, topic, partition)
    newest_first = sorted(ranges.items(), key=lambda item: item[0][2], reverse=True)
    for (partition, _first, last), paths in newest_first:
        if partition in points:
            continue
        complete, end = _range_end(last, paths)
        if complete:
            points[partition] = end
    return points


def discard_interrupted_writes(
    output: str, config: KafkaConfig, topic: str, partition: int | None = None
) -> list[str]:
    """Delete what writes a crash interrupted left of ``topic``'s ranges; return the paths.

    Such a range has its dead-letters files but not all its articles files. Its offsets
    were never committed, so the reader reads them again, and the new bundle may
    end elsewhere (``[120, 190]`` where the crashed one had ``[120, 183]``): the
    old file would then hold a second copy of each of its dead letters. It is only
    deleted while the broker still holds the range's last record (same key and
    timestamp); after a log reset its records cannot be read again, so it is kept.
    Temporary files (never renamed, never read) are deleted too.
    """
    discarded = []
    complete_up_to: set[int] = set()
    ranges = _range_files(output, topic, partition)
    # Newest first: only ranges after a partition's last complete one can be interrupted
    # (a partition's ranges are written one after another, each after the one before).
    for (number, first, last), paths in sorted(ranges.items(), key=lambda item: item[0][2], reverse=True):
        if number in complete_up_to:
            continue
        complete, end = _range_end(last, paths)
        if complete:
            complete_up_to.add(number)
            continue
        if not kafka.holds_record(config, topic, number, last, end.last_key, end.last_timestamp_ms):
            continue
        for path in (p for kind in paths.values() for p in kind):
            FileSystems.delete([path])
            discarded.append(path)
            _LOG.warning(
                "%s[%d]: deleted %s, left by a write that was interrupted; offsets %d-%d are read again",
                topic, number, path, first, last,
            )  # fmt: skip
    return discarded + _discard_temporary_files(output, topic, partition)


def _discard_temporary_files(output: str, topic: str, partition: int | None = None) -> list[str]:
    """The temporary files of ``topic``'s writes that never got renamed (only that topic's,
    or partition's: another pipeline, or replica, may share the folder)."""
    discarded = []
    for folder in FOLDERS.values():
        patterns = [
            FileSystems.join(output, folder, f"{p}.{safe_topic(topic)}-*.tmp") for p in PARTITION_GLOBS
        ]
        for metadata in (m for result in FileSystems.match(patterns) for m in result.metadata_list):
            match = TEMPORARY_FILE.match(metadata.path.rsplit("/", 1)[-1])
            name = match and RANGE_FILE.match(match["name"])
            if partition is not None and name and int(name["partition"]) != partition:
                continue
            if name and name["topic"] == safe_topic(topic):
                FileSystems.delete([metadata.path])
                discarded.append(metadata.path)
    return discarded


def count_outputs(output: str) -> dict[str, int]:
    """Records, entities, claims and files under ``output``: a summary for runners without metrics.

    Files count in every format; records in one format only (Avro when there is any).
    """
    counts = {"written_articles": 0, "written_dead_letters": 0, "entities": 0, "claims": 0, "files": 0}
    for name, folder in (("written_articles", ARTICLES_DIR), ("written_dead_letters", DEAD_LETTERS_DIR)):
        path = FileSystems.join(output, folder)
        files = list_files(path)
        counts["files"] += len(files)
        present = [f for f in FILE_FORMATS if any(p.endswith(f".{f}") for p in files)]
        for record in read_folder(path, present[0]) if present else ():
            counts[name] += 1
            counts["entities"] += len(record.get("entities", ()))
            counts["claims"] += len(record.get("claims", ()))
    return counts
