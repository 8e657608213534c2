"""Measured: 40 stalled 10 MB uploads against the real gateway process and broker.

Before the read slots (issue 13) the gateway's RSS went 88 → 406 MB. Now at most
``VITALSTREAM_GATEWAY_MAX_LARGE_BODY_READS`` (2) large bodies are read at once, each only
until the body deadline; the others wait briefly for a slot and are answered 503. The
peak RSS (``VmHWM`` of the gateway process) stays under 150 MB, and a signed delivery sent
meanwhile is answered 202 within 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest

from gateway.signatures import terra_header
from vitalstream.platform.settings import Settings
from vitalstream.stack import proc
from vitalstream.stack.ports import free_port, wait_port

ATTACKERS = 40
ANNOUNCED = 10_000_000
SENT = 8_000_000
CHUNK = 256 * 1024


@dataclass
class Gateway:
    pid: int
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


@contextlib.contextmanager
def running_gateway(settings: Settings, tmp_path: Path, **extra: str) -> Iterator[Gateway]:
    """``vitalstream gateway`` as its own process on the test's broker, ready to produce."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
    env.update(
        {
            "VITALSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "VITALSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "VITALSTREAM_GROUP_PREFIX": settings.group_prefix,
            "VITALSTREAM_GATEWAY_PORT": str(port),
            "VITALSTREAM_ADMIN_PORT": str(free_port()),
            "VITALSTREAM_TERRA_SECRETS": settings.terra_secrets[0].get_secret_value(),
            "VITALSTREAM_STACK_DIR": str(tmp_path / "nostack"),
            "VITALSTREAM_LOG_LEVEL": "ERROR",
            **extra,
        }
    )
    log = tmp_path / "gateway.log"
    pid = proc.spawn([sys.executable, "-m", "vitalstream.cli", "gateway"], log, env=env)
    try:
        assert wait_port(port, timeout_s=30), log.read_text()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.3)
        yield Gateway(pid, port, log)
    finally:
        proc.stop(pid)


@pytest.fixture
def gateway(settings: Settings, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(settings, tmp_path) as gw:
        yield gw


async def stalled_upload(port: int, secret_like: str) -> str:
    """Announce 10 MB, send 8 MB as fast as the gateway takes it, then stall; how it ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    forged = terra_header(secret_like, int(time.time()), b"x")  # well formed, current, wrong
    head = (
        f"POST /webhooks/terra HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {ANNOUNCED}\r\nterra-signature: {forged}\r\n\r\n"
    )
    writer.write(head.encode())
    chunk = b"a" * CHUNK
    sent = 0
    try:
        while sent < SENT:
            writer.write(chunk)
            sent += CHUNK
            await asyncio.wait_for(writer.drain(), 1.0)
        return "stalled"  # all 8 MB taken: the gateway holds them in a read slot
    except TimeoutError:
        return "stalled"  # the gateway stopped reading (no slot): held in kernel buffers only
    except (ConnectionError, OSError):
        return "refused"
    finally:
        writer.transport.pause_reading()  # keep the connection open, stalled, until the test ends
        ATTACK_CONNECTIONS.append(writer)


ATTACK_CONNECTIONS: list[asyncio.StreamWriter] = []


async def test_stalled_uploads_hold_little_memory_and_signed_deliveries_pass(
    settings: Settings, gateway: Gateway
) -> None:
    secret = settings.terra_secrets[0].get_secret_value()
    async with aiohttp.ClientSession() as http:

        async def deliver(n: int) -> tuple[int, float]:
            body = orjson.dumps({"type": "body", "user": {"user_id": f"u-{n}", "provider": "WITHINGS"}, "data": []})
            headers = {
                "Content-Type": "application/json",
                "X-Terra-Trace-Id": f"mem-{n}-{secrets.token_hex(4)}",
                "terra-signature": terra_header(secret, int(time.time()), body),
            }
            t0 = time.perf_counter()
            async with http.post(f"{gateway.url}/webhooks/terra", data=body, headers=headers) as resp:
                return resp.status, time.perf_counter() - t0

        assert (await deliver(0))[0] == 202  # warm: producer connected, code paths loaded
        baseline_mb = status_kb(gateway.pid, "VmRSS") / 1024
        attack = [asyncio.create_task(stalled_upload(gateway.port, "x" * 32)) for _ in range(ATTACKERS)]
        outcomes = await asyncio.gather(*attack)
        during: list[tuple[int, float]] = []
        for n in range(1, 6):  # while the uploads stall (within the 10 s body deadline)
            during.append(await deliver(n))
        peak_mb = status_kb(gateway.pid, "VmHWM") / 1024
        now_mb = status_kb(gateway.pid, "VmRSS") / 1024
        for writer in ATTACK_CONNECTIONS:
            writer.close()
        ATTACK_CONNECTIONS.clear()
    print(
        f"\nstalled uploads: {ATTACKERS} x {ANNOUNCED / 1e6:.0f} MB announced, {SENT / 1e6:.0f} MB sent; "
        f"outcomes {dict((o, outcomes.count(o)) for o in set(outcomes))}; gateway RSS baseline {baseline_mb:.0f} MB, "
        f"peak {peak_mb:.0f} MB, during {now_mb:.0f} MB; signed deliveries meanwhile "
        f"{[s for s, _ in during]} in max {max(d for _, d in during) * 1000:.0f} ms"
    )
    assert [s for s, _ in during] == [202] * 5
    assert max(d for _, d in during) < 1.0
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB (baseline {baseline_mb:.0f} MB)"
