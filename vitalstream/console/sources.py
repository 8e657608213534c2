"""The live feeds' values: health and the ledger (overview), dead letters, recompute generations."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from schemas.codec import Codec, DecodeError
from schemas.records import ScoringGeneration
from vitalstream import dlq, health
from vitalstream.console import data
from vitalstream.console.state import ConsoleState
from vitalstream.platform import kafka

RECORDS_SHOWN = 200


async def _gateway_up(state: ConsoleState) -> bool:
    s = state.settings
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=s.health_check_timeout_s)) as http,
            http.get(f"http://{s.gateway_host}:{s.gateway_port}/healthz") as resp,
        ):
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def overview(state: ConsoleState) -> dict[str, Any]:
    async def gateway_probe() -> bool:
        return await _gateway_up(state)

    async def from_db() -> dict[str, Any]:
        async with state.pool.connection() as conn:
            return await data.overview(conn)

    doc, db = await asyncio.gather(health.compute(state.settings, gateway_probe=gateway_probe), from_db())
    throughput: data.Throughput = db["throughput"]
    return {
        "health": doc,
        "throughput": {
            "events": throughput.events,
            "per_second": throughput.per_second,
            "success_rate": throughput.success_rate,
        },
        "levels": db["levels"],
        "activity": db["activity"],
    }


def letter_row(letter: dlq.DeadLetter, replayed: set[str], codec: Codec) -> dict[str, Any]:
    return {
        "ref": letter.ref,
        "event_id": letter.event_id,
        "stage": letter.stage,
        "error_class": letter.error_class,
        "first_failure": letter.failed_at,
        "provider": dlq.provider_of(letter, codec),
        "replayed": letter.ref in replayed,
    }


def _dead_letters(state: ConsoleState) -> dict[str, Any]:
    letters = dlq.read_dead_letters(state.settings)
    replayed = dlq.read_replayed(state.settings)
    codec = Codec()
    groups = dlq.summarize(letters, replayed)
    newest = sorted(letters, key=lambda lt: lt.failed_at, reverse=True)[:RECORDS_SHOWN]
    return {
        "groups": [vars(g) for g in groups],
        "records": [letter_row(lt, replayed, codec) for lt in newest],
        "total": len(letters),
        "pending": sum(g.pending for g in groups),
    }


async def dead_letters(state: ConsoleState) -> dict[str, Any]:
    value = await asyncio.to_thread(_dead_letters, state)
    value["jobs"] = state.jobs.list("replay")
    return value


def _generations(state: ConsoleState) -> list[dict[str, Any]]:
    codec = Codec()
    out = []
    for msg in kafka.read_to_end(state.settings, state.settings.topic("control"), "console-generations"):
        value = msg.value()
        if value is None:
            continue
        try:
            out.append(codec.decode_as(value, ScoringGeneration).to_avro())
        except DecodeError:
            continue
    return sorted(out, key=lambda g: g["generation"], reverse=True)


async def recompute(state: ConsoleState) -> dict[str, Any]:
    return {"generations": await asyncio.to_thread(_generations, state), "jobs": state.jobs.list("recompute")}


FEEDS = {"overview": overview, "dlq": dead_letters, "recompute": recompute}
"""The live feeds by name (``GET /events/{name}``)."""
