"""The Avro sink: files named after what they hold, written atomically, readable by both Avro libraries."""

from __future__ import annotations

import datetime

import apache_beam as beam
import avro.datafile
import avro.io
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines import records
from pipelines.sinks import WriteAvroFiles, file_name, write_avro_file
from pipelines.source import Message
from tests.conftest import read_avro_folder


def letter(offset: int, partition: int = 0) -> dict:
    message = Message(payload=b"\x00bad", topic="news", partition=partition, offset=offset, key=f"k{offset}")
    return records.dead_letter(
        message, "parse", "binary", "not text", failed_at=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
    )


def read_with_reference_avro(path) -> list[dict]:
    with open(path, "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        try:
            return list(reader)
        finally:
            reader.close()


def test_file_names_say_topic_partition_and_offsets():
    assert file_name(("news", 3), [letter(120), letter(183)]) == "news-3-000000000120-000000000183.avro"
    backfill = [{"source": {"path": "/a/1.txt", "key": None}}, {"source": {"path": "/a/2.txt", "key": None}}]
    name = file_name((None, None), backfill)
    assert name.startswith("files-") and name == file_name((None, None), backfill)


def test_written_file_reads_back_with_fastavro_and_reference_avro(tmp_path):
    path = tmp_path / "dead_letters" / "news-0-000000000001-000000000002.avro"
    path.parent.mkdir()
    write_avro_file(str(path), records.DEAD_LETTER, [letter(1), letter(2)])

    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    by_fastavro = read_avro_folder(path.parent)
    by_reference = read_with_reference_avro(path)
    assert [r["source"]["offset"] for r in by_fastavro] == [1, 2]
    assert [r["source"]["offset"] for r in by_reference] == [1, 2]
    assert by_reference[0]["payload"] == b"\x00bad"
    assert by_reference[0]["error_type"] == "binary"


def test_write_composite_groups_a_bundle_by_partition(tmp_path):
    with TestPipeline(runner="FnApiRunner") as p:
        (
            p
            | beam.Create([letter(5, partition=0), letter(6, partition=0), letter(9, partition=1)])
            | WriteAvroFiles(str(tmp_path), "dead_letters", records.DEAD_LETTER)
        )
    names = sorted(f.name for f in (tmp_path / "dead_letters").iterdir())
    assert names == ["news-0-000000000005-000000000006.avro", "news-1-000000000009-000000000009.avro"]
    assert sorted(r["source"]["offset"] for r in read_avro_folder(tmp_path / "dead_letters")) == [5, 6, 9]
