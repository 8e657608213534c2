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
from vitalstream.stack import secure as secured
from vitalstream.stack.errors import StackError
from vitalstream.stack.kafka import KafkaBroker, new_cluster_id
from vitalstream.stack.ports import free_port, port_in_use, wait_port
from vitalstream.stack.postgres import PostgresServer

SERVICES: dict[str, str] = {
    "gateway": "vitalstream.gateway_process",
    "worker": "streams.main",
    "sink": "sinks.service",
    "console": "vitalstream.console.app",
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


def up(
    detach: bool, services: tuple[str, ...] = ("gateway", "worker", "sink", "console", "api"), secure: bool = False
) -> int:
    """Start the stack, or the part of it an interrupted ``up`` left stopped.

    Processes of an earlier ``up`` that still run (say Kafka and PostgreSQL after the CLI was
    killed) are kept and only the rest is started. A failure prints one line saying why and
    stops every process of the stack, so the next ``up`` starts clean. ``secure``: Kafka on SASL_SSL
    with ACLs and one principal per service (:mod:`vitalstream.stack.secure`).
    """
    paths = StackPaths(stack_dir())
    previous = load_state(paths)
    kept = running_pids(previous)
    if kept and set(_stack_processes(services)) <= set(kept):
        names = ", ".join(f"{n} (pid {p})" for n, p in kept.items())
        print(f"a vitalstream stack is already running here: {names}. Use `vitalstream status` or `vitalstream down`.")
        return 1
    if kept:
        print(f"resuming the stack started here before: {', '.join(kept)} still running, starting the rest")
    t0 = time.monotonic()
    paths.root.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "processes": {n: previous["processes"][n] for n in kept},
        "started_at": previous.get("started_at", time.time()) if kept else time.time(),
    }
    _save(paths.state, json.dumps(state))  # from here on, down() stops exactly what this stack runs
    try:
        env = _bring_up(paths, state, kept, services, secure)
    except KeyboardInterrupt:
        down(quiet=True)
        return 130
    except Exception as exc:  # whatever failed: one line, and nothing left running
        stopped = bool(load_state(paths).get("processes"))
        down(quiet=True)
        tail = f" (stopped what had started; logs in {paths.logs})" if stopped else ""
        print(f"error: {one_line(exc)}{tail}", file=sys.stderr)
        return 1
    _print_summary(paths, env, state, time.monotonic() - t0)
    if detach:
        return 0
    return _foreground(paths)


def one_line(exc: BaseException) -> str:
    """The reason of ``exc`` on one line (tool output quoted in it included), at most 300 characters."""
    text = " ".join(str(exc).split())
    if not isinstance(exc, StackError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:300]


def _stack_processes(services: tuple[str, ...]) -> list[str]:
    """Every process ``up`` runs here: the services that exist, Kafka and PostgreSQL unless given."""
    names = [n for n in services if service_available(n)]
    if not os.environ.get("VITALSTREAM_KAFKA_BOOTSTRAP"):
        names.append("kafka")
    if not os.environ.get("VITALSTREAM_DATABASE_URL"):
        names.append("postgres")
    return names


def _bring_up(
    paths: StackPaths, state: dict[str, Any], kept: dict[str, int], services: tuple[str, ...], secure: bool
) -> dict[str, str]:
    from vitalstream.platform.settings import Settings
    from vitalstream.platform.topics import ensure_topics

    keys = _stack_secrets(paths)
    _check_ports_free(paths, kept, services)
    bootstrap, broker = _kafka(paths, state, kept, secure)
    db_url = _postgres(paths, state, kept, keys)
    env = {
        "VITALSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "VITALSTREAM_DATABASE_URL": db_url,
        "VITALSTREAM_GATEWAY_HOST": os.environ.get("VITALSTREAM_GATEWAY_HOST", "127.0.0.1"),
        "VITALSTREAM_GATEWAY_PORT": os.environ.get("VITALSTREAM_GATEWAY_PORT", "8080"),
        "VITALSTREAM_TERRA_SECRETS": keys["terra"],
        "VITALSTREAM_WEBHOOK_SECRETS": f"acme={keys['webhook']}",
        "VITALSTREAM_ADMIN_TOKEN": keys["admin"],
        "VITALSTREAM_WORKER_DATADIR": str(paths.root / "worker"),
        "VITALSTREAM_API_HOST": os.environ.get("VITALSTREAM_API_HOST", "127.0.0.1"),
        "VITALSTREAM_API_PORT": os.environ.get("VITALSTREAM_API_PORT", "8090"),
        **_console_env(paths, keys),
    }
    settings = Settings(**{k.removeprefix("VITALSTREAM_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    from sinks.migrate import upgrade

    upgrade(db_url)
    print("PostgreSQL: migrations applied")
    if "api" in services:
        _api_login(env, keys["pg_password"])
    report = ensure_topics(secured.with_principal(settings, broker.admin_settings()) if broker else settings)
    if report.problems:
        raise StackError("topics: " + "; ".join(report.problems))
    print(f"Kafka: {len(report.created)} topics created, {len(report.verified) + len(report.fixed)} verified")
    given_db = bool(os.environ.get("VITALSTREAM_DATABASE_URL"))
    principal_env = secured.provision_stack(paths.root, broker, settings, local_db=not given_db) if secure else {}
    env |= principal_env.get("ops", {})  # the CLI (and the console) act as ops
    if "console" in services:
        _console_admin(settings, env)
    _save(paths.env, "".join(f"{k}={v}\n" for k, v in env.items()))
    _start_services(paths, state, kept, services, env, principal_env)
    return env


def _start_services(
    paths: StackPaths,
    state: dict[str, Any],
    kept: dict[str, int],
    services: tuple[str, ...],
    env: dict[str, str],
    principal_env: dict[str, dict[str, str]],
) -> None:
    """Spawn the services not still running, each on its own principal when there is one; fail if one
    exits right away or the gateway never listens."""
    child_env = {**os.environ, **env}
    started: list[str] = []
    for name in services:
        if name in kept:
            continue
        if not service_available(name):
            print(f"{name}: not built yet, skipped")
            continue
        log = paths.logs / f"{name}.log"
        own = {**child_env, **principal_env.get(name, {})}
        pid = proc.spawn([sys.executable, "-m", "vitalstream.cli", name], log, env=own)
        state["processes"][name] = {"pid": pid, "log": str(log)}
        _save(paths.state, json.dumps(state))
        started.append(name)
    host, port = env["VITALSTREAM_GATEWAY_HOST"], int(env["VITALSTREAM_GATEWAY_PORT"])
    if "gateway" in started and not wait_port(port, host, 20):
        raise StackError(f"the gateway did not start listening: {_last_line(paths.logs / 'gateway.log')}")
    for name in started:
        if not proc.alive(state["processes"][name]["pid"]):
            raise StackError(f"{name} exited at start: {_last_line(paths.logs / f'{name}.log')}")


def _service_ports(services: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """What each service listens on (from the environment, like the services themselves)."""
    from vitalstream.platform.settings import Settings

    s = Settings()
    ports = {
        "gateway": (s.gateway_host, s.gateway_port),
        "gateway admin": (s.gateway_host, s.admin_port),
        "worker": ("127.0.0.1", s.worker_web_port),
        "sink": ("127.0.0.1", s.sink_metrics_port),
        "console": (s.console_host, s.console_port),
        "api": (s.api_host, s.api_port),
    }
    return {n: hp for n, hp in ports.items() if n.split()[0] in services}


def _check_ports_free(paths: StackPaths, kept: dict[str, int], services: tuple[str, ...]) -> None:
    """Before anything starts: every port a process still to start needs must be free."""
    needed: dict[str, tuple[str, int]] = {}
    if "kafka" not in kept and not os.environ.get("VITALSTREAM_KAFKA_BOOTSTRAP"):
        needed["Kafka"] = ("127.0.0.1", _kafka_port())  # its controller gets a free port when it starts
    saved_pg = _saved_pg_port(paths)
    own_pg_up = "postgres" in kept or PostgresServer(paths.root / "pg").running()
    if saved_pg and not own_pg_up and not os.environ.get("VITALSTREAM_DATABASE_URL"):
        needed["PostgreSQL"] = ("127.0.0.1", saved_pg)
    needed |= {n: hp for n, hp in _service_ports(services).items() if n.split()[0] not in kept}
    for name, (host, port) in needed.items():
        if port_in_use(port, host):
            raise StackError(f"port {port} ({name}) is in use: stop what listens there or set {_PORT_VARS[name]}")


_PORT_VARS = {
    "Kafka": "VITALSTREAM_LOCAL_KAFKA_PORT",
    "PostgreSQL": "a free port in pg/port under the stack directory",
    "gateway": "VITALSTREAM_GATEWAY_PORT",
    "gateway admin": "VITALSTREAM_ADMIN_PORT",
    "worker": "VITALSTREAM_WORKER_WEB_PORT",
    "sink": "VITALSTREAM_SINK_METRICS_PORT",
    "console": "VITALSTREAM_CONSOLE_PORT",
    "api": "VITALSTREAM_API_PORT",
}


def _kafka_port() -> int:
    return int(os.environ.get("VITALSTREAM_LOCAL_KAFKA_PORT", "9092"))


def _kafka(
    paths: StackPaths, state: dict[str, Any], kept: dict[str, int], secure: bool
) -> tuple[str, KafkaBroker | None]:
    """The bootstrap address: the given cluster, the broker still running here, or a new one (and that broker)."""
    bootstrap = os.environ.get("VITALSTREAM_KAFKA_BOOTSTRAP")
    if bootstrap and secure:
        raise StackError(
            "--secure starts its own broker: unset VITALSTREAM_KAFKA_BOOTSTRAP "
            "(for an existing cluster, see README 'Least privilege')"
        )
    if bootstrap:
        print(f"Kafka: using {bootstrap} (VITALSTREAM_KAFKA_BOOTSTRAP)")
        return bootstrap, None
    security = secured.storage_mode(paths.root / "kafka", secure)
    if "kafka" in kept:
        kafka = state["processes"]["kafka"]
        port = int(kafka["port"])
        controller = int(kafka.get("controller_port", port + 1))  # stacks made before it was stored
        broker = KafkaBroker(
            paths.root / "kafka", port=port, controller_port=controller, pid=kept["kafka"], security=security
        )
        print(f"Kafka: still running on 127.0.0.1:{port} (pid {broker.pid})", flush=True)
    else:
        kport = _kafka_port()
        # a free port of its own: the one after the broker's may be any connection's ephemeral port
        broker = KafkaBroker(paths.root / "kafka", port=kport, controller_port=free_port(), security=security)
        mode = "SASL_SSL, ACLs" if secure else "PLAINTEXT"
        print(f"Kafka: starting Apache Kafka (KRaft, {mode}) on 127.0.0.1:{kport} …", flush=True)
        broker.format(new_cluster_id())
        broker.start(wait=False)
        state["processes"]["kafka"] = {
            "pid": broker.pid,
            "port": broker.port,
            "controller_port": broker.controller_port,
            "log": str(broker.log_dir),
        }
        _save(paths.state, json.dumps(state))
    broker.wait_ready()
    return broker.bootstrap, broker


def _postgres(paths: StackPaths, state: dict[str, Any], kept: dict[str, int], keys: dict[str, str]) -> str:
    """The database URL: the given one, or the stack's own server (started unless still running)."""
    db_url = os.environ.get("VITALSTREAM_DATABASE_URL")
    if db_url:
        print("PostgreSQL: using VITALSTREAM_DATABASE_URL")
        return db_url
    pg = PostgresServer(paths.root / "pg", password=keys["pg_password"])
    saved_port = _saved_pg_port(paths)
    if saved_port:
        pg.port = saved_port
    if "postgres" in kept:
        print(f"PostgreSQL: still running on 127.0.0.1:{pg.port}", flush=True)
        return pg.url
    print(f"PostgreSQL: starting on 127.0.0.1:{pg.port} …", flush=True)
    pg.init()
    pg.start()
    (paths.root / "pg" / "port").write_text(str(pg.port))
    state["processes"]["postgres"] = {"pid": pg.pid(), "port": pg.port, "log": str(pg.workdir / "postgres.log")}
    _save(paths.state, json.dumps(state))
    return pg.url


def _last_line(log: Path) -> str:
    """The last non-empty line of ``log`` (where a service says why it stopped), and where the rest is."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return f"{lines[-1][:200] if lines else 'no output'} (see {log})"


def _api_login(env: dict[str, str], stack_secret: str) -> None:
    """The read API's own least-privilege login (else it falls back to the owner's URL)."""
    from vitalstream.stack.reader import reader_url

    url = reader_url(env["VITALSTREAM_DATABASE_URL"], stack_secret)
    if url is None:
        print("PostgreSQL: could not give vitalstream_reader a login; the api uses VITALSTREAM_DATABASE_URL")
    else:
        env["VITALSTREAM_API_DATABASE_URL"] = url


def _console_env(paths: StackPaths, keys: dict[str, str]) -> dict[str, str]:
    """The console's port and its generated ``admin`` password (kept in secrets.json across restarts)."""
    if "console_admin" not in keys:
        keys["console_admin"] = secrets.token_urlsafe(18)
        _save(paths.secrets, json.dumps(keys))
    return {
        "VITALSTREAM_CONSOLE_HOST": os.environ.get("VITALSTREAM_CONSOLE_HOST", "127.0.0.1"),
        "VITALSTREAM_CONSOLE_PORT": os.environ.get("VITALSTREAM_CONSOLE_PORT", "8070"),
        "VITALSTREAM_CONSOLE_ADMIN_PASSWORD": keys["console_admin"],
    }


def _console_admin(settings: Any, env: dict[str, str]) -> None:
    from vitalstream.console.accounts_cli import ensure_account

    ensure_account(settings, "admin", "admin", env["VITALSTREAM_CONSOLE_ADMIN_PASSWORD"])
    print("console: account admin ready (password in stack.env as VITALSTREAM_CONSOLE_ADMIN_PASSWORD)")


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
    if "api" in state["processes"]:
        ahost, aport = env["VITALSTREAM_API_HOST"], env["VITALSTREAM_API_PORT"]
        print(f"  api         http://{ahost}:{aport}/v1/subjects/{{subject}}/metrics   (keys: vitalstream api-keys)")
    if "console" in state["processes"]:
        chost, cport = env["VITALSTREAM_CONSOLE_HOST"], env["VITALSTREAM_CONSOLE_PORT"]
        print(
            f"  console     http://{chost}:{cport}/   (log in as admin, password: VITALSTREAM_CONSOLE_ADMIN_PASSWORD)"
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
    for name in ("console", "api", "gateway", "worker", "sink"):
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
