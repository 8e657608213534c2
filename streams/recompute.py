"""``vitalstream recompute``: rebuild the confidence state beside the live worker, then switch over.

1. **Rebuild.** A new scoring generation N (:mod:`streams.generation`) runs, in this
   process, only the score and quality agents over ``metrics.normalized`` — from the
   earliest retained offset, or from the first record at or after ``--since`` — into its own
   tables. Meanwhile the live worker goes on as before. The rebuild publishes its
   re-scored observations (``metrics.scored``, generation N: for the same observation or
   slot the sink lets the newer generation win, and a newer ``measured_at`` still beats
   it, so ``latest_metrics`` never goes back in time); the current values and the daily
   quality windows are held back until they are complete.
2. **Catch up.** It stops once its lag behind the live head is at most ``max_lag`` records.
3. **Publish the complete state**: every key's current value (``metrics.latest``) and every
   daily window (``metrics.quality_daily``), stamped with generation N, read back from the
   rebuilt tables' changelogs.
4. **Switch over**: a :class:`~schemas.records.ScoringGeneration` record in the control topic.
   Every worker stops gracefully and starts again as generation N: score and quality go on
   where the rebuild stopped (same consumer group, same tables), normalize and retries where
   the old generation stopped. Nothing is skipped: whatever the rebuild had not reached is
   scored by the new generation; whatever the old one scored after that is scored again
   under N and wins in Postgres.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from confluent_kafka import TopicPartition

from schemas.confidence_model import ConfidenceModel
from schemas.records import ScoringGeneration
from schemas.vocabulary import spec_for
from streams import quality
from streams.app import create_app
from streams.confidence import SubjectMetricState, winner_record
from streams.generation import commit, committed
from streams.topics import quality_deltas_topic
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.control import app_id_for, publish, read_active
from vitalstream.platform.settings import Settings

Progress = Callable[[int, int], None]
"""Called about once a second with (records rebuilt, records to rebuild so far)."""


@dataclass(frozen=True)
class RecomputeReport:
    generation: int
    app_id: str
    previous_app_id: str
    records: int
    latest: int
    quality_windows: int
    seconds: float
    switched: bool


def next_generation(previous: ScoringGeneration | None, now_s: float) -> int:
    """Greater than the live one and than any earlier attempt's (seconds since the epoch, at least +1)."""
    return max((previous.generation if previous else 0) + 1, int(now_s))


def lag(targets: dict[int, int], done: dict[int, int]) -> int:
    return sum(max(0, high - done.get(p, 0)) for p, high in targets.items())


def _watermarks(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    reader = kafka.consumer(settings, "recompute")
    try:
        return kafka.end_offsets(reader, topic)
    finally:
        reader.close()


def start_offsets(settings: Settings, since: datetime | None) -> dict[int, int]:
    """Where the rebuild starts in each partition of ``metrics.normalized``."""
    topic = settings.topic("metrics.normalized")
    marks = _watermarks(settings, topic)
    if since is None:
        return {p: low for p, (low, _high) in marks.items()}
    consumer = kafka.consumer(settings, "recompute")
    try:
        ms = int(since.timestamp() * 1000)
        found = consumer.offsets_for_times([TopicPartition(topic, p, ms) for p in marks], timeout=10)
        # -1: nothing at or after `since` in that partition, i.e. start at its end
        return {tp.partition: tp.offset if tp.offset >= 0 else marks[tp.partition][1] for tp in found}
    finally:
        consumer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _latest_records(
    settings: Settings, app_id: str, generation: int, model: ConfidenceModel
) -> Iterator[kafka.OutRecord]:
    codec = codec_for(settings)
    now = datetime.now(UTC)
    topic = settings.topic("metrics.latest")
    for key, raw in kafka.read_compacted(settings, f"{app_id}-confidence-changelog", "recompute").items():
        subject, _, metric = key.decode().partition("|")
        spec = spec_for(metric)
        if spec is None:
            continue
        state = SubjectMetricState.from_dict(orjson.loads(raw))
        record = winner_record(subject, metric, state, spec.unit, model, generation, now)
        if record is not None:
            yield kafka.OutRecord(topic, codec.encode(record), key)


def _window_records(settings: Settings, app_id: str, generation: int) -> Iterator[kafka.OutRecord]:
    codec = codec_for(settings)
    topic = settings.topic("metrics.quality_daily")
    for key, raw in kafka.read_compacted(settings, f"{app_id}-quality-daily-changelog", "recompute").items():
        yield kafka.OutRecord(topic, codec.encode(quality.to_record(key.decode(), orjson.loads(raw), generation)), key)


def publish_state(settings: Settings, app_id: str, generation: int, model: ConfidenceModel) -> tuple[int, int]:
    """Publish every current value and daily window of the rebuilt tables; returns their counts.

    Through the toolkit's producer, so every key lands in the partition its other writers use.
    """
    producer = kafka.producer(settings, "recompute")
    latest = kafka.produce_all(producer, _latest_records(settings, app_id, generation, model))
    windows = kafka.produce_all(producer, _window_records(settings, app_id, generation))
    return latest, windows


def _members(settings: Settings, group: str) -> int:
    admin = kafka.admin(settings, "recompute")
    try:
        return len(admin.describe_consumer_groups([group])[group].result().members)
    except Exception:
        return 0


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(1.0)
    return True


def rebuild(
    settings: Settings, app_id: str, generation: int, *, max_lag: int, progress: Progress | None, web_port: int | None
) -> None:
    """Run the rebuild app in this process until it is within ``max_lag`` of the live head; blocks."""
    normalized = settings.topic("metrics.normalized")
    deltas = quality_deltas_topic(app_id)
    starts = {p: off for tp, off in committed(settings, app_id, [normalized]).items() for p in [tp.partition]}
    datadir = tempfile.mkdtemp(prefix="vitalstream-recompute-")
    app = create_app(
        settings,
        generation=generation,
        agents=("score", "quality"),
        rebuild=True,
        datadir=datadir,
        web_port=web_port if web_port is not None else _free_port(),
    )

    def caught_up() -> bool:
        heads = {p: high for p, (_low, high) in _watermarks(settings, normalized).items()}
        done = {tp.partition: off for tp, off in committed(settings, app_id, [normalized]).items()}
        if progress is not None:
            total = sum(max(0, heads[p] - starts.get(p, 0)) for p in heads)
            progress(total - lag(heads, done), total)
        if lag(heads, done) > max_lag:
            return False
        delta_heads = {p: high for p, (_low, high) in _watermarks(settings, deltas).items()}
        delta_done = {tp.partition: off for tp, off in committed(settings, app_id, [deltas]).items()}
        return lag(delta_heads, delta_done) == 0

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def _until_caught_up() -> None:
        if await asyncio.get_running_loop().run_in_executor(None, caught_up):
            os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful shutdown: commits, flushes

    worker: Any = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.spinner = None  # see streams.main
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        shutil.rmtree(datadir, ignore_errors=True)


def recompute(
    settings: Settings,
    *,
    since: datetime | None = None,
    max_lag: int = 1000,
    switch_wait_s: float = 120.0,
    progress: Progress | None = None,
    web_port: int | None = None,
) -> RecomputeReport:
    """Rebuild, publish the complete state, switch the live workers over; blocks until done."""
    started = time.monotonic()
    previous = read_active(settings)
    previous_app_id = previous.app_id if previous else app_id_for(settings, 0)
    generation = next_generation(previous, time.time())
    app_id = app_id_for(settings, generation)
    normalized = settings.topic("metrics.normalized")
    starts = start_offsets(settings, since)
    commit(settings, app_id, {TopicPartition(normalized, p): off for p, off in starts.items()})
    rebuild(settings, app_id, generation, max_lag=max_lag, progress=progress, web_port=web_port)
    done = committed(settings, app_id, [normalized])
    records = sum(max(0, off - starts.get(tp.partition, 0)) for tp, off in done.items())
    latest_n, quality_n = publish_state(settings, app_id, generation, settings.scoring_model())
    _wait_until(lambda: _members(settings, app_id) == 0, 30.0)  # the rebuild has left its group
    publish(
        settings,
        ScoringGeneration(
            generation=generation,
            app_id=app_id,
            switched_at=datetime.now(UTC),
            previous_app_id=previous_app_id,
            since=since,
            rebuilt_records=records,
            switched_by=f"{getpass.getuser()}@{socket.gethostname()}",
        ),
    )
    switched = _wait_until(lambda: _members(settings, app_id) > 0, switch_wait_s)  # a live worker joined
    return RecomputeReport(
        generation=generation,
        app_id=app_id,
        previous_app_id=previous_app_id,
        records=records,
        latest=latest_n,
        quality_windows=quality_n,
        seconds=time.monotonic() - started,
        switched=switched,
    )
