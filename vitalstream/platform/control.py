"""The control topic: which scoring generation the live workers run (see :mod:`streams.generation`).

Shared by the worker (which generation to be, when to switch), ``vitalstream recompute``
(which generation comes next, the switch itself) and the health check (which consumer group
is the live worker's).
"""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.records import ScoringGeneration
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings

CONTROL_KEY = b"scoring"
"""Key of the live scoring generation in the ``control`` topic."""


def base_app_id(settings: Settings) -> str:
    return settings.group_prefix + "worker"


def app_id_for(settings: Settings, generation: int) -> str:
    """``<prefix>worker`` for generation 0 (so existing deployments keep their state), else ``-gN``."""
    base = base_app_id(settings)
    return base if generation == 0 else f"{base}-g{generation}"


def kafka_consumer(settings: Settings, group: str | None = None) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group or f"{settings.group_prefix}control-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )


def topic_exists(consumer: Consumer, topic: str, timeout_s: float) -> bool:
    meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    return meta is not None and meta.error is None


def read_active(settings: Settings, timeout_s: float = 10.0) -> ScoringGeneration | None:
    """The live generation as the control topic says (None: never switched, i.e. generation 0).

    Raises ``confluent_kafka.KafkaException`` when the broker cannot be asked within the timeout.
    """
    topic = settings.topic("control")
    consumer = kafka_consumer(settings)
    try:
        if not topic_exists(consumer, topic, timeout_s):
            return None  # `vitalstream topics create` makes it; without it nothing ever switched
        tp = TopicPartition(topic, 0)
        low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
        if high <= low:
            return None
        tp.offset = low
        consumer.assign([tp])
        codec = codec_for(settings)
        active: ScoringGeneration | None = None
        position = low
        while position < high:
            msg = consumer.poll(timeout_s)
            if msg is None:
                raise TimeoutError(f"reading {topic} stopped at offset {position} of {high}")
            if msg.error():
                continue
            offset = msg.offset()
            position = (offset if offset is not None else position) + 1
            value = msg.value()
            if msg.key() == CONTROL_KEY and value is not None:
                active = codec.decode_as(value, ScoringGeneration)
        return active
    finally:
        consumer.close()


def active_generation(settings: Settings) -> int:
    record = read_active(settings)
    return 0 if record is None else record.generation


def publish(settings: Settings, record: ScoringGeneration, timeout_s: float = 30.0) -> None:
    """Write the live generation (acks=all; raises if the broker did not acknowledge it)."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True})
    failures: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    producer.produce(
        settings.topic("control"), key=CONTROL_KEY, value=codec_for(settings).encode(record), on_delivery=on_delivery
    )
    if producer.flush(timeout_s) or failures:
        raise RuntimeError(f"the control record was not acknowledged: {failures or 'timed out'}")


def live_worker_group(settings: Settings) -> str:
    """The consumer group (= Faust app id) of the live worker."""
    active = read_active(settings, timeout_s=settings.health_check_timeout_s)
    return active.app_id if active is not None else app_id_for(settings, 0)
