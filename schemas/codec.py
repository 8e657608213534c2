"""Avro encoding of every record type, exactly as the Avro specification defines it.

Default wire format: Avro single-object encoding — ``C3 01``, the 8-byte little-endian
CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, then the Avro body. The
canonical form writes every named type in full at its first use (``ScoredObservation``
carries the whole ``Observation`` record), so any Avro implementation can find the writer's
schema from the ``.avsc`` files alone.

With a schema registry (``vitalstream.platform.codec``), the Confluent wire format is
written instead (``00`` + 4-byte big-endian schema id + body); readers there take both.

Legacy fingerprints (removed in release 0.3.0): releases up to 0.1.x wrote the fingerprint
byte-reversed and fingerprinted ``ScoredObservation`` over a form that referenced
``Observation`` by name. :class:`Codec` still *reads* those headers (same bodies) so topics
written by 0.1.x stay readable through release 0.2.x; nothing writes them any more.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas import records

MAGIC_SINGLE_OBJECT = b"\xc3\x01"
MAGIC_CONFLUENT = b"\x00"
SINGLE_OBJECT_HEADER = len(MAGIC_SINGLE_OBJECT) + 8
NAMESPACE = "io.vitalstream"

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
    "BackfillJob": "backfill_job.avsc",
}

R = TypeVar("R", bound="records._Record")


class DecodeError(ValueError):
    """The bytes are not a record this codec knows (wrong magic, unknown schema, corrupt body)."""


def schema_text(name: str, release: str | None = None) -> str:
    """The ``.avsc`` text of ``name``: the current one, or as ``schemas/avro/released/<release>/`` has it."""
    folder = resources.files("schemas").joinpath("avro")
    if release is not None:
        folder = folder.joinpath("released", release)
    return folder.joinpath(SCHEMA_FILES[name]).read_text(encoding="utf-8")


def releases() -> list[str]:
    """Every released schema set, oldest first (``v1``, ``v2``, …)."""
    released = resources.files("schemas").joinpath("avro", "released")
    return sorted((d.name for d in released.iterdir() if d.is_dir()), key=lambda v: int(v.lstrip("v")))


def released_names(release: str) -> list[str]:
    folder = resources.files("schemas").joinpath("avro", "released", release)
    return [name for name, file in SCHEMA_FILES.items() if folder.joinpath(file).is_file()]


def full_name(name: str) -> str:
    return f"{NAMESPACE}.{name}"


def _inline(node: Any, defined: set[str], release: str | None) -> Any:
    """``node`` with each reference to one of our named types replaced by its full schema at first use."""
    if isinstance(node, str):
        short = node.removeprefix(NAMESPACE + ".")
        if node not in defined and short in SCHEMA_FILES and node == full_name(short):
            return _inline(json.loads(schema_text(short, release)), defined, release)
        return node
    if isinstance(node, list):
        return [_inline(item, defined, release) for item in node]
    if isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed") and "name" in node:
            name = node["name"]
            defined.add(name if "." in name else f"{node.get('namespace', NAMESPACE)}.{name}")
        return {k: _inline(v, defined, release) for k, v in node.items()}
    return node


@cache
def _standalone(name: str, release: str | None) -> str:
    return json.dumps(_inline(json.loads(schema_text(name, release)), set(), release))


def standalone_schema(name: str, release: str | None = None) -> Any:
    """The schema JSON with every named type it uses written in full (no outside references)."""
    return json.loads(_standalone(name, release))


@cache
def parsed_schemas() -> dict[str, Any]:
    """Every schema parsed once with fastavro, each self-contained."""
    return {name: fastavro.parse_schema(standalone_schema(name), named_schemas={}) for name in SCHEMA_FILES}


def canonical_form(name: str) -> str:
    """The Parsing Canonical Form (Avro spec): attributes stripped, full names, fixed key order."""
    return str(to_parsing_canonical_form(parsed_schemas()[name]))


def crc64_avro(text: str) -> bytes:
    """CRC-64-AVRO (Rabin) fingerprint of ``text``, as the 8 little-endian bytes the spec writes."""
    return bytes.fromhex(fingerprint(text, "CRC-64-AVRO"))


@cache
def schema_fingerprint(name: str) -> bytes:
    """The fingerprint single-object encoding writes for ``name``."""
    return crc64_avro(canonical_form(name))


@cache
def single_object_header(name: str) -> bytes:
    """``C3 01`` + fingerprint: the first 10 bytes of every single-object ``name`` record."""
    return MAGIC_SINGLE_OBJECT + schema_fingerprint(name)


def _legacy_fingerprint(name: str, release: str | None = None) -> bytes:
    """What 0.1.x wrote: byte-reversed, over a form that names (not inlines) nested records."""
    named: dict[str, Any] = {}
    for other in released_names(release) if release else SCHEMA_FILES:
        parsed = fastavro.parse_schema(json.loads(schema_text(other, release)), named_schemas=named)
        if other == name:
            return crc64_avro(str(to_parsing_canonical_form(parsed)))[::-1]
    raise KeyError(name)


@dataclass(frozen=True, slots=True)
class WriterSchema:
    """A schema some release wrote with: the record it decodes to, and the writer schema when it is not ours."""

    name: str
    writer: Any = None
    """None: the current schema; else the parsed older schema to resolve against the current one."""


@cache
def _by_fingerprint() -> dict[bytes, WriterSchema]:
    """Every fingerprint a writer of any release used → how to read it.

    Records written with an older released schema are resolved against the current one (Avro
    schema resolution: fields added since take their defaults), so a compacted topic written
    before a schema change stays readable. The byte-reversed legacy fingerprints of 0.1.x are
    accepted until release 0.3.0.
    """
    known: dict[bytes, WriterSchema] = {}
    for release in releases():
        for name in released_names(release):
            writer = fastavro.parse_schema(standalone_schema(name, release), named_schemas={})
            older = WriterSchema(name, writer)
            known[_legacy_fingerprint(name, release)] = older
            known[crc64_avro(str(to_parsing_canonical_form(writer)))] = older
    known.update({_legacy_fingerprint(name): WriterSchema(name) for name in SCHEMA_FILES})
    known.update({schema_fingerprint(name): WriterSchema(name) for name in SCHEMA_FILES})
    return known


class Codec:
    """Single-object Avro: encode records to bytes and back. One per process; thread-safe for reads.

    Confluent-framed records (``00`` + schema id) need a registry to resolve the id: this codec
    refuses them with a :class:`DecodeError`; ``vitalstream.platform.codec`` builds one that reads them.
    """

    def __init__(self) -> None:
        self._schemas = parsed_schemas()
        self._headers = {name: single_object_header(name) for name in SCHEMA_FILES}

    def encode(self, record: records._Record) -> bytes:
        name = record.SCHEMA
        buf = io.BytesIO()
        buf.write(self._headers[name])
        fastavro.schemaless_writer(buf, self._schemas[name], record.to_avro())
        return buf.getvalue()

    def decode(self, data: bytes) -> records._Record:
        if data[:1] == MAGIC_CONFLUENT:
            return self._decode_confluent(data)
        found = self._writer_of(data)
        return self._read_body(found.name, data[SINGLE_OBJECT_HEADER:], found.writer)

    def decode_as(self, data: bytes, cls: type[R]) -> R:
        record = self.decode(data)
        if not isinstance(record, cls):
            raise DecodeError(f"expected {cls.SCHEMA}, got {record.SCHEMA}")
        return record

    def schema_name(self, data: bytes) -> str:
        """The record name of a single-object record (any release's fingerprint, spec or legacy)."""
        return self._writer_of(data).name

    @staticmethod
    def _writer_of(data: bytes) -> WriterSchema:
        if data[:2] != MAGIC_SINGLE_OBJECT or len(data) < SINGLE_OBJECT_HEADER:
            raise DecodeError("not an Avro single-object or Confluent-framed record")
        found = _by_fingerprint().get(bytes(data[2:SINGLE_OBJECT_HEADER]))
        if found is None:
            raise DecodeError("unknown schema fingerprint")
        return found

    def _read_body(self, name: str, body: bytes, writer: Any = None) -> records._Record:
        reader = self._schemas[name]
        try:
            if writer is None:
                value = fastavro.schemaless_reader(io.BytesIO(body), reader, None)
            else:
                value = fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
        except Exception as exc:  # fastavro raises assorted errors on corrupt bodies
            raise DecodeError(f"corrupt {name} body: {type(exc).__name__}") from None
        return from_avro(name, value)

    def _decode_confluent(self, data: bytes) -> records._Record:
        raise DecodeError("Confluent-framed record but no schema registry configured (VITALSTREAM_SCHEMA_REGISTRY_URL)")


def from_avro(name: str, value: Any) -> records._Record:
    """The record of a decoded Avro value of schema ``name``."""
    if not isinstance(value, dict):
        raise DecodeError(f"{name} body is not a record")
    return records.RECORD_TYPES[name].from_avro(value)
