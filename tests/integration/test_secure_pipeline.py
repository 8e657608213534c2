"""The whole pipeline in secure mode: gateway, worker and sink each on its own Kafka principal
(SASL_SSL, ACLs) and the sink on its own database login — webhook to ``latest_metrics``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.signatures import terra_header
from tests.fix_pipeline import SERVICES, Pipeline
from tests.fix_secure import SecureKafka
from vitalstream.simulate import deliveries, send_all

pytestmark = pytest.mark.secure

EXAMPLES = Path(__file__).parents[1] / "data" / "terra" / "examples"
WEBHOOKS = 60


async def _post_terra(url: str, secret: str, body: bytes) -> int:
    headers = {"Content-Type": "application/json", "terra-signature": terra_header(secret, int(time.time()), body)}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as resp:
        return resp.status


def _count(p: Pipeline, query: str) -> int:
    with p.db() as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def test_webhooks_reach_latest_metrics_with_every_service_on_its_own_principal(secure_pipeline: Pipeline) -> None:
    p = secure_pipeline
    url = f"{p.gateway_url}/webhooks/terra"
    items = list(deliveries(WEBHOOKS, users=5, seed=14))
    stats = asyncio.run(send_all(url, p.terra_secret, items, rate=100))
    assert stats.errors == 0, stats.by_status
    assert stats.by_status.get(202, 0) + stats.by_status.get(200, 0) == WEBHOOKS, stats.by_status  # 200: a repeat
    auth = (EXAMPLES / "auth__authSuccess.json").read_bytes()
    assert asyncio.run(_post_terra(url, p.terra_secret, auth)) == 202  # the sink's connection upsert, on its role
    p.wait_for(lambda: _count(p, "SELECT count(*) FROM latest_metrics") > 0, 120, "rows in latest_metrics")
    p.wait_for(lambda: _count(p, "SELECT count(*) FROM provider_connections") > 0, 60, "connection rows")
    p.wait_for(
        lambda: _count(p, "SELECT count(*) FROM ingested_events") >= len(set(stats.accepted_ids)),
        120,
        "every event in the ledger",
    )
    for service in SERVICES:
        log = p.log(service).read_text()
        assert "AUTHORIZATION_FAILED" not in log and "Authorization failed" not in log, f"{service}: {log[-2000:]}"
        assert p.service_env[service]["VITALSTREAM_KAFKA_PASSWORD"] not in log


def test_recompute_runs_and_switches_over_on_its_own_principal(
    secure_pipeline: Pipeline, secure_kafka: SecureKafka
) -> None:
    """`vitalstream recompute` as the recompute principal: rebuild, publish, write `control`; the live
    worker (its own principal) then joins the new generation."""
    p = secure_pipeline
    items = list(deliveries(20, users=3, seed=15))
    stats = asyncio.run(send_all(f"{p.gateway_url}/webhooks/terra", p.terra_secret, items, rate=100))
    assert stats.errors == 0, stats.by_status
    p.wait_for(lambda: _count(p, "SELECT count(*) FROM latest_metrics") > 0, 120, "rows in latest_metrics")
    env = {**p.service_env["worker"], **secure_kafka.env("recompute")}
    done = subprocess.run(
        [sys.executable, "-m", "vitalstream.cli", "recompute", "--max-lag", "0", "--wait", "90"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "switched: the live worker now runs" in done.stdout, done.stdout + done.stderr[-2000:]
    p.wait_for(lambda: _count(p, "SELECT min(generation) FROM latest_metrics") > 0, 60, "the rebuilt state in Postgres")
    assert env["VITALSTREAM_KAFKA_PASSWORD"] not in done.stdout + done.stderr
