"""Avro encoding of every record type.

Default wire format: Avro single-object encoding (``C3 01`` + 8-byte little-endian
CRC-64-AVRO fingerprint of the schema's canonical form + the Avro body). It is
self-describing without a registry: a reader finds the writer's schema by fingerprint.

With a schema registry URL, the Confluent wire format (``00`` + 4-byte big-endian
schema id + body) is written instead; both are read.
"""

from __future__ import annotations

import io
import json
import struct
from functools import cache
from importlib import resources
from typing import Any, Protocol, TypeVar

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas import records

MAGIC_SINGLE_OBJECT = b"\xc3\x01"
MAGIC_CONFLUENT = b"\x00"

# Parse order matters: ScoredObservation refers to Observation by name.
SCHEMA_FILES: dict[str, str] = {
    "RawWebhook": "raw_webhook.avsc",
    "Observation": "observation.avsc",
    "ScoredObservation": "scored_observation.avsc",
    "LatestMetric": "latest_metric.avsc",
    "UserEvent": "user_event.avsc",
    "OpsEvent": "ops_event.avsc",
    "DlqReplay": "dlq_replay.avsc",
    "QualityDaily": "quality_daily.avsc",
    "EventOutcome": "event_outcome.avsc",
    "ScoringGeneration": "scoring_generation.avsc",
}

R = TypeVar("R", bound="records._Record")


class DecodeError(ValueError):
    """The bytes are not a record this codec knows (wrong magic, unknown schema, corrupt body)."""


class SchemaRegistry(Protocol):
    """What the codec needs from a schema registry (see ``schemas.registry``)."""

    def register(self, subject: str, schema_json: str) -> int: ...

    def schema_json(self, schema_id: int) -> str: ...


def schema_text(name: str) -> str:
    return resources.files("schemas").joinpath("avro", SCHEMA_FILES[name]).read_text(encoding="utf-8")


@cache
def parsed_schemas() -> dict[str, Any]:
    """Every schema parsed once with fastavro (named types resolved)."""
    named: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for name in SCHEMA_FILES:
        out[name] = fastavro.parse_schema(json.loads(schema_text(name)), named_schemas=named)
    return out


def canonical_form(name: str) -> str:
    return str(to_parsing_canonical_form(parsed_schemas()[name]))


@cache
def schema_fingerprint(name: str) -> bytes:
    """CRC-64-AVRO fingerprint, little-endian, as single-object encoding writes it."""
    hex_fp = fingerprint(canonical_form(name), "CRC-64-AVRO")
    return int(hex_fp, 16).to_bytes(8, "little")


@cache
def _by_fingerprint() -> dict[bytes, str]:
    return {schema_fingerprint(name): name for name in SCHEMA_FILES}


class Codec:
    """Encode records to bytes and back. One instance per process; thread-safe for reads."""

    def __init__(self, registry: SchemaRegistry | None = None, subject_prefix: str = "vitalstream.") -> None:
        self._registry = registry
        self._subject_prefix = subject_prefix
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, tuple[str, Any]] = {}
        self._schemas = parsed_schemas()

    def encode(self, record: records._Record) -> bytes:
        name = record.SCHEMA
        buf = io.BytesIO()
        if self._registry is None:
            buf.write(MAGIC_SINGLE_OBJECT)
            buf.write(schema_fingerprint(name))
        else:
            buf.write(MAGIC_CONFLUENT)
            buf.write(struct.pack(">I", self._schema_id(name)))
        fastavro.schemaless_writer(buf, self._schemas[name], record.to_avro())
        return buf.getvalue()

    def decode(self, data: bytes) -> records._Record:
        name, body = self._split(data)
        try:
            value = fastavro.schemaless_reader(io.BytesIO(body), self._writer_schema(name, data), self._schemas[name])
        except Exception as exc:  # fastavro raises assorted errors on corrupt bodies
            raise DecodeError(f"corrupt {name} body: {type(exc).__name__}") from None
        assert isinstance(value, dict)
        return records.RECORD_TYPES[name].from_avro(value)

    def decode_as(self, data: bytes, cls: type[R]) -> R:
        record = self.decode(data)
        if not isinstance(record, cls):
            raise DecodeError(f"expected {cls.SCHEMA}, got {record.SCHEMA}")
        return record

    def schema_name(self, data: bytes) -> str:
        return self._split(data)[0]

    def _split(self, data: bytes) -> tuple[str, bytes]:
        if data[:2] == MAGIC_SINGLE_OBJECT and len(data) >= 10:
            name = _by_fingerprint().get(bytes(data[2:10]))
            if name is None:
                raise DecodeError("unknown schema fingerprint")
            return name, data[10:]
        if data[:1] == MAGIC_CONFLUENT and len(data) >= 5:
            (schema_id,) = struct.unpack(">I", data[1:5])
            return self._resolve_id(schema_id)[0], data[5:]
        raise DecodeError("not an Avro single-object or Confluent-framed record")

    def _writer_schema(self, name: str, data: bytes) -> Any:
        if data[:1] == MAGIC_CONFLUENT:
            return self._resolve_id(struct.unpack(">I", data[1:5])[0])[1]
        return self._schemas[name]

    def _schema_id(self, name: str) -> int:
        if name not in self._ids:
            assert self._registry is not None
            schema_id = self._registry.register(self._subject_prefix + name, schema_text(name))
            self._ids[name] = schema_id
            self._by_id[schema_id] = (name, self._schemas[name])
        return self._ids[name]

    def _resolve_id(self, schema_id: int) -> tuple[str, Any]:
        if schema_id not in self._by_id:
            if self._registry is None:
                raise DecodeError("Confluent-framed record but no schema registry configured")
            writer = json.loads(self._registry.schema_json(schema_id))
            full = f"{writer.get('namespace', '')}.{writer.get('name', '')}".lstrip(".")
            name = full.rsplit(".", 1)[-1]
            if name not in SCHEMA_FILES:
                raise DecodeError(f"schema id {schema_id} is {full}, not a vitalstream record")
            named: dict[str, Any] = {}
            if name == "ScoredObservation":
                fastavro.parse_schema(json.loads(schema_text("Observation")), named_schemas=named)
            self._by_id[schema_id] = (name, fastavro.parse_schema(writer, named_schemas=named))
        return self._by_id[schema_id]
