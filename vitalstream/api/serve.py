"""Serving the read API from one or more processes on one port (``VITALSTREAM_API_PROCESSES``).

The API is stateless apart from caches and every process builds its own stream state from
``metrics.latest``, so a replica is just another process: with more than one, each binds the
port with ``SO_REUSEPORT`` and the kernel spreads connections over them. One Python process
answers requests on one core at a time; at 2,000 requests/s it is most of a core busy, and
its queue — not the work — sets the p99. The first process starts the others and stops them
when it stops; each of them exits by itself if that first process is gone (even SIGKILLed).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from vitalstream.api.app import create_app
from vitalstream.platform.observability import configure_logging, get_logger
from vitalstream.platform.runtime import freeze_startup_heap
from vitalstream.platform.settings import Settings

log = get_logger("api")
PARENT_CHECK_S = 1.0
CHILD_STOP_S = 10.0


def run(settings: Settings) -> None:
    """Serve ``settings.api_processes`` processes; returns when this (the first) one stops."""
    configure_logging(settings.log_level, service="api")
    ctx = mp.get_context("spawn")
    others = [
        ctx.Process(target=_replica, args=(os.getpid(),), name=f"vitalstream-api-{n}", daemon=True)
        for n in range(1, settings.api_processes)
    ]
    for process in others:
        process.start()
    try:
        _serve(settings, reuse_port=bool(others))
    finally:
        for process in others:
            process.terminate()  # SIGTERM: each stops gracefully, like the first
        for process in others:
            process.join(CHILD_STOP_S)
            if process.is_alive():
                process.kill()


def _replica(parent_pid: int) -> None:
    """Another process of the same API: its settings from the same environment."""
    settings = Settings()
    configure_logging(settings.log_level, service="api")
    _serve(settings, reuse_port=True, parent_pid=parent_pid)


def _serve(settings: Settings, reuse_port: bool, parent_pid: int | None = None) -> None:
    app = create_app(settings)
    if parent_pid is not None:
        app.cleanup_ctx.append(_exit_without(parent_pid))
    freeze_startup_heap()
    web.run_app(
        app,
        host=settings.api_host,
        port=settings.api_port,
        reuse_port=reuse_port or None,
        access_log=None,
        print=None,
        shutdown_timeout=5.0,
    )


def _exit_without(parent_pid: int) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that stops this process (SIGTERM: a graceful stop) once ``parent_pid``
    is no longer its parent."""

    async def watch(_app: web.Application) -> AsyncIterator[None]:
        async def check() -> None:
            while os.getppid() == parent_pid:
                await asyncio.sleep(PARENT_CHECK_S)
            log.warning("api_parent_gone", parent=parent_pid)
            os.kill(os.getpid(), signal.SIGTERM)

        task = asyncio.get_running_loop().create_task(check())
        yield
        task.cancel()

    return watch
