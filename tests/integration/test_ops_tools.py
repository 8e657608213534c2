"""Operator tools against the real broker and database: dlq ls/show/replay, tail, admin port, health."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from schemas import headers as H
from schemas.codec import Codec
from schemas.records import RawWebhook
from schemas.topics import CATALOGUE
from sinks.migrate import upgrade
from tests.kafka_helpers import consume_all
from tests.unit.test_codec import samples
from vitalstream.admin import create_admin_app
from vitalstream.health import compute, http_status
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings
from vitalstream.stack.postgres import PostgresServer

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _env(settings: Settings) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "VITALSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "VITALSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "VITALSTREAM_GROUP_PREFIX": settings.group_prefix,
        "VITALSTREAM_STACK_DIR": "/nonexistent-stack",
    }
    if settings.database_url is not None:
        env["VITALSTREAM_DATABASE_URL"] = settings.database_url.get_secret_value()
    return env


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalstream.cli", *args],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _dead_letter(settings: Settings, event_id: str, provider: str, error_class: str) -> None:
    body = json.dumps(
        {
            "type": "body",
            "user": {"user_id": "u1", "provider": provider, "first_name": "Ada", "email": "ada@example.org"},
        }
    ).encode()
    raw = RawWebhook(event_id=event_id, source="terra", received_at=NOW, idempotency_key=event_id, body=body)
    headers = [
        (H.ERROR_STAGE, b"normalize"),
        (H.ERROR_CLASS, error_class.encode()),
        (H.ERROR_MESSAGE, b"body event without user.user_id"),
        (H.ERROR_STACKTRACE, b"..."),
        (H.ORIGINAL_TOPIC, settings.topic("webhooks.raw").encode()),
        (H.ORIGINAL_PARTITION, b"0"),
        (H.ORIGINAL_OFFSET, b"7"),
        (H.ORIGINAL_TIMESTAMP, b"0"),
        (H.ATTEMPTS, b"1"),
        (H.FIRST_FAILURE_AT, NOW.isoformat().encode()),
        (H.EVENT_ID, event_id.encode()),
    ]
    record = kafka.OutRecord(settings.topic("dlq"), Codec().encode(raw), b"u1", headers)
    kafka.produce_all(kafka.producer(settings, "test"), [record], timeout_s=10)


def test_dlq_ls_show_replay_once(settings: Settings) -> None:
    _dead_letter(settings, "ev-1", "GARMIN", "SchemaInvalidError")
    _dead_letter(settings, "ev-2", "OURA", "NormalizeError")

    listing = _cli(settings, "dlq", "ls", "--json")
    assert listing.returncode == 0, listing.stderr
    groups = {g["error_class"]: g for g in json.loads(listing.stdout)}
    assert groups["SchemaInvalidError"]["pending"] == 1 and groups["NormalizeError"]["count"] == 1

    shown = _cli(settings, "dlq", "show", "--event-id", "ev-1")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["headers"][H.ERROR_CLASS] == "SchemaInvalidError"
    assert doc["value"]["body"]["user"]["provider"] == "GARMIN"
    assert "Ada" not in shown.stdout and "ada@example.org" not in shown.stdout  # personal fields masked

    dry = _cli(settings, "dlq", "replay", "--provider", "garmin", "--dry-run")
    assert dry.returncode == 0 and "would replay 1" in dry.stdout
    assert consume_all(settings, "webhooks.raw") == []

    first = _cli(settings, "dlq", "replay", "--provider", "GARMIN")
    assert first.returncode == 0, first.stderr
    assert "replayed 1" in first.stdout
    replayed = consume_all(settings, "webhooks.raw", expected=1)
    assert len(replayed) == 1
    hdrs = dict(replayed[0].headers())
    assert hdrs[H.REPLAY_OF].startswith(b"dlq:") and hdrs[H.ATTEMPTS] == b"0" and H.ERROR_CLASS not in hdrs
    assert Codec().decode_as(replayed[0].value(), RawWebhook).event_id == "ev-1"

    again = _cli(settings, "dlq", "replay", "--provider", "GARMIN")
    assert "replayed 0" in again.stdout and "already replayed (use --force) 1" in again.stdout
    after = json.loads(_cli(settings, "dlq", "ls", "--json").stdout)
    assert {g["error_class"]: g["replayed"] for g in after}["SchemaInvalidError"] == 1

    forced = _cli(settings, "dlq", "replay", "--event-id", "ev-1", "--force")
    assert "replayed 1" in forced.stdout
    assert len(consume_all(settings, "webhooks.raw", expected=2)) == 2


def test_tail_decodes_every_catalogue_topic(settings: Settings) -> None:
    codec = Codec()
    records = samples()
    out = [
        kafka.OutRecord(settings.topic(spec.name), codec.encode(records[i % len(records)]), b"k")
        for i, spec in enumerate(CATALOGUE)
    ]
    kafka.produce_all(kafka.producer(settings, "test"), out, timeout_s=10)
    for i, spec in enumerate(CATALOGUE):
        out = _cli(settings, "tail", spec.name, "--from-beginning", "--max", "1", "--timeout", "20")
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout.splitlines()[0])
        assert row["schema"] == records[i % len(records)].SCHEMA, spec.name
        assert row["value"] is not None


def test_tail_unknown_topic_is_a_clear_error(settings: Settings) -> None:
    out = _cli(settings, "tail", "no.such.topic", "--max", "1")
    assert out.returncode != 0 and "unknown topic" in out.stderr and "Traceback" not in out.stderr


async def test_admin_port_refuses_a_wrong_token(settings: Settings) -> None:
    _dead_letter(settings, "ev-9", "GARMIN", "SchemaInvalidError")
    assert settings.admin_token is not None
    async with TestClient(TestServer(create_admin_app(settings))) as client:
        for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            resp = await client.get("/admin/dlq", headers=header)
            assert resp.status == 401
        resp = await client.post("/admin/dlq/replay", json={"dry_run": True}, headers={"Authorization": "Bearer no"})
        assert resp.status == 401
        good = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
        resp = await client.get("/admin/dlq", headers=good)
        assert resp.status == 200
        assert [g["error_class"] for g in await resp.json()] == ["SchemaInvalidError"]
        resp = await client.post("/admin/dlq/replay", json={"dry_run": True}, headers=good)
        assert resp.status == 200 and (await resp.json())["replayed"]


def test_empty_admin_token_closes_the_admin_api(settings: Settings) -> None:
    from vitalstream.admin import authorized

    class Req:
        headers: dict[str, str] = {"Authorization": "Bearer "}

    closed = settings.model_copy(update={"admin_token": SecretStr("")})
    assert not authorized(Req(), closed)  # type: ignore[arg-type]


def test_health_turns_unhealthy_when_postgres_stops_and_recovers(settings: Settings, tmp_path: Path) -> None:
    pg = PostgresServer(tmp_path / "pg", fast=True)
    pg.init()
    pg.start()
    try:
        upgrade(pg.url)
        s = settings.model_copy(update={"database_url": SecretStr(pg.url)})
        doc: dict[str, Any] = asyncio.run(compute(s))
        assert doc["checks"]["database"] == "ok" and doc["checks"]["kafka"] == "ok"
        assert http_status(doc) == 200
        pg.stop()
        down = asyncio.run(compute(s))
        assert down["status"] == "unhealthy" and http_status(down) == 503
        assert down["checks"]["database"].startswith("error")
        cli = _cli(s, "health", "--url", "http://127.0.0.1:9")
        assert cli.returncode == 1 and json.loads(cli.stdout)["status"] == "unhealthy"
        pg.start()
        with psycopg.connect(pg.url) as conn:
            conn.execute("SELECT 1")
        back = asyncio.run(compute(s))
        assert back["checks"]["database"] == "ok"
    finally:
        pg.stop()


@pytest.mark.parametrize("args", [["dlq", "show"], ["db", "retention", "--older-than", "soon"]])
def test_cli_usage_errors_are_one_clear_line(settings: Settings, args: list[str]) -> None:
    out = _cli(settings, *args)
    assert out.returncode == 2 or out.returncode == 1
    assert "Traceback" not in out.stderr and out.stderr.strip()
