"""The whole pipeline as real processes: gateway, worker and sink on the test's Kafka and schema.

Used by the invariant suite and the chaos tests. Each service is ``python -m vitalstream.cli
<service>`` with the test's ``VITALSTREAM_*`` environment; logs go to the test's tmp dir
so a test can also scan them for secrets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from vitalstream.platform.settings import Settings
from vitalstream.stack import proc
from vitalstream.stack.ports import free_port, wait_port

SERVICES = ("gateway", "worker", "sink")
ROOT = Path(__file__).resolve().parents[1]
INSTANCE_PORTS = {"worker": "VITALSTREAM_WORKER_WEB_PORT", "sink": "VITALSTREAM_SINK_METRICS_PORT"}
"""The port each instance of a scaled-out service needs for itself."""


def service_kind(service: str) -> str:
    """``worker-2`` → ``worker``: the command an instance runs."""
    return service.partition("-")[0]


@dataclass
class Pipeline:
    settings: Settings
    workdir: Path
    env: dict[str, str]
    pids: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """A service's whole environment when it differs from ``env`` (secure mode: its own principal)."""

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env['VITALSTREAM_GATEWAY_PORT']}"

    @property
    def terra_secret(self) -> str:
        return self.settings.terra_secrets[0].get_secret_value()

    def log(self, service: str) -> Path:
        return self.workdir / "logs" / f"{service}.log"

    def start(self, service: str) -> None:
        """Start ``service``, or another instance of it named ``<service>-<n>`` (``worker-2``: scale-out)."""
        kind = service_kind(service)
        self.pids[service] = proc.spawn(
            [sys.executable, "-m", "vitalstream.cli", kind], self.log(service), env=self._env_of(service)
        )
        if kind == "gateway":
            assert wait_port(int(self.env["VITALSTREAM_GATEWAY_PORT"]), timeout_s=30), self.log(service).read_text()

    def _env_of(self, service: str) -> dict[str, str]:
        """An extra instance gets its own ports and table directory, kept across its restarts."""
        kind = service_kind(service)
        if service == kind or service in self.service_env:
            return self.service_env.get(service, self.env)
        if kind not in INSTANCE_PORTS:
            raise ValueError(f"only {sorted(INSTANCE_PORTS)} run as several instances, not {kind}")
        env = {**self.service_env.get(kind, self.env), INSTANCE_PORTS[kind]: str(free_port())}
        if kind == "worker":
            env["VITALSTREAM_WORKER_DATADIR"] = str(self.workdir / service)
        self.service_env[service] = env
        return env

    def stop(self, service: str) -> None:
        proc.stop(self.pids.pop(service, None), timeout_s=30)

    def kill(self, service: str) -> None:
        proc.kill(self.pids.pop(service, None))

    def alive(self, service: str) -> bool:
        return proc.alive(self.pids.get(service))

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``vitalstream ARGS`` with the pipeline's environment (never raises on a non-zero exit)."""
        return subprocess.run(
            [sys.executable, "-m", "vitalstream.cli", *args],
            env=self.env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def db(self) -> psycopg.Connection[Any]:
        assert self.settings.database_url is not None
        return psycopg.connect(self.settings.database_url.get_secret_value(), autocommit=True)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> float:
        """Poll ``condition`` until true; returns the seconds it took. Fails with ``what`` on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if condition():
                return time.monotonic() - t0
            for service in list(self.pids):
                assert self.alive(service), f"{service} died: {self.log(service).read_text()[-3000:]}"
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def pipeline_env(settings: Settings, workdir: Path) -> dict[str, str]:
    assert settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
    env.update(
        {
            "VITALSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "VITALSTREAM_DATABASE_URL": settings.database_url.get_secret_value(),
            "VITALSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "VITALSTREAM_GROUP_PREFIX": settings.group_prefix,
            "VITALSTREAM_TERRA_SECRETS": settings.terra_secrets[0].get_secret_value(),
            "VITALSTREAM_WEBHOOK_SECRETS": "acme=" + settings.webhook_secrets["acme"].get_secret_value(),
            "VITALSTREAM_ADMIN_TOKEN": settings.admin_token.get_secret_value() if settings.admin_token else "",
            "VITALSTREAM_GATEWAY_PORT": str(free_port()),
            "VITALSTREAM_ADMIN_PORT": str(free_port()),
            "VITALSTREAM_WORKER_WEB_PORT": str(free_port()),
            "VITALSTREAM_SINK_METRICS_PORT": str(free_port()),
            "VITALSTREAM_WORKER_DATADIR": str(workdir / "worker"),
            "VITALSTREAM_RETRY_DELAYS_S": "0.5,1,2",
            "VITALSTREAM_SINK_BATCH_MAX_WAIT_MS": "50",
            "VITALSTREAM_RATE_LIMIT_PER_IP_PER_MIN": "1000000",
            "VITALSTREAM_RATE_LIMIT_PER_USER_PER_MIN": "1000000",
            "VITALSTREAM_RATE_LIMIT_PER_SOURCE_PER_MIN": "10000000",
            "VITALSTREAM_STACK_DIR": str(workdir / "no-stack"),
            "VITALSTREAM_FETCH_ALLOW_PRIVATE": "1",  # ping URLs of tests.fix_payloads are on 127.0.0.1
        }
    )
    return env


def running_pipeline(settings: Settings, workdir: Path, **extra_env: str) -> Iterator[Pipeline]:
    """Gateway, worker and sink started with ``extra_env`` over the defaults; stopped after (for fixtures)."""
    p = Pipeline(settings, workdir, pipeline_env(settings, workdir) | extra_env)
    for service in SERVICES:
        p.start(service)
    yield p
    for service in list(p.pids):
        p.stop(service)


@pytest.fixture
def pipeline(db_settings: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    yield from running_pipeline(db_settings, tmp_path)
