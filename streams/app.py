"""The Faust app of the stream worker: topics, tables, agents, ``/metrics``.

Agents (each reads batches with ``take_ready`` and acks a batch only after every record
it produced is acknowledged by the broker, see :mod:`streams.agents_io`):

- ``normalize``: ``webhooks.raw`` → ``metrics.normalized`` / ``users`` / ``ops.events`` /
  ``events.ledger``; event-level dedup in table ``seen-events``; pings skipped;
- ``fetch`` (a service on its own consumer group, :mod:`streams.fetch`): pings in
  ``webhooks.raw`` → their downloaded payloads, back to ``webhooks.raw``;
- ``score``: ``metrics.normalized`` → table ``confidence`` → ``metrics.scored`` /
  ``metrics.latest`` + quality deltas (internal topic, keyed ``day|metric|provider``);
- ``quality``: quality deltas → table ``quality-daily`` → ``metrics.quality_daily``;
- ``tracking``: large-request facts from normalize (internal topic, keyed by ``terra-reference``)
  → table ``backfill-jobs`` → ``backfill.jobs`` (design §13);
- ``backfill``: ``webhooks.backfill`` like ``normalize``, at lower priority (:mod:`streams.backfill`);
- ``retry-5s``, ``retry-1m``, ``retry-10m``: retry tiers back to the original topic.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust
from aiohttp.web import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from schemas.records import Observation
from schemas.topics import RETRY_TIERS, spec
from streams import backfill
from streams.agents import NormalizeStage, QualityStage, ScoreStage
from streams.agents_io import OutputProducer, send_all, worker_producer_config
from streams.batching import take_ready
from streams.consumer import FastDeliveryConsumer
from streams.expiry import SeenExpiry
from streams.fetch import FetchStage, payload_fetcher
from streams.generation import datadir_for, seen_events_changelog, tracking_changelog, tracking_facts_topic
from streams.metrics import WorkerMetrics
from streams.retry import RetryStage
from streams.topics import ensure_topic, quality_deltas_topic, seen_changelog_config
from streams.tracking_stage import TrackingStage, status_counts, tick_outs, tracking_tick_s
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.control import app_id_for
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("streams.app")

BATCH_MAX = 1000
EXPIRY_TICK_S = 1.0
"""With ``expiry.SLICE`` keys a tick: 2,000 ids a second looked at, in slices of a few ms."""


def create_app(
    settings: Settings,
    *,
    app_id: str | None = None,
    clock: Callable[[], datetime] | None = None,
    scoring_clock: Callable[[Observation], datetime] | None = None,
    agents: tuple[str, ...] = ("normalize", "fetch", "score", "quality", "tracking", "retry"),
    web_port: int | None = None,
    generation: int = 0,
    rebuild: bool = False,
    datadir: str | None = None,
) -> faust.App:
    """The worker app of scoring generation ``generation`` (:mod:`streams.generation`).

    ``clock`` (wall clock by default) stamps ledger rows and, unless ``scoring_clock`` is
    given, is the scoring time used for freshness. ``rebuild`` is the recompute's mode: only
    ``metrics.scored`` is published while the state is rebuilt (the current values and the
    daily windows go out once, complete, at the switch-over)."""
    partitions = spec("metrics.normalized").partitions
    assert spec("webhooks.raw").partitions == partitions, "tables are co-partitioned with both sources"
    assert spec("webhooks.backfill").partitions == partitions, "the backfill lane shares normalize's table"
    app = faust.App(
        app_id or app_id_for(settings, generation),
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=kafka.faust_credentials(settings),
        store=settings.worker_store,
        datadir=datadir or str(datadir_for(settings, generation)),
        processing_guarantee="at_least_once",
        topic_partitions=partitions,
        topic_replication_factor=settings.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        web_port=web_port if web_port is not None else settings.worker_web_port,
        web_bind="0.0.0.0",  # noqa: S104 - a metrics port for the scraper
        web_host="127.0.0.1",
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=2000,
        stream_buffer_maxsize=16384,
        producer_acks=-1,
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
        table_standby_replicas=0,
        broker_session_timeout=10.0,  # a killed worker's partitions move on within seconds
        broker_heartbeat_interval=2.0,
        topic_disable_leader=True,
        stream_wait_empty=True,
    )
    app.transport.Consumer = FastDeliveryConsumer  # type: ignore[misc]  # see streams.consumer
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    _setup_metrics(app, registry, faust_sensor=os.environ.get("VITALSTREAM_FAUST_SENSORS", "0") == "1")
    codec = codec_for(settings)
    now = clock or (lambda: datetime.now(UTC))
    producer = OutputProducer(worker_producer_config(settings))
    common: dict[str, Any] = {
        "app": app,
        "settings": settings,
        "codec": codec,
        "metrics": metrics,
        "clock": now,
        "producer": producer,
    }

    @app.service
    class _FlushProducer(faust.Service):  # type: ignore[misc,unused-ignore]
        async def on_stop(self) -> None:
            await producer.close()

    gate: backfill.BackfillGate | None = None
    if "normalize" in agents:
        seen = _table_with_changelog(
            app,
            settings,
            "seen-events",
            seen_events_changelog(settings),
            partitions,
            seen_changelog_config(settings),
            deleting=True,
            retention=float(settings.dedup_window_s),
        )
        normalize_stage = NormalizeStage(**common, seen=seen)
        raw_topic = app.topic(
            settings.topic("webhooks.raw"), key_serializer="raw", value_serializer="raw", partitions=partitions
        )
        gate = backfill.BackfillGate(
            app,
            (settings.topic("webhooks.raw"), settings.topic("metrics.normalized")),
            settings.topic("webhooks.backfill"),
            settings.backfill_pause_lag,
            metrics,
            target_delay_ms=settings.backfill_target_delay_ms,
        )
        _batch_agent(app, raw_topic, "normalize", normalize_stage.process, after=gate.processed)
        _backfill_lane(app, settings, gate, NormalizeStage(**common, seen=seen, lane=gate))
        expiry = SeenExpiry(lambda: seen.data, settings.dedup_window_s)

        @app.timer(EXPIRY_TICK_S)  # type: ignore[untyped-decorator]
        async def _expire_seen_events() -> None:
            removed, finished = expiry.tick()
            metrics.seen_expired.inc(removed)
            if finished:
                log.info("seen-events expiry pass done", removed=expiry.removed_this_pass)
                expiry.removed_this_pass = 0

    if "fetch" in agents:
        _fetch_service(app, FetchStage(**common, fetcher=payload_fetcher(settings)))

    deltas_name = quality_deltas_topic(app.conf.id)
    ensure_topic(settings, deltas_name, spec("metrics.quality_daily").partitions)
    deltas = app.topic(
        deltas_name, key_serializer="raw", value_serializer="raw", partitions=spec("metrics.quality_daily").partitions
    )
    if "score" in agents:
        confidence = app.Table("confidence", default=None, key_type=bytes, value_type=bytes, partitions=partitions)
        score_stage = ScoreStage(
            **common,
            table=confidence,
            model=settings.scoring_model(),
            deltas_topic=deltas.get_topic_name(),
            scoring_clock=scoring_clock,
            generation=generation,
            emit_latest=not rebuild,
            live_age=gate.note_live_age if gate else None,
        )
        norm_topic = app.topic(
            settings.topic("metrics.normalized"), key_serializer="raw", value_serializer="raw", partitions=partitions
        )
        _batch_agent(app, norm_topic, "score", score_stage.process, after=gate.processed if gate else None)
    if "quality" in agents:
        quality_table = app.Table(
            "quality-daily",
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=spec("metrics.quality_daily").partitions,
        )
        quality_stage = QualityStage(**common, table=quality_table, generation=generation, emit=not rebuild)
        _batch_agent(app, deltas, "quality", quality_stage.process)
    if "tracking" in agents:
        _tracking(app, settings, common, metrics)
    if "retry" in agents:
        for tier in RETRY_TIERS:
            stage = RetryStage(**common, tier=tier)
            topic = app.topic(
                settings.topic(tier), key_serializer="raw", value_serializer="raw", partitions=spec(tier).partitions
            )
            # one record at a time: a retry record waits out its delay inside the batch
            _batch_agent(app, topic, tier.replace(".", "-"), stage.process, batch=1)
    return app


def _fetch_service(app: faust.App, stage: FetchStage) -> None:
    """The fetch stage as a service of the worker app: started and stopped with it, its own group.

    Run through ``add_future``: if it fails, the service crashes the worker (Faust's supervision),
    never a silent stop while pings wait."""
    stop = asyncio.Event()

    @app.service
    class _Fetch(faust.Service):  # type: ignore[misc,unused-ignore]
        running: asyncio.Future[None] | None = None

        async def on_start(self) -> None:
            self.running = self.add_future(stage.run(stop))

        async def on_stop(self) -> None:
            stop.set()
            if self.running is not None:
                await asyncio.wait([self.running])


def _tracking(app: faust.App, settings: Settings, common: dict[str, Any], metrics: WorkerMetrics) -> None:
    """Large requests (design §13): normalize's facts → table ``backfill-jobs`` → ``backfill.jobs``.

    The facts topic and the table's changelog keep one name across generations, so a switch-over
    keeps every job; a timer sends each partition a tick (the sweep) and refreshes the gauge."""
    partitions = spec("backfill.jobs").partitions
    facts_name = tracking_facts_topic(settings)
    ensure_topic(settings, facts_name, partitions)
    facts = app.topic(facts_name, key_serializer="raw", value_serializer="raw", partitions=partitions)
    changelog_config = {"cleanup.policy": "compact"}
    jobs = _table_with_changelog(
        app, settings, "backfill-jobs", tracking_changelog(settings), partitions, changelog_config
    )
    stage = TrackingStage(**common, table=jobs, partitions=partitions)
    _batch_agent(app, facts, "tracking", stage.process)

    @app.timer(tracking_tick_s(settings))  # type: ignore[untyped-decorator]
    async def _tick_tracking() -> None:
        for status, n in status_counts(jobs.data.values()).items():
            metrics.backfill_jobs.labels(status).set(n)
        await send_all(common["producer"], tick_outs(facts_name, partitions), metrics)


def _table_with_changelog(
    app: faust.App,
    settings: Settings,
    table: str,
    changelog_name: str,
    partitions: int,
    config: dict[str, str],
    **topic_options: Any,
) -> Any:
    """A bytes→bytes table whose changelog is named by us (one name across generations), created up front."""
    ensure_topic(settings, changelog_name, partitions, config=config)
    changelog = app.topic(
        changelog_name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        compacting=True,
        acks=False,
        internal=True,
        **topic_options,
    )
    return app.Table(
        table, default=None, key_type=bytes, value_type=bytes, partitions=partitions, changelog_topic=changelog
    )


def _batch_agent(
    app: faust.App,
    topic: Any,
    name: str,
    process: Callable[[Any], Any],
    batch: int = BATCH_MAX,
    *,
    before: Callable[[], Awaitable[None]] | None = None,
    after: Callable[[Any], None] | None = None,
) -> None:
    """An agent taking batches of what is ready, up to ``batch`` records (:func:`streams.batching.take_ready`:
    no fixed wait at low load)."""

    async def agent(stream: Any) -> None:
        async for events in take_ready(stream, batch):
            if before is not None:
                await before()
            await process(events)
            if after is not None:
                after(events)

    agent.__name__ = agent.__qualname__ = f"vs_{name.replace('-', '_')}"
    app.agent(topic, name=f"vitalstream.{name}")(agent)


def _backfill_lane(app: faust.App, settings: Settings, gate: backfill.BackfillGate, stage: NormalizeStage) -> None:
    """``webhooks.backfill`` normalized like ``webhooks.raw``, in small batches, only when live work allows."""
    topic = app.topic(
        settings.topic("webhooks.backfill"),
        key_serializer="raw",
        value_serializer="raw",
        partitions=spec("webhooks.backfill").partitions,
    )
    _batch_agent(
        app,
        topic,
        "backfill",
        stage.process,
        backfill.BATCH,
        before=gate.wait_turn,
        after=gate.processed,
    )

    @app.timer(backfill.TICK_S)  # type: ignore[untyped-decorator]
    async def _backfill_gate() -> None:
        gate.tick()


def _setup_metrics(app: faust.App, registry: CollectorRegistry, *, faust_sensor: bool) -> None:
    """``/metrics``: our metrics, plus Faust's Prometheus sensor (throughput, lag, commits, table ops)
    only with ``VITALSTREAM_FAUST_SENSORS=1``: it costs over a third of the throughput."""
    if faust_sensor:
        from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

        app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, "vitalstream_faust"))

    async def metrics_page(_self: Any, _request: Any) -> Any:
        return Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}, status=200)

    app.page("/metrics")(metrics_page)
