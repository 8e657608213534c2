"""Reconciliation with Terra (design §9.1): what Terra says it sent against what arrived.

Terra's ``healthcheck`` event carries ``sent_webhooks_last_hour``: its own count of what it
delivered in the hour before it. Normalize turns it into an ``ops.events`` record (key: the
source; the count in ``details``). What *arrived* is counted in PostgreSQL: one
``ingested_events`` row per distinct event id of the source whose ``first_seen_at`` falls in
that hour (Terra's retries of one delivery are one event id; a ping and its fetched payload are
one). ``first_seen_at`` is the sink's write time, seconds after arrival: under a steady flow
the shift moves as many events into the hour at its start as out of it at its end.

Every sink process recomputes it every :data:`PERIOD_S` on a thread of its own (so events of
the hour written late count; every sink computes the same central figure: alerts take the max)
and exports ``vitalstream_terra_delivery_gap`` — the share of Terra's count that did not
arrive (``(sent - arrived) / sent``; negative when more arrived, e.g. redeliveries Terra does
not count) — with the two counts beside it; alert ``VitalstreamTerraDeliveryGap``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from schemas.records import OpsEvent
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("sinks.reconcile")

PERIOD_S = 60.0
TAIL_PER_PARTITION = 1000
"""How many of the latest ``ops.events`` records per partition are searched for the healthcheck."""
WINDOW = timedelta(hours=1)
SENT_FIELD = "sent_webhooks_last_hour"


@dataclass(frozen=True, slots=True)
class Healthcheck:
    source: str
    at: datetime
    sent: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    healthcheck: Healthcheck
    arrived: int

    @property
    def gap(self) -> float:
        """Share of Terra's count that did not arrive (0 when Terra sent nothing)."""
        sent = self.healthcheck.sent
        return 0.0 if sent <= 0 else (sent - self.arrived) / sent


def healthcheck_of(event: OpsEvent) -> Healthcheck | None:
    if event.type != "healthcheck":
        return None
    try:
        sent = int(float(event.details.get(SENT_FIELD, "")))
    except ValueError:
        return None
    return Healthcheck(event.source, event.occurred_at, sent) if sent >= 0 else None


def latest_healthcheck(events: Iterable[OpsEvent], source: str = "terra") -> Healthcheck | None:
    found = [h for e in events if e.source == source and (h := healthcheck_of(e)) is not None]
    return max(found, key=lambda h: h.at) if found else None


def read_ops_tail(settings: Settings, per_partition: int = TAIL_PER_PARTITION) -> list[OpsEvent]:
    """The latest ``per_partition`` records of every ``ops.events`` partition, decoded."""
    topic = settings.topic("ops.events")
    codec = codec_for(settings)
    reader = kafka.consumer(settings, "reconcile")
    try:
        starts = {p: max(low, high - per_partition) for p, (low, high) in kafka.end_offsets(reader, topic).items()}
        events: list[OpsEvent] = []
        for msg in kafka.iter_to_end(reader, topic, timeout_s=10, start_offsets=starts):
            try:
                events.append(codec.decode_as(msg.value() or b"", OpsEvent))
            except Exception:  # noqa: S112 - another record type or a bad one is not a healthcheck
                continue
        return events
    finally:
        reader.close()


def count_arrivals(settings: Settings, source: str, start: datetime, end: datetime) -> int:
    import psycopg

    with psycopg.connect(settings.database_dsn(), connect_timeout=3, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 5000")
        row = conn.execute(
            "SELECT count(*) FROM ingested_events WHERE source = %s AND first_seen_at >= %s AND first_seen_at < %s",
            (source, start, end),
        ).fetchone()
    return int(row[0]) if row else 0


def reconcile(settings: Settings, source: str = "terra") -> Reconciliation | None:
    """The latest healthcheck of ``source`` against its arrivals (None: no healthcheck seen yet)."""
    check = latest_healthcheck(read_ops_tail(settings), source)
    if check is None:
        return None
    return Reconciliation(check, count_arrivals(settings, source, check.at - WINDOW, check.at))


class ReconcileGauges:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.gap = Gauge(
            "vitalstream_terra_delivery_gap",
            "Share of Terra's sent_webhooks_last_hour (latest healthcheck) that did not arrive.",
            registry=registry,
        )
        self.sent = Gauge(
            "vitalstream_terra_sent_webhooks_last_hour", "Terra's count in its latest healthcheck.", registry=registry
        )
        self.arrived = Gauge(
            "vitalstream_terra_arrived_webhooks_last_hour",
            "Distinct Terra events that arrived in the hour before the latest healthcheck.",
            registry=registry,
        )

    def update(self, result: Reconciliation | None) -> None:
        if result is None:
            return
        self.gap.set(result.gap)
        self.sent.set(result.healthcheck.sent)
        self.arrived.set(result.arrived)


def start_reconciler(settings: Settings, stop: threading.Event, gauges: ReconcileGauges) -> threading.Thread:
    """A daemon thread updating ``gauges`` every :data:`PERIOD_S` until ``stop`` is set."""

    def loop() -> None:
        while not stop.is_set():
            try:
                gauges.update(reconcile(settings))
            except Exception as exc:  # no broker or database for now: the gauges keep their last value
                log.warning("terra reconciliation failed", error=type(exc).__name__)
            stop.wait(PERIOD_S)

    thread = threading.Thread(target=loop, name="sink-reconcile", daemon=True)
    thread.start()
    return thread
