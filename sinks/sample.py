"""Synthetic records and table digests for the sink's tests and benchmark."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from schemas.records import EventOutcome, Observation, QualityDaily, ScoredObservation, UserEvent, _Record
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = ("observations", "latest_metrics", "provider_connections", "ingested_events", "data_quality_daily")


def level_of(confidence: float) -> str:
    if confidence >= 85:
        return "excellent"
    if confidence >= 70:
        return "good"
    if confidence >= 50:
        return "fair"
    return "poor"


def scored(
    subject: str = "terra:u1",
    metric: str = "step_count",
    value: float = 1000.0,
    *,
    measured_at: datetime | None = None,
    provider: str = "GARMIN",
    confidence: float = 80.0,
    reliability: float = 0.5,
    ordering_ts: datetime | None = None,
    event_id: str = "ev-1",
    user_id: str | None = None,
    device: str | None = None,
    unit: str = "steps",
    scored_at: datetime | None = None,
    measured_until: datetime | None = None,
) -> ScoredObservation:
    measured_at = measured_at or EPOCH
    return ScoredObservation(
        observation=Observation(
            subject=subject,
            metric=metric,
            value=value,
            unit=unit,
            measured_at=measured_at,
            provider=provider,
            event_id=event_id,
            ordering_ts=ordering_ts or measured_at,
            device=device,
            user_id=user_id,
            measured_until=measured_until or measured_at + timedelta(days=1),
        ),
        confidence=confidence,
        level=level_of(confidence) if 0 <= confidence <= 100 else "poor",
        scored_at=scored_at or EPOCH,
        components={"P": 1.0, "R": reliability},
        reliability=reliability,
    )


def user_event(kind: str, user_id: str, event_id: str, at: datetime, **kw: Any) -> UserEvent:
    return UserEvent(event_id=event_id, kind=kind, user_id=user_id, occurred_at=at, ordering_ts=at, **kw)


def quality(day: datetime, metric: str, provider: str, count: int, confidence_sum: float) -> QualityDaily:
    return QualityDaily(
        day=day.date(),
        metric=metric,
        provider=provider,
        count=count,
        confidence_sum=confidence_sum,
        excellent=count,
        good=0,
        fair=0,
        poor=0,
    )


def outcome(event_id: str, outcome: str, at: datetime, stage: str = "normalize", **kw: Any) -> EventOutcome:
    return EventOutcome(event_id=event_id, outcome=outcome, stage=stage, at=at, **kw)


def key_of(record: _Record) -> bytes:
    if isinstance(record, ScoredObservation):
        return record.observation.subject.encode()
    if isinstance(record, UserEvent):
        return record.user_id.encode()
    if isinstance(record, QualityDaily):
        return f"{record.day}|{record.metric}|{record.provider}".encode()
    if isinstance(record, EventOutcome):
        return record.event_id.encode()
    raise TypeError(type(record).__name__)


def produce(
    settings: Settings,
    short_topic: str,
    records: Iterable[_Record | bytes],
    key: bytes | None = None,
    headers: list[tuple[str, str | bytes | None]] | None = None,
) -> int:
    """Publish records (or raw bytes) to ``short_topic``, keyed as the catalogue says; wait for the acks."""
    codec = codec_for(settings)
    topic = settings.topic(short_topic)
    out = (
        kafka.OutRecord(topic, rec, key or b"raw", headers)
        if isinstance(rec, bytes)
        else kafka.OutRecord(topic, codec.encode(rec), key or key_of(rec), headers)
        for rec in records
    )
    return kafka.produce_all(kafka.producer(settings, "sample"), out)


def digest(conn: psycopg.Connection[Any], tables: Iterable[str] = TABLES) -> dict[str, str]:
    """A hash of every row of each table (all columns, timestamps included), order-independent."""
    out: dict[str, str] = {}
    for table in tables:
        rows = conn.execute(f"SELECT t::text FROM {table} t ORDER BY 1").fetchall()
        out[table] = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()[:16] + f"/{len(rows)}"
    return out
