"""``vitalstream up | down | status``: the whole pipeline on this machine, no Docker needed.

State lives in the stack directory (``.vitalstream/`` under the current directory, or
``VITALSTREAM_STACK_DIR``): ``stack.json`` (pids and ports), ``stack.env`` (the
``VITALSTREAM_*`` variables of the running stack), ``logs/``, ``kafka/``, ``pg/``.
Data and generated secrets persist across ``down``/``up``; ``down`` stops every process
that ``up`` started, by pid, and is safe to run twice.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitalstream.stack import proc
from vitalstream.stack.errors import StackError
from vitalstream.stack.kafka import KafkaBroker, new_cluster_id
from vitalstream.stack.ports import port_in_use, wait_port
from vitalstream.stack.postgres import PostgresServer

SERVICES: dict[str, str] = {
    "gateway": "vitalstream.gateway_process",
    "worker": "streams.main",
    "sink": "sinks.service",
    "api": "vitalstream.api.app",
}


def stack_dir() -> Path:
    return Path(os.environ.get("VITALSTREAM_STACK_DIR", ".vitalstream")).resolve()


@dataclass
class StackPaths:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "stack.json"

    @property
    def env(self) -> Path:
        return self.root / "stack.env"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def load_state(paths: StackPaths) -> dict[str, Any]:
    try:
        return dict(json.loads(paths.state.read_text()))
    except (OSError, ValueError):
        return {}


def _save(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def running_pids(state: dict[str, Any]) -> dict[str, int]:
    pids: dict[str, int] = {}
    for name, info in state.get("processes", {}).items():
        pid = info.get("pid")
        if pid and proc.alive(int(pid)):
            pids[name] = int(pid)
    return pids


def _stack_secrets(paths: StackPaths) -> dict[str, str]:
    try:
        return dict(json.loads(paths.secrets.read_text()))
    except (OSError, ValueError):
        values = {
            "terra": secrets.token_hex(24),
            "webhook": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            "admin": secrets.token_urlsafe(24),
            "pg_password": secrets.token_urlsafe(18),
        }
        _save(paths.secrets, json.dumps(values))
        return values


def service_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(SERVICES[name]) is not None
    except ModuleNotFoundError:
        return False


def up(detach: bool, services: tuple[str, ...] = ("gateway", "worker", "sink", "api")) -> int:
    from vitalstream.platform.settings import Settings
    from vitalstream.platform.topics import ensure_topics

    paths = StackPaths(stack_dir())
    state = load_state(paths)
    alive = running_pids(state)
    if alive:
        names = ", ".join(f"{n} (pid {p})" for n, p in alive.items())
        print(f"a vitalstream stack is already running here: {names}. Use `vitalstream status` or `vitalstream down`.")
        return 1
    t0 = time.monotonic()
    paths.root.mkdir(parents=True, exist_ok=True)
    keys = _stack_secrets(paths)
    state = {"processes": {}, "started_at": time.time()}
    env: dict[str, str] = {}
    try:
        bootstrap = os.environ.get("VITALSTREAM_KAFKA_BOOTSTRAP")
        if bootstrap:
            print(f"Kafka: using {bootstrap} (VITALSTREAM_KAFKA_BOOTSTRAP)")
        else:
            kport = int(os.environ.get("VITALSTREAM_LOCAL_KAFKA_PORT", "9092"))
            broker = KafkaBroker(paths.root / "kafka", port=kport, controller_port=kport + 1)
            print(f"Kafka: starting Apache Kafka (KRaft) on 127.0.0.1:{kport} …", flush=True)
            broker.format(new_cluster_id())
            broker.start(wait=False)
            state["processes"]["kafka"] = {"pid": broker.pid, "port": broker.port, "log": str(broker.log_dir)}
            _save(paths.state, json.dumps(state))
            broker.wait_ready()
            bootstrap = broker.bootstrap
        db_url = os.environ.get("VITALSTREAM_DATABASE_URL")
        if db_url:
            print("PostgreSQL: using VITALSTREAM_DATABASE_URL")
        else:
            saved_port = _saved_pg_port(paths)
            pg = PostgresServer(paths.root / "pg", password=keys["pg_password"])
            if saved_port:
                pg.port = saved_port
            print(f"PostgreSQL: starting on 127.0.0.1:{pg.port} …", flush=True)
            pg.init()
            pg.start()
            (paths.root / "pg" / "port").write_text(str(pg.port))
            state["processes"]["postgres"] = {"pid": pg.pid(), "port": pg.port, "log": str(pg.workdir / "postgres.log")}
            _save(paths.state, json.dumps(state))
            db_url = pg.url
        env = {
            "VITALSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "VITALSTREAM_DATABASE_URL": db_url,
            "VITALSTREAM_GATEWAY_HOST": os.environ.get("VITALSTREAM_GATEWAY_HOST", "127.0.0.1"),
            "VITALSTREAM_GATEWAY_PORT": os.environ.get("VITALSTREAM_GATEWAY_PORT", "8080"),
            "VITALSTREAM_TERRA_SECRETS": keys["terra"],
            "VITALSTREAM_WEBHOOK_SECRETS": f"acme={keys['webhook']}",
            "VITALSTREAM_ADMIN_TOKEN": keys["admin"],
            "VITALSTREAM_WORKER_DATADIR": str(paths.root / "worker"),
            "VITALSTREAM_API_PORT": os.environ.get("VITALSTREAM_API_PORT", "8090"),
        }
        settings = Settings(**{k.removeprefix("VITALSTREAM_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
        from sinks.migrate import upgrade

        upgrade(db_url)
        print("PostgreSQL: migrations applied")
        _api_login(env, keys["pg_password"])
        report = ensure_topics(settings)
        if report.problems:
            raise StackError("topics: " + "; ".join(report.problems))
        print(f"Kafka: {len(report.created)} topics created, {len(report.verified) + len(report.fixed)} verified")
        _save(paths.env, "".join(f"{k}={v}\n" for k, v in env.items()))
        child_env = {**os.environ, **env}
        for name in services:
            if not service_available(name):
                print(f"{name}: not built yet, skipped")
                continue
            if name == "gateway" and port_in_use(settings.gateway_port, settings.gateway_host):
                raise StackError(
                    f"port {settings.gateway_port} is in use: stop what listens there or set VITALSTREAM_GATEWAY_PORT"
                )
            log = paths.logs / f"{name}.log"
            pid = proc.spawn([sys.executable, "-m", "vitalstream.cli", name], log, env=child_env)
            state["processes"][name] = {"pid": pid, "log": str(log)}
            _save(paths.state, json.dumps(state))
        if "gateway" in state["processes"] and not wait_port(settings.gateway_port, settings.gateway_host, 20):
            raise StackError(f"the gateway did not start listening: see {paths.logs / 'gateway.log'}")
    except (StackError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        down(quiet=True)
        return 1
    except KeyboardInterrupt:
        down(quiet=True)
        return 130
    _print_summary(paths, env, state, time.monotonic() - t0)
    if detach:
        return 0
    return _foreground(paths)


def _api_login(env: dict[str, str], stack_secret: str) -> None:
    """The read API's own least-privilege login (else it falls back to the owner's URL)."""
    from vitalstream.stack.reader import reader_url

    url = reader_url(env["VITALSTREAM_DATABASE_URL"], stack_secret)
    if url is None:
        print("PostgreSQL: could not give vitalstream_reader a login; the api uses VITALSTREAM_DATABASE_URL")
    else:
        env["VITALSTREAM_API_DATABASE_URL"] = url


def _saved_pg_port(paths: StackPaths) -> int | None:
    try:
        return int((paths.root / "pg" / "port").read_text())
    except (OSError, ValueError):
        return None


def _print_summary(paths: StackPaths, env: dict[str, str], state: dict[str, Any], took: float) -> None:
    host, port = env["VITALSTREAM_GATEWAY_HOST"], env["VITALSTREAM_GATEWAY_PORT"]
    print(f"\nvitalstream is up ({took:.1f}s)")
    print(
        f"  gateway     http://{host}:{port}/webhooks/terra   (health: http://{host}:{port}/health, metrics: /metrics)"
    )
    print(
        f"  api         http://{host}:{env['VITALSTREAM_API_PORT']}/v1/subjects/{{subject}}/metrics   (keys: api-keys)"
    )
    print(f"  kafka       {env['VITALSTREAM_KAFKA_BOOTSTRAP']}")
    print(f"  postgres    {_mask_password(env['VITALSTREAM_DATABASE_URL'])}")
    worker_port = os.environ.get("VITALSTREAM_WORKER_WEB_PORT", "6066")
    sink_port = os.environ.get("VITALSTREAM_SINK_METRICS_PORT", "9102")
    print(f"  metrics     worker http://127.0.0.1:{worker_port}/metrics, sink http://127.0.0.1:{sink_port}/metrics")
    print(f"  secrets     {paths.env}  (source it: `set -a; . {paths.env}; set +a`)")
    print(f"  logs        {paths.logs}/")
    print("  processes   " + ", ".join(f"{n}={i['pid']}" for n, i in state["processes"].items()))


def _mask_password(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _foreground(paths: StackPaths) -> int:
    print("\nCtrl-C stops the stack.", flush=True)
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    reported: set[str] = set()
    while not stopping:
        state = load_state(paths)
        alive = running_pids(state)
        for name, info in state.get("processes", {}).items():
            if name not in alive and name not in reported:
                reported.add(name)
                print(f"!! {name} (pid {info.get('pid')}) exited: see {info.get('log')}", flush=True)
        if not state:
            return 0
        time.sleep(1.0)
    print("\nstopping …", flush=True)
    return down()


def down(quiet: bool = False) -> int:
    paths = StackPaths(stack_dir())
    state = load_state(paths)
    processes: dict[str, Any] = state.get("processes", {})
    stopped: list[str] = []
    for name in ("gateway", "worker", "sink", "api"):
        info = processes.get(name)
        if info and proc.stop(info.get("pid"), timeout_s=20):
            stopped.append(name)
    if "kafka" in processes and proc.stop(processes["kafka"].get("pid"), timeout_s=30):
        stopped.append("kafka")
    if "postgres" in processes:
        pg = PostgresServer(paths.root / "pg", port=int(processes["postgres"]["port"]))
        if pg.running():
            pg.stop()
            stopped.append("postgres")
    paths.state.unlink(missing_ok=True)
    if not quiet:
        print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def status() -> int:
    paths = StackPaths(stack_dir())
    state = load_state(paths)
    processes: dict[str, Any] = state.get("processes", {})
    if not processes:
        print("not running (start it with `vitalstream up`)")
        return 1
    alive = running_pids(state)
    for name, info in processes.items():
        mark = "up" if name in alive else "DOWN"
        print(f"{name:10} {mark:5} pid {info.get('pid')}  log {info.get('log')}")
    if paths.env.exists():
        print(f"env        {paths.env}")
    return 0 if len(alive) == len(processes) else 1
