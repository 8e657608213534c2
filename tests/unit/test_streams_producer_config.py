"""The worker's output producer never lingers."""

from __future__ import annotations

from streams.agents_io import worker_producer_config
from vitalstream.platform.settings import Settings


def test_the_worker_producer_does_not_linger_after_a_batch() -> None:
    """An agent waits for all of a batch's acknowledgements before it takes the next batch, so a
    linger after its last produce call is pure waiting (design §11, twice per webhook)."""
    assert worker_producer_config(Settings(kafka_bootstrap="127.0.0.1:9"))["linger.ms"] == 0
