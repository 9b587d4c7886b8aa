"""How to connect to a Kafka cluster: bootstrap addresses plus client properties.

Every client the pipeline makes (consumers, producers, admin clients) is built
from one :class:`KafkaConfig`, so a setting given once applies to all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

#: Properties whose values are never shown: not in logs, errors, metrics or summaries.
SECRET_KEYS = frozenset({"sasl.password", "ssl.key.password", "sasl.jaas.config", "ssl.key.pem"})


@dataclasses.dataclass(frozen=True)
class KafkaConfig:
    """Bootstrap addresses and client properties (Kafka's dotted names).

    Hashable and picklable: it travels inside the pipeline's DoFns.

    >>> KafkaConfig("127.0.0.1:9092").servers
    ['127.0.0.1:9092']
    """

    bootstrap_servers: str
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, bootstrap_servers: str, properties: Mapping[str, str] | None = None) -> KafkaConfig:
        return cls(bootstrap_servers, tuple(sorted((properties or {}).items())))

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_KEYS else v) for k, v in self.properties}
        return f"KafkaConfig({self.bootstrap_servers!r}, {shown!r})"

    __str__ = __repr__

    def client_settings(self) -> dict:
        """kafka-python keyword arguments shared by every client."""
        return {
            "bootstrap_servers": self.servers,
            "client_id": "claimstream",
            # Fail fast on a wrong address instead of hanging on version probing.
            "bootstrap_timeout_ms": 5000,
            "request_timeout_ms": 30000,
        }
