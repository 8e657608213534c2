"""A minimal Confluent Schema Registry client (register a schema, fetch one by id).

Only two REST calls are needed, so this uses the standard library rather than pulling
in an HTTP stack; ids are cached by the codec.
"""

from __future__ import annotations

import json
import urllib.request


class HttpSchemaRegistry:
    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self._url = url.rstrip("/")
        self._timeout = timeout_s

    def register(self, subject: str, schema_json: str) -> int:
        body = json.dumps({"schema": schema_json}).encode()
        req = urllib.request.Request(
            f"{self._url}/subjects/{subject}/versions",
            data=body,
            method="POST",
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )
        with urllib.request.urlopen(req, timeout=self._timeout) as resp:
            return int(json.load(resp)["id"])

    def schema_json(self, schema_id: int) -> str:
        with urllib.request.urlopen(f"{self._url}/schemas/ids/{schema_id}", timeout=self._timeout) as resp:
            return str(json.load(resp)["schema"])
