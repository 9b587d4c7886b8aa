"""Where output files go and what they are called.

A bundle's outputs of one partition cover a contiguous offset range
``[first, last]`` and are written as up to two files named after it:

    OUTPUT/dead_letters/articles-3-000000000120-000000000183.avro   # written first
    OUTPUT/articles/articles-3-000000000120-000000000183.avro       # written last

Backfill records have no offsets: ``files-<hash of the input paths>.avro``.
"""

from __future__ import annotations

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
    r"^(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d{12})-(?P<last>\d{12})(?:~\d+)?\.avro$"
)
#: ``.articles-3-000000000120-000000000183.avro.1f2e3d4c.tmp``: see :func:`temporary_name`.
TEMPORARY_FILE = re.compile(r"^\.(?P<name>.+\.avro)\.[0-9a-f]{8}\.tmp$")


def safe_topic(topic: str) -> str:
    """A topic name as a file name part.

    >>> safe_topic("a/b c")
    'a_b_c'
    """
    return "".join(c if c.isalnum() or c in "._" else "_" for c in topic)


def range_name(topic: str, partition: int, first: int, last: int) -> str:
    """The name of a range's files.

    >>> range_name("articles", 3, 120, 183)
    'articles-3-000000000120-000000000183.avro'
    """
    return f"{safe_topic(topic)}-{partition}-{first:012d}-{last:012d}.avro"


def files_name(outputs: Iterable[Output]) -> str:
    """``files-<hash>.avro`` for backfill records: the same inputs give the same name."""
    digest = hashlib.sha256()
    for output in outputs:
        digest.update((output.source.path or output.source.key or "").encode())
        digest.update(b"\0")
    return f"files-{digest.hexdigest()[:16]}.avro"


def temporary_name(name: str, tag: str) -> str:
    """The hidden name a file is written under before it is renamed into place."""
    return f".{name}.{tag}.tmp"
