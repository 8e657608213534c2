"""The read API as its real process (`vitalstream api`, logged in as vitalstream_reader), keys
made by the real CLI, and a small Server-Sent Events reader for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import psycopg

from tests.fix_pg import with_search_path
from vitalstream.stack import proc
from vitalstream.stack.ports import free_port, wait_port
from vitalstream.stack.reader import reader_url


def search_path_of(url: str) -> str:
    options = parse_qs(urlsplit(url).query).get("options", [""])[0]
    return options.removeprefix("-csearch_path=")


def reader_dsn(owner_url: str) -> str:
    """The reader's login on the test's server and schema (SELECT only, granted by migration 0005)."""
    base = owner_url.split("?", 1)[0]
    url = reader_url(base, "tests")
    assert url is not None
    return with_search_path(url, search_path_of(owner_url))


@dataclass
class ApiProcess:
    url: str
    env: dict[str, str]
    log: Path
    pid: int

    def stop(self) -> None:
        proc.stop(self.pid, timeout_s=15)

    def key(self, name: str, *args: str) -> str:
        """``vitalstream api-keys create NAME ARGS…``: the key is the last line of stdout."""
        out = self.cli("api-keys", "create", name, *args)
        return out.strip().splitlines()[-1]

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "vitalstream.cli", *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def start_api(env: dict[str, str], workdir: Path, **overrides: str) -> ApiProcess:
    port = free_port()
    api_env = {
        **env,
        "VITALSTREAM_API_PORT": str(port),
        "VITALSTREAM_API_DATABASE_URL": reader_dsn(env["VITALSTREAM_DATABASE_URL"]),
        "VITALSTREAM_API_KEY_CACHE_S": "0.5",
        "VITALSTREAM_API_SSE_HEARTBEAT_S": "1",
        "VITALSTREAM_API_RATE_PER_S": "1000",
        "VITALSTREAM_API_RATE_BURST": "1000",
        **overrides,
    }
    log = workdir / "logs" / "api.log"
    pid = proc.spawn([sys.executable, "-m", "vitalstream.cli", "api"], log, env=api_env)
    assert wait_port(port, timeout_s=30), log.read_text()
    return ApiProcess(f"http://127.0.0.1:{port}", api_env, log, pid)


def grants_of_reader(owner_dsn: str) -> set[tuple[str, str]]:
    with psycopg.connect(owner_dsn) as conn:
        rows = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = 'vitalstream_reader' AND table_schema = current_schema()"
        ).fetchall()
    return {(r[0], r[1]) for r in rows}


@dataclass
class SseEvent:
    kind: str
    data: str
    id: str | None


@dataclass
class SseReader:
    """Reads one response's events; ``last_id`` is what a browser would send on reconnect."""

    response: aiohttp.ClientResponse
    last_id: str | None = None
    comments: int = 0
    _fields: dict[str, str] = field(default_factory=dict)

    async def next(self, timeout_s: float = 30.0) -> SseEvent:
        async with asyncio.timeout(timeout_s):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise ConnectionError("stream closed")
                line = raw.decode().rstrip("\r\n")
                if line.startswith(":"):
                    self.comments += 1
                    continue
                if line:
                    name, _, value = line.partition(":")
                    self._fields[name] = value.removeprefix(" ")
                    continue
                fields, self._fields = self._fields, {}
                if "id" in fields:
                    self.last_id = fields["id"]
                if "data" in fields:
                    return SseEvent(fields.get("event", "message"), fields["data"], fields.get("id"))

    async def until(self, kind: str, timeout_s: float = 30.0) -> list[SseEvent]:
        """Every event up to and including the first of ``kind``."""
        seen = []
        while True:
            event = await self.next(timeout_s)
            seen.append(event)
            if event.kind == kind:
                return seen


@contextlib.asynccontextmanager
async def open_stream(
    http: aiohttp.ClientSession, url: str, key: str, subjects: list[str], last_id: str | None = None
) -> AsyncIterator[SseReader]:
    headers = {"Authorization": f"Bearer {key}"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    params = [("subject", s) for s in subjects]
    async with http.get(f"{url}/v1/stream", params=params, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        yield SseReader(resp)
