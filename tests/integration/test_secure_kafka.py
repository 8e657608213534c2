"""Kafka in secure mode (SASL_SSL, SCRAM-SHA-512, ACLs per principal) on the real broker: every refusal."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from tests.fix_secure import SecureKafka
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

pytestmark = pytest.mark.secure


@pytest.fixture
def base(secure_kafka: SecureKafka) -> Settings:
    """Super-user settings on a fresh prefix whose catalogue and ACLs exist."""
    return secure_kafka.prepare()


def _answers(settings: Settings) -> bool:
    try:
        kafka.admin(settings, "probe", socket_timeout_ms=3000).list_topics(timeout=5)
    except KafkaException:
        return False
    return True


def _write(settings: Settings, topic: str) -> None:
    record = kafka.OutRecord(settings.topic(topic), b"v", b"k")
    kafka.produce_all(kafka.producer(settings, "test", **{"message.timeout.ms": 5000}), [record], timeout_s=10)


def _read_error(settings: Settings, topic: str, client_id: str = "test") -> int:
    """The broker's error code when ``settings``' principal reads ``topic`` (0: it could read).

    The reader's group is ``<group prefix><client_id>-…``: the analyst's own groups start with ``analyst``."""
    try:
        kafka.read_to_end(settings, settings.topic(topic), client_id, timeout_s=10)
    except KafkaException as exc:
        return int(exc.args[0].code())
    return 0


def test_anonymous_and_wrong_password_are_refused(secure_kafka: SecureKafka, base: Settings) -> None:
    plaintext = base.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    tls_only = base.model_copy(update={"kafka_security_protocol": "SSL"})
    wrong = secure_kafka.as_principal(base, "analyst", password="not-the-password")
    assert not _answers(plaintext)
    assert not _answers(tls_only)
    assert not _answers(wrong)
    assert _answers(secure_kafka.as_principal(base, "analyst"))


def test_gateway_writes_raw_but_cannot_read_it_or_write_control_topics(
    secure_kafka: SecureKafka, base: Settings
) -> None:
    gateway = secure_kafka.as_principal(base, "gateway")
    _write(gateway, "webhooks.raw")
    assert len(kafka.read_to_end(base, base.topic("webhooks.raw"), "test")) == 1
    # no consumer group of its own either: refused at the group or at the topic, never served
    assert _read_error(gateway, "webhooks.raw") in (
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    )
    for topic in ("users", "control", "metrics.latest"):
        with pytest.raises(kafka.DeliveryFailed):
            _write(gateway, topic)


def test_analyst_reads_metrics_only_and_writes_nothing(secure_kafka: SecureKafka, base: Settings) -> None:
    analyst = secure_kafka.as_principal(base, "analyst")
    _write(secure_kafka.as_principal(base, "worker"), "metrics.latest")
    assert [m.value() for m in kafka.read_to_end(analyst, analyst.topic("metrics.latest"), "analyst")] == [b"v"]
    _write(base, "webhooks.raw")
    assert _read_error(analyst, "webhooks.raw", "analyst") in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.UNKNOWN_TOPIC_OR_PART,  # not even described to the analyst
    )
    for topic in ("metrics.latest", "metrics.scored", "dlq", "webhooks.raw"):
        with pytest.raises(kafka.DeliveryFailed):
            _write(analyst, topic)


def test_sink_and_ops_keep_to_their_topics(secure_kafka: SecureKafka, base: Settings) -> None:
    sink = secure_kafka.as_principal(base, "sink")
    ops = secure_kafka.as_principal(base, "ops")
    _write(sink, "dlq")
    _write(ops, "dlq.replays")
    _write(ops, "control")
    assert _read_error(sink, "webhooks.raw", "sink") != 0
    for principal, topic in ((sink, "users"), (sink, "control"), (ops, "metrics.latest")):
        with pytest.raises(kafka.DeliveryFailed):
            _write(principal, topic)
    assert _read_error(ops, "dlq", "ops") == 0
