"""Avro container files, written atomically and read back.

Every file operation goes through Beam's ``FileSystems``, so the output can be a
local folder or an object store path. :func:`write_atomically` serves every format.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import BinaryIO

import fastavro
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.formats import parsed_schema
from pipelines.records import Kind
from pipelines.sinks.naming import META, temporary_name


def write_avro_file(path: str, kind: Kind, batch: list[dict], metadata: dict | None = None) -> None:
    """Write ``batch`` to ``path`` atomically, as a deflate-compressed Avro container file."""
    write_atomically(
        path,
        lambda f: fastavro.writer(f, parsed_schema(kind), batch, codec="deflate", metadata=metadata or {}),
    )


def write_atomically(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a new file under a temporary name, flush, fsync, then rename it to ``path``:
    a crash never leaves a partial file visible under its real name."""
    folder, name = path.rsplit("/", 1)
    if "://" not in folder:
        os.makedirs(folder, exist_ok=True)  # a time-partition folder is made on first use
    temporary = f"{folder}/{temporary_name(name, uuid.uuid4().hex[:8])}"
    with FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        write(f)
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


def read_avro_file(path: str) -> Iterator[dict]:
    """The records of one Avro container file."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        yield from fastavro.reader(f)


def read_metadata(path: str) -> dict:
    """The ``claimstream.*`` metadata of an Avro file, without its prefix."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        metadata = fastavro.reader(f).metadata
    return {k[len(META) :]: v for k, v in metadata.items() if k.startswith(META)}
