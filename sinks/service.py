"""``vitalstream sink``: consume ``metrics.scored``, ``users``, ``events.ledger`` and ``backfill.jobs``, keep PostgreSQL
current, commit offsets only after the database transaction commits.

The loop is thin and each of its jobs has a module (quix-streams' sink/checkpoint split):
:mod:`sinks.inbound` decodes, :mod:`sinks.writer` writes one transaction per batch (bisecting a
permanent failure), :mod:`sinks.dead_lettering` sends the culprits to the DLQ and the ledger,
:mod:`sinks.backpressure` pauses and backs off through transient failures (nothing is skipped),
:mod:`sinks.checkpoint` commits offsets once a batch's effects are durable.

Pipelining: the consumer, decoding, dead-lettering and offset commits stay on the calling
thread; only the first attempt at a batch's database transaction runs on one writer
thread, so batch N+1 is decoded while batch N is written. Batches are still written one
after the other, in order (N+1 starts only after N is finished: committed, its dead letters
sent and its offsets committed). A failed first attempt is handled on the calling thread
exactly as without pipelining (pause and back off, or bisect). Partitions revoked while a
batch is in flight may fail its offset commit: the next owner redelivers it, and every
write is idempotent. ``Sink(pipelined=False)`` finishes each batch inside ``handle``.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import cast

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from prometheus_client import start_http_server
from psycopg_pool import ConnectionPool

from schemas import timing
from sinks import metrics as m
from sinks.backpressure import Backpressure
from sinks.checkpoint import Checkpoint
from sinks.dead_lettering import DeadLetterer
from sinks.deadletter import error_class
from sinks.fastdecode import ScoredReader
from sinks.inbound import SCORED, TOPICS, Inbound, MessageLike, decode
from sinks.reconcile import ReconcileGauges, start_reconciler
from sinks.rows import ObservationRow
from sinks.store import BatchResult, make_pool, record_scoring_settings
from sinks.writer import BatchWriter, build_batch, count
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.observability import configure_logging, get_logger
from vitalstream.platform.runtime import freeze_startup_heap, quick_lock_handoff
from vitalstream.platform.settings import Settings, secret_values
from vitalstream.platform.stall import StallGuard, abandon

log = get_logger("sinks.service")
FLUSH_TIMEOUT_S = 10.0


@dataclass(slots=True)
class InFlight:
    """A batch whose database write has been handed to the writer thread."""

    msgs: Sequence[Message]
    items: list[Inbound]
    writable: list[Inbound]
    dead: list[tuple[Inbound, BaseException]] = field(default_factory=list)
    future: Future[BatchResult] | None = None


class Sink:
    """One sink process: the consume loop over its writer, dead-letterer, backpressure and checkpoint."""

    def __init__(
        self,
        settings: Settings,
        *,
        pool: ConnectionPool | None = None,
        stop: threading.Event | None = None,
        after_db_commit: Callable[[], None] | None = None,
        pipelined: bool = True,
    ) -> None:
        self.settings = settings
        self.codec = codec_for(settings)
        self.reader = ScoredReader()
        self.pipelined = pipelined
        self.stop = stop or threading.Event()
        self.after_db_commit = after_db_commit
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else make_pool(settings)
        self.checkpoint = Checkpoint()
        self.producer = kafka.producer(settings, "sink")
        self.consumer = self._subscribed_consumer()
        self.backpressure = Backpressure(self.consumer, self.stop)
        self.stall = StallGuard(settings, "sink", settings.group_prefix + "sink", [settings.topic(t) for t in TOPICS])
        self.writer = BatchWriter(settings, self.pool, self.producer, self.backpressure)
        self.dead_letters = DeadLetterer(settings, self.pool, self.producer, self.backpressure)
        self.backpressure.retrying(self._record_scoring_settings)
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-db")
        if pipelined:
            quick_lock_handoff()  # the writer thread waits on PostgreSQL while this one decodes
        self._inflight: InFlight | None = None
        self._closed = False

    def _subscribed_consumer(self) -> Consumer:
        consumer = kafka.consumer(
            self.settings, "sink", self.settings.group_prefix + "sink", on_commit=self.checkpoint.on_commit
        )
        consumer.subscribe([self.settings.topic(t) for t in TOPICS], on_revoke=self._revoked)
        return consumer

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is self.consumer:  # not a replaced consumer closing (vitalstream.platform.stall)
            self.checkpoint.revoked(consumer, partitions)
            self.backpressure.forget(partitions)

    def _record_scoring_settings(self) -> None:
        with self.pool.connection() as conn:
            record_scoring_settings(conn, self.settings.scoring_model().high_confidence_threshold)

    @property
    def last_commit_at(self) -> float | None:
        """``time.perf_counter()`` of the latest offset commit (benchmarks)."""
        return self.checkpoint.last_commit_at

    # --- the loop ------------------------------------------------------------------------
    def step(self, timeout_s: float | None = None) -> int:
        """Consume one batch (what is ready, see :meth:`_next_batch`) and handle it."""
        wait = self.settings.sink_batch_max_wait_ms / 1000 if timeout_s is None else timeout_s
        msgs = self._next_batch(wait)
        good = []
        for msg in msgs:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.fatal():
                raise KafkaException(err)
            else:
                log.warning("consumer error", error=err.str())
        if good:
            self.stall.received()
            self.handle(good)
        else:
            self.finish()
            self._check_stall()
        return len(good)

    def _next_batch(self, wait_s: float) -> list[Message]:
        """Up to ``sink_batch_size`` records, written as soon as nothing more is ready.

        Gathered in steps: what is fetched already; else (with the batch in flight finished
        first: nothing to overlap with) :func:`kafka.consume_ready` — the first record to
        arrive within ``wait_s``, then what came with it (waiting ``sink_batch_linger_ms``
        for more). At low load a record is written the moment it arrives; under load the
        batches grow by themselves while the previous one is written (design §11)."""
        size = self.settings.sink_batch_size
        msgs: list[Message] = self.consumer.consume(num_messages=size, timeout=0)
        if msgs:
            return msgs
        self.finish()
        self.checkpoint.flush(self.consumer)  # about to wait: nothing is gained by holding offsets back
        return kafka.consume_ready(self.consumer, size, wait_s, self.settings.sink_batch_linger_ms / 1000)

    # --- a consumer that lost its group without a word (vitalstream.platform.stall) ------------
    def _check_stall(self) -> None:
        if not self.stall.due():
            return
        stalled = self.stall.check(self.consumer)
        if stalled:
            old, self.consumer = self.consumer, self._subscribed_consumer()
            self.backpressure.rebind(self.consumer)
            self.stall.replaced(stalled)
            abandon(old, "sink")

    def run_forever(self) -> None:
        while not self.stop.is_set():
            try:
                self.step()
            except Exception:
                if self.stop.is_set():
                    break
                raise

    def drain(self, idle_s: float = 2.0, max_s: float = 60.0) -> int:
        """Handle batches until nothing arrived for ``idle_s`` (tests, benchmarks)."""
        total, deadline, quiet_since = 0, time.monotonic() + max_s, time.monotonic()
        while time.monotonic() < deadline:
            n = self.step(timeout_s=0.2)
            total += n
            if n or not self.consumer.assignment():  # idle only counts once we own partitions
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= idle_s and self.caught_up():
                break
        return total

    def caught_up(self) -> bool:
        """Every assigned partition's committed offset is at its high watermark."""
        assignment = self.consumer.assignment()
        if not assignment:
            return False
        for tp in self.consumer.committed(assignment, timeout=10):
            lo, hi = self.consumer.get_watermark_offsets(tp, cached=True)  # from fetch responses
            if lo is None or hi is None or hi < 0:
                return False
            position = tp.offset if tp.offset >= 0 else lo
            if position < hi:
                return False
        return True

    def handle(self, msgs: Sequence[Message]) -> None:
        """Decode ``msgs`` (overlapping the write in flight), finish that write, start this one."""
        m.BATCH_SIZE.observe(len(msgs))
        # confluent's stub types headers() for producing too; a consumed message's are (str, bytes) pairs
        items = [decode(cast(MessageLike, msg), self.codec, self.settings.topic_prefix, self.reader) for msg in msgs]
        self.finish()
        dead: list[tuple[Inbound, BaseException]] = [(i, i.error) for i in items if i.error is not None]
        writable = [i for i in items if i.error is None and i.row is not None]
        batch = InFlight(msgs, items, writable, dead)
        if writable:
            self.writer.ensure_partitions([i.row for i in writable if isinstance(i.row, ObservationRow)])
            batch.future = self._db_thread.submit(self.writer.write, build_batch(writable))
        self._inflight = batch
        if not self.pipelined:
            self.finish()

    def finish(self) -> None:
        """Complete the batch in flight: its write (retried or bisected here if it failed),
        its dead letters, then its offsets."""
        batch, self._inflight = self._inflight, None
        if batch is None:
            return
        if batch.future is not None:
            try:
                count(batch.future.result())
            except Exception:
                # the first attempt failed: back off and retry, or bisect, on this thread
                self.writer.write_isolating(batch.writable, batch.dead)
        self._observe_latency(batch.writable)
        if batch.dead:
            self.dead_letters.send(batch.dead)
        outcomes = Counter((i.short_topic, "dead_lettered" if i.error else "ok") for i in batch.items)
        for (topic, result), n in outcomes.items():
            m.MESSAGES.labels(topic, result).inc(n)
        if self.after_db_commit is not None:
            self.after_db_commit()
        self.checkpoint.commit(self.consumer, batch.msgs)
        self.checkpoint.observe_lag(self.consumer, batch.msgs)
        m.observe_pool(dict(self.pool.get_stats()))

    @staticmethod
    def _observe_latency(written: Sequence[Inbound]) -> None:
        """The latency budget of the scored observations just committed (``schemas.timing``)."""
        committed_ms = timing.now_ms()
        m.LATENCY.observe((i.msg.headers() for i in written if i.short_topic == SCORED), committed_ms)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._inflight is not None:
                try:
                    self.finish()
                except Exception as exc:  # its offsets stay uncommitted: the batch comes again
                    log.warning("batch in flight not finished at close", error=error_class(exc))
            self._db_thread.shutdown(wait=True)
            self.checkpoint.flush(self.consumer)
            self.consumer.close()  # auto-commit is off: closing commits nothing else
            self.stall.close()
        finally:
            self.producer.flush(FLUSH_TIMEOUT_S)
            if self._owns_pool:
                self.pool.close()


def run(settings: Settings) -> None:
    """Entry point of ``vitalstream sink``: runs until SIGTERM/SIGINT."""
    configure_logging(settings.log_level, service="sink", secrets=secret_values(settings))
    start_http_server(settings.sink_metrics_port)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sink = Sink(settings, stop=stop)
    start_reconciler(settings, stop, ReconcileGauges())
    freeze_startup_heap()
    log.info("sink started", topics=[settings.topic(t) for t in TOPICS], group=settings.group_prefix + "sink")
    try:
        sink.run_forever()
    finally:
        sink.close()
        log.info("sink stopped")
