"""The codec: single-object framing as the Avro spec defines it, every record type round-trips in memory."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from typing import Any

import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form

from schemas import records
from schemas.codec import (
    MAGIC_SINGLE_OBJECT,
    SCHEMA_FILES,
    SINGLE_OBJECT_HEADER,
    Codec,
    DecodeError,
    canonical_form,
    crc64_avro,
    released_names,
    releases,
    schema_fingerprint,
    schema_text,
    standalone_schema,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
OBS = records.Observation(
    subject="ref-1",
    metric="body_weight",
    value=71.25,
    unit="kg",
    measured_at=NOW,
    provider="WITHINGS",
    event_id="e1",
    ordering_ts=NOW,
    measured_until=None,
    device="Body+",
    upload_type="AUTOMATIC",
    provenance="sensed",
    completeness=1.0,
    user_id="u1",
    source="terra",
)


def samples() -> list[records._Record]:
    return [
        records.RawWebhook(
            event_id="e1",
            source="terra",
            received_at=NOW,
            idempotency_key="k",
            body=b'{"a":1}',
            ordering_ts=NOW,
            trace_id="t",
            provider_user_id="u1",
            headers={"terra-reference": "r"},
        ),
        OBS,
        records.ScoredObservation(
            observation=OBS,
            confidence=88.5,
            level="excellent",
            scored_at=NOW,
            components={"P": 1.0, "R": 0.9},
            reliability=0.9,
        ),
        records.LatestMetric(
            subject="ref-1",
            metric="body_weight",
            value=71.25,
            unit="kg",
            measured_at=NOW,
            provider="WITHINGS",
            confidence=88.5,
            level="excellent",
            event_id="e1",
            ordering_ts=NOW,
            updated_at=NOW,
            reliability=0.9,
            generation=2,
        ),
        records.UserEvent(
            event_id="e2",
            kind="reauth",
            user_id="new",
            occurred_at=NOW,
            ordering_ts=NOW,
            old_user_id="old",
            provider="GARMIN",
            birth_year=1990,
            sex="female",
        ),
        records.OpsEvent(
            event_id="e3", source="terra", type="healthcheck", occurred_at=NOW, status="ok", details={"x": "1"}
        ),
        records.DlqReplay(
            dlq_partition=1,
            dlq_offset=42,
            original_topic="vitalstream.webhooks.raw",
            replayed_by="ops",
            replayed_at=NOW,
            event_id="e1",
        ),
        records.QualityDaily(
            day=date(2026, 11, 23), metric="step_count", provider="GARMIN", count=3, confidence_sum=240.0, good=3
        ),
        records.EventOutcome(
            event_id="e1",
            outcome="processed",
            stage="normalize",
            at=NOW,
            source="terra",
            event_type="body",
            observations=3,
        ),
        records.ScoringGeneration(
            generation=1_763_900_000,
            app_id="vitalstream-worker-g1763900000",
            switched_at=NOW,
            previous_app_id="vitalstream-worker",
            since=NOW,
            rebuilt_records=12,
            switched_by="ops",
        ),
        records.BackfillJob(
            reference="ref-1",
            status="sending",
            first_seen_at=NOW,
            last_seen_at=NOW,
            updated_at=NOW,
            user_id="u1",
            expected_payloads=3,
            chunks=[1, 2],
        ),
    ]


def test_every_schema_has_a_sample() -> None:
    assert {r.SCHEMA for r in samples()} == set(SCHEMA_FILES)


@pytest.mark.parametrize("record", samples(), ids=lambda r: r.SCHEMA)
def test_round_trip(record: records._Record) -> None:
    codec = Codec()
    data = codec.encode(record)
    assert data[:2] == MAGIC_SINGLE_OBJECT
    assert data[2:10] == schema_fingerprint(record.SCHEMA)
    assert codec.decode(data) == record


def test_fingerprints_are_distinct() -> None:
    assert len({schema_fingerprint(n) for n in SCHEMA_FILES}) == len(SCHEMA_FILES)


@pytest.mark.parametrize("data", [b"", b"{}", b"\xc3\x01" + b"\x00" * 8 + b"x", b"\x00\x00\x00\x00\x01"])
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Codec().decode(data)


def test_corrupt_body_is_a_decode_error() -> None:
    data = Codec().encode(OBS)
    with pytest.raises(DecodeError):
        Codec().decode(data[:14])


def test_decode_as_checks_type() -> None:
    data = Codec().encode(OBS)
    assert Codec().decode_as(data, records.Observation) == OBS
    with pytest.raises(DecodeError):
        Codec().decode_as(data, records.LatestMetric)


def test_crc64_avro_matches_the_published_vectors() -> None:
    """Vectors from the Apache Avro test suite (lang/py test_schema.py FINGERPRINT_EXAMPLES)."""
    assert crc64_avro('"int"') == bytes.fromhex("8f5c393f1ad57572")
    assert crc64_avro('"string"') == bytes.fromhex("c70345637248018f")
    assert crc64_avro('{"type":"array","items":"long"}') == bytes.fromhex("715e2ea28bc91654")


def test_canonical_form_writes_nested_named_types_in_full() -> None:
    form = canonical_form("ScoredObservation")
    assert form.startswith('{"name":"io.vitalstream.ScoredObservation","type":"record","fields":[')
    assert '{"name":"observation","type":{"name":"io.vitalstream.Observation","type":"record"' in form
    assert "doc" not in form and "default" not in form and "logicalType" not in form


def _legacy_header(name: str) -> bytes:
    """The header 0.1.x wrote: fingerprint byte-reversed, nested types referenced by name."""
    named: dict[str, Any] = {}
    for other in SCHEMA_FILES:
        parsed = fastavro.parse_schema(json.loads(schema_text(other)), named_schemas=named)
        if other == name:
            return MAGIC_SINGLE_OBJECT + crc64_avro(str(to_parsing_canonical_form(parsed)))[::-1]
    raise KeyError(name)


@pytest.mark.parametrize("record", samples(), ids=lambda r: r.SCHEMA)
def test_records_written_by_the_previous_release_stay_readable(record: records._Record) -> None:
    """Readers accept the 0.1.x fingerprints until release 0.3.0 (see schemas.codec)."""
    codec = Codec()
    current = codec.encode(record)
    legacy = _legacy_header(record.SCHEMA) + current[SINGLE_OBJECT_HEADER:]
    assert legacy[:SINGLE_OBJECT_HEADER] != current[:SINGLE_OBJECT_HEADER]
    assert codec.decode(legacy) == record


def test_a_confluent_framed_record_needs_a_registry() -> None:
    with pytest.raises(DecodeError, match="no schema registry configured"):
        Codec().decode(b"\x00\x00\x00\x00\x07" + b"\x02")


@pytest.mark.parametrize("release", releases())
def test_records_written_with_any_released_schema_still_decode(release: str) -> None:
    """A compacted topic keeps records written before a schema change: readers resolve them."""
    codec = Codec()
    for record in samples():
        name = record.SCHEMA
        if name not in released_names(release):
            continue
        writer = fastavro.parse_schema(standalone_schema(name, release), named_schemas={})
        body = io.BytesIO()
        fastavro.schemaless_writer(body, writer, record.to_avro())
        header = crc64_avro(str(to_parsing_canonical_form(writer)))
        decoded = codec.decode(MAGIC_SINGLE_OBJECT + header + body.getvalue())
        again = io.BytesIO()
        fastavro.schemaless_writer(again, writer, decoded.to_avro())
        assert name == decoded.SCHEMA
        assert again.getvalue() == body.getvalue(), f"{name} as written by {release}"
