"""``VITALSTREAM_SCHEMA_REGISTRY_URL`` against a real registry (Apicurio's Confluent-compatible API)
and the real broker: every catalogue topic written through the services' codec, read back."""

from __future__ import annotations

import json
import struct

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from schemas.codec import Codec, DecodeError, standalone_schema
from schemas.records import _Record
from schemas.topics import CATALOGUE
from tests.fix_kafka import make_settings
from tests.kafka_helpers import consume_all
from tests.unit.test_codec import OBS, samples
from vitalstream.platform import kafka
from vitalstream.platform.codec import RegistryCodec, codec_for
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics


def test_every_topic_through_the_registry_codec(kafka_bootstrap: str, schema_registry_url: str) -> None:
    settings = make_settings(kafka_bootstrap, schema_registry_url=schema_registry_url)
    assert not ensure_topics(settings).problems
    codec = codec_for(settings)
    assert isinstance(codec, RegistryCodec)
    by_schema = {r.SCHEMA: r for r in samples()}
    topics = [t for t in CATALOGUE if t.value_schema is not None]
    out = [kafka.OutRecord(settings.topic(t.name), codec.encode(by_schema[str(t.value_schema)]), b"k") for t in topics]
    # a record written before the deployment switched to the registry, on the same topic
    out.append(kafka.OutRecord(settings.topic("metrics.normalized"), Codec().encode(OBS), b"old"))
    kafka.produce_all(kafka.producer(settings, "test"), out, timeout_s=30)

    with SchemaRegistryClient({"url": schema_registry_url}) as client:
        _check_topics(settings, client, by_schema)
    # without the registry URL the Confluent-framed records cannot be resolved, and say so
    with pytest.raises(DecodeError, match="no schema registry configured"):
        Codec().decode(codec.encode(OBS))


def _check_topics(settings: Settings, client: SchemaRegistryClient, by_schema: dict[str, _Record]) -> None:
    reader = RegistryCodec(client)  # shares nothing with the writer but the registry
    for topic in (t for t in CATALOGUE if t.value_schema is not None):
        messages = consume_all(settings, topic.name, expected=2 if topic.name == "metrics.normalized" else 1)
        name = str(topic.value_schema)
        new = [m.value() for m in messages if m.key() == b"k"]
        assert len(new) == 1
        data = new[0]
        assert data[:1] == b"\x00"
        (schema_id,) = struct.unpack(">I", data[1:5])
        registered = client.get_latest_version(f"io.vitalstream.{name}")
        assert registered.schema_id == schema_id
        assert json.loads(registered.schema.schema_str) == standalone_schema(name)
        assert reader.decode(data) == by_schema[name]
        if topic.name == "metrics.normalized":
            (old,) = [m.value() for m in messages if m.key() == b"old"]
            assert reader.decode(old) == OBS
