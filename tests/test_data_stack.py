"""The data engineer's path: JSON envelopes with Kafka headers in, Avro and Parquet out in
day folders, queried with DuckDB as the README shows.

One run over a real topic (embedded broker, real spaCy model) with ``--format
avro,parquet --partition-by day``; the README's DuckDB session runs over its Parquet
files and every figure is checked against its Avro files.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines import cli, kafka, pipeline
from pipelines.parse import decode
from pipelines.sinks.fileformats import read_folder
from tests.conftest import ARTICLES

README = Path(__file__).resolve().parents[1] / "README.md"
OUTLETS = ("Example News", "Harbour Daily")
FIRST_DAY = datetime.datetime(2026, 3, 1, 8, tzinfo=datetime.UTC)


def envelopes() -> list[dict]:
    """The fixture articles as envelopes, over two outlets and several days; one undated."""
    bodies = [decode(p.read_bytes())[0] for p in sorted(ARTICLES.glob("*.txt"))]
    found = []
    for i, body in enumerate(bodies):
        published = FIRST_DAY + datetime.timedelta(days=i // 2, hours=i)
        found.append({
            "id": f"env-{i}", "title": f"Story {i}", "body": body, "url": f"https://news.example/{i}",
            "published_at": published.isoformat() if i else int(published.timestamp() * 1000),
            "outlet": OUTLETS[i % 2], "language": "en", "authors": [f"Writer {i}"], "desk": "news",
        })  # fmt: skip
    found.append({"id": "undated", "body": bodies[0], "outlet": OUTLETS[0]})  # day of its Kafka timestamp
    return found


@pytest.fixture(scope="module")
def lake_run(broker, tmp_path_factory):
    """Half the envelopes published by ``claimstream produce`` from a .jsonl file, half with
    Kafka headers, plus a plain-text article and two bad envelopes; one run over them all."""
    topic, folder = "lake", tmp_path_factory.mktemp("lake")
    sent = envelopes()
    feed = folder / "feed.jsonl"
    lines = [json.dumps(e) for e in sent[::2]] + ['{"id": "cut", "body": "The mayor said', '{"id": "empty"}']
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli.main(["produce", "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic,
                     "--partitions", "2", str(feed)]) == 0  # fmt: skip
    producer = kafka.new_producer(broker.config)
    try:
        for e in sent[1::2]:
            producer.send(topic, key=e["id"].encode(), value=json.dumps(e).encode(),
                          headers=[("trace-id", f"t-{e['id']}".encode()), ("source", b"wire")])  # fmt: skip
        producer.send(
            topic, key=b"plain.txt", value=b"Plain headline\n\nThe council said it would spend more."
        )
        producer.flush()
    finally:
        producer.close()
    output = folder / "out"
    pipeline.run([
        "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic, "--group-id", "lake",
        "--until-idle", "2", "--output", str(output), "--format", "avro,parquet", "--partition-by", "day",
        "--nlp-processes", "1", "--progress-interval", "0",
    ])  # fmt: skip
    return sent, len(lines) + len(sent[1::2]) + 1, output


def test_envelopes_and_headers_reach_the_records(lake_run):
    sent, _, output = lake_run
    articles = {r["article_id"]: r for r in read_folder(str(output / "articles"))}
    for e in sent:
        record = articles[e["id"]]
        assert (record["url"], record["outlet"], record["language"]) == (
            e.get("url"),
            e["outlet"],
            e.get("language"),
        )
        assert record["authors"] == e.get("authors", [])
        if isinstance(e.get("published_at"), str):
            published = datetime.datetime.fromisoformat(e["published_at"])
            assert record["published_at_ms"] == int(published.timestamp() * 1000)
        else:
            assert record["published_at_ms"] == e.get("published_at")
        assert record["metadata"] == ({"desk": "news"} if "desk" in e else {})
    with_headers = [r for r in articles.values() if r["source"]["headers"]]
    assert {r["article_id"] for r in with_headers} == {e["id"] for e in sent[1::2]}
    assert all(r["source"]["headers"] == {"trace-id": f"t-{r['article_id']}".encode(), "source": b"wire"}
               for r in with_headers)  # fmt: skip
    plain = [r for r in articles.values() if r["source"]["key"] == "plain.txt"]
    assert len(plain) == 1 and plain[0]["title"] == "Plain headline" and plain[0]["outlet"] is None


def test_bad_envelopes_are_dead_letters_and_nothing_is_lost(lake_run):
    _, published, output = lake_run
    letters = list(read_folder(str(output / "dead_letters")))
    reasons = {r["payload"]: (r["error_type"], r["error"]) for r in letters}
    assert reasons[b'{"id": "cut", "body": "The mayor said'][0] == "bad_json"
    assert "not valid JSON" in reasons[b'{"id": "cut", "body": "The mayor said'][1]
    assert reasons[b'{"id": "empty"}'][0] == "no_text"
    records = [*read_folder(str(output / "articles")), *letters]
    offsets = Counter((r["source"]["partition"], r["source"]["offset"]) for r in records)
    assert len(offsets) == published and set(offsets.values()) == {1}


def avro_id_of_plain(output: Path) -> str:
    return next(
        r["article_id"] for r in read_folder(str(output / "articles")) if r["source"]["key"] == "plain.txt"
    )


def test_both_formats_hold_the_same_articles_in_the_days_they_were_published(lake_run):
    sent, _, output = lake_run
    avro = sorted(r["article_id"] for r in read_folder(str(output / "articles")))
    parquet = sorted(r["article_id"] for r in read_folder(str(output / "articles"), "parquet"))
    assert avro == parquet == sorted([*(e["id"] for e in sent), avro_id_of_plain(output)])
    for folder in {p.parent for p in (output / "articles").rglob("*.parquet")}:
        day = folder.name
        for record in read_folder(str(folder), "parquet"):
            moment = record["published_at_ms"] or record["source"]["timestamp_ms"]
            assert day == f"dt={datetime.datetime.fromtimestamp(moment / 1000, datetime.UTC):%Y-%m-%d}"
    days = {p.parent.name for p in (output / "articles").rglob("*.avro")}
    assert {f"dt={FIRST_DAY:%Y-%m-%d}", f"dt={FIRST_DAY + datetime.timedelta(days=1):%Y-%m-%d}"} <= days


def readme_queries(output: Path) -> list[str]:
    """The statements of the README's DuckDB session, reading ``output`` instead of ``out/``."""
    session = re.search(r"## Querying the output.*?```sql\n(.*?)```", README.read_text(), re.S)
    assert session, "the README's DuckDB session is gone"
    statements = [s.strip() for s in session.group(1).replace("'out/", f"'{output}/").split(";")]
    return [s for s in statements if s]


def test_the_readme_duckdb_session_agrees_with_the_avro_output(lake_run):
    _, _, output = lake_run
    create, per_outlet_day, top_speakers, claims_with_entities = readme_queries(output)
    articles = list(read_folder(str(output / "articles")))
    connection = duckdb.connect()
    connection.execute(create)

    expected = Counter()
    for a in articles:
        moment = a["published_at_ms"] or a["source"]["timestamp_ms"]
        expected[(a["outlet"], datetime.datetime.fromtimestamp(moment / 1000, datetime.UTC).date())] += len(
            a["claims"]
        )
    assert {(o, d): n for o, d, n in connection.sql(per_outlet_day).fetchall()} == expected

    speakers = Counter(c["speaker"] for a in articles for c in a["claims"] if c["speaker"])
    ranked = sorted(speakers.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert connection.sql(top_speakers).fetchall() == ranked and ranked

    pairs = [
        (a["article_id"], c["claim_id"], c["speaker"], e["text"], e["label"])
        for a in articles for c in a["claims"] for e in a["entities"] if e["sentence"] == c["sentence"]
    ]  # fmt: skip
    assert (
        sorted(connection.sql(claims_with_entities).fetchall(), key=repr) == sorted(pairs, key=repr) and pairs
    )


def test_inspect_prints_a_parquet_file_as_it_prints_its_avro_twin(lake_run, capsys):
    _, _, output = lake_run
    printed = {}
    for suffix in (".parquet", ".avro"):
        path = sorted((output / "articles").rglob(f"*{suffix}"))[0]
        assert cli.main(["inspect", str(path)]) == 0
        printed[suffix] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed[".parquet"] == printed[".avro"] and printed[".avro"][0]["outlet"]
    # A folder holding both formats is printed in one of them: each article once.
    assert cli.main(["inspect", str(output / "articles")]) == 0
    ids = [json.loads(line)["article_id"] for line in capsys.readouterr().out.splitlines()]
    assert sorted(ids) == sorted(r["article_id"] for r in read_folder(str(output / "articles")))
