"""The admin surface on the real broker: its own host, throttled tokens, checked input, one replay, headers only;
the public ``/health`` without internals, the whole document for the admin token and from ``vitalstream health``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import pytest
from aiohttp import ClientConnectorError, ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import KafkaException

from gateway.app import STATE_KEY
from tests.integration.test_ops_tools import _dead_letter
from vitalstream.admin import REPLAY_LOCK, create_admin_app, read_dead_letter_headers
from vitalstream.gateway_process import build_app
from vitalstream.platform.settings import Settings
from vitalstream.stack.ports import free_port

Client = TestClient[web.Request, web.Application]


def dead_letters_readable(settings: Settings, expected: int, timeout_s: float = 30.0) -> None:
    """Wait until a fresh DLQ topic has leaders and shows ``expected`` records (NOT_LEADER meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if len(read_dead_letter_headers(settings, timeout_s=5).letters) >= expected:
                return
        except KafkaException:
            pass
        time.sleep(0.3)
    raise AssertionError("the dead-letter topic never became readable")


def bearer(settings: Settings) -> dict[str, str]:
    assert settings.admin_token is not None
    return {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}


async def test_wrong_tokens_are_throttled_per_address(settings: Settings) -> None:
    async with TestClient(TestServer(create_admin_app(settings))) as client:
        for n in range(settings.admin_failures_per_min):
            r = await client.get("/admin/dlq", headers={"Authorization": f"Bearer wrong-{n}"})
            assert r.status == 401
        r = await client.get("/admin/dlq", headers={"Authorization": "Bearer wrong-again"})
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        r = await client.get("/admin/dlq", headers=bearer(settings))
        assert r.status == 429  # while throttled, no token is even compared: guessing is over


async def test_replay_input_is_checked_and_one_replay_runs_at_a_time(settings: Settings) -> None:
    app = create_admin_app(settings)
    async with TestClient(TestServer(app)) as client:
        good = bearer(settings)
        for body, reason in [
            (b"not json", "JSON object"),
            (b"[1, 2]", "JSON object"),
            (b'{"since": "yesterday"}', "since must be an ISO-8601 time"),
            (b'{"limit": "ten"}', "limit must be a positive integer"),
            (b'{"limit": 0}', "limit must be a positive integer"),
            (b'{"refs": ["zero:1"]}', "partition:offset"),
            (b'{"dry_run": "yes"}', "dry_run must be true or false"),
            (b'{"stage": 5}', "stage must be a non-empty string"),
            (b'{"sinse": "2026-01-01"}', "unknown field(s): sinse"),
            (b'{"since": "2026-02-01", "until": "2026-01-01"}', "since must not be later than until"),
        ]:
            r = await client.post("/admin/dlq/replay", data=body, headers=good)
            assert r.status == 400, body
            assert reason in (await r.json())["detail"], body
        _dead_letter(settings, "ev-adm", "GARMIN", "SchemaInvalidError")
        await asyncio.to_thread(dead_letters_readable, settings, 1)
        r = await client.post("/admin/dlq/replay", json={"dry_run": True, "since": "2000-01-01T00:00:00"}, headers=good)
        assert r.status == 200 and (await r.json())["matched"] == 1  # a naive time is UTC, not a 500
        async with app[REPLAY_LOCK]:  # a replay is running
            r = await client.post("/admin/dlq/replay", json={"dry_run": True}, headers=good)
            assert (r.status, (await r.json())["error"]) == (409, "replay_in_progress")


async def test_summary_reads_headers_only_and_says_when_incomplete(settings: Settings) -> None:
    for n in range(3):
        _dead_letter(settings, f"ev-sum-{n}", "GARMIN", "SchemaInvalidError")
    await asyncio.to_thread(dead_letters_readable, settings, 3)
    scan = await asyncio.to_thread(read_dead_letter_headers, settings)
    assert (len(scan.letters), scan.total, scan.incomplete) == (3, 3, False)
    assert all(letter.value is None and letter.key is None for letter in scan.letters)
    assert all("vs.error.stacktrace" not in letter.headers for letter in scan.letters)
    partial = await asyncio.to_thread(read_dead_letter_headers, settings, 1)
    assert (len(partial.letters), partial.total, partial.incomplete) == (1, 3, True)
    async with TestClient(TestServer(create_admin_app(settings))) as client:
        r = await client.get("/admin/dlq", headers=bearer(settings))
        summary = await r.json()
        assert summary["incomplete"] is False and summary["read"] == 3
        assert [(g["error_class"], g["pending"]) for g in summary["groups"]] == [("SchemaInvalidError", 3)]


@pytest.fixture
async def gateway(settings: Settings, aiohttp_client: Any) -> Client:
    # 127.0.0.2 is loopback too: a listener on it is not reachable through 127.0.0.1
    local = settings.model_copy(update={"admin_port": free_port(), "admin_host": "127.0.0.2"})
    client: Client = await aiohttp_client(build_app(local))
    return client


async def test_public_health_has_no_internals_without_the_admin_token(settings: Settings, gateway: Client) -> None:
    r = await gateway.get("/health")
    assert set(await r.json()) == {"status", "timestamp", "version"}
    r = await gateway.get("/health", headers=bearer(settings))
    full = await r.json()
    assert {"consumer_lag", "deadLetters", "kafka_latency_ms"} <= set(full["checks"])
    r = await gateway.get("/health", headers={"Authorization": "Bearer not-the-token"})
    assert r.status == 401


async def test_admin_listener_binds_the_admin_host_and_serves_the_whole_health(
    settings: Settings, gateway: Client
) -> None:
    admin_port = gateway.app[STATE_KEY].settings.admin_port
    async with ClientSession() as http:
        with pytest.raises(ClientConnectorError):
            await http.get(f"http://127.0.0.1:{admin_port}/health", headers=bearer(settings))
        async with http.get(f"http://127.0.0.2:{admin_port}/health", headers=bearer(settings)) as r:
            assert "checks" in await r.json()
        async with http.get(f"http://127.0.0.2:{admin_port}/health") as r:
            assert r.status == 401


async def test_health_cli_prints_the_whole_document_from_the_gateway(settings: Settings, gateway: Client) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
    assert settings.admin_token is not None
    env.update(
        VITALSTREAM_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        VITALSTREAM_TOPIC_PREFIX=settings.topic_prefix,
        VITALSTREAM_GROUP_PREFIX=settings.group_prefix,
        VITALSTREAM_ADMIN_TOKEN=settings.admin_token.get_secret_value(),
        VITALSTREAM_STACK_DIR="/nonexistent-stack",
    )
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vitalstream.cli",
        "health",
        "--url",
        str(gateway.make_url("/")),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), 60)
    doc = json.loads(out)
    assert "checks" in doc, err.decode()
    assert doc["checks"]["webhookSuccessRate"] is not None  # the gateway's own document, not a local one
