"""The gateway against the attacks measured in issue 13, on the real broker: each was a 500, a 202 or a 429 before.

- ``Content-Encoding: gzip`` with a body that is not gzip → was 500; now 415 (400 when compressed bodies are enabled);
- ``X-Terra-Ordering-Timestamp: 253402300800000`` → was 500; now 400;
- a signed delivery re-sent under a new ``X-Terra-Trace-Id`` → was 202 with a new event id; now 200 duplicate;
- 1,200 unsigned requests from the signed sender's address → the signed delivery was 429; now always 202;
- a stalled body holds its read slot only until the deadline → 408.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import uuid
from collections.abc import AsyncIterator

from aiohttp import ClientResponse

from gateway.config import RATE_WINDOW_S
from gateway.idempotency import event_id
from tests.integration.test_gateway_intake import Client, Start, body_for, raw_records, signed, start
from vitalstream.platform.settings import Settings

__all__ = ["start"]  # the fixture, shared with test_gateway_intake


async def test_gzip_that_is_not_gzip_is_refused_before_reading(settings: Settings, start: Start) -> None:
    client = await start(settings)
    body = body_for("user-gz")
    headers = {**signed(settings, body, "t-gz"), "Content-Encoding": "gzip"}
    r = await client.post("/webhooks/terra", data=b"this is not gzip", headers=headers)
    assert (r.status, (await r.json())["error"]) == (415, "unsupported_encoding")
    r = await client.post("/webhooks/terra", data=gzip.compress(body), headers=headers)
    assert r.status == 415  # even real gzip: compressed bodies are off unless enabled
    assert raw_records(settings) == []


async def test_enabled_compression_caps_inflated_bytes_and_answers_bad_gzip_400(
    settings: Settings, start: Start
) -> None:
    enabled = settings.model_copy(update={"gateway_accept_content_encoding": True, "max_body_bytes": 4096})
    client = await start(enabled)
    body = body_for("user-gz2")
    headers = {**signed(enabled, body, "t-gz2"), "Content-Encoding": "gzip"}
    r = await client.post("/webhooks/terra", data=gzip.compress(body), headers=headers)
    assert r.status == 202, await r.text()
    r = await client.post("/webhooks/terra", data=b"this is not gzip", headers={**headers, "X-Terra-Trace-Id": "t-x"})
    assert (r.status, (await r.json())["error"]) == (400, "malformed_encoding")
    bomb = gzip.compress(b'{"x":"' + b"a" * 5_000_000 + b'"}')  # ~5 KB on the wire, 5 MB inflated
    assert len(bomb) < 8192
    r = await client.post("/webhooks/terra", data=bomb, headers={**headers, "X-Terra-Trace-Id": "t-bomb"})
    assert (r.status, (await r.json())["error"]) == (413, "payload_too_large")
    ((_, record),) = raw_records(enabled, expected=1)
    assert record.body == body  # stored as signed: the inflated bytes


async def test_ordering_timestamp_beyond_the_signed_time_is_400(settings: Settings, start: Start) -> None:
    client = await start(settings)
    body = body_for("user-ord")
    for value, code in [
        ("253402300800000", "ordering_timestamp_in_future"),  # was a 500 (year 10000)
        ("253402300799999", "ordering_timestamp_in_future"),  # was a 202 that made every later deauth "older"
        (str(int(time.time() + settings.signature_tolerance_s + 60) * 1000), "ordering_timestamp_in_future"),
        ("99999999999999999999", "malformed_ordering_timestamp"),
        ("12.5", "malformed_ordering_timestamp"),
    ]:
        trace = f"t-ord-{uuid.uuid4()}"
        r = await client.post(
            "/webhooks/terra", data=body, headers=signed(settings, body, trace, **{"X-Terra-Ordering-Timestamp": value})
        )
        assert (r.status, (await r.json())["error"]) == (400, code), value
    now_ms = str(int(time.time() * 1000))
    r = await client.post(
        "/webhooks/terra",
        data=body,
        headers=signed(settings, body, "t-ord-ok", **{"X-Terra-Ordering-Timestamp": now_ms}),
    )
    assert r.status == 202
    ((_, record),) = raw_records(settings, expected=1)
    assert record.ordering_ts is not None and str(int(record.ordering_ts.timestamp() * 1000)) == now_ms


async def test_replayed_signature_under_a_new_trace_id_is_a_duplicate(settings: Settings, start: Start) -> None:
    client = await start(settings)
    body = body_for("user-replay")
    headers = signed(settings, body, "t-original")
    first = await client.post("/webhooks/terra", data=body, headers=headers)
    assert first.status == 202
    original = (await first.json())["event_id"]
    assert original == event_id("terra", "t-original")
    for n in range(3):
        replay = await client.post(
            "/webhooks/terra", data=body, headers={**headers, "X-Terra-Trace-Id": f"t-attacker-{n}"}
        )
        assert replay.status == 200, await replay.text()
        assert await replay.json() == {"duplicate": True, "event_id": original}
    stripped = {k: v for k, v in headers.items() if k != "X-Terra-Trace-Id"}
    assert (await client.post("/webhooks/terra", data=body, headers=stripped)).status == 200
    ((_, record),) = raw_records(settings, expected=1)
    assert record.event_id == original


async def test_unsigned_flood_from_the_senders_address_never_429s_the_signed_sender(
    settings: Settings, start: Start
) -> None:
    """Defaults (1,000 failures per address and minute): 1,200 unsigned requests, a signed one after every 20."""
    assert settings.rate_limit_per_ip_per_min == 1000
    await _clear_of_a_window_edge(RATE_WINDOW_S, needed_s=15.0)
    client = await start(settings)
    junk: dict[int, int] = {}
    signed_statuses: list[int] = []
    unsigned = {"Content-Type": "application/json"}
    for n in range(1200):
        r = await client.post("/webhooks/terra", data=b'{"junk": true}', headers=unsigned)
        junk[r.status] = junk.get(r.status, 0) + 1
        if n % 20 == 19:
            body = body_for(f"user-flood-{n}")
            ok = await client.post("/webhooks/terra", data=body, headers=signed(settings, body, f"t-flood-{n}"))
            signed_statuses.append(ok.status)
    assert signed_statuses == [202] * 60, signed_statuses
    assert junk == {401: 1000, 429: 200}  # the junk spends its own bucket
    records = raw_records(settings, expected=60)
    assert len(records) == 60


async def _clear_of_a_window_edge(window_s: float, needed_s: float) -> None:
    """Start where the limiter's window (monotonic clock) will not roll over for ``needed_s``.

    Past an edge the last window's count only weighs in by the part of it still in view, so a
    flood that straddles one gets a few more answers before 429 than the limit.
    """
    into = time.monotonic() % window_s
    if into > window_s - needed_s:
        await asyncio.sleep(window_s - into + 0.1)


async def test_forged_signatures_are_charged_to_the_address_not_the_sender(settings: Settings, start: Start) -> None:
    """Junk with well-formed signature headers is read and verified; its failures fill the junk bucket only."""
    client = await start(settings.model_copy(update={"rate_limit_per_ip_per_min": 5}))
    forged_statuses = []
    for n in range(8):
        body = body_for(f"forged-{n}")
        headers = signed(settings, body, f"t-forged-{n}")
        forged_statuses.append((await client.post("/webhooks/terra", data=body + b" ", headers=headers)).status)
        good = body_for(f"good-{n}")
        r = await client.post("/webhooks/terra", data=good, headers=signed(settings, good, f"t-good-{n}"))
        assert r.status == 202
    assert forged_statuses == [401] * 5 + [429] * 3


async def test_a_stalled_body_is_cut_at_the_deadline(settings: Settings, start: Start) -> None:
    client = await start(settings.model_copy(update={"gateway_body_timeout_s": 0.5}))
    body = body_for("user-stall")

    async def stall() -> AsyncIterator[bytes]:
        yield body[:10]
        await asyncio.sleep(3)
        yield body[10:]

    t0 = time.monotonic()
    r = await client.post("/webhooks/terra", data=stall(), headers=signed(settings, body, "t-stall"))
    assert (r.status, (await r.json())["error"]) == (408, "body_timeout")
    assert time.monotonic() - t0 < 2.5
    assert raw_records(settings) == []


async def _trickle(data: bytes, hold: asyncio.Event | float) -> AsyncIterator[bytes]:
    """A body still on its way when the handler looks: its first bytes, then the rest once ``hold`` is over."""
    yield data[:5]
    if isinstance(hold, asyncio.Event):
        await hold.wait()
    else:
        await asyncio.sleep(hold)
    yield data[5:]


SlotHolder = tuple[Client, Settings, "asyncio.Task[ClientResponse]", asyncio.Event]


async def _gateway_with_a_held_slot(settings: Settings, start: Start, slots: str) -> SlotHolder:
    """A gateway with one slot of kind ``slots`` (a setting's name), held by a chunked (so large)
    upload until the returned event is set."""
    tight = settings.model_copy(update={slots: 1, "gateway_read_slot_wait_s": 0.2, "gateway_body_timeout_s": 5.0})
    client = await start(tight)
    body, release = body_for("user-slot"), asyncio.Event()
    post = client.post("/webhooks/terra", data=_trickle(body, release), headers=signed(tight, body, "t-hold"))
    holder = asyncio.ensure_future(post)
    await asyncio.sleep(0.3)
    return client, tight, holder, release


async def test_reads_beyond_the_slots_wait_then_503(settings: Settings, start: Start) -> None:
    client, tight, holder, release = await _gateway_with_a_held_slot(settings, start, "gateway_max_large_body_reads")
    other = body_for("user-slot-2")
    r = await client.post("/webhooks/terra", data=_trickle(other, 0.5), headers=signed(tight, other, "t-wait"))
    assert (r.status, (await r.json())["error"]) == (503, "busy")
    assert r.headers["Retry-After"] == str(tight.gateway_retry_after_s)
    announced = {**signed(tight, other, "t-small"), "Content-Length": str(len(other))}
    small = await client.post("/webhooks/terra", data=_trickle(other, 0.3), headers=announced)
    assert small.status == 202  # announced small bodies keep their own slots
    release.set()
    assert (await holder).status == 202


async def test_a_body_that_came_whole_needs_no_read_slot(settings: Settings, start: Start) -> None:
    """Every slot held by a slow sender: a webhook whose body arrived with its headers is still read."""
    client, tight, holder, release = await _gateway_with_a_held_slot(settings, start, "gateway_max_body_reads")
    other = body_for("user-whole")
    whole = await client.post("/webhooks/terra", data=other, headers=signed(tight, other, "t-whole"))
    assert whole.status == 202
    release.set()
    assert (await holder).status == 202
