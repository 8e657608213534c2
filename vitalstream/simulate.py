"""Realistic, correctly signed Terra webhooks (``vitalstream simulate``; also the load generator).

Payloads are built from one template per data type (``vitalstream/templates/full_*.json``,
which fill every field the normalizer maps): values jittered ±5 %, times moved to the
simulated day, user and provider swapped in. Every subject has several providers, so
conflict resolution is exercised; ``duplicates`` re-sends a delivery with the same trace
id (Terra's retry), ``late`` sends an older day's data after newer ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import orjson

from gateway.signatures import terra_header

DATA_TYPES = ("body", "daily", "sleep", "activity", "nutrition", "menstruation", "athlete")
PROVIDERS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "body": ("WITHINGS", "GARMIN", "FITBIT", "OMRON"),
    "daily": ("GARMIN", "FITBIT", "WHOOP", "OURA", "APPLE"),
    "sleep": ("OURA", "WHOOP", "GARMIN", "FITBIT"),
    "activity": ("GARMIN", "POLAR", "WAHOO", "APPLE"),
    "nutrition": ("MYFITNESSPAL", "CRONOMETER"),
    "menstruation": ("FITBIT", "CLUE"),
    "athlete": ("GARMIN", "FITBIT"),
}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@cache
def template(data_type: str) -> dict[str, Any]:
    text = resources.files("vitalstream").joinpath("templates", f"full_{data_type}.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _template_day(doc: dict[str, Any]) -> datetime:
    for item in doc.get("data") or []:
        start = (item.get("metadata") or {}).get("start_time")
        if isinstance(start, str):
            return datetime.fromisoformat(start).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return datetime(2026, 7, 2, tzinfo=UTC)


def _rework(value: Any, shift: timedelta, rng: random.Random) -> Any:
    if isinstance(value, dict):
        return {k: _rework(v, shift, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_rework(v, shift, rng) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return max(0, round(value * rng.uniform(0.95, 1.05))) if value > 1 else value
    if isinstance(value, float):
        return round(value * rng.uniform(0.95, 1.05), 3)
    if isinstance(value, str) and _ISO.match(value):
        try:
            return (datetime.fromisoformat(value) + shift).isoformat()
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class Subject:
    reference_id: str
    connections: dict[str, str]
    """provider → Terra user id."""


def subjects(n: int, seed: int = 7) -> list[Subject]:
    rng = random.Random(seed)
    providers = sorted({p for ps in PROVIDERS_BY_TYPE.values() for p in ps})
    out = []
    for i in range(n):
        chosen = rng.sample(providers, k=min(len(providers), 6))
        out.append(
            Subject(
                f"sim-{seed}-{i}",
                {p: str(uuid.UUID(int=rng.getrandbits(128))) for p in providers if p in chosen or rng.random() < 0.5},
            )
        )
    return out


def build_payload(
    data_type: str, provider: str, user_id: str, reference_id: str | None, day: datetime, rng: random.Random
) -> dict[str, Any]:
    base = copy.deepcopy(template(data_type))
    doc: dict[str, Any] = _rework(base, day - _template_day(base), rng)
    doc["type"] = data_type
    doc["user"] = {
        "user_id": user_id,
        "provider": provider,
        "reference_id": reference_id,
        "active": True,
        "scopes": None,
        "created_at": None,
        "last_webhook_update": None,
    }
    return doc


@dataclass(frozen=True)
class Delivery:
    data_type: str
    provider: str
    subject: str
    trace_id: str
    ordering_ms: int
    body: bytes
    duplicate_of: str | None = None
    late: bool = False

    def headers(self, secret: str, now: float | None = None) -> dict[str, str]:
        ts = int(now if now is not None else time.time())
        return {
            "Content-Type": "application/json",
            "terra-signature": terra_header(secret, ts, self.body),
            "X-Terra-Trace-Id": self.trace_id,
            "X-Terra-Ordering-Timestamp": str(self.ordering_ms),
            "terra-reference": self.trace_id[:8],
        }


def deliveries(
    count: int,
    users: int = 10,
    types: tuple[str, ...] = DATA_TYPES,
    provider: str | None = None,
    duplicates: float = 0.0,
    late: float = 0.0,
    poison: float = 0.0,
    seed: int = 7,
    start_day: datetime | None = None,
) -> Iterator[Delivery]:
    """``count`` deliveries (duplicates and late ones included in the count)."""
    rng = random.Random(seed)
    people = subjects(users, seed)
    day0 = start_day or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    sent: list[Delivery] = []
    for i in range(count):
        if sent and rng.random() < duplicates:
            original = rng.choice(sent[-200:])
            yield Delivery(
                original.data_type,
                original.provider,
                original.subject,
                original.trace_id,
                original.ordering_ms,
                original.body,
                duplicate_of=original.trace_id,
            )
            continue
        if rng.random() < poison:
            # distinct bytes per event: identical bytes signed in the same second are one delivery, replayed
            trace = f"poison-{uuid.UUID(int=rng.getrandbits(128))}"
            body = orjson.dumps(
                {"type": "body", "user": {"provider": "GARMIN"}, "data": [{"weight": "heavy"}], "note": trace}
            )
            yield Delivery("poison", "GARMIN", "-", trace, 0, body)
            continue
        person = rng.choice(people)
        data_type = rng.choice(types)
        choices = [p for p in PROVIDERS_BY_TYPE[data_type] if p in person.connections] or [
            PROVIDERS_BY_TYPE[data_type][0]
        ]
        prov = provider or rng.choice(choices)
        user_id = person.connections.get(prov) or str(uuid.UUID(int=rng.getrandbits(128)))
        is_late = rng.random() < late
        day = day0 - timedelta(days=rng.randint(2, 10) if is_late else 0) + timedelta(minutes=i % 1440)
        doc = build_payload(data_type, prov, user_id, person.reference_id, day, rng)
        delivery = Delivery(
            data_type,
            prov,
            person.reference_id,
            str(uuid.UUID(int=rng.getrandbits(128))),
            int(time.time() * 1000) + i,
            orjson.dumps(doc),
            late=is_late,
        )
        sent.append(delivery)
        yield delivery


@dataclass
class SendStats:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    by_status: dict[int, int] = field(default_factory=dict)
    accepted_ids: set[str] = field(default_factory=set)
    """Every event id a 2xx answer named. Not one per trace id: a re-send may be answered with another
    delivery's id (identical bytes signed in the same second are one delivery), and may be answered
    before the original is, so only the union of all answers is every id the gateway accepted."""

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def send_all(
    url: str, secret: str, items: list[Delivery], rate: float, on_progress: Any = None, concurrency: int = 256
) -> SendStats:
    """Open-loop: request *i* is due at ``i / rate`` s whatever earlier answers took."""
    import aiohttp

    stats = SendStats()
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def one(d: Delivery) -> None:
            async with sem:
                t0 = time.perf_counter()
                try:
                    async with http.post(url, data=d.body, headers=d.headers(secret)) as resp:
                        payload = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError):
                    stats.errors += 1
                    return
                finally:
                    stats.sent += 1
                stats.latencies_ms.append((time.perf_counter() - t0) * 1000)
                stats.by_status[status] = stats.by_status.get(status, 0) + 1
                if status in (200, 202):
                    stats.accepted += status == 202
                    stats.duplicates += status == 200
                    with contextlib.suppress(orjson.JSONDecodeError):
                        stats.accepted_ids.add(str(orjson.loads(payload).get("event_id")))
                else:
                    stats.rejected += 1

        start = time.perf_counter()
        tasks = []
        for i, d in enumerate(items):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(d)))
            if on_progress is not None and i % 50 == 0:
                on_progress(stats)
        await asyncio.gather(*tasks)
        if on_progress is not None:
            on_progress(stats)
    return stats
