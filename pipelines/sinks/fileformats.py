"""The output file formats (``--format``), behind one interface, and reading a folder back.

Each format writes a batch of Avro dicts atomically with the ``claimstream.*``
metadata, reads a file's records and reads its metadata. The writer and recovery
only ever go through a :class:`FileFormat`, so a range's files look the same to
them in every format.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from apache_beam.io.filesystems import FileSystems

from pipelines.records import Kind
from pipelines.sinks.avrofiles import read_avro_file, read_metadata, write_avro_file
from pipelines.sinks.naming import PARTITION_GLOBS
from pipelines.sinks.parquetfiles import read_parquet_file, read_parquet_metadata, write_parquet_file


@dataclasses.dataclass(frozen=True)
class FileFormat:
    """One output format; ``name`` is also its file name extension."""

    name: str
    write: Callable[[str, Kind, list[dict], dict], None]
    read: Callable[[str], Iterator[dict]]
    read_metadata: Callable[[str], dict]


AVRO = FileFormat("avro", write_avro_file, read_avro_file, read_metadata)
PARQUET = FileFormat("parquet", write_parquet_file, read_parquet_file, read_parquet_metadata)
FILE_FORMATS = {f.name: f for f in (AVRO, PARQUET)}


def format_of(path: str) -> FileFormat:
    """The format of a file, by its extension.

    >>> format_of("out/articles/dt=2026-03-01/news-0-000000000000-000000000009.parquet").name
    'parquet'
    """
    return FILE_FORMATS[path.rsplit(".", 1)[-1]]


def list_files(folder: str, pattern: str = "*", formats: tuple[str, ...] = tuple(FILE_FORMATS)) -> list[str]:
    """The paths of ``folder``'s files named ``pattern`` plus an extension of ``formats``, in
    every time-partition folder, sorted. Temporary files (hidden, ``.tmp``) never match."""
    patterns = [
        FileSystems.join(folder, f"{partition}{pattern}.{fmt}")
        for partition in PARTITION_GLOBS
        for fmt in formats
    ]
    paths = {m.path for result in FileSystems.match(patterns) for m in result.metadata_list}
    return sorted(p for p in paths if not p.rsplit("/", 1)[-1].startswith("."))


def read_folder(folder: str, file_format: str = "avro") -> Iterator[dict]:
    """Every record of ``folder``'s files in ``file_format``, in its time partitions too."""
    for path in list_files(folder, formats=(file_format,)):
        yield from FILE_FORMATS[file_format].read(path)
