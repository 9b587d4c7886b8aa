"""The sinks: range-named Avro and Parquet files written atomically, in time partitions,
recovery points, the wire format."""

from __future__ import annotations

import dataclasses
import datetime
import time

import apache_beam as beam
import avro.datafile
import avro.io
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines import kafka
from pipelines.formats import confluent_decode, confluent_encode, parsed_schema
from pipelines.records import (
    ARTICLE,
    DEAD_LETTER,
    Claim,
    DeadLetter,
    EnrichedArticle,
    Entity,
    Message,
    Output,
    Sentence,
    to_avro,
)
from pipelines.sinks import WriteFiles
from pipelines.sinks.avrofiles import read_metadata, write_avro_file
from pipelines.sinks.fileformats import read_folder
from pipelines.sinks.naming import files_name, partition_folder, range_name
from pipelines.sinks.parquetfiles import arrow_schema, read_parquet_metadata
from pipelines.sinks.recovery import count_outputs, discard_interrupted_writes, resume_points
from pipelines.sinks.writer import WriteFilesFn
from tests.conftest import read_avro_folder

WHEN = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)


def message(offset: int, partition: int = 0, key: str | None = None, **fields) -> Message:
    fields = {"topic": "news", "timestamp_ms": 1_700_000_000_000 + offset, **fields}
    return Message(b"payload", partition=partition, offset=offset, key=key or f"k{offset}", **fields)


def letter(offset: int, partition: int = 0, key: str | None = None, **fields) -> DeadLetter:
    rejected = DeadLetter.of(message(offset, partition, key, **fields), "parse", "binary", "not text")
    return dataclasses.replace(rejected, failed_at=WHEN)


def article(offset: int, partition: int = 0, key: str | None = None, **fields) -> EnrichedArticle:
    return EnrichedArticle(
        article_id=f"a{offset}", source=message(offset, partition, key, **fields).source, title=None,
        text="Text.", encoding="utf-8", sentences=(), entities=(), claims=(), model="test", processed_at=WHEN,
    )  # fmt: skip


def read_with_reference_avro(path) -> list[dict]:
    with open(path, "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        try:
            return list(reader)
        finally:
            reader.close()


def write_bundle(output, outputs: list[Output], max_records: int = 10_000, **options) -> None:
    """One bundle through the writer, the way the runner drives it."""
    fn = WriteFilesFn(str(output), max_records, **options)
    fn.setup()
    fn.start_bundle()
    for o in outputs:
        fn.process(o)
    fn.finish_bundle()


def test_names_say_topic_partition_and_offsets():
    assert range_name("news", 3, 120, 183) == "news-3-000000000120-000000000183.avro"
    assert range_name("a/b c", 0, 1, 2) == "a_b_c-0-000000000001-000000000002.avro"
    backfill = [letter(i, path=f"/a/{i}.txt", topic=None) for i in (1, 2)]
    assert files_name(backfill).startswith("files-") and files_name(backfill) == files_name(list(backfill))


def test_written_file_reads_back_with_fastavro_and_reference_avro(tmp_path):
    path = tmp_path / "x.avro"
    write_avro_file(str(path), DEAD_LETTER, [to_avro(letter(1)), to_avro(letter(2))], {"claimstream.n": "2"})
    assert [p.name for p in tmp_path.iterdir()] == ["x.avro"]  # no temporary file left
    assert [r["source"]["offset"] for r in read_avro_folder(tmp_path)] == [1, 2]
    by_reference = read_with_reference_avro(path)
    assert [r["source"]["offset"] for r in by_reference] == [1, 2]
    assert by_reference[0]["payload"] == b"payload" and by_reference[0]["error_type"] == "binary"
    assert read_metadata(str(path)) == {"n": "2"}


def test_a_bundle_gives_one_range_per_partition_in_both_folders(tmp_path):
    write_bundle(tmp_path, [article(5), letter(6), article(7), article(9, partition=1)])
    assert sorted(p.name for p in (tmp_path / "articles").iterdir()) == [
        "news-0-000000000005-000000000007.avro",
        "news-1-000000000009-000000000009.avro",
    ]
    assert [p.name for p in (tmp_path / "dead_letters").iterdir()] == [
        "news-0-000000000005-000000000007.avro"
    ]
    meta = read_metadata(str(tmp_path / "dead_letters" / "news-0-000000000005-000000000007.avro"))
    assert (meta["articles"], meta["dead_letters"], meta["last_key"]) == ("2", "1", "k7")


def test_max_records_rolls_a_new_range(tmp_path):
    write_bundle(tmp_path, [article(i) for i in range(5)], max_records=2)
    assert sorted(p.name for p in (tmp_path / "articles").iterdir()) == [
        "news-0-000000000000-000000000001.avro",
        "news-0-000000000002-000000000003.avro",
        "news-0-000000000004-000000000004.avro",
    ]


def test_a_file_is_closed_when_its_first_record_is_max_seconds_old(tmp_path):
    fn = WriteFilesFn(str(tmp_path), max_records=10_000, max_seconds=0.2)
    fn.setup()
    fn.start_bundle()
    fn.process(article(0))
    fn.process(article(1, partition=1))
    time.sleep(0.25)
    fn.process(article(2))  # both partitions' files are due, not only this one's
    names = sorted(p.name for p in (tmp_path / "articles").iterdir())
    assert names == ["news-0-000000000000-000000000002.avro", "news-1-000000000001-000000000001.avro"]
    fn.process(article(3))
    fn.finish_bundle()
    assert "news-0-000000000003-000000000003.avro" in {p.name for p in (tmp_path / "articles").iterdir()}


def test_resume_points_follow_complete_ranges_only(tmp_path):
    write_bundle(tmp_path, [article(0), letter(1), article(2, partition=1)])
    write_bundle(tmp_path, [letter(3), letter(4)])  # a range with dead letters only: complete
    points = resume_points(str(tmp_path), "news")
    assert {p: point.next_offset for p, point in points.items()} == {0: 5, 1: 3}
    assert (points[0].last_key, points[0].last_timestamp_ms) == ("k4", 1_700_000_000_004)

    # A crash after the dead letters of a range were renamed, before its articles were:
    write_bundle(tmp_path, [article(5), letter(6)])
    (tmp_path / "articles" / "news-0-000000000005-000000000006.avro").unlink()
    assert resume_points(str(tmp_path), "news")[0].next_offset == 5
    assert resume_points(str(tmp_path), "other") == {}


def test_interrupted_writes_are_deleted_while_the_broker_holds_their_records(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 1)
    kafka.publish(broker.config, topic_name, [(b"k0", b"first"), (b"k1", b"second")])
    held = [kafka.record_at(broker.config, topic_name, 0, offset) for offset in (0, 1)]
    on_broker = {r.offset: {"topic": topic_name, "timestamp_ms": r.timestamp} for r in held}
    write_bundle(tmp_path, [article(0, **on_broker[0]), letter(1, **on_broker[1])])
    # Offsets the broker never had: what is left of a log that is gone.
    write_bundle(tmp_path, [article(5, topic=topic_name), letter(6, topic=topic_name)])
    interrupted = tmp_path / "dead_letters" / range_name(topic_name, 0, 0, 1)
    assert discard_interrupted_writes(str(tmp_path), broker.config, topic_name) == []

    # A crash after the dead letters of both ranges were renamed, before their articles were:
    for articles in (tmp_path / "articles").iterdir():
        articles.unlink()
    temporary = tmp_path / "articles" / f".{range_name(topic_name, 0, 0, 1)}.0123abcd.tmp"
    temporary.write_bytes(b"half a file")
    of_another_topic = tmp_path / "articles" / f".{range_name(topic_name + '-eu', 0, 0, 1)}.0123abcd.tmp"
    of_another_topic.write_bytes(b"half a file")
    discarded = discard_interrupted_writes(str(tmp_path), broker.config, topic_name)
    assert discarded == [str(interrupted), str(temporary)]
    assert not interrupted.exists() and not temporary.exists() and of_another_topic.exists()
    assert [p.name for p in (tmp_path / "dead_letters").iterdir()] == [range_name(topic_name, 0, 5, 6)]


def test_a_retried_range_overwrites_a_reset_log_does_not(tmp_path):
    write_bundle(tmp_path, [article(0), article(1)])
    write_bundle(tmp_path, [article(0), article(1)])  # the same records again: a retry
    assert [p.name for p in (tmp_path / "articles").iterdir()] == ["news-0-000000000000-000000000001.avro"]

    # Other records at the same offsets: the broker's log began again. Keep both.
    write_bundle(tmp_path, [article(0, key="new0"), article(1, key="new1")])
    names = sorted(p.name for p in (tmp_path / "articles").iterdir())
    assert names == ["news-0-000000000000-000000000001.avro", "news-0-000000000000-000000000001~1.avro"]
    assert sorted(r["source"]["key"] for r in read_avro_folder(tmp_path / "articles")) == [
        "k0",
        "k1",
        "new0",
        "new1",
    ]


def test_write_composite_in_a_pipeline(tmp_path):
    with TestPipeline(runner="FnApiRunner") as p:
        p | beam.Create([article(5), letter(6), article(9, partition=1)]) | WriteFiles(str(tmp_path))
    assert sorted(r["source"]["offset"] for r in read_avro_folder(tmp_path / "articles")) == [5, 9]
    assert [r["source"]["offset"] for r in read_avro_folder(tmp_path / "dead_letters")] == [6]


def test_confluent_wire_format_round_trip():
    value = confluent_encode(ARTICLE, 100_001, to_avro(article(3)))
    assert value[0] == 0 and int.from_bytes(value[1:5], "big") == 100_001
    schema_id, decoded = confluent_decode(ARTICLE, value)
    assert schema_id == 100_001 and decoded["article_id"] == "a3" and decoded["source"]["offset"] == 3


# --- Parquet and time partitions ------------------------------------------------------------

DAY = 86_400_000


def full_article(offset: int, published_at_ms: int | None, **fields) -> EnrichedArticle:
    """An article with every kind of field filled: nested lists, maps, envelope fields."""
    source = dataclasses.replace(
        message(offset, **fields).source, headers={"trace": b"\x00\xff", "lang": b"en"}
    )
    return dataclasses.replace(
        article(offset),
        source=source,
        title="Rates rise",
        text="The bank said rates rise.",
        sentences=(Sentence(0, 0, 0, 25, "The bank said rates rise."),),
        entities=(Entity("bank", "ORG", 4, 8, 0),),
        claims=(Claim(f"a{offset}:0", 0, "rates rise", 14, 24, 0.8, "The bank", "ORGANIZATION", "said"),),
        url=f"https://news.example/{offset}",
        published_at_ms=published_at_ms,
        outlet="Example News",
        language="en",
        authors=("A. Writer", "B. Editor"),
        metadata={"desk": "economy"},
    )


def _avro_fields(schema: dict, path: str = "", named: dict | None = None) -> set[str]:
    named = schema.get("__named_schemas", named or {})
    names = set()
    for field in schema["fields"]:
        name, kind = f"{path}{field['name']}", field["type"]
        names.add(name)
        kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind  # ["null", T]
        kind = kind.get("items", kind) if isinstance(kind, dict) else kind
        kind = named.get(kind, kind) if isinstance(kind, str) else kind  # a type used again by name
        if isinstance(kind, dict) and kind.get("type") == "record":
            names |= _avro_fields(kind, name + ".", named)
    return names


def _arrow_fields(fields, path: str = "") -> set[str]:
    names = set()
    for field in fields:
        name, kind = f"{path}{field.name}", field.type
        names.add(name)
        kind = kind.value_type if pa.types.is_list(kind) else kind
        if pa.types.is_struct(kind):
            names |= _arrow_fields(kind, name + ".")
    return names


def test_the_arrow_schema_is_the_avro_schema(tmp_path):
    for kind in (ARTICLE, DEAD_LETTER):
        schema = arrow_schema(kind)
        assert _arrow_fields(schema) == _avro_fields(parsed_schema(kind))
    schema = arrow_schema(ARTICLE)
    assert schema.field("claims").type.value_type.field("score").type == pa.float64()
    assert not schema.field("article_id").nullable and schema.field("title").nullable
    assert schema.field("metadata").type == pa.map_(pa.string(), pa.string())
    assert schema.field("source").type.field("headers").type == pa.map_(pa.string(), pa.binary())


def test_parquet_files_hold_the_same_records_as_the_avro_files(tmp_path):
    outputs = [full_article(0, None), letter(1), full_article(2, 1_772_352_000_000)]
    write_bundle(tmp_path, outputs, formats=("avro", "parquet"))
    name = "news-0-000000000000-000000000002"
    assert sorted(p.name for p in (tmp_path / "articles").iterdir()) == [f"{name}.avro", f"{name}.parquet"]
    for folder in ("articles", "dead_letters"):
        assert list(read_folder(str(tmp_path / folder), "parquet")) == list(
            read_folder(str(tmp_path / folder))
        )
    file = pq.ParquetFile(tmp_path / "articles" / f"{name}.parquet")
    assert file.metadata.num_row_groups == 1 and file.metadata.num_rows == 2
    assert file.metadata.row_group(0).column(0).compression == "ZSTD"
    parquet_meta = read_parquet_metadata(str(tmp_path / "articles" / f"{name}.parquet"))
    assert parquet_meta == read_metadata(str(tmp_path / "articles" / f"{name}.avro"))
    # Each record counts once, each file counts.
    assert count_outputs(str(tmp_path)) == {
        "written_articles": 2, "written_dead_letters": 1, "entities": 2, "claims": 2, "files": 4,
    }  # fmt: skip


def test_event_time_is_published_time_else_the_kafka_timestamp():
    published = 1_772_352_000_000  # 2026-03-01T08:00:00Z
    kafka_time = published + 3 * DAY + 3_600_000
    assert partition_folder("hour", full_article(0, published).event_time_ms) == "dt=2026-03-01/hour=08"
    undated = full_article(0, None, timestamp_ms=kafka_time)
    assert partition_folder("day", undated.event_time_ms) == "dt=2026-03-04"


def test_a_range_spanning_days_has_a_file_per_day_and_is_complete_only_with_all(broker, topic_name, tmp_path):
    kafka.ensure_topic(broker.config, topic_name, 1)
    kafka.publish(broker.config, topic_name, [(f"k{i}".encode(), b"x") for i in range(4)])
    held = [kafka.record_at(broker.config, topic_name, 0, offset) for offset in range(4)]
    on_broker = [{"topic": topic_name, "timestamp_ms": r.timestamp} for r in held]
    first_day = 1_772_352_000_000
    write_bundle(
        tmp_path, [full_article(0, first_day, **on_broker[0])], formats=("parquet",), partition_by="day"
    )
    spanning = [
        full_article(1, first_day + DAY, **on_broker[1]),
        letter(2, **on_broker[2]),
        full_article(3, first_day + 2 * DAY, **on_broker[3]),
    ]
    write_bundle(tmp_path, spanning, formats=("avro", "parquet"), partition_by="day")
    name = range_name(topic_name, 0, 1, 3, "parquet")
    days = sorted(p.parent.name for p in (tmp_path / "articles").rglob(name))
    assert days == ["dt=2026-03-02", "dt=2026-03-03"]
    assert [r["article_id"] for r in read_folder(str(tmp_path / "articles"), "parquet")] == ["a0", "a1", "a3"]
    assert resume_points(str(tmp_path), topic_name)[0].next_offset == 4

    # A crash after the first of the range's four articles files was renamed:
    for path in sorted((tmp_path / "articles").rglob(f"{name.rsplit('.', 1)[0]}.*"))[1:]:
        path.unlink()
    assert resume_points(str(tmp_path), topic_name)[0].next_offset == 1
    discarded = discard_interrupted_writes(str(tmp_path), broker.config, topic_name)
    assert len(discarded) == 3  # one articles file, the dead letters in both formats
    assert [r["article_id"] for r in read_folder(str(tmp_path / "articles"), "parquet")] == ["a0"]
    assert list(read_folder(str(tmp_path / "dead_letters"))) == []


def test_a_range_of_dead_letters_only_is_complete_only_in_every_format(tmp_path):
    write_bundle(tmp_path, [article(0)], formats=("avro", "parquet"))
    write_bundle(tmp_path, [letter(1), letter(2)], formats=("avro", "parquet"))
    assert resume_points(str(tmp_path), "news")[0].next_offset == 3
    (tmp_path / "dead_letters" / "news-0-000000000001-000000000002.parquet").unlink()
    assert resume_points(str(tmp_path), "news")[0].next_offset == 1
