"""Records up to the body cap: topic and broker limits, and what happens to a record Kafka refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from schemas import deadletter as D
from schemas.topics import BY_NAME, MAX_MESSAGE_BYTES, RAW_BODY_TOPICS, RETRY_TIERS
from streams.agents_io import Out, refused_to_dead_letter
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings
from vitalstream.stack.kafka import KafkaBroker

ROOT = Path(__file__).resolve().parents[2]


def test_every_topic_that_copies_raw_bodies_accepts_records_up_to_the_cap() -> None:
    assert set(RAW_BODY_TOPICS) == {"webhooks.raw", "webhooks.backfill", "dlq", *RETRY_TIERS}
    for name in RAW_BODY_TOPICS:
        assert BY_NAME[name].config()["max.message.bytes"] == str(MAX_MESSAGE_BYTES)
    assert Settings().max_body_bytes + 1024 * 1024 < MAX_MESSAGE_BYTES  # body + encoding + headers
    assert kafka.MAX_RECORD_BYTES == MAX_MESSAGE_BYTES == kafka.PRODUCER_DEFAULTS["message.max.bytes"]
    assert kafka.CONSUMER_DEFAULTS["max.partition.fetch.bytes"] >= MAX_MESSAGE_BYTES


def test_local_and_compose_brokers_accept_records_up_to_the_cap(tmp_path: Path) -> None:
    props = KafkaBroker(tmp_path).properties().splitlines()
    assert f"message.max.bytes={MAX_MESSAGE_BYTES}" in props
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["kafka"]["environment"]["KAFKA_MESSAGE_MAX_BYTES"] == str(MAX_MESSAGE_BYTES)


@pytest.mark.parametrize(
    ("name", "permanent"),
    [
        ("MSG_SIZE_TOO_LARGE", True),
        ("_MSG_SIZE_TOO_LARGE", True),
        ("INVALID_RECORD", True),
        ("_MSG_TIMED_OUT", False),
        ("NOT_ENOUGH_REPLICAS", False),
        (None, False),
    ],
)
def test_permanent_produce_errors(name: str | None, permanent: bool) -> None:
    assert kafka.is_permanent_produce_error(name) is permanent


def test_a_refused_record_is_dead_lettered_without_its_value_and_with_every_header() -> None:
    headers = [(D.ORIGINAL_TOPIC, b"vitalstream.webhooks.raw"), (D.ORIGINAL_PARTITION, b"2"), (D.ORIGINAL_OFFSET, b"7")]
    big = Out("vitalstream.retry.5s", b"k", b"x" * 100, headers)
    failed: list[Out] = []
    [dead] = refused_to_dead_letter([(big, "MSG_SIZE_TOO_LARGE")], "vitalstream.dlq", failed)
    assert dead.topic == "vitalstream.dlq" and dead.key == b"k" and dead.value is None
    assert dead.headers == [*headers, (D.VALUE_REFUSED, b"MSG_SIZE_TOO_LARGE")]
    assert failed == []


def test_a_refused_value_free_record_is_not_retried_forever() -> None:
    failed: list[Out] = []
    assert (
        refused_to_dead_letter([(Out("vitalstream.dlq", b"k", None), "MSG_SIZE_TOO_LARGE")], "vitalstream.dlq", failed)
        == []
    )
    assert failed == []


def test_without_a_dead_letter_topic_a_refused_record_is_retried() -> None:
    failed: list[Out] = []
    out = Out("changelog", b"k", b"v")
    assert refused_to_dead_letter([(out, "INVALID_RECORD")], None, failed) == []
    assert failed == [out]
