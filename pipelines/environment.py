"""Options from the environment, for containers: ``CLAIMSTREAM_<OPTION>``.

``--bootstrap-servers`` is ``CLAIMSTREAM_BOOTSTRAP_SERVERS``; Kafka client
properties have their own variables (``CLAIMSTREAM_KAFKA_<KEY>``, see
:mod:`pipelines.kafka.config`). A flag on the command line wins over its variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PREFIX = "CLAIMSTREAM_"


def variable(flag: str) -> str:
    """The variable that gives ``flag``.

    >>> variable("--bootstrap-servers")
    'CLAIMSTREAM_BOOTSTRAP_SERVERS'
    """
    return PREFIX + flag.lstrip("-").upper().replace("-", "_")


def environment_flags(flags: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """``--flag=value`` for each of ``flags`` whose variable is set.

    Put them before the command line's own arguments: the last value of a flag
    wins, so one given on the command line overrides the environment.

    >>> environment_flags(["--bootstrap-servers", "--topic"], {"CLAIMSTREAM_TOPIC": "news"})
    ['--topic=news']
    """
    return [f"{flag}={environ[variable(flag)]}" for flag in flags if environ.get(variable(flag))]
