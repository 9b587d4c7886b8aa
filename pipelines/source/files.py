"""Reading article files, for backfills: one :class:`Message` per file, or per line of a
``.jsonl`` file (one JSON envelope a line)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems

from pipelines import runstate
from pipelines.errors import InputError
from pipelines.records import Message

#: The extension of files that hold one message a line.
JSON_LINES = ".jsonl"


def list_files(pattern: str) -> list[FileMetadata]:
    """Every file that matches ``pattern`` (any Beam file system); InputError when none does."""
    files = FileSystems.match([pattern])[0].metadata_list
    if not files:
        raise InputError(f"no file matches {pattern!r}", setting="input")
    return files


class ReadArticleFiles(beam.PTransform):
    """Reads each listed file as one :class:`Message`.

    The files enter the pipeline as a list (see :func:`list_files`): a distributed
    runner (Dask, Dataflow) splits that list over its workers, where a single glob
    element would leave every file to one worker.
    """

    def __init__(self, files: list[FileMetadata], max_bytes: int, run_id: str) -> None:
        super().__init__()
        self._files = files
        self._read_fn = ReadFileFn(max_bytes, run_id)

    @property
    def file_count(self) -> int:
        return len(self._files)

    def expand(self, pbegin):
        return (
            pbegin
            | "ListFiles" >> beam.Create(self._files)
            | "Open" >> fileio.ReadMatches()
            | "Read" >> beam.ParDo(self._read_fn)
        )


class ReadFileFn(beam.DoFn):
    """Turns a matched file into a :class:`Message`, reading at most ``max_bytes + 1``;
    a ``.jsonl`` file into one per non-blank line, its path ``<file>:<line number>``.

    Reading one byte past the limit lets the parse stage reject an oversized file
    (or line) as ``too_large`` without this stage holding all of it in memory.
    """

    def __init__(self, max_bytes: int, run_id: str) -> None:
        self._max_bytes = max_bytes
        self._run_id = run_id

    def setup(self) -> None:
        self._state = runstate.of(self._run_id)

    def process(self, readable: fileio.ReadableFile) -> Iterable[Message]:
        path = readable.metadata.path
        with readable.open(compression_type=CompressionTypes.UNCOMPRESSED) as f:
            if not path.endswith(JSON_LINES):
                yield self._read(f.read(self._max_bytes + 1), path)
                return
            for number, line in enumerate(_lines(f, self._max_bytes + 1), 1):
                if line.strip():
                    yield self._read(line, f"{path}:{number}")

    def _read(self, payload: bytes, path: str) -> Message:
        self._state.counters.read(None, None)
        self._state.health.beat()
        return Message(payload=payload, path=path)


def _lines(f, limit: int) -> Iterator[bytes]:
    """``f``'s lines without their ends, each cut at ``limit`` bytes (the rest of a longer
    line is skipped: the parse stage rejects the line as ``too_large``).

    >>> import io
    >>> list(_lines(io.BytesIO(b'{"a": 1}\\r\\n0123456789\\n\\nend'), 5))
    [b'{"a":', b'01234', b'', b'end']
    """
    while line := f.readline(limit):
        if len(line) < limit or line.endswith(b"\n"):
            yield line.rstrip(b"\r\n")
            continue
        while (rest := f.readline(limit)) and not rest.endswith(b"\n"):
            pass
        yield line  # whole: stripping a cut line's last byte could bring it under the limit
