"""The codec every client uses: :func:`codec_for` honours ``VITALSTREAM_SCHEMA_REGISTRY_URL``.

Unset: :class:`schemas.codec.Codec`, Avro single-object encoding (self-describing, no registry).
Set: :class:`RegistryCodec`, the Confluent wire format (``00`` + 4-byte big-endian schema id +
body) written and read by confluent-kafka's own ``AvroSerializer`` / ``AvroDeserializer`` through
its ``SchemaRegistryClient``. Each record type is registered under its full record name
(``io.vitalstream.ScoredObservation``: the record-name subject strategy, since a record type is
written to more than one topic) as a self-contained schema (nested named types written in full),
so any Avro tool reads it from the registry alone. Both codecs read both framings — the registry
codec resolves single-object records by fingerprint — so switching a deployment to the registry
keeps its existing topics readable.
"""

from __future__ import annotations

import json
import struct
from functools import cache

from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError

from schemas import records
from schemas.codec import NAMESPACE, SCHEMA_FILES, Codec, DecodeError, from_avro, standalone_schema
from vitalstream.platform.settings import Settings

CONFLUENT_HEADER = 5
HTTP_NOT_FOUND = 404


class RegistryCodec(Codec):
    """Confluent-framed Avro through a schema registry; reads single-object records too."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        super().__init__()
        self._client = client
        conf = {"auto.register.schemas": True, "subject.name.strategy": record_subject_name_strategy}
        texts = {name: json.dumps(standalone_schema(name)) for name in SCHEMA_FILES}
        self._serializers = {name: AvroSerializer(client, text, conf=conf) for name, text in texts.items()}
        self._deserializers = {name: AvroDeserializer(client, text) for name, text in texts.items()}
        self._names: dict[int, str] = {}

    def encode(self, record: records._Record) -> bytes:
        data = self._serializers[record.SCHEMA](record.to_avro(), None)
        assert isinstance(data, bytes)
        return data

    def _decode_confluent(self, data: bytes) -> records._Record:
        if len(data) < CONFLUENT_HEADER:
            raise DecodeError("truncated Confluent-framed record")
        # The writer schema is fetched (and cached by the client) here, outside the try below: a
        # registry that cannot be reached is not the record's fault, so it raises, never DecodeError.
        name = self._record_name(struct.unpack(">I", data[1:CONFLUENT_HEADER])[0])
        try:
            value = self._deserializers[name](data, None)
        except SchemaRegistryError:
            raise
        except Exception as exc:  # fastavro raises assorted errors on corrupt bodies
            raise DecodeError(f"corrupt {name} body: {type(exc).__name__}") from None
        return from_avro(name, value)

    def _record_name(self, schema_id: int) -> str:
        """Which of our record types schema ``schema_id`` is (registry lookups cached by the client)."""
        name = self._names.get(schema_id)
        if name is None:
            try:
                text = self._client.get_schema(schema_id).schema_str or "null"
            except SchemaRegistryError as exc:
                if exc.http_status_code == HTTP_NOT_FOUND:
                    raise DecodeError(f"schema id {schema_id} is not in the schema registry") from None
                raise
            name = _short_name(json.loads(text))
            if name not in SCHEMA_FILES:
                raise DecodeError(f"schema id {schema_id} is not a vitalstream record")
            self._names[schema_id] = name
        return name


def _short_name(writer: object) -> str:
    """``ScoredObservation`` for a writer schema named ``io.vitalstream.ScoredObservation``."""
    if not isinstance(writer, dict):
        return ""
    name = str(writer.get("name", ""))
    full = name if "." in name else f"{writer.get('namespace', '')}.{name}"
    return full.removeprefix(NAMESPACE + ".") if full.startswith(NAMESPACE + ".") else ""


@cache
def _registry_codec(url: str) -> RegistryCodec:
    return RegistryCodec(SchemaRegistryClient({"url": url}))


def codec_for(settings: Settings) -> Codec:
    """The process's codec: registry-backed when ``schema_registry_url`` is set, else single-object."""
    if settings.schema_registry_url:
        return _registry_codec(settings.schema_registry_url)
    return Codec()
