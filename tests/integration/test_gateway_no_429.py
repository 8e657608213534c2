"""Verified Terra traffic is never answered 429 (issue 12 part 6), on the real broker, with the default limits.

Measured before: 5,000 signed webhooks at 250/s from one client → 4,060 answered 429. The
per-address limit counts only failures to authenticate; the per-user and per-source limits
shed verified deliveries to ``webhooks.backfill`` instead of refusing them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from schemas.codec import Codec
from schemas.records import RawWebhook
from tests.integration.test_gateway_intake import Start, body_for, signed, start
from tests.kafka_helpers import consume_all
from vitalstream.platform.settings import Settings

__all__ = ["start"]
TOTAL = 5000
RATE = 250.0
USERS = 2  # 2,500 each: past the default 1,000 per user and minute even if the load takes two minutes


async def test_5000_signed_webhooks_at_250_per_s_from_one_address_are_all_accepted(
    settings: Settings, start: Start
) -> None:
    defaults = Settings()
    assert (settings.rate_limit_per_ip_per_min, settings.rate_limit_per_user_per_min) == (
        defaults.rate_limit_per_ip_per_min,
        defaults.rate_limit_per_user_per_min,
    )
    client = await start(settings)
    statuses: Counter[int] = Counter()
    ids: set[str] = set()

    requests = []
    for n in range(TOTAL):  # signed up front: the client must not steal the gateway's CPU
        body = body_for(f"user-{n % USERS}", n)
        requests.append((body, signed(settings, body, f"t-flood-{n}")))

    async def send(n: int) -> None:
        body, headers = requests[n]
        r = await client.post("/webhooks/terra", data=body, headers=headers)
        statuses[r.status] += 1
        if r.status == 202:
            ids.add((await r.json())["event_id"])

    started = time.monotonic()
    tasks = []
    for n in range(TOTAL):  # open loop: one request every 4 ms, whatever the answers take
        await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
        tasks.append(asyncio.ensure_future(send(n)))
    await asyncio.gather(*tasks)
    rate = TOTAL / (time.monotonic() - started)  # 250/s unless the machine is loaded; the limits are per minute
    assert statuses == {202: TOTAL}, (statuses, f"{rate:.0f}/s")

    codec = Codec()
    live = consume_all(settings, "webhooks.raw")
    backfill = consume_all(settings, "webhooks.backfill", expected=TOTAL - len(live), timeout_s=30)
    stored = {codec.decode_as(m.value(), RawWebhook).event_id for m in [*live, *backfill]}
    assert stored == ids and len(live) + len(backfill) == TOTAL
    assert backfill, "past the per-user limit the excess is shed to the backfill lane"

    unsigned = {"Content-Type": "application/json"}
    junk: Counter[int] = Counter()
    for _ in range(settings.rate_limit_per_ip_per_min + 50):
        junk[(await client.post("/webhooks/terra", data=b"{}", headers=unsigned)).status] += 1
    assert junk == {401: settings.rate_limit_per_ip_per_min, 429: 50}  # unauthenticated floods are still limited
