"""``claimstream demo``: the whole path on one machine, with nothing to set up.

Starts the embedded broker, publishes the bundled sample articles (fictional,
written for this project: 005 re-tells 004 with its date, numbers and speaker
changed) plus one deliberately broken message, runs the pipeline until the topic
is idle, and prints what came out: the summary, some attributed claims, and the
stories that have more than one version with their changes.

In a checkout beside the project's shared data (``../shared/samples``), the two
versions of a real feed story are published too, after the samples.
"""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

from pipelines import kafka, pipeline, sinks
from pipelines.broker import EmbeddedBroker
from pipelines.kafka import KafkaConfig
from pipelines.sinks import ARTICLES_DIR, DEAD_LETTERS_DIR
from pipelines.stories import report
from pipelines.stories.stores import DEFAULT_FILE

TOPIC = "articles"
#: Shows the dead-letter path: bytes that are not text.
BROKEN_MESSAGE = (b"broken-message.bin", b"\x00\x01\x02 not an article \xff\xfe")
#: Two versions of one story from a real feed, in the order they were published.
FEED_STORY = ("000_96e8961fbe36ce22.txt", "002_2632260b12f96602.txt")


def sample_articles() -> list[tuple[bytes, bytes]]:
    """The bundled samples as (file name, bytes), in name order."""
    folder = importlib.resources.files("pipelines.samples")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".txt")), key=lambda f: f.name)
    return [(f.name.encode(), f.read_bytes()) for f in files]


def feed_story(shared: Path = Path(__file__).resolve().parents[2] / "shared" / "samples"):
    """The feed story's two versions, when the shared data is beside the checkout; else none."""
    paths = [shared / name for name in FEED_STORY]
    return [(p.name.encode(), p.read_bytes()) for p in paths] if all(p.is_file() for p in paths) else []


def run_demo(output: str, paths: list[Path] | None = None, partitions: int = 1) -> pipeline.RunSummary:
    messages = (
        [(p.name.encode(), p.read_bytes()) for p in paths] if paths else sample_articles() + feed_story()
    )
    messages.append(BROKEN_MESSAGE)
    # The demo's own output and story index, from a last run.
    for subdir in (ARTICLES_DIR, DEAD_LETTERS_DIR, DEFAULT_FILE.parent):
        shutil.rmtree(Path(output) / subdir, ignore_errors=True)

    with EmbeddedBroker() as broker:
        print(f"embedded broker on {broker.bootstrap_servers}")
        config = KafkaConfig.of(broker.bootstrap_servers)
        kafka.ensure_topic(config, TOPIC, partitions)
        kafka.publish(config, TOPIC, messages)
        plural = "s" if partitions > 1 else ""
        print(f"published {len(messages)} messages to topic {TOPIC!r} ({partitions} partition{plural})")
        summary = pipeline.run(
            [
                "--bootstrap-servers",
                broker.bootstrap_servers,
                "--topic",
                TOPIC,
                "--group-id",
                "claimstream-demo",
                "--until-idle",
                "3",
                "--output",
                output,
            ]
        )
    print()
    print(summary)
    _print_examples(Path(output) / ARTICLES_DIR)
    print()
    print(report.render(report.read_articles(output)))
    print(f"\nsee every record: claimstream inspect {output}")
    return summary


def _print_examples(folder: Path, limit: int = 6) -> None:
    claims = [c for article in sinks.read_folder(str(folder)) for c in article["claims"] if c["speaker"]]
    if not claims:
        return
    print("\nsome attributed claims:")
    for claim in sorted(claims, key=lambda c: -c["score"])[:limit]:
        text = claim["text"] if len(claim["text"]) <= 100 else claim["text"][:97] + "..."
        print(f"  {claim['score']:.2f}  {claim['speaker']} ({claim['speaker_type']}, {claim['cue']}): {text}")
