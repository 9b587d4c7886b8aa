"""claimstream: a streaming claim-and-entity extractor for news feeds (Apache Beam)."""

__version__ = "0.1.0"
