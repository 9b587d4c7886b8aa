"""The errors a user can cause and fix: one family, each naming the thing at fault.

Modules raise them with a message that names the address, topic, file or key at
fault, and with ``setting``, the name of the setting it came from
(``"bootstrap_servers"``). Only the command line knows how a setting is spelled
there (``--bootstrap-servers``); :func:`pipelines.cli.main` adds that, prints one
line and exits 2. Errors about the run's own options name the option themselves.
"""

from __future__ import annotations


class ClaimstreamError(Exception):
    """A problem the user can fix: ``str()`` is one line, without secrets."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class OptionError(ClaimstreamError):
    """An option of the command is missing, wrong, or contradicts another."""


class KafkaError(ClaimstreamError):
    """A Kafka broker cannot be reached, refuses us, or lacks a topic."""


class BrokerError(ClaimstreamError):
    """The embedded broker could not be started."""


class RegistryError(ClaimstreamError):
    """The schema registry refused a schema or could not be reached."""


class InputError(ClaimstreamError):
    """A file or folder named on the command line is missing or unreadable."""


class StateError(ClaimstreamError):
    """The story index (``--state``: a SQLite file or a Redis server) cannot be opened or used."""
