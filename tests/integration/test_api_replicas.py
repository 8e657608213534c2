"""``VITALSTREAM_API_PROCESSES``: replicas of the read API on one port, and their lifecycle.

Every process must really listen on the port (each holds a listening socket of its own, as the
kernel's table of sockets shows), answer requests, and stop with the first process — also when
that one is SIGKILLed, so no orphan keeps serving (or holding the port) after it.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.api_helpers import ApiProcess, start_api
from tests.fix_pipeline import pipeline_env
from vitalstream.platform.settings import Settings
from vitalstream.stack.ports import port_in_use


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(fields[9])
    return inodes


def listening_pids(port: int) -> set[int]:
    """The processes holding a listening socket on ``port``."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if links & wanted:
            pids.add(int(pid))
    return pids


def _port(api: ApiProcess) -> int:
    return int(api.url.rsplit(":", 1)[1])


def _wait(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout_s:.0f} s")


def _answers(api: ApiProcess, times: int) -> set[int]:
    statuses = set()
    for _ in range(times):  # a new connection each: the kernel spreads them over the listeners
        with urllib.request.urlopen(f"{api.url}/healthz", timeout=10) as resp:
            statuses.add(resp.status)
    return statuses


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_replicas_share_the_port_and_stop_with_the_first_even_when_it_is_killed(
    db_settings: Settings, tmp_path: Path
) -> None:
    env = pipeline_env(db_settings, tmp_path)
    api = start_api(env, tmp_path, VITALSTREAM_API_PROCESSES="3")
    port = _port(api)
    try:
        _wait("three processes listening on the port", lambda: len(listening_pids(port)) == 3, 60)
        replicas = listening_pids(port) - {api.pid}
        assert _answers(api, 30) == {200}

        os.kill(api.pid, signal.SIGKILL)
        _wait("the replicas exiting once the first process is gone", lambda: not any(map(_alive, replicas)), 30)
        assert not port_in_use(port), "nothing may keep serving after the API was killed"
    finally:
        api.stop()


def test_stopping_the_first_process_stops_its_replicas(db_settings: Settings, tmp_path: Path) -> None:
    api = start_api(pipeline_env(db_settings, tmp_path), tmp_path, VITALSTREAM_API_PROCESSES="2")
    port = _port(api)
    _wait("two processes listening on the port", lambda: len(listening_pids(port)) == 2, 60)
    replicas = listening_pids(port) - {api.pid}
    api.stop()  # SIGTERM
    _wait("the replica stopping with the first process", lambda: not any(map(_alive, replicas)), 30)
    assert not port_in_use(port)
