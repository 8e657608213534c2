"""Every Avro record type survives a trip through the real broker, keys and headers intact."""

from __future__ import annotations

import time

from confluent_kafka import Producer  # type: ignore[import-untyped]

from schemas.codec import Codec
from schemas.topics import CATALOGUE
from tests.kafka_helpers import consume_all
from tests.unit.test_codec import samples
from tests.unit.test_codec_independent import read_single_object
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import admin_client, ensure_topics


def test_every_record_type_round_trips_through_kafka(settings: Settings) -> None:
    codec = Codec()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True})
    records = samples()
    failures: list[object] = []
    for i, record in enumerate(records):
        producer.produce(
            settings.topic("metrics.normalized"),
            key=f"k{i}".encode(),
            value=codec.encode(record),
            headers=[("vs.test", record.SCHEMA.encode())],
            on_delivery=lambda err, _m: failures.append(err) if err else None,
        )
    assert producer.flush(10) == 0
    assert failures == []
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
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True})
    for topic in topics:
        producer.produce(settings.topic(topic.name), key=b"k", value=codec.encode(by_schema[topic.value_schema]))
    assert producer.flush(10) == 0
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
