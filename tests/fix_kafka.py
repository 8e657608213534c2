"""Kafka fixtures.

Order (design §12): the broker named by ``VITALSTREAM_KAFKA_BOOTSTRAP``; else testcontainers
when a Docker engine answers; else a real Apache Kafka started by the local launcher
(jars from Maven Central, KRaft). Every test gets its own topic prefix and groups.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.fix_docker import docker_answers
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics
from vitalstream.stack.kafka import KafkaBroker, start_cluster


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("VITALSTREAM_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    if docker_answers():
        from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    brokers = start_cluster(tmp_path_factory.mktemp("kafka"))
    yield brokers[0].bootstrap
    for b in brokers:
        b.stop()


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def new_whsec() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def make_settings(bootstrap: str, **overrides: object) -> Settings:
    prefix = unique_prefix()
    values: dict[str, object] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": prefix,
        "group_prefix": prefix,
        "terra_secrets": [SecretStr(secrets.token_hex(16))],
        "webhook_secrets": {"acme": SecretStr(new_whsec())},
        "admin_token": SecretStr(secrets.token_urlsafe(24)),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(kafka_bootstrap: str) -> Settings:
    """Settings with a unique topic prefix whose whole catalogue exists on the real broker."""
    s = make_settings(kafka_bootstrap)
    report = ensure_topics(s)
    assert not report.problems, report.problems
    return s


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A dedicated single broker a test may stop and start (outage tests).

    Always from the local launcher, whatever serves ``kafka_bootstrap``: the test must own it.
    """
    (broker,) = start_cluster(tmp_path / "kafka")
    yield broker
    broker.stop()
