"""The story stage in the pipeline: its composite, the CLI, and replays after SIGKILL."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from pipelines import kafka, nlp
from pipelines.demo import sample_articles
from pipelines.parse import parse_article
from pipelines.records import DeadLetter, Message
from pipelines.stories import LinkStories
from tests.conftest import ARTICLES, read_avro_folder

CLAIMSTREAM = [sys.executable, "-m", "pipelines.cli"]
WILDFIRE, WILDFIRE_RETOLD = "004_a1c9e6f30b2d7845.txt", "005_d4e5f60718293a4b.txt"


def bases() -> list[bytes]:
    """Articles of different stories: the test fixtures and the bundled samples."""
    return [p.read_bytes() for p in sorted(ARTICLES.glob("*.txt"))] + [body for _, body in sample_articles()]


def story_feed(count: int, seed: int = 11) -> list[tuple[bytes, bytes]]:
    """``count`` messages re-telling a few stories: updates appended, some exact re-posts."""
    rng = random.Random(seed)
    stories = bases()
    messages = []
    for i in range(count):
        body = stories[i % len(stories)]
        if i >= len(stories) and i % 5:
            body += f"\n\nUpdate: officials counted {rng.randint(2, 900)} more people on day {i}.".encode()
        messages.append((f"{i:03d}_{i:016x}.txt".encode(), body))
    return messages


def run_command(bootstrap: str, topic: str, output: Path, group: str, *extra: str) -> list[str]:
    return [
        *CLAIMSTREAM, "run", "--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", group,
        "--output", str(output), "--file-max-seconds", "0.5", "--file-max-records", "10", *extra,
    ]  # fmt: skip


def stories_by_offset(output: Path) -> dict[int, tuple]:
    return {
        a["source"]["offset"]: (a["story"]["story_id"], a["story"]["version"], a["story"]["relation"])
        for a in read_avro_folder(output / "articles")
    }


def test_link_stories_links_a_retelling_and_passes_dead_letters(spacy_nlp, tmp_path):
    samples = dict(sample_articles())
    articles = [
        parse_article(Message(samples[name.encode()], topic="news", partition=0, offset=i, key=name))
        for i, name in enumerate((WILDFIRE, WILDFIRE_RETOLD))
    ]
    enriched = [nlp.annotate(a, spacy_nlp(a.text), nlp.model_name(spacy_nlp)) for a in articles]
    letter = DeadLetter.of(Message(b"\x00", topic="news", partition=0, offset=2), "parse", "binary", "x")

    def check(outputs):
        by_id = {getattr(o, "article_id", "dead"): o for o in outputs}
        first, second = by_id["a1c9e6f30b2d7845"].story, by_id["d4e5f60718293a4b"].story
        assert (first.relation, first.version) == ("NEW", 1)
        assert (second.relation, second.version, second.story_id) == ("VERSION", 2, first.story_id)
        assert second.previous_article_id == "a1c9e6f30b2d7845"
        assert {c.slot for c in by_id["d4e5f60718293a4b"].changes} >= {"NUMBER"}
        assert by_id["dead"] == letter

    with TestPipeline(runner="FnApiRunner") as p:
        outputs = p | beam.Create([*enriched, letter], reshuffle=False) | LinkStories(str(tmp_path))
        assert_that(outputs, check)
    assert (tmp_path / "_stories").is_dir()  # the index lives in the output folder


def test_a_replay_after_sigkill_gives_the_same_stories(broker, topic_name, tmp_path):
    messages = story_feed(90)
    kafka.ensure_topic(broker.config, topic_name, 1)  # one partition: one arrival order
    kafka.publish(broker.config, topic_name, messages)
    bootstrap = broker.bootstrap_servers

    whole = subprocess.run(
        run_command(bootstrap, topic_name, tmp_path / "whole", "whole", "--until-idle", "3"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-3000:]
    expected = stories_by_offset(tmp_path / "whole")
    assert len(expected) == len(messages)
    relations = {relation for _, _, relation in expected.values()}
    assert relations == {"NEW", "VERSION", "DUPLICATE"}, relations

    crashed = tmp_path / "crashed"
    rng = random.Random(5)
    for _ in range(2):
        before = len(stories_by_offset(crashed))
        process = subprocess.Popen(
            run_command(bootstrap, topic_name, crashed, "crashed"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while len(stories_by_offset(crashed)) <= before:
                assert process.poll() is None, process.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the run wrote nothing"
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 1.0))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    final = subprocess.run(
        run_command(bootstrap, topic_name, crashed, "crashed", "--until-idle", "12"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr[-3000:]
    assert stories_by_offset(crashed) == expected


def test_no_stories_leaves_the_story_fields_empty(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, body in sample_articles()[-2:]:
        (folder / name.decode()).write_bytes(body)
    result = subprocess.run(
        [*CLAIMSTREAM, "run", "--input", str(folder / "*.txt"), "--output", str(tmp_path / "out"),
         "--no-stories", "--nlp-processes", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    articles = read_avro_folder(tmp_path / "out" / "articles")
    assert len(articles) == 2 and all(a["story"] is None and a["changes"] == [] for a in articles)
    assert not (tmp_path / "out" / "_stories").exists()
