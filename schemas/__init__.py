"""The Avro schemas (*.avsc), installed as the package ``pipelines.schemas``."""
