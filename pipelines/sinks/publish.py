"""Publishing the outputs to Kafka topics, as Confluent-framed Avro, acks=all.

Every send of a bundle is acknowledged before the bundle ends, so before its
input offsets are committed: at least once on the topics, deduplicable by key.
"""

from __future__ import annotations

import apache_beam as beam

from pipelines import kafka, runstate
from pipelines.formats import confluent_encode
from pipelines.kafka import KafkaConfig
from pipelines.records import ARTICLE, DEAD_LETTER, Output, to_avro
from pipelines.sinks.registry import RegistryConfig, schema_id


class PublishToKafka(beam.PTransform):
    """Publishes each article (key ``article_id``) and dead letter (its message's key)."""

    def __init__(
        self,
        config: KafkaConfig,
        article_topic: str | None,
        dead_letter_topic: str | None,
        registry: RegistryConfig | None = None,
        run_id: str = "default",
    ) -> None:
        super().__init__()
        self._fn = PublishOutputsFn(config, article_topic, dead_letter_topic, registry, run_id)

    def expand(self, outputs):
        return outputs | beam.ParDo(self._fn)


class PublishOutputsFn(beam.DoFn):
    """Sends each output to its topic; waits for every acknowledgement in ``finish_bundle``."""

    def __init__(
        self,
        config: KafkaConfig,
        article_topic: str | None,
        dead_letter_topic: str | None,
        registry: RegistryConfig | None = None,
        run_id: str = "default",
    ) -> None:
        self._config = config
        self._run_id = run_id
        self._topics = {ARTICLE: article_topic, DEAD_LETTER: dead_letter_topic}
        self._registry = registry

    def setup(self) -> None:
        self._state = runstate.of(self._run_id)
        for topic in filter(None, self._topics.values()):
            kafka.ensure_topic(self._config, topic)  # a broker may not create topics on use
        self._producer = kafka.new_producer(self._config, idempotent=True)
        self._schema_ids = {
            kind: schema_id(kind, topic, self._registry) for kind, topic in self._topics.items() if topic
        }

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, output: Output) -> None:
        topic = self._topics[output.kind]
        if not topic or not self._state.leases.holds(
            (output.source.topic, output.source.partition), output.lease
        ):
            return  # not this replica's to publish any more: the next owner reads it again
        key = output.article_id if output.kind == ARTICLE else output.source.key
        value = confluent_encode(output.kind, self._schema_ids[output.kind], to_avro(output))
        self._pending.append(self._producer.send(topic, key=key.encode() if key else None, value=value))

    def finish_bundle(self) -> None:
        self._producer.flush()
        for future in self._pending:
            future.get(timeout=60)  # raises, failing the bundle, if the broker refused it
        self._pending = []

    def teardown(self) -> None:
        if hasattr(self, "_producer"):
            self._producer.close()
