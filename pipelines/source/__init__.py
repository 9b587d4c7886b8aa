"""Source stage: article messages from a Kafka topic (:mod:`.kafka_reader`) or from
files (:mod:`.files`), as :class:`~pipelines.records.Message`s.

Nothing here decodes or judges the bytes; that is the parse stage's job, so that
every message reaches either the articles or the dead letters.
"""

from pipelines.source.files import ReadArticleFiles, list_files
from pipelines.source.kafka_reader import ReadFromKafka, ReadTopicFn

__all__ = ["ReadArticleFiles", "ReadFromKafka", "ReadTopicFn", "list_files"]
