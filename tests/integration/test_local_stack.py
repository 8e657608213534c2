"""`vitalstream up --detach` / `status` / `down` on real Kafka and PostgreSQL, as a user runs them."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest

from vitalstream.stack import proc
from vitalstream.stack.ports import free_port, port_in_use, wait_port


def _cli(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalstream.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
    env.update(
        VITALSTREAM_STACK_DIR=str(tmp_path / "stack"),
        VITALSTREAM_LOCAL_KAFKA_PORT=str(free_port()),
        VITALSTREAM_GATEWAY_PORT=str(free_port()),
        VITALSTREAM_ADMIN_PORT=str(free_port()),
        VITALSTREAM_WORKER_WEB_PORT=str(free_port()),
        VITALSTREAM_SINK_METRICS_PORT=str(free_port()),
        VITALSTREAM_CONSOLE_PORT=str(free_port()),
        VITALSTREAM_API_PORT=str(free_port()),
    )
    return env


def _env_file(stack_dir: Path) -> dict[str, str]:
    lines = (stack_dir / "stack.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _console_login(base: str, account: str, password: str) -> str:
    """Log in to the console the way a browser's form does; returns the account name the overview shows."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(base + "login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    body = urllib.parse.urlencode({"csrf": csrf.group(1), "username": account, "password": password}).encode()
    overview = opener.open(base + "login", data=body, timeout=30).read().decode()
    shown = re.search(r'<span class="account">([^<]+)</span>', overview)
    return shown.group(1) if shown else ""


def test_up_status_down_leaves_nothing_behind(stack_env: dict[str, str], tmp_path: Path) -> None:
    stack_dir = tmp_path / "stack"
    up = _cli(["up", "--detach"], stack_env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "vitalstream is up" in up.stdout
        values = _env_file(stack_dir)
        for key in (
            "VITALSTREAM_KAFKA_BOOTSTRAP",
            "VITALSTREAM_DATABASE_URL",
            "VITALSTREAM_GATEWAY_HOST",
            "VITALSTREAM_GATEWAY_PORT",
            "VITALSTREAM_TERRA_SECRETS",
            "VITALSTREAM_WEBHOOK_SECRETS",
            "VITALSTREAM_ADMIN_TOKEN",
            "VITALSTREAM_CONSOLE_PORT",
            "VITALSTREAM_CONSOLE_ADMIN_PASSWORD",
            "VITALSTREAM_API_PORT",
            "VITALSTREAM_API_DATABASE_URL",
        ):
            assert values.get(key), key
        console_url = f"http://127.0.0.1:{values['VITALSTREAM_CONSOLE_PORT']}/"
        assert console_url in up.stdout
        assert values["VITALSTREAM_CONSOLE_ADMIN_PASSWORD"] not in up.stdout
        assert wait_port(int(values["VITALSTREAM_CONSOLE_PORT"]), timeout_s=30)
        assert _console_login(console_url, "admin", values["VITALSTREAM_CONSOLE_ADMIN_PASSWORD"]) == "admin"
        # The database has the migrations applied.
        with psycopg.connect(values["VITALSTREAM_DATABASE_URL"]) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"latest_metrics", "observations", "ingested_events"} <= tables

        status = _cli(["status"], stack_env)
        assert status.returncode == 0, status.stdout
        for service in ("gateway", "worker", "sink", "console", "api", "kafka", "postgres"):
            assert service in status.stdout

        # The whole pipeline runs: simulated webhooks become rows (the CLI reads stack.env itself).
        sim = _cli(["simulate", "--count", "40", "--rate", "40", "--users", "4"], stack_env)
        assert sim.returncode == 0, sim.stdout + sim.stderr
        assert json.loads(sim.stdout.splitlines()[-1])["accepted"] > 0
        deadline = time.monotonic() + 120
        rows = 0
        while time.monotonic() < deadline and rows == 0:
            with psycopg.connect(values["VITALSTREAM_DATABASE_URL"]) as conn:
                rows = conn.execute("SELECT count(*) FROM latest_metrics").fetchone()[0]  # type: ignore[index]
            time.sleep(1)
        assert rows > 0, "simulated webhooks never reached latest_metrics"
        # The README's app-developer path: a key from the CLI, the user's metrics from the API.
        key = _cli(["api-keys", "create", "app", "--subjects", "sim-7-*"], stack_env).stdout.splitlines()[-1]
        with psycopg.connect(values["VITALSTREAM_DATABASE_URL"]) as conn:
            subject = conn.execute("SELECT subject FROM latest_metrics LIMIT 1").fetchone()[0]  # type: ignore[index]
        request = urllib.request.Request(
            f"http://127.0.0.1:{values['VITALSTREAM_API_PORT']}/v1/subjects/{subject}/metrics",
            headers={"Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["metrics"]
        health = _cli(["health"], stack_env)
        assert json.loads(health.stdout)["checks"]["database"] == "ok"

        # An interrupted `up` (or crashed services): Kafka and PostgreSQL still run, the services don't.
        state = json.loads((stack_dir / "stack.json").read_text())["processes"]
        for service in ("gateway", "worker", "sink"):
            assert proc.stop(state[service]["pid"], timeout_s=20)
        resumed = _cli(["up", "--detach"], stack_env)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "resuming" in resumed.stdout and "vitalstream is up" in resumed.stdout
        after = json.loads((stack_dir / "stack.json").read_text())["processes"]
        assert after["kafka"]["pid"] == state["kafka"]["pid"] and after["postgres"]["pid"] == state["postgres"]["pid"]
        status = _cli(["status"], stack_env)
        assert status.returncode == 0, status.stdout

        twin = _cli(["up", "--detach"], stack_env)
        assert twin.returncode == 1 and "already running" in twin.stdout
        pids = [int(line.split("pid ")[1].split()[0]) for line in status.stdout.splitlines() if " pid " in line]
        assert pids
    finally:
        down = _cli(["down"], stack_env)
    assert down.returncode == 0
    for pid in pids:
        assert proc.wait_exit(pid, 10), f"pid {pid} still running after down"
    assert _cli(["status"], stack_env).returncode == 1
    again = _cli(["down"], stack_env)
    assert again.returncode == 0 and "nothing was running" in again.stdout


def test_port_in_use_is_one_clear_line(stack_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack_env["VITALSTREAM_LOCAL_KAFKA_PORT"] = str(busy.getsockname()[1])
        result = _cli(["up", "--detach"], stack_env)
    assert result.returncode == 1
    assert "is in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    _cli(["down"], stack_env)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    return errors[0]


def test_gateway_port_taken_fails_before_anything_starts(stack_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack_env["VITALSTREAM_GATEWAY_PORT"] = str(busy.getsockname()[1])
        line = _one_error_line(_cli(["up", "--detach"], stack_env, timeout=60))
    assert "is in use" in line and "VITALSTREAM_GATEWAY_PORT" in line
    assert "Kafka" not in _cli(["status"], stack_env).stdout


def test_failure_after_kafka_started_is_one_line_and_stops_kafka(stack_env: dict[str, str]) -> None:
    kafka_port = int(stack_env["VITALSTREAM_LOCAL_KAFKA_PORT"])
    stack_env["VITALSTREAM_DATABASE_URL"] = f"postgresql://nobody:wrong@127.0.0.1:{free_port()}/none"
    result = _cli(["up", "--detach"], stack_env)
    assert "Kafka: starting" in result.stdout
    line = _one_error_line(result)
    assert "OperationalError" in line and "stopped what had started" in line
    deadline = time.monotonic() + 30
    while port_in_use(kafka_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not port_in_use(kafka_port), "the broker `up` started is still running"
    assert _cli(["status"], stack_env).returncode == 1
