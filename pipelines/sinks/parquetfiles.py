"""Parquet files of the same records as the Avro files, written atomically and read back.

The Arrow schema is derived from the Avro schema (:func:`arrow_schema`), so the two
formats cannot drift apart: sentences, entities and claims are lists of structs,
``source.headers`` and ``metadata`` are maps. One file is one row group (a range's
file is small enough to be read whole), compressed with zstd. The ``claimstream.*``
metadata of the Avro files goes into the Parquet footer's key-value metadata.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.formats import parsed_schema
from pipelines.records import Kind
from pipelines.sinks.avrofiles import write_atomically
from pipelines.sinks.naming import META

_PRIMITIVES = {
    "string": pa.string(),
    "bytes": pa.binary(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}


def arrow_type(avro_type, named: dict | None = None) -> tuple[pa.DataType, bool]:
    """The Arrow type of a (fastavro-parsed) Avro type, and whether it is nullable.

    ``named``: the schema's named types, for a type used again by its full name
    (``io.claimstream.v1.SpeakerType``).

    >>> arrow_type(["null", "string"])
    (DataType(string), True)
    >>> arrow_type({"type": "long", "logicalType": "timestamp-millis"})
    (TimestampType(timestamp[ms, tz=UTC]), False)
    """
    if isinstance(avro_type, list):  # a union: only ["null", T] is used here
        others = [t for t in avro_type if t != "null"]
        if len(others) != 1:
            raise ValueError(f"no Arrow type for the union {avro_type}")
        return arrow_type(others[0], named)[0], "null" in avro_type
    if isinstance(avro_type, str):
        if avro_type in _PRIMITIVES:
            return _PRIMITIVES[avro_type], False
        return arrow_type((named or {})[avro_type], named)
    kind = avro_type["type"]
    if avro_type.get("logicalType") == "timestamp-millis":
        return pa.timestamp("ms", tz="UTC"), False
    if kind == "record":
        return pa.struct(_fields(avro_type, named)), False
    if kind == "array":
        return pa.list_(arrow_type(avro_type["items"], named)[0]), False
    if kind == "map":
        return pa.map_(pa.string(), arrow_type(avro_type["values"], named)[0]), False
    if kind == "enum":
        return pa.string(), False
    return arrow_type(kind, named)


def _fields(record: dict, named: dict | None = None) -> list[pa.Field]:
    return [pa.field(f["name"], *arrow_type(f["type"], named)) for f in record["fields"]]


@functools.cache
def arrow_schema(kind: Kind) -> pa.Schema:
    """The Arrow schema of ``kind``'s records, from its Avro schema (once per process)."""
    schema = parsed_schema(kind)
    return pa.schema(_fields(schema, schema.get("__named_schemas", {})))


def write_parquet_file(path: str, kind: Kind, batch: list[dict], metadata: dict | None = None) -> None:
    """Write ``batch`` (Avro dicts) to ``path`` atomically: one zstd-compressed row group."""
    schema = arrow_schema(kind).with_metadata(metadata or {})
    table = pa.Table.from_pylist(batch, schema=schema)
    write_atomically(
        path, lambda f: pq.write_table(table, f, compression="zstd", row_group_size=max(1, len(batch)))
    )


def read_parquet_file(path: str) -> Iterator[dict]:
    """The records of one Parquet file, as the dicts the Avro reader gives (maps as dicts)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        table = pq.read_table(f)
    yield from table.to_pylist(maps_as_pydicts="strict")


def read_parquet_metadata(path: str) -> dict:
    """The ``claimstream.*`` footer metadata of a Parquet file, without its prefix."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        metadata = pq.read_metadata(f).metadata or {}
    prefix = META.encode()
    return {k[len(prefix) :].decode(): v.decode() for k, v in metadata.items() if k.startswith(prefix)}
