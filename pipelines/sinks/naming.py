"""Where output files go and what they are called.

A bundle's outputs of one partition cover a contiguous offset range
``[first, last]`` and are written as files named after it, one per format:

    OUTPUT/dead_letters/articles-3-000000000120-000000000183.avro   # written first
    OUTPUT/articles/articles-3-000000000120-000000000183.avro       # written last
    OUTPUT/articles/articles-3-000000000120-000000000183.parquet    # with --format avro,parquet

With ``--partition-by day`` (or ``hour``) each record goes to the folder of its
event time, so one range may have a file in several folders, all of the same name:

    OUTPUT/articles/dt=2026-03-01/hour=08/articles-3-000000000120-000000000183.parquet

Backfill records have no offsets: ``files-<hash of the input paths>.avro``.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterable

from pipelines.records import ARTICLE, DEAD_LETTER, Output

ARTICLES_DIR = "articles"
DEAD_LETTERS_DIR = "dead_letters"
FOLDERS = {ARTICLE: ARTICLES_DIR, DEAD_LETTER: DEAD_LETTERS_DIR}
#: The prefix of the Avro metadata keys this project writes.
META = "claimstream."

RANGE_FILE = re.compile(
    r"^(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d{12})-(?P<last>\d{12})(?:~\d+)?"
    r"\.(?P<format>avro|parquet)$"
)
#: ``.articles-3-000000000120-000000000183.avro.1f2e3d4c.tmp``: see :func:`temporary_name`.
TEMPORARY_FILE = re.compile(r"^\.(?P<name>.+\.(?:avro|parquet))\.[0-9a-f]{8}\.tmp$")

#: ``--partition-by``: no time folders, ``dt=YYYY-MM-DD``, or ``dt=YYYY-MM-DD/hour=HH``.
PARTITIONINGS = ("none", "day", "hour")
#: The globs, below ``articles/`` or ``dead_letters/``, of the folders any partitioning writes to.
PARTITION_GLOBS = ("", "dt=*/", "dt=*/hour=*/")


def partition_folder(partitioning: str, event_time_ms: int) -> str:
    """The time folder (UTC) of a record whose event time is ``event_time_ms``.

    >>> partition_folder("hour", 1772352000000), partition_folder("day", 1772352000000)
    ('dt=2026-03-01/hour=08', 'dt=2026-03-01')
    >>> partition_folder("none", 1772352000000)
    ''
    """
    if partitioning == "none":
        return ""
    moment = datetime.datetime.fromtimestamp(event_time_ms / 1000, datetime.UTC)
    day = f"dt={moment:%Y-%m-%d}"
    return f"{day}/hour={moment:%H}" if partitioning == "hour" else day


def event_time_ms(output: Output) -> int:
    """When a record happened: the article's published time, else its Kafka record's time,
    else when it was processed (or failed)."""
    known = output.event_time_ms if output.kind == ARTICLE else output.source.timestamp_ms
    if known is not None and known >= 0:
        return known
    processed = output.processed_at if output.kind == ARTICLE else output.failed_at
    return int(processed.timestamp() * 1000)


def safe_topic(topic: str) -> str:
    """A topic name as a file name part.

    >>> safe_topic("a/b c")
    'a_b_c'
    """
    return "".join(c if c.isalnum() or c in "._" else "_" for c in topic)


def range_name(topic: str, partition: int, first: int, last: int, extension: str = "avro") -> str:
    """The name of a range's files.

    >>> range_name("articles", 3, 120, 183)
    'articles-3-000000000120-000000000183.avro'
    """
    return f"{safe_topic(topic)}-{partition}-{first:012d}-{last:012d}.{extension}"


def files_name(outputs: Iterable[Output], extension: str = "avro") -> str:
    """``files-<hash>.avro`` for backfill records: the same inputs give the same name."""
    digest = hashlib.sha256()
    for output in outputs:
        digest.update((output.source.path or output.source.key or "").encode())
        digest.update(b"\0")
    return f"files-{digest.hexdigest()[:16]}.{extension}"


def temporary_name(name: str, tag: str) -> str:
    """The hidden name a file is written under before it is renamed into place."""
    return f".{name}.{tag}.tmp"
