"""The schema ids of the Kafka output: from a Confluent-compatible schema registry, or fixed."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from pipelines.errors import RegistryError
from pipelines.formats import FIXED_SCHEMA_IDS, parsed_schema
from pipelines.records import Kind


def schema_id(kind: Kind, topic: str, registry_url: str | None) -> int:
    """The id to frame ``kind`` records with: registered under ``<topic>-value``, or fixed."""
    if not registry_url:
        return FIXED_SCHEMA_IDS[kind]
    subject = f"{topic}-value"
    url = f"{registry_url.rstrip('/')}/subjects/{urllib.parse.quote(subject, safe='')}/versions"
    body = json.dumps({"schema": json.dumps(parsed_schema(kind))}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/vnd.schemaregistry.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(json.load(response)["id"])
    except (OSError, ValueError, KeyError) as e:
        raise RegistryError(
            f"could not register the {kind} schema as {subject!r} at {registry_url}: {e}",
            setting="schema_registry_url",
        ) from None
