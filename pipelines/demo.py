"""``claimstream demo``: the whole path on one machine, with nothing to set up.

Starts the embedded broker, publishes the bundled sample articles (fictional,
written for this project) plus one deliberately broken message, runs the
pipeline until the topic is idle, and prints what came out.
"""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

from pipelines import kafka, pipeline, sinks
from pipelines.broker import EmbeddedBroker
from pipelines.kafka import KafkaConfig
from pipelines.sinks import ARTICLES_DIR, DEAD_LETTERS_DIR

TOPIC = "articles"
#: Shows the dead-letter path: bytes that are not text.
BROKEN_MESSAGE = (b"broken-message.bin", b"\x00\x01\x02 not an article \xff\xfe")


def sample_articles() -> list[tuple[bytes, bytes]]:
    """The bundled samples as (file name, bytes), in name order."""
    folder = importlib.resources.files("pipelines.samples")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".txt")), key=lambda f: f.name)
    return [(f.name.encode(), f.read_bytes()) for f in files]


def run_demo(output: str, paths: list[Path] | None = None, partitions: int = 2) -> pipeline.RunSummary:
    messages = [(p.name.encode(), p.read_bytes()) for p in paths] if paths else sample_articles()
    messages.append(BROKEN_MESSAGE)
    for subdir in (ARTICLES_DIR, DEAD_LETTERS_DIR):  # the demo's own output, from a last run
        shutil.rmtree(Path(output) / subdir, ignore_errors=True)

    with EmbeddedBroker() as broker:
        print(f"embedded broker on {broker.bootstrap_servers}")
        config = KafkaConfig.of(broker.bootstrap_servers)
        kafka.ensure_topic(config, TOPIC, partitions)
        kafka.publish(config, TOPIC, messages)
        print(f"published {len(messages)} messages to topic {TOPIC!r} ({partitions} partitions)")
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
