"""Sink stage: Avro and Parquet files that make the output exactly once, and Kafka topics.

- :mod:`.naming`: which folder and file name each range of offsets gets;
- :mod:`.avrofiles`: atomic writes (temporary name, fsync, rename) and reading back;
- :mod:`.parquetfiles`: the same records as Parquet; :mod:`.fileformats` chooses;
- :mod:`.writer`: :class:`WriteFiles`, the file sink;
- :mod:`.recovery`: resume points and the clean-up of interrupted writes;
- :mod:`.publish`, :mod:`.registry`: :class:`PublishToKafka`, Confluent-framed Avro.
"""

from pipelines.sinks.avrofiles import read_metadata, write_avro_file
from pipelines.sinks.fileformats import FILE_FORMATS, read_folder
from pipelines.sinks.naming import ARTICLES_DIR, DEAD_LETTERS_DIR
from pipelines.sinks.publish import PublishToKafka
from pipelines.sinks.recovery import count_outputs, start_of_partition
from pipelines.sinks.writer import WriteFiles

__all__ = [
    "ARTICLES_DIR",
    "FILE_FORMATS",
    "DEAD_LETTERS_DIR",
    "PublishToKafka",
    "WriteFiles",
    "count_outputs",
    "read_folder",
    "read_metadata",
    "start_of_partition",
    "write_avro_file",
]
