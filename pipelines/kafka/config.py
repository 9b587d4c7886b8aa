"""How to connect to a Kafka cluster: bootstrap addresses plus client properties.

Every client the pipeline makes (consumers, producers, admin clients) is built
from one :class:`KafkaConfig`, so a setting given once applies to all of them.

Properties are spelled the way Kafka users already write them (the Java client's
and librdkafka's names) and come from three places, the first that has a key
winning: ``--kafka-config KEY=VALUE`` flags, a ``--kafka-config-file``
(Java ``.properties``), and ``CLAIMSTREAM_KAFKA_<KEY>`` environment variables
(``sasl.password`` -> ``CLAIMSTREAM_KAFKA_SASL_PASSWORD``). :data:`PROPERTIES`
is the one table that turns them into kafka-python's settings.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path

from pipelines.errors import OptionError

#: Properties whose values are never shown: not in logs, errors, metrics or summaries.
SECRET_KEYS = frozenset({"sasl.password", "ssl.key.password", "sasl.jaas.config", "ssl.key.pem"})

#: Where each property comes from in the environment: ``CLAIMSTREAM_KAFKA_`` + KEY_IN_CAPITALS.
ENVIRONMENT_PREFIX = "CLAIMSTREAM_KAFKA_"
#: The variable of the --kafka-config-file option shares the prefix but is no property.
FILE_VARIABLE = "CLAIMSTREAM_KAFKA_CONFIG_FILE"

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: Mechanisms Kafka has but this tool does not wire in (see the README).
UNSUPPORTED_MECHANISMS = ("OAUTHBEARER", "GSSAPI")


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def convert(key: str, value: str) -> str:
        if value.upper() in choices:
            return value.upper()
        if value.upper() in UNSUPPORTED_MECHANISMS:
            raise OptionError(f"{key}={value} is not supported: use one of {', '.join(choices)}")
        raise OptionError(f"{key} must be one of {', '.join(choices)}, not {value!r}")

    return convert


def _text(key: str, value: str) -> str:
    return value


def _number(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise OptionError(f"{key} must be a whole number, not {value!r}") from None


def _file(key: str, value: str) -> str:
    if not Path(value).expanduser().is_file():
        raise OptionError(f"{key}: no such file {value}")
    return str(Path(value).expanduser())


def _hostname_check(key: str, value: str) -> bool:
    """Java's ``https`` checks the broker's name against its certificate; empty turns it off."""
    if value.lower() in ("https", ""):
        return value.lower() == "https"
    if value.lower() == "none":  # librdkafka's spelling of off
        return False
    raise OptionError(f"{key} must be https or empty (no hostname check), not {value!r}")


#: Kafka property -> (kafka-python setting, conversion). Each client takes the settings it knows.
PROPERTIES: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "security.protocol": ("security_protocol", _choice(PROTOCOLS)),
    "sasl.mechanism": ("sasl_mechanism", _choice(MECHANISMS)),
    "sasl.mechanisms": ("sasl_mechanism", _choice(MECHANISMS)),  # librdkafka's spelling
    "sasl.username": ("sasl_plain_username", _text),
    "sasl.password": ("sasl_plain_password", _text),
    "ssl.ca.location": ("ssl_cafile", _file),
    "ssl.certificate.location": ("ssl_certfile", _file),
    "ssl.key.location": ("ssl_keyfile", _file),
    "ssl.key.password": ("ssl_password", _text),
    "ssl.endpoint.identification.algorithm": ("ssl_check_hostname", _hostname_check),
    "client.id": ("client_id", _text),
    "request.timeout.ms": ("request_timeout_ms", _number),
    "session.timeout.ms": ("session_timeout_ms", _number),
    "heartbeat.interval.ms": ("heartbeat_interval_ms", _number),
    "max.poll.interval.ms": ("max_poll_interval_ms", _number),
    "fetch.max.bytes": ("fetch_max_bytes", _number),
    "fetch.min.bytes": ("fetch_min_bytes", _number),
    "fetch.max.wait.ms": ("fetch_max_wait_ms", _number),
    "max.partition.fetch.bytes": ("max_partition_fetch_bytes", _number),
    "metadata.max.age.ms": ("metadata_max_age_ms", _number),
    "reconnect.backoff.ms": ("reconnect_backoff_ms", _number),
    "reconnect.backoff.max.ms": ("reconnect_backoff_max_ms", _number),
    "retry.backoff.ms": ("retry_backoff_ms", _number),
    "connections.max.idle.ms": ("connections_max_idle_ms", _number),
    "receive.buffer.bytes": ("receive_buffer_bytes", _number),
    "send.buffer.bytes": ("send_buffer_bytes", _number),
    "linger.ms": ("linger_ms", _number),
    "batch.size": ("batch_size", _number),
    "delivery.timeout.ms": ("delivery_timeout_ms", _number),
    "max.block.ms": ("max_block_ms", _number),
    "compression.type": ("compression_type", _text),
    "isolation.level": ("isolation_level", _text),
}


@dataclasses.dataclass(frozen=True)
class KafkaConfig:
    """Bootstrap addresses and client properties (Kafka's dotted names).

    Hashable and picklable: it travels inside the pipeline's DoFns. Secrets are
    kept, but never shown:

    >>> KafkaConfig.of("127.0.0.1:9092", {"sasl.password": "hunter2"})
    KafkaConfig('127.0.0.1:9092', {'sasl.password': '***'})
    """

    bootstrap_servers: str
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, bootstrap_servers: str, properties: Mapping[str, str] | None = None) -> KafkaConfig:
        """A config from checked properties: an unknown key or a bad value is an OptionError."""
        properties = dict(properties or {})
        for key, value in properties.items():
            convert(key, value, "")
        _check_sasl(properties)
        return cls(bootstrap_servers, tuple(sorted(properties.items())))

    @classmethod
    def resolve(
        cls,
        bootstrap_servers: str,
        assignments: Iterable[str] = (),
        file: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> KafkaConfig:
        """Flags (``KEY=VALUE``) over the properties file over ``CLAIMSTREAM_KAFKA_*`` variables."""
        properties = from_environment(os.environ if environ is None else environ)
        if file:
            properties.update(read_properties(file))
        properties.update(parse_assignments(assignments, "--kafka-config"))
        return cls.of(bootstrap_servers, properties)

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    @property
    def security_protocol(self) -> str:
        return self.client_settings().get("security_protocol", "PLAINTEXT")

    def __repr__(self) -> str:
        return f"KafkaConfig({self.bootstrap_servers!r}, {redacted(dict(self.properties))!r})"

    __str__ = __repr__

    def client_settings(self, accepted: Collection[str] | None = None) -> dict:
        """kafka-python keyword arguments for a client that knows the settings ``accepted``.

        Consumers, producers and admin clients each refuse settings they do not
        know, so each takes its own share of the properties (all when None).

        >>> config = KafkaConfig.of("b:9093", {"security.protocol": "ssl", "session.timeout.ms": "9000"})
        >>> config.client_settings(["security_protocol"])["security_protocol"]
        'SSL'
        >>> "session_timeout_ms" in config.client_settings(["security_protocol"])
        False
        """
        settings = {
            "bootstrap_servers": self.servers,
            "client_id": "claimstream",
            # Fail fast on a wrong address instead of hanging on version probing.
            "bootstrap_timeout_ms": 5000,
            "request_timeout_ms": 30000,
        }
        for key, value in self.properties:
            settings[PROPERTIES[key][0]] = convert(key, value, "")
        if accepted is None:
            return settings
        return {name: value for name, value in settings.items() if name in accepted}


def _check_sasl(properties: Mapping[str, str]) -> None:
    """A SASL protocol needs its mechanism and login (Kafka's default mechanism, GSSAPI, is not here).

    >>> _check_sasl({"security.protocol": "SASL_SSL", "sasl.username": "alice"})
    Traceback (most recent call last):
    ...
    pipelines.errors.OptionError: security.protocol=SASL_SSL needs sasl.mechanism, sasl.password
    """
    protocol = properties.get("security.protocol", "").upper()
    if not protocol.startswith("SASL_"):
        return
    given = {("sasl.mechanism" if k == "sasl.mechanisms" else k) for k, v in properties.items() if v}
    missing = [k for k in ("sasl.mechanism", "sasl.username", "sasl.password") if k not in given]
    if missing:
        raise OptionError(f"security.protocol={protocol} needs {', '.join(missing)}")


def redacted(properties: Mapping[str, str]) -> dict[str, str]:
    """``properties`` with every secret value replaced by ``***``.

    >>> redacted({"sasl.username": "alice", "sasl.password": "hunter2"})
    {'sasl.username': 'alice', 'sasl.password': '***'}
    """
    return {k: ("***" if k in SECRET_KEYS else v) for k, v in properties.items()}


def convert(key: str, value: str, where: str) -> object:
    """The kafka-python value of one property; OptionError naming ``where`` and the key if wrong."""
    if key not in PROPERTIES:
        nearest = difflib.get_close_matches(key, PROPERTIES, n=1)
        hint = f"; did you mean {nearest[0]}?" if nearest else ""
        raise OptionError(f"{where}unknown Kafka property {key!r}{hint}")
    try:
        return PROPERTIES[key][1](key, value)
    except OptionError as e:
        raise OptionError(f"{where}{e}") from None


def parse_assignments(assignments: Iterable[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; the flag is named if one has no ``=``.

    >>> parse_assignments(["client.id=news", "sasl.mechanism=PLAIN"], "--kafka-config")
    {'client.id': 'news', 'sasl.mechanism': 'PLAIN'}
    """
    properties = {}
    for number, assignment in enumerate(assignments, 1):
        key, equals, value = assignment.partition("=")
        if not equals or not key.strip():
            # Not the text itself: a mistyped assignment may hold a secret.
            raise OptionError(f"{flag} takes KEY=VALUE: its value number {number} has no key and '='")
        properties[key.strip()] = value.strip()
    return properties


def read_properties(path: str) -> dict[str, str]:
    """A Java-style ``.properties`` file: ``key=value`` (or ``key: value``) lines, ``#``/``!`` comments.

    Each key is checked here, so that an error names the file and the line.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise OptionError(f"--kafka-config-file {path}: {e.strerror}") from None
    properties = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        separator = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if separator < 0:
            raise OptionError(f"{path} line {number}: expected key=value")
        key, value = line[:separator].strip(), line[separator + 1 :].strip()
        convert(key, value, f"{path} line {number}: ")
        properties[key] = value
    return properties


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The properties given as ``CLAIMSTREAM_KAFKA_<KEY>`` variables.

    >>> from_environment({"CLAIMSTREAM_KAFKA_SASL_MECHANISM": "PLAIN", "HOME": "/root"})
    {'sasl.mechanism': 'PLAIN'}
    """
    properties = {}
    for name, value in environ.items():
        if name.startswith(ENVIRONMENT_PREFIX) and name != FILE_VARIABLE:
            key = name[len(ENVIRONMENT_PREFIX) :].lower().replace("_", ".")
            convert(key, value, f"{name}: ")
            properties[key] = value
    return properties


def environment_name(key: str) -> str:
    """The variable that gives ``key``.

    >>> environment_name("sasl.password")
    'CLAIMSTREAM_KAFKA_SASL_PASSWORD'
    """
    return ENVIRONMENT_PREFIX + key.upper().replace(".", "_")


def add_kafka_config_arguments(group) -> None:
    """The Kafka client properties of every client a command makes (``run`` and ``produce``)."""
    group.add_argument(
        "--kafka-config", dest="kafka_config", action="append", metavar="KEY=VALUE",
        help="a Kafka client property (security.protocol=SASL_SSL, sasl.mechanism=PLAIN, ...); repeatable",
    )  # fmt: skip
    group.add_argument(
        "--kafka-config-file", dest="kafka_config_file", metavar="PATH",
        help="a Java-style .properties file of Kafka client properties",
    )  # fmt: skip
