"""The control topic: which scoring generation the live workers run (see :mod:`streams.generation`).

Shared by the worker (which generation to be, when to switch), ``vitalstream recompute``
(which generation comes next, the switch itself) and the health check (which consumer group
is the live worker's).
"""

from __future__ import annotations

from schemas.records import ScoringGeneration
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings

CONTROL_KEY = b"scoring"
"""Key of the live scoring generation in the ``control`` topic."""


def base_app_id(settings: Settings) -> str:
    return settings.group_prefix + "worker"


def fetch_group(settings: Settings) -> str:
    """The fetch stage's consumer group (``<prefix>worker-fetch``): one for every scoring generation,
    so a switch-over never downloads the pings of the whole raw topic again."""
    return base_app_id(settings) + "-fetch"


def app_id_for(settings: Settings, generation: int) -> str:
    """``<prefix>worker`` for generation 0 (so existing deployments keep their state), else ``-gN``."""
    base = base_app_id(settings)
    return base if generation == 0 else f"{base}-g{generation}"


def read_active(settings: Settings, timeout_s: float = 10.0) -> ScoringGeneration | None:
    """The live generation as the control topic says (None: never switched, i.e. generation 0).

    Raises ``confluent_kafka.KafkaException`` when the broker cannot be asked within the timeout,
    :class:`~vitalstream.platform.kafka.ReadIncomplete` when the topic cannot be read to its end.
    """
    topic = settings.topic("control")
    reader = kafka.consumer(settings, "control-reader")
    try:
        if not kafka.topic_exists(reader, topic, timeout_s):
            return None  # `vitalstream topics create` makes it; without it nothing ever switched
        codec = codec_for(settings)
        active: ScoringGeneration | None = None
        for msg in kafka.iter_to_end(reader, topic, timeout_s=timeout_s):
            value = msg.value()
            if msg.key() == CONTROL_KEY and value is not None:
                active = codec.decode_as(value, ScoringGeneration)
        return active
    finally:
        reader.close()


def active_generation(settings: Settings) -> int:
    record = read_active(settings)
    return 0 if record is None else record.generation


def publish(settings: Settings, record: ScoringGeneration, timeout_s: float = 30.0) -> None:
    """Write the live generation; raises :class:`~vitalstream.platform.kafka.DeliveryFailed` if not acknowledged."""
    producer = kafka.producer(settings, "control")
    kafka.produce_all(
        producer,
        [kafka.OutRecord(settings.topic("control"), codec_for(settings).encode(record), CONTROL_KEY)],
        timeout_s=timeout_s,
    )


def live_worker_group(settings: Settings) -> str:
    """The consumer group (= Faust app id) of the live worker."""
    active = read_active(settings, timeout_s=settings.health_check_timeout_s)
    return active.app_id if active is not None else app_id_for(settings, 0)
