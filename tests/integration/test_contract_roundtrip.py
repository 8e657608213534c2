"""Every Avro record type survives a trip through the real broker, keys and headers intact."""

from __future__ import annotations

import time

from schemas.codec import Codec
from schemas.topics import CATALOGUE
from tests.kafka_helpers import consume_all
from tests.unit.test_codec import samples
from tests.unit.test_codec_independent import read_single_object
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import admin_client, ensure_topics


def test_every_record_type_round_trips_through_kafka(settings: Settings) -> None:
    codec = Codec()
    records = samples()
    out = [
        kafka.OutRecord(
            settings.topic("metrics.normalized"), codec.encode(r), f"k{i}".encode(), [("vs.test", r.SCHEMA.encode())]
        )
        for i, r in enumerate(records)
    ]
    kafka.produce_all(kafka.producer(settings, "test"), out, timeout_s=10)
    messages = consume_all(settings, "metrics.normalized", expected=len(records))
    got = {m.key().decode(): (codec.decode(m.value()), dict(m.headers())) for m in messages}
    assert len(messages) == len(records)
    for i, record in enumerate(records):
        decoded, headers = got[f"k{i}"]
        assert decoded == record
        assert headers["vs.test"] == record.SCHEMA.encode()


def test_the_avro_reference_package_reads_every_catalogue_topic(settings: Settings) -> None:
    """Each topic's records, written by the services' codec and read back off the broker by an
    independent implementation of the spec (the Apache ``avro`` package, from the ``.avsc`` files)."""
    codec = codec_for(settings)
    by_schema = {r.SCHEMA: r for r in samples()}
    topics = [t for t in CATALOGUE if t.value_schema is not None]
    out = [kafka.OutRecord(settings.topic(t.name), codec.encode(by_schema[str(t.value_schema)]), b"k") for t in topics]
    kafka.produce_all(kafka.producer(settings, "test"), out, timeout_s=10)
    for topic in topics:
        (message,) = consume_all(settings, topic.name, expected=1)
        name, value = read_single_object(message.value())
        assert name == topic.value_schema
        assert value == by_schema[name].to_avro()


def test_topics_create_is_idempotent_and_matches_the_catalogue(settings: Settings) -> None:
    again = ensure_topics(settings)
    assert again.created == [] and again.problems == [] and again.fixed == []
    md = admin_client(settings).list_topics(timeout=10)
    for spec in CATALOGUE:
        topic = md.topics[settings.topic(spec.name)]
        assert len(topic.partitions) == spec.partitions


def test_topics_create_fixes_a_drifted_config(settings: Settings) -> None:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource  # type: ignore[import-untyped]

    admin = admin_client(settings)
    res = ConfigResource(
        ConfigResource.Type.TOPIC,
        settings.topic("dlq"),
        incremental_configs=[ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)],
    )
    admin.incremental_alter_configs([res])[res].result()
    probe = ConfigResource(ConfigResource.Type.TOPIC, settings.topic("dlq"))
    deadline = time.monotonic() + 10
    while admin.describe_configs([probe])[probe].result()["retention.ms"].value != "1000":
        assert time.monotonic() < deadline, "the drift never became visible"
        time.sleep(0.1)
    report = ensure_topics(settings)
    assert any(line.startswith(settings.topic("dlq") + ":") for line in report.fixed), report
    assert ensure_topics(settings).fixed == []
