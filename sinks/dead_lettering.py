"""Dead-lettering a sink record: the original to ``dlq`` with the contract's headers, then the ledger row.

Each record is produced and acknowledged before the next (dead letters are rare); a broker that
does not acknowledge is a transient failure, retried with the partitions paused, and only the
records not yet acknowledged are sent again. The ledger row (``dead_lettered``) follows once every
record of the batch is in the DLQ, so an event never reads as dead-lettered without its record.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Producer
from psycopg_pool import ConnectionPool

from sinks import metrics as m
from sinks.backpressure import Backpressure
from sinks.deadletter import dlq_headers, dlq_reason, error_class
from sinks.errors import KafkaUnavailable
from sinks.inbound import Inbound
from sinks.plan import STAGE
from sinks.rows import LedgerRow
from sinks.store import record_dead_letters
from vitalstream.platform import kafka
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("sinks.dead_lettering")


def dlq_record(topic: str, item: Inbound, exc: BaseException) -> kafka.OutRecord:
    msg = item.msg
    ts_type, ts = msg.timestamp()
    headers = dlq_headers(
        msg.headers(),
        exc,
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        timestamp_ms=ts if ts_type else None,
        event_id=item.event_id,
    )
    return kafka.OutRecord(topic, msg.value(), msg.key(), list(headers))


class DeadLetterer:
    def __init__(
        self, settings: Settings, pool: ConnectionPool, producer: Producer, backpressure: Backpressure
    ) -> None:
        self._topic = settings.topic("dlq")
        self._pool = pool
        self._producer = producer
        self._backpressure = backpressure

    def send(self, dead: Sequence[tuple[Inbound, BaseException]]) -> None:
        pending = [dlq_record(self._topic, item, exc) for item, exc in dead]

        def produce_pending() -> None:
            while pending:
                try:
                    kafka.produce_all(self._producer, pending[:1], timeout_s=10.0)
                except kafka.DeliveryFailed as exc:
                    raise KafkaUnavailable(f"{len(pending)} DLQ records not acknowledged ({exc.first_error})") from None
                pending.pop(0)

        self._backpressure.retrying(produce_pending)
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
                with self._pool.connection() as conn:
                    record_dead_letters(conn, ledger)

            self._backpressure.retrying(record)
