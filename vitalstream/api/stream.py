"""``GET /v1/stream``: Server-Sent Events (framing, heartbeats and stalled-peer handling by
aiohttp-sse) from the process's hub: the snapshot or the resume first, then live changes."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from vitalstream.api import problems
from vitalstream.api.app import STATE_KEY, authorize
from vitalstream.api.cursors import BadCursor, decode_positions
from vitalstream.api.hub import Event
from vitalstream.api.routes import visible_subject
from vitalstream.platform.observability import get_logger

log = get_logger("api.stream")


async def stream(request: web.Request) -> web.StreamResponse:
    key = await authorize(request, "stream")
    state = request.app[STATE_KEY]
    settings = state.settings
    wanted = request.query.getall("subject", [])
    if not wanted:
        raise problems.bad_request("subject: name at least one subject to follow (?subject=…&subject=…)")
    if len(wanted) > settings.api_sse_max_subjects:
        raise problems.bad_request(f"subject: at most {settings.api_sse_max_subjects} subjects per stream")
    subjects = frozenset(visible_subject(key, s) for s in wanted)
    last_id = request.headers.get("Last-Event-ID")
    try:
        since = decode_positions(last_id) if last_id else None
    except BadCursor as exc:
        raise problems.bad_request(str(exc)) from None
    hub = state.hub
    try:
        async with asyncio.timeout(settings.api_stream_ready_timeout_s):
            await hub.ready.wait()
    except TimeoutError:
        raise problems.Problem(503, "The stream is still loading metrics.latest.", {"Retry-After": "5"}) from None
    sub, first = hub.subscribe(subjects, since)
    # send_timeout: a write that cannot finish in time means a stalled client; aiohttp-sse aborts it
    resp = EventSourceResponse(ping_interval=settings.api_sse_heartbeat_s, send_timeout=settings.api_sse_send_timeout_s)
    try:
        await resp.prepare(request)
        await _send(resp, first)
        while resp.is_connected() and not sub.dropped:
            await _send(resp, await sub.next_batch(settings.api_sse_heartbeat_s))
        if sub.dropped:
            log.warning("stream_dropped", reason="client too slow", queue_max=settings.api_sse_queue_max)
            await _send(resp, await sub.next_batch(0))  # the one ``dropped`` event saying why
    except (ConnectionResetError, TimeoutError):
        pass  # the client went away or stalled (aiohttp-sse aborted the connection)
    finally:
        hub.unsubscribe(sub)
        if resp.prepared:
            resp.stop_streaming()
    return resp


async def _send(resp: EventSourceResponse, events: list[Event]) -> None:
    for event in events:
        await resp.send(event.data, id=event.id, event=event.kind)
