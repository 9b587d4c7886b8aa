"""The schema ids of the Kafka output: from a Confluent-compatible schema registry, or fixed.

A registry behind a login takes the settings Confluent's clients use:
``basic.auth.user.info=USER:PASSWORD`` and ``ssl.ca.location=PATH``, from
``--schema-registry-config`` or ``CLAIMSTREAM_SCHEMA_REGISTRY_<KEY>`` variables.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import json
import os
import ssl
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipelines.errors import OptionError, RegistryError
from pipelines.formats import FIXED_SCHEMA_IDS, parsed_schema
from pipelines.records import Kind

#: The registry client settings, as Confluent's clients spell them.
REGISTRY_KEYS = ("basic.auth.user.info", "ssl.ca.location")
SECRET_REGISTRY_KEYS = frozenset({"basic.auth.user.info"})
ENVIRONMENT_PREFIX = "CLAIMSTREAM_SCHEMA_REGISTRY_"


@dataclasses.dataclass(frozen=True)
class RegistryConfig:
    """Where the registry is and how to log in; the login is never shown.

    >>> RegistryConfig("https://sr:8081", (("basic.auth.user.info", "key:secret"),))
    RegistryConfig('https://sr:8081', {'basic.auth.user.info': '***'})
    """

    url: str
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def resolve(
        cls, url: str, assignments: Iterable[str] = (), environ: Mapping[str, str] | None = None
    ) -> RegistryConfig:
        """``--schema-registry-config KEY=VALUE`` over ``CLAIMSTREAM_SCHEMA_REGISTRY_<KEY>``."""
        environ = os.environ if environ is None else environ
        properties = {
            key: environ[name]
            for key in REGISTRY_KEYS
            if environ.get(name := ENVIRONMENT_PREFIX + key.upper().replace(".", "_"))
        }
        for number, assignment in enumerate(assignments, 1):
            key, equals, value = assignment.partition("=")
            if not equals:
                # Not the text itself: a mistyped assignment may hold a secret.
                raise OptionError(
                    f"--schema-registry-config takes KEY=VALUE: value number {number} has no '='"
                )
            properties[key.strip()] = value.strip()
        for key, value in properties.items():
            if key not in REGISTRY_KEYS:
                nearest = difflib.get_close_matches(key, REGISTRY_KEYS, n=1)
                hint = f"; did you mean {nearest[0]}?" if nearest else ""
                raise OptionError(f"unknown schema registry setting {key!r}{hint} (--schema-registry-config)")
            if key == "ssl.ca.location" and not Path(value).is_file():
                raise OptionError(f"schema registry ssl.ca.location: no such file {value}")
            if key == "basic.auth.user.info" and ":" not in value:
                raise OptionError("schema registry basic.auth.user.info takes USER:PASSWORD")
        return cls(url, tuple(sorted(properties.items())))

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_REGISTRY_KEYS else v) for k, v in self.properties}
        return f"RegistryConfig({self.url!r}, {shown!r})"

    __str__ = __repr__

    def headers(self) -> dict[str, str]:
        """HTTP headers of every request: the content type, and basic auth when given.

        >>> RegistryConfig("http://sr", (("basic.auth.user.info", "u:p"),)).headers()["Authorization"]
        'Basic dTpw'
        """
        headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
        login = dict(self.properties).get("basic.auth.user.info")
        if login:
            headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        return headers

    def tls_context(self) -> ssl.SSLContext | None:
        ca = dict(self.properties).get("ssl.ca.location")
        return ssl.create_default_context(cafile=ca) if ca else None


def schema_id(kind: Kind, topic: str, registry: RegistryConfig | None) -> int:
    """The id to frame ``kind`` records with: registered under ``<topic>-value``, or fixed."""
    if registry is None:
        return FIXED_SCHEMA_IDS[kind]
    subject = f"{topic}-value"
    url = f"{registry.url.rstrip('/')}/subjects/{urllib.parse.quote(subject, safe='')}/versions"
    body = json.dumps({"schema": json.dumps(parsed_schema(kind))}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers=registry.headers())
    try:
        with urllib.request.urlopen(request, timeout=30, context=registry.tls_context()) as response:
            return int(json.load(response)["id"])
    except (OSError, ValueError, KeyError) as e:
        # HTTPError's text is its status line ("HTTP Error 401: Unauthorized"): no secret in it.
        raise RegistryError(
            f"could not register the {kind} schema as {subject!r} at {registry.url}: {e}",
            setting="schema_registry_url",
        ) from None
