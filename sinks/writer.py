"""The database side of the sink: one transaction per batch, tombstones before COMMIT, bisection.

A batch is written in one transaction (:func:`sinks.store.write_batch`); the ``metrics.latest``
tombstones of a purge are produced and acknowledged inside it, before COMMIT, so a crash before the
commit republishes them. A permanent failure (a row the database refuses whatever happens) is
isolated by bisecting the batch until the culprit stands alone: only that record is dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime

from confluent_kafka import Producer
from psycopg_pool import ConnectionPool

from schemas.records import UserEvent
from sinks import metrics as m
from sinks.backpressure import Backpressure
from sinks.errors import KafkaUnavailable, is_permanent
from sinks.inbound import Inbound
from sinks.jobs import JobRow
from sinks.outcomes import OutcomeRow
from sinks.rows import ObservationRow
from sinks.store import Batch, BatchResult, ensure_partitions, months_needing_partitions, write_batch
from vitalstream.platform import kafka
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("sinks.writer")
Dead = list[tuple[Inbound, BaseException]]


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
        elif isinstance(row, OutcomeRow):
            batch.outcomes.append(row)
        elif isinstance(row, JobRow):
            batch.jobs.append(row)
    return batch


class BatchWriter:
    def __init__(
        self, settings: Settings, pool: ConnectionPool, producer: Producer, backpressure: Backpressure
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._producer = producer
        self._backpressure = backpressure
        self._known_months: set[date] = set()

    def write(self, batch: Batch) -> BatchResult:
        """One attempt at one transaction (may run on the writer thread)."""
        started = time.perf_counter()
        with self._pool.connection() as conn:
            result = write_batch(conn, batch, self._settings.purge_on_deauth, before_commit=self._publish_tombstones)
        m.COMMIT_LATENCY.observe(time.perf_counter() - started)
        return result

    def write_isolating(self, items: Sequence[Inbound], dead: Dead) -> None:
        """Write ``items`` through transient failures; on a permanent one bisect until the culprit stands alone."""
        try:
            result = self._backpressure.retrying(lambda: self.write(build_batch(items)))
        except Exception as exc:
            if not is_permanent(exc):
                raise
            if len(items) == 1:
                dead.append((items[0], exc))
                return
            mid = len(items) // 2
            self.write_isolating(items[:mid], dead)
            self.write_isolating(items[mid:], dead)
            return
        count(result)

    def ensure_partitions(self, rows: Sequence[ObservationRow]) -> None:
        """The monthly partitions of ``observations`` the rows need, before their batch is written."""
        months = months_needing_partitions(list(rows), self._known_months, datetime.now(UTC))
        if not months:
            return

        def create() -> None:
            with self._pool.connection() as conn:
                created = ensure_partitions(conn, months)
            if created:
                log.info("created partitions", partitions=created)

        self._backpressure.retrying(create)
        self._known_months |= months

    def _publish_tombstones(self, result: BatchResult) -> None:
        """Inside the transaction, before COMMIT: a crash before the commit republishes them."""
        if not result.tombstones:
            return
        topic = self._settings.topic("metrics.latest")
        tombstones = [kafka.OutRecord(topic, None, f"{s}|{metric}".encode()) for s, metric in result.tombstones]
        try:
            kafka.produce_all(self._producer, tombstones, timeout_s=10.0)
        except kafka.DeliveryFailed as exc:
            raise KafkaUnavailable(f"tombstones not acknowledged: {exc.first_error}") from None


def count(result: BatchResult) -> None:
    for table, n in result.rows.items():
        m.ROWS_WRITTEN.labels(table).inc(n)
    if result.tombstones:
        m.TOMBSTONES.inc(len(result.tombstones))
