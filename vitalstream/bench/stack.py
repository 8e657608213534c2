"""A private stack for one benchmark run: its own Kafka and PostgreSQL in a temp dir, services as subprocesses.

Never touches a user's running stack: every port is free-picked, every file lives under
the run's directory, and :meth:`BenchStack.close` stops exactly the processes it started.
Each phase gets its own topic prefix, consumer groups and database schema (``phase``),
so one benchmark's records never reach another's consumers.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import quote

from vitalstream.platform.settings import Settings
from vitalstream.stack import proc
from vitalstream.stack.errors import StackError
from vitalstream.stack.kafka import KafkaBroker, start_cluster
from vitalstream.stack.ports import free_port, wait_port
from vitalstream.stack.postgres import PostgresServer

BENCH_OVERRIDES = {
    # the bench measures capacity, not the abuse limits (which would answer 429 long before)
    "VITALSTREAM_RATE_LIMIT_PER_IP_PER_MIN": "100000000",
    "VITALSTREAM_RATE_LIMIT_PER_USER_PER_MIN": "100000000",
    "VITALSTREAM_RATE_LIMIT_PER_SOURCE_PER_MIN": "100000000",
    "VITALSTREAM_GATEWAY_ACCESS_LOG_SAMPLE": "0.01",
    "VITALSTREAM_LOG_LEVEL": "WARNING",
}
"""Settings the bench changes from the defaults (reported in results.json)."""


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


class BenchStack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.terra_secret = secrets.token_hex(24)
        self.kafka: list[KafkaBroker] = []
        self.pg: PostgresServer | None = None
        self.pids: dict[str, int] = {}
        self.envs: dict[str, dict[str, str]] = {}
        self._settings: dict[str, Settings] = {}

    # ------------------------------------------------------------------ infrastructure

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.kafka = start_cluster(self.root / "kafka", heap="768m")
        self.pg = PostgresServer(self.root / "pg")
        self.pg.init()
        self.pg.start()

    def pg_pid(self) -> int | None:
        """The PostgreSQL server's first process (its backends are its children)."""
        return self.pg.pid() if self.pg is not None else None

    def broker_pids(self) -> list[int]:
        return [b.pid for b in self.kafka if b.pid]

    @property
    def database_url(self) -> str:
        if self.pg is None:
            raise StackError("the bench stack is not started")
        return self.pg.url

    def phase(self, name: str) -> Settings:
        """Settings of a fresh phase: own topics, groups, schema and ports; topics created, schema migrated."""
        from sinks.migrate import upgrade
        from vitalstream.platform.topics import ensure_topics

        prefix = f"bench{name}{secrets.token_hex(3)}."
        schema = f"bench_{name}_{secrets.token_hex(3)}"
        upgrade(self.database_url, schema=schema)
        env = {
            "VITALSTREAM_KAFKA_BOOTSTRAP": self.kafka[0].bootstrap,
            "VITALSTREAM_DATABASE_URL": with_search_path(self.database_url, schema),
            "VITALSTREAM_TOPIC_PREFIX": prefix,
            "VITALSTREAM_GROUP_PREFIX": prefix,
            "VITALSTREAM_GATEWAY_HOST": "127.0.0.1",
            "VITALSTREAM_GATEWAY_PORT": str(free_port()),
            "VITALSTREAM_ADMIN_PORT": str(free_port()),
            "VITALSTREAM_WORKER_WEB_PORT": str(free_port()),
            "VITALSTREAM_SINK_METRICS_PORT": str(free_port()),
            "VITALSTREAM_WORKER_DATADIR": str(self.root / name / "worker"),
            "VITALSTREAM_TERRA_SECRETS": self.terra_secret,
            "VITALSTREAM_WEBHOOK_SECRETS": "acme=whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            "VITALSTREAM_ADMIN_TOKEN": secrets.token_urlsafe(24),
            **BENCH_OVERRIDES,
        }
        settings = Settings(**{k.removeprefix("VITALSTREAM_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
        report = ensure_topics(settings)
        if report.problems:
            raise StackError("topics: " + "; ".join(report.problems))
        self.envs[name] = env
        self._settings[name] = settings
        return settings

    def settings(self, phase: str) -> Settings:
        """The settings of a phase started with :meth:`phase`."""
        return self._settings[phase]

    # ------------------------------------------------------------------ services

    def spawn(self, phase: str, service: str) -> int:
        """``python -m vitalstream.cli SERVICE`` with the phase's environment; waits for the gateway's port."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
        env.update(self.envs[phase])
        log = self.root / "logs" / f"{phase}-{service}.log"
        pid = proc.spawn([sys.executable, "-m", "vitalstream.cli", service], log, env=env, cwd=self.root)
        self.pids[f"{phase}/{service}"] = pid
        if service == "gateway" and not wait_port(int(env["VITALSTREAM_GATEWAY_PORT"]), timeout_s=30):
            raise StackError(f"the bench gateway did not start listening: see {log}")
        return pid

    def spawn_module(self, name: str, argv: list[str], port: int | None = None) -> int:
        log = self.root / "logs" / f"{name}.log"
        pid = proc.spawn([sys.executable, "-m", *argv], log, cwd=self.root)
        self.pids[name] = pid
        if port is not None and not wait_port(port, timeout_s=30):
            raise StackError(f"{name} did not start listening: see {log}")
        return pid

    def alive(self, name: str) -> bool:
        return proc.alive(self.pids.get(name))

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.root / "logs" / f"{name.replace('/', '-')}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, name: str) -> None:
        proc.stop(self.pids.pop(name, None), timeout_s=20)

    def close(self) -> None:
        for name in list(self.pids):
            self.stop(name)
        for broker in self.kafka:
            broker.stop()
        self.kafka = []
        if self.pg is not None:
            self.pg.stop()
            self.pg = None
        time.sleep(0.1)
