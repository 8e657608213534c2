"""The load generator's bookkeeping against a real local HTTP server (no gateway)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from vitalstream.simulate import Delivery, send_all


async def test_every_id_answered_is_counted_even_when_a_resend_is_answered_first() -> None:
    """A re-send answered (with another delivery's id) before its original must not hide the original's id."""
    answered = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal answered
        answered += 1
        if answered == 1:
            await asyncio.sleep(0.3)  # the original is slow; its re-send overtakes it
            return web.json_response({"event_id": "original"}, status=202)
        return web.json_response({"duplicate": True, "event_id": "same-bytes-other-delivery"}, status=200)

    app = web.Application()
    app.router.add_post("/webhooks/terra", handler)
    original = Delivery("athlete", "GARMIN", "s", "trace-1", 0, b"{}")
    resend = Delivery("athlete", "GARMIN", "s", "trace-1", 0, b"{}", duplicate_of="trace-1")
    async with TestServer(app) as server:
        stats = await send_all(str(server.make_url("/webhooks/terra")), "secret", [original, resend], rate=50)
    assert stats.by_status == {202: 1, 200: 1}
    assert stats.accepted_ids == {"original", "same-bytes-other-delivery"}
