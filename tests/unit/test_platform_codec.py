"""The codec factory and the Confluent framing of the registry codec.

The registry here is confluent-kafka's own in-memory client (``mock://``); these are tests of
our framing, not of a registry (the integration test uses a real one where it can run).
"""

from __future__ import annotations

import json
import struct

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from schemas import records
from schemas.codec import Codec, DecodeError, schema_text, standalone_schema
from streams.encoders import RecordEncoder
from tests.unit.test_codec import OBS, samples
from tests.unit.test_codec_independent import read_single_object
from vitalstream.platform.codec import RegistryCodec, codec_for
from vitalstream.platform.settings import Settings


def _client(name: str) -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": f"mock://{name}"})


def test_without_a_registry_url_the_codec_writes_single_object_records() -> None:
    codec = codec_for(Settings())
    assert type(codec) is Codec
    assert read_single_object(codec.encode(OBS))[0] == "Observation"


def test_with_a_registry_url_the_codec_is_registry_backed() -> None:
    assert isinstance(codec_for(Settings(schema_registry_url="http://127.0.0.1:1")), RegistryCodec)


@pytest.mark.parametrize("record", samples(), ids=lambda r: r.SCHEMA)
def test_confluent_framing_magic_id_and_body(record: records._Record) -> None:
    client = _client(f"framing-{record.SCHEMA.lower()}")
    data = RegistryCodec(client).encode(record)
    assert data[:1] == b"\x00"
    (schema_id,) = struct.unpack(">I", data[1:5])
    registered = client.get_latest_version(f"io.vitalstream.{record.SCHEMA}")
    assert registered.schema_id == schema_id
    assert json.loads(registered.schema.schema_str) == standalone_schema(record.SCHEMA)
    # the body after the 5-byte header is the same Avro body single-object encoding carries
    assert data[5:] == Codec().encode(record)[10:]
    # a fresh codec that shares only the registry reads it
    assert RegistryCodec(client).decode(data) == record


def test_registry_codec_reads_single_object_records_and_plain_codec_refuses_confluent_ones() -> None:
    codec = RegistryCodec(_client("both"))
    assert codec.decode(Codec().encode(OBS)) == OBS
    with pytest.raises(DecodeError, match="no schema registry"):
        Codec().decode(codec.encode(OBS))


def test_the_registered_scored_observation_carries_observation_in_full() -> None:
    fields = {f["name"]: f["type"] for f in standalone_schema("ScoredObservation")["fields"]}
    assert fields["observation"] == json.loads(schema_text("Observation"))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00\x00", "truncated"),
        (b"\x00\x00\x00\x03\xe7\x02", "not in the schema registry"),
    ],
)
def test_unresolvable_confluent_records_are_decode_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        RegistryCodec(_client("errors")).decode(data)


def test_a_foreign_schema_id_is_a_decode_error() -> None:
    client = _client("foreign")
    other = client.register_schema("other", Schema('{"type":"record","name":"X","fields":[]}', "AVRO"))
    with pytest.raises(DecodeError, match="not a vitalstream record"):
        RegistryCodec(client).decode(b"\x00" + struct.pack(">I", other) + b"")


def test_a_corrupt_confluent_body_is_a_decode_error() -> None:
    codec = RegistryCodec(_client("corrupt"))
    data = codec.encode(OBS)
    with pytest.raises(DecodeError, match="corrupt Observation body"):
        codec.decode(data[:8])


def test_the_workers_fast_writers_fall_back_to_the_registry_codec() -> None:
    """streams.encoders writes single-object headers by hand: with a registry codec it must not."""
    codec = RegistryCodec(_client("encoders"))
    encoder = RecordEncoder(codec)
    assert not encoder.enabled
    data = encoder.observation(OBS)
    assert data[:1] == b"\x00" and codec.decode(data) == OBS
