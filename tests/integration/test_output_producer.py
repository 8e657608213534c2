"""The worker's output producer on a real broker: a send goes out at once, whatever the producer's linger."""

from __future__ import annotations

import time

from streams.agents_io import Out, OutputProducer, worker_producer_config
from tests.kafka_helpers import consume_all
from vitalstream.platform.settings import Settings

LINGER_MS = 3000
"""Far longer than a send may take: a send that waited out the linger would show it plainly."""


async def test_a_send_does_not_wait_out_the_producers_linger(settings: Settings) -> None:
    """An agent waits for its whole batch's acknowledgements, so lingering after its last produce only
    delays the batch (and every batch behind it): the send flushes instead."""
    topic = settings.topic("ops.events")
    producer = OutputProducer({**worker_producer_config(settings), "linger.ms": LINGER_MS})
    try:
        await producer.send([Out(topic, b"warm", b"up")])  # connection and metadata are not the send's
        outs = [Out(topic, f"k{i}".encode(), f"v{i}".encode()) for i in range(50)]
        started = time.monotonic()
        batch = await producer.send(outs)
        took_s = time.monotonic() - started
    finally:
        await producer.close()
    assert batch.pending == 0 and not batch.failed and not batch.refused
    assert took_s < LINGER_MS / 1000 / 2, f"the send took {took_s:.2f} s: it waited out linger.ms"
    values = {m.value() for m in consume_all(settings, "ops.events")}
    assert {o.value for o in outs} <= values
