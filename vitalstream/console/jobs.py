"""Long actions started from the console (dead-letter replays, recomputes) and their progress.

A replay runs :func:`vitalstream.dlq.replay` in a thread; a recompute runs
``python -m vitalstream.console.recompute_job`` as a child process (a rebuild runs a Faust
worker, which owns its process's signals) that reports progress as JSON lines. The
registry is this process's: the recompute page lists the generations from Kafka as well.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from vitalstream import dlq
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("console.jobs")
KEEP = 20


@dataclass
class Job:
    kind: str
    actor: str
    summary: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    started_at: float = field(default_factory=time.time)
    state: str = "running"  # running | done | failed
    done: int = 0
    total: int = 0
    result: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return asdict(self)


class Jobs:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._jobs: list[Job] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_change = on_change

    def list(self, kind: str) -> list[dict[str, Any]]:
        return [j.view() for j in reversed(self._jobs) if j.kind == kind]

    def running(self, kind: str) -> Job | None:
        return next((j for j in self._jobs if j.kind == kind and j.state == "running"), None)

    def _add(self, job: Job) -> Job:
        self._jobs = [*self._jobs[-(KEEP - 1) :], job]
        self._on_change()
        return job

    def _spawn(self, job: Job, work: Callable[[Job], Any]) -> None:
        async def run() -> None:
            try:
                await work(job)
                job.state = "done" if job.state == "running" else job.state
            except Exception as exc:
                job.state = "failed"
                job.result["error"] = f"{type(exc).__name__}: {exc}"
                log.warning("job_failed", kind=job.kind, job=job.id, error=type(exc).__name__)
            self._on_change()

        task = asyncio.create_task(run(), name=f"job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_replay(self, settings: Settings, filters: dlq.Filters, actor: str, summary: str) -> Job:
        job = self._add(Job("replay", actor, summary))
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total
            loop.call_soon_threadsafe(self._on_change)

        async def work(job: Job) -> None:
            report = await asyncio.to_thread(
                dlq.replay, settings, filters, actor=f"console:{actor}", on_progress=progress
            )
            job.total = job.total or len(report.replayed)
            job.done = len(report.replayed)
            job.result = {
                "replayed": report.replayed,
                "already_replayed": report.skipped_already,
                "failed": report.failed,
            }
            if report.failed:
                job.state = "failed"

        self._spawn(job, work)
        return job

    def start_recompute(self, since: datetime | None, actor: str) -> Job:
        summary = f"since {since.isoformat()}" if since else "from the earliest retained record"
        job = self._add(Job("recompute", actor, summary))

        async def work(job: Job) -> None:
            argv = [sys.executable, "-m", "vitalstream.console.recompute_job"]
            if since is not None:
                argv += ["--since", since.isoformat()]
            child = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
            )
            assert child.stdout is not None
            async for line in child.stdout:
                event = _parse(line)
                if event.get("progress"):
                    job.done, job.total = event["progress"]
                elif event.get("report"):
                    job.result = event["report"]
                elif event.get("error"):
                    job.result = {"error": event["error"]}
                self._on_change()
            if await child.wait() != 0 or "error" in job.result:
                job.state = "failed"

        self._spawn(job, work)
        return job

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _parse(line: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
