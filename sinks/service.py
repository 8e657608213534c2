"""``vitalstream sink``: consume ``metrics.scored``, ``users``, ``metrics.quality_daily`` and
``events.ledger``, keep PostgreSQL current, commit offsets only after the database
transaction commits.

The loop is thin: :mod:`sinks.inbound` decodes, :mod:`sinks.store` writes one transaction
per batch, :mod:`sinks.deadletter` builds DLQ records. Transient failures pause the
partitions and back off with jitter until the write succeeds (nothing is skipped);
a permanent failure is isolated by bisecting the batch and only that record is
dead-lettered.

Pipelining: the consumer, decoding, dead-lettering and offset commits stay on the calling
thread; only the first attempt at a batch's database transaction runs on one writer
thread, so batch N+1 is decoded while batch N is written. Batches are still written one
after the other, in order (N+1 starts only after N is finished: committed, its dead letters
sent and its offsets committed). A failed first attempt is handled on the calling thread
exactly as without pipelining (pause and back off, or bisect). Partitions revoked while a
batch is in flight may fail its offset commit: the next owner redelivers it, and every
write is idempotent. Offset commits are asynchronous (see :meth:`Sink._commit_offsets`).
``Sink(pipelined=False)`` finishes each batch inside ``handle``.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import start_http_server
from psycopg_pool import ConnectionPool
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from schemas.records import UserEvent
from sinks import metrics as m
from sinks.deadletter import dlq_headers, dlq_reason, error_class
from sinks.errors import KafkaUnavailable, is_permanent, is_transient
from sinks.fastdecode import ScoredReader
from sinks.inbound import TOPICS, Inbound, decode
from sinks.outcomes import OutcomeRow
from sinks.plan import STAGE
from sinks.rows import LedgerRow, ObservationRow, QualityRow
from sinks.store import (
    Batch,
    BatchResult,
    ensure_partitions,
    make_pool,
    months_needing_partitions,
    record_dead_letters,
    write_batch,
)
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.observability import configure_logging, get_logger
from vitalstream.platform.settings import Settings

log = get_logger("sinks.service")
T = TypeVar("T")
FLUSH_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 10.0


def build_batch(items: Sequence[Inbound]) -> Batch:
    batch = Batch()
    for item in items:
        row = item.row
        if isinstance(row, ObservationRow):
            batch.observations.append(row)
            if item.replayed and item.event_id:
                batch.replayed_event_ids.add(item.event_id)
        elif isinstance(row, UserEvent):
            batch.user_events.append(row)
        elif isinstance(row, QualityRow):
            batch.quality.append(row)
        elif isinstance(row, OutcomeRow):
            batch.outcomes.append(row)
    return batch


def next_offsets(msgs: Sequence[Any]) -> list[Any]:
    """Per partition, the offset after the last message handled."""
    last: dict[tuple[str, int], int] = {}
    for msg in msgs:
        key = (msg.topic(), msg.partition())
        last[key] = max(last.get(key, -1), msg.offset())
    return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(last.items())]


@dataclass(slots=True)
class InFlight:
    """A batch whose database write has been handed to the writer thread."""

    msgs: Sequence[Any]
    items: list[Inbound]
    writable: list[Inbound]
    dead: list[tuple[Inbound, BaseException]] = field(default_factory=list)
    future: Future[BatchResult] | None = None


class Sink:
    """One sink process's consumer, producer and pool. ``step()`` handles one batch."""

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
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-db")
        self._inflight: InFlight | None = None
        self.last_commit_at: float | None = None
        """``time.perf_counter()`` of the latest offset commit (benchmarks)."""
        self.stop = stop or threading.Event()
        self.after_db_commit = after_db_commit
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else make_pool(settings)
        self.producer = kafka.producer(settings, "sink")
        self.consumer = kafka.consumer(settings, "sink", settings.group_prefix + "sink", on_commit=self._on_commit)
        self.consumer.subscribe([settings.topic(t) for t in TOPICS], on_revoke=self._on_revoke)
        self._paused = False
        self._rewind: dict[tuple[str, int], int] = {}
        self._known_months: set[date] = set()
        self._delivery_failures: list[str] = []
        self._closed = False

    # --- the loop ------------------------------------------------------------------------
    def step(self, timeout_s: float | None = None) -> int:
        """Consume up to one batch (size or max wait, whichever first) and handle it."""
        wait = self.settings.sink_batch_max_wait_ms / 1000 if timeout_s is None else timeout_s
        size = self.settings.sink_batch_size
        msgs: list[Any] = []
        if self._inflight is not None:
            msgs = self.consumer.consume(num_messages=size, timeout=0)  # what is fetched already
            if not msgs:  # nothing to overlap with: finish the batch in flight before waiting
                self.finish()
        if not msgs:
            msgs = self.consumer.consume(num_messages=size, timeout=wait)
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
            self.handle(good)
        else:
            self.finish()
        return len(good)

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

    def handle(self, msgs: Sequence[Any]) -> None:
        """Decode ``msgs`` (overlapping the write in flight), finish that write, start this one."""
        m.BATCH_SIZE.observe(len(msgs))
        items = [decode(msg, self.codec, self.settings.topic_prefix, self.reader) for msg in msgs]
        self.finish()
        dead: list[tuple[Inbound, BaseException]] = [(i, i.error) for i in items if i.error is not None]
        writable = [i for i in items if i.error is None and i.row is not None]
        batch = InFlight(msgs, items, writable, dead)
        if writable:
            self._ensure_partitions([i.row for i in writable if isinstance(i.row, ObservationRow)])
            batch.future = self._writer.submit(self._write, build_batch(writable))
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
                self._count(batch.future.result())
            except Exception:
                # the first attempt failed: back off and retry, or bisect, on this thread
                self._process(batch.writable, batch.dead)
        if batch.dead:
            self._dead_letter(batch.dead)
        outcomes = Counter((i.short_topic, "dead_lettered" if i.error else "ok") for i in batch.items)
        for (topic, result), n in outcomes.items():
            m.MESSAGES.labels(topic, result).inc(n)
        if self.after_db_commit is not None:
            self.after_db_commit()
        self._commit_offsets(batch.msgs)
        self._observe(batch.msgs)

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
            self._writer.shutdown(wait=True)
            self.consumer.close()  # auto-commit is off: closing commits nothing
        finally:
            self.producer.flush(FLUSH_TIMEOUT_S)
            if self._owns_pool:
                self.pool.close()

    # --- writing ---------------------------------------------------------------------------
    def _process(self, items: Sequence[Inbound], dead: list[tuple[Inbound, BaseException]]) -> None:
        """Write ``items``; on a permanent error bisect until the culprit stands alone."""
        try:
            result = self._retrying(lambda: self._write(build_batch(items)))
        except Exception as exc:
            if not is_permanent(exc):
                raise
            if len(items) == 1:
                dead.append((items[0], exc))
                return
            mid = len(items) // 2
            self._process(items[:mid], dead)
            self._process(items[mid:], dead)
            return
        self._count(result)

    @staticmethod
    def _count(result: BatchResult) -> None:
        for table, n in result.rows.items():
            m.ROWS_WRITTEN.labels(table).inc(n)
        if result.tombstones:
            m.TOMBSTONES.inc(len(result.tombstones))

    def _write(self, batch: Batch) -> BatchResult:
        started = time.perf_counter()
        with self.pool.connection() as conn:
            result = write_batch(conn, batch, self.settings.purge_on_deauth, before_commit=self._publish_tombstones)
        m.COMMIT_LATENCY.observe(time.perf_counter() - started)
        return result

    def _ensure_partitions(self, rows: list[ObservationRow]) -> None:
        months = months_needing_partitions(rows, self._known_months, datetime.now(UTC))
        if not months:
            return

        def create() -> None:
            with self.pool.connection() as conn:
                created = ensure_partitions(conn, months)
            if created:
                log.info("created partitions", partitions=created)

        self._retrying(create)
        self._known_months |= months

    def _publish_tombstones(self, result: BatchResult) -> None:
        """Inside the transaction, before COMMIT: a crash before the commit republishes them."""
        if not result.tombstones:
            return
        topic = self.settings.topic("metrics.latest")
        for subject, metric in result.tombstones:
            self.producer.produce(topic, key=f"{subject}|{metric}".encode(), value=None, on_delivery=self._delivered)
        self._flush()

    # --- dead letters ----------------------------------------------------------------------
    def _dead_letter(self, dead: list[tuple[Inbound, BaseException]]) -> None:
        topic = self.settings.topic("dlq")
        pending = list(dead)

        def send() -> None:
            nonlocal pending
            failed: list[tuple[Inbound, BaseException]] = []
            for item, exc in pending:
                msg = item.msg
                ts_type, ts = msg.timestamp()
                headers: list[tuple[str, str | bytes | None]] = [
                    *dlq_headers(
                        msg.headers(),
                        exc,
                        topic=msg.topic(),
                        partition=msg.partition(),
                        offset=msg.offset(),
                        timestamp_ms=ts if ts_type else None,
                        event_id=item.event_id,
                    )
                ]

                def on_delivery(err: Any, _msg: Any, pair: tuple[Inbound, BaseException] = (item, exc)) -> None:
                    if err is not None:
                        failed.append(pair)

                self.producer.produce(topic, key=msg.key(), value=msg.value(), headers=headers, on_delivery=on_delivery)
            remaining = self.producer.flush(FLUSH_TIMEOUT_S)
            if failed or remaining:
                pending = failed
                raise KafkaUnavailable(f"{len(failed) or remaining} DLQ records not acknowledged")

        self._retrying(send)
        for item, exc in dead:
            m.DEAD_LETTERS.labels("sink", error_class(exc)).inc()
            log.warning(
                "dead-lettered",
                topic=item.msg.topic(),
                partition=item.msg.partition(),
                offset=item.msg.offset(),
                event_id=item.event_id,
                error=error_class(exc),
            )
        ledger = [LedgerRow(i.event_id, "dead_lettered", STAGE, dlq_reason(e)) for i, e in dead if i.event_id]
        if ledger:

            def record() -> None:
                with self.pool.connection() as conn:
                    record_dead_letters(conn, ledger)

            self._retrying(record)

    # --- Kafka plumbing --------------------------------------------------------------------
    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._delivery_failures.append(str(err))

    def _flush(self) -> None:
        remaining = self.producer.flush(FLUSH_TIMEOUT_S)
        failures, self._delivery_failures = self._delivery_failures, []
        if remaining or failures:
            raise KafkaUnavailable(f"tombstones not acknowledged: {remaining} pending, {failures[:3]}")

    def _commit_offsets(self, msgs: Sequence[Any]) -> None:
        """Asynchronous: issued only after the batch's transaction committed, never waited for.

        A synchronous commit blocks the loop until the group coordinator answers, and librdkafka
        can wait for a coordinator forever after a broker restart (librdkafka#3740, #3847):
        the chaos suite once caught the sink silent for minutes. A commit that fails (reported
        in :meth:`_on_commit`) is covered by the next one, which carries later offsets; if none
        follows, the next owner redelivers from the last committed offset, and every write is
        idempotent.
        """
        try:
            self.consumer.commit(offsets=next_offsets(msgs), asynchronous=True)
        except KafkaException as exc:  # e.g. the partitions were revoked meanwhile
            log.warning("offset commit failed", error=str(exc.args[0]))

    def _on_commit(self, err: Any, partitions: list[Any]) -> None:
        failed = [tp for tp in partitions if tp.error is not None]
        if err is not None or failed:
            m.COMMIT_FAILURES.inc()
            log.warning("offset commit failed", error=str(err or failed[0].error))
        else:
            self.last_commit_at = time.perf_counter()

    def _observe(self, msgs: Sequence[Any]) -> None:
        seen = {(msg.topic(), msg.partition()): msg.offset() for msg in msgs}
        for (topic, partition), offset in seen.items():
            try:
                _lo, hi = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except KafkaException:
                continue
            if hi is not None and hi >= 0:
                m.CONSUMER_LAG.labels(topic, str(partition)).set(max(hi - offset - 1, 0))
        m.observe_pool(dict(self.pool.get_stats()))

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            self._rewind.pop((tp.topic, tp.partition), None)

    # --- transient failures: pause, back off with jitter, resume ---------------------------------
    def _retrying(self, fn: Callable[[], T]) -> T:
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait_random_exponential(multiplier=0.1, max=MAX_BACKOFF_S),
            stop=lambda _state: self.stop.is_set(),
            sleep=self._sleep_paused,
            before_sleep=self._on_transient,
            reraise=True,
        )
        result = retrying(fn)
        self._resume()
        return result

    def _on_transient(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        name = error_class(exc) if exc else "unknown"
        m.TRANSIENT_ERRORS.labels(name).inc()
        log.warning(
            "transient failure: pausing and retrying", error=name, detail=str(exc)[:300], attempt=state.attempt_number
        )
        self._pause()

    def _pause(self) -> None:
        if self._paused:
            return
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.pause(assignment)
        self._paused = True
        m.PAUSED.set(1)

    def _resume(self) -> None:
        if not self._paused:
            return
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.resume(assignment)
        for (topic, partition), offset in sorted(self._rewind.items()):
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                log.warning("seek after resume failed", topic=topic, partition=partition, error=str(exc))
        self._rewind.clear()
        self._paused = False
        m.PAUSED.set(0)

    def _sleep_paused(self, seconds: float) -> None:
        """Back off while keeping the group membership alive (poll serves rebalances)."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            msg = self.consumer.poll(min(remaining, 0.5))
            if msg is not None and msg.error() is None:
                # fetched before the pause took effect: read it again after resuming
                key, offset = (str(msg.topic()), int(msg.partition() or 0)), int(msg.offset() or 0)
                self._rewind[key] = min(self._rewind.get(key, offset), offset)


def run(settings: Settings) -> None:
    """Entry point of ``vitalstream sink``: runs until SIGTERM/SIGINT."""
    configure_logging(settings.log_level, service="sink")
    start_http_server(settings.sink_metrics_port)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sink = Sink(settings, stop=stop)
    log.info("sink started", topics=[settings.topic(t) for t in TOPICS], group=settings.group_prefix + "sink")
    try:
        sink.run_forever()
    finally:
        sink.close()
        log.info("sink stopped")
