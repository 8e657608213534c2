"""Retry tiers (design §7): wait until a record is due, then put it back where it failed.

One agent per tier (``retry.5s``, ``retry.1m``, ``retry.10m``). A record entered its tier
at its record timestamp; it is due ``settings.retry_delays_s[tier]`` later. Records of one
tier arrive in due order, so the agent simply sleeps until the head record is due. It then
re-publishes the original value with its original key and *all* headers (``vs.attempts``
included) to ``vs.original.topic``; when the stage fails again, the failure handler routes
it by ``vs.attempts`` to the next tier or the DLQ.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from schemas import deadletter as H
from schemas.topics import RETRY_TIERS
from streams.agents import Stage
from streams.agents_io import Out, StreamEvent
from streams.errors import PermanentError
from streams.failures import header_value, republish_headers, retry_due_s


class UnknownOriginError(PermanentError):
    """A retry record whose ``vs.original.topic`` is missing or not one of ours."""


RETRIABLE_SOURCES = ("webhooks.raw", "webhooks.backfill", "metrics.normalized")


class RetryStage(Stage):
    def __init__(self, *args: Any, tier: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tier = tier
        self.allowed = {self.topic(t) for t in RETRIABLE_SOURCES}
        self.delays = list(self.settings.retry_delays_s)

    async def process(self, events: Sequence[StreamEvent]) -> None:
        for event in events:
            msg = event.message
            outs: list[Out] = []
            headers = list(msg.headers or ())
            target = header_value(headers, H.ORIGINAL_TOPIC)
            if target not in self.allowed:
                exc = UnknownOriginError("vs.original.topic is missing or not a retriable topic")
                self.failure(event, exc, f"retry:{self.tier}", None, outs)
            else:
                ts_ms = int((msg.timestamp or time.time()) * 1000)
                wait = retry_due_s(ts_ms, self.tier, self.delays, RETRY_TIERS) - time.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                outs.append(Out(str(target), msg.key, msg.value, republish_headers(headers)))
                self.metrics.republished.labels(self.tier).inc()
            await self.send(outs)
