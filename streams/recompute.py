"""``vitalstream recompute``: rebuild confidence state from ``metrics.normalized``.

A fresh Faust app id (so a fresh consumer group and fresh table changelogs) runs only the
score and quality agents from the earliest offset of ``metrics.normalized``, republishing
``metrics.scored`` / ``metrics.latest`` / ``metrics.quality_daily`` (the sink's upserts are
idempotent, so Postgres converges). It stops by itself once its group has committed the
high watermarks of ``metrics.normalized`` taken at start, and reports what it did.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

import faust
from confluent_kafka import Consumer, TopicPartition

from streams.app import create_app
from vitalstream.settings import Settings


@dataclass(frozen=True)
class RecomputeReport:
    app_id: str
    records: int
    seconds: float


def _watermarks(settings: Settings, topic: str) -> dict[int, int]:
    c = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"vs-probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        md = c.list_topics(topic, timeout=10)
        parts = md.topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def _committed(settings: Settings, group: str, topic: str, partitions: list[int]) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recompute(settings: Settings, *, app_id: str | None = None, web_port: int | None = None) -> RecomputeReport:
    """Run the recompute app in this process until it has caught up; blocks."""
    app_id = app_id or f"{settings.group_prefix}recompute-{int(time.time())}"
    topic = settings.topic("metrics.normalized")
    targets = _watermarks(settings, topic)
    app = create_app(
        settings,
        app_id=app_id,
        agents=("score", "quality"),
        web_port=web_port if web_port is not None else _free_port(),
    )
    started = time.monotonic()

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def _until_caught_up() -> None:
        loop = asyncio.get_running_loop()
        done = await loop.run_in_executor(None, _committed, settings, app_id, topic, sorted(targets))
        if all(done.get(p, -1) >= high for p, high in targets.items() if high > 0):
            os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful shutdown

    worker: Any = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.spinner = None  # see streams.main
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return RecomputeReport(app_id=app_id, records=sum(targets.values()), seconds=time.monotonic() - started)
