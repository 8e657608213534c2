"""Database rows built from decoded records (pure: no I/O).

A record that can never be stored (a non-finite number, a confidence outside 0-100, an
unknown level, a missing key field, a naive timestamp) raises :class:`InvalidRecord`
(a NUL in text: ``psycopg.DataError``, as psycopg itself reports it): the sink
dead-letters it without bothering the database.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import NamedTuple

import orjson
import psycopg

from schemas.records import QualityDaily, ScoredObservation, UserEvent

LEVELS = frozenset({"excellent", "good", "fair", "poor"})
TERRA_PREFIX = "terra:"


class InvalidRecord(ValueError):
    """A record the database would reject whatever happens: a permanent failure."""


class ObservationRow(NamedTuple):
    """One ``observations`` row; its LATEST_COLUMNS fields are also the ``latest_metrics`` candidate."""

    subject: str
    metric: str
    provider: str
    measured_at: datetime
    measured_until: datetime | None
    value: float
    unit: str
    confidence: float
    level: str
    reliability: float
    event_id: str
    ordering_ts: datetime
    user_id: str | None
    components: str
    device: str | None
    upload_type: str | None
    provenance: str | None
    source: str | None
    completeness: float | None
    scored_at: datetime
    generation: int
    value_operator: str | None = None
    reference_low: float | None = None
    reference_high: float | None = None
    interpretation: str | None = None
    code: str | None = None

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        return (self.subject, self.metric, self.provider, self.measured_at)

    @property
    def latest_key(self) -> tuple[str, str]:
        return (self.subject, self.metric)


OBSERVATION_COLUMNS: tuple[str, ...] = ObservationRow._fields
LATEST_COLUMNS: tuple[str, ...] = (
    "subject",
    "metric",
    "provider",
    "measured_at",
    "measured_until",
    "value",
    "unit",
    "confidence",
    "level",
    "reliability",
    "event_id",
    "ordering_ts",
    "user_id",
    "generation",
)


class QualityRow(NamedTuple):
    """One ``data_quality_daily`` row (``records`` is the ``count`` column)."""

    day: date
    metric: str
    provider: str
    records: int
    avg_confidence: float
    excellent: int
    good: int
    fair: int
    poor: int
    generation: int

    @property
    def key(self) -> tuple[date, str, str]:
        return (self.day, self.metric, self.provider)


QUALITY_COLUMNS: tuple[str, ...] = (
    "day",
    "metric",
    "provider",
    "count",
    "avg_confidence",
    "excellent",
    "good",
    "fair",
    "poor",
    "generation",
)


class LedgerRow(NamedTuple):
    event_id: str
    outcome: str
    stage: str
    reason: str | None


LEDGER_COLUMNS: tuple[str, ...] = LedgerRow._fields
OUTCOME_RANK = {"ignored": 0, "processed": 1, "dead_lettered": 2}


NUL_MESSAGE = "PostgreSQL text fields cannot contain NUL (0x00) bytes"


def no_nul(*values: str | None) -> None:
    """PostgreSQL text cannot hold NUL: refuse it as psycopg's own text dumper would (binary COPY would not)."""
    for value in values:
        if value is not None and "\x00" in value:
            raise psycopg.DataError(NUL_MESSAGE)


def _text(name: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidRecord(f"{name} is empty")
    return value


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise InvalidRecord(f"{name} is not a finite number: {value!r}")
    return float(value)


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecord(f"{name} has no time zone")
    return value


def user_id_of(subject: str, user_id: str | None) -> str | None:
    """The provider user id an observation belongs to (``terra:<id>`` subjects carry it too)."""
    if user_id:
        return user_id
    if subject.startswith(TERRA_PREFIX) and len(subject) > len(TERRA_PREFIX):
        return subject[len(TERRA_PREFIX) :]
    return None


def components_json(components: Mapping[str, float]) -> str:
    """Keys sorted; orjson writes non-finite numbers as ``null``."""
    return orjson.dumps(components, option=orjson.OPT_SORT_KEYS).decode()


def make_observation_row(
    subject: str,
    metric: str,
    provider: str,
    measured_at: datetime,
    measured_until: datetime | None,
    value: float,
    unit: str,
    confidence: float,
    level: str,
    reliability: float,
    event_id: str,
    ordering_ts: datetime,
    user_id: str | None,
    components: Mapping[str, float],
    device: str | None,
    upload_type: str | None,
    provenance: str | None,
    source: str | None,
    completeness: float,
    scored_at: datetime,
    generation: int,
    value_operator: str | None = None,
    reference_low: float | None = None,
    reference_high: float | None = None,
    interpretation: str | None = None,
    code: str | None = None,
) -> ObservationRow:
    """The one place an observation row is validated and built (both decoding paths use it).

    Hot path (once per record): the checks are inlined and the error messages built only on failure.
    """
    isfinite = math.isfinite
    if not (isfinite(confidence) and 0.0 <= confidence <= 100.0):
        _finite("confidence", confidence)
        raise InvalidRecord(f"confidence {confidence} outside 0-100")
    if level not in LEVELS:
        raise InvalidRecord(f"unknown level {level!r}")
    if not (isfinite(value) and isfinite(reliability)):
        _finite("value", value)
        _finite("reliability", reliability)
    if not (subject.strip() and metric.strip() and provider.strip() and event_id.strip()):
        for name, text in (("subject", subject), ("metric", metric), ("provider", provider), ("event_id", event_id)):
            _text(name, text)
    for name, ts in (
        ("measured_at", measured_at),
        ("ordering_ts", ordering_ts),
        ("scored_at", scored_at),
        ("measured_until", measured_until),
    ):
        if ts is not None and ts.tzinfo is not UTC:
            _aware(name, ts)
    no_nul(subject, metric, provider, unit, event_id, user_id, device, upload_type, provenance, source)
    if value_operator is not None or interpretation is not None or code is not None:
        no_nul(value_operator, interpretation, code)
    if not user_id:
        user_id = user_id_of(subject, None)
    return ObservationRow(
        subject,
        metric,
        provider,
        measured_at,
        measured_until,
        float(value),
        unit,
        float(confidence),
        level,
        float(reliability),
        event_id,
        ordering_ts,
        user_id,
        components_json(components),
        device,
        upload_type,
        provenance,
        source,
        completeness if isfinite(completeness) else None,
        scored_at,
        int(generation),
        value_operator,
        None if reference_low is None or not isfinite(reference_low) else float(reference_low),
        None if reference_high is None or not isfinite(reference_high) else float(reference_high),
        interpretation,
        code,
    )


def observation_row(scored: ScoredObservation) -> ObservationRow:
    obs = scored.observation
    return make_observation_row(
        obs.subject,
        obs.metric,
        obs.provider,
        obs.measured_at,
        obs.measured_until,
        obs.value,
        obs.unit,
        scored.confidence,
        scored.level,
        scored.reliability,
        obs.event_id,
        obs.ordering_ts,
        obs.user_id,
        scored.components,
        obs.device,
        obs.upload_type,
        obs.provenance,
        obs.source,
        obs.completeness,
        scored.scored_at,
        scored.generation,
        obs.value_operator,
        obs.reference_low,
        obs.reference_high,
        obs.interpretation,
        obs.code,
    )


def quality_row(q: QualityDaily) -> QualityRow:
    if q.count < 0:
        raise InvalidRecord(f"negative count {q.count}")
    avg = _finite("confidence_sum", q.confidence_sum) / q.count if q.count else 0.0
    no_nul(q.metric, q.provider)
    return QualityRow(
        day=q.day,
        metric=_text("metric", q.metric),
        provider=_text("provider", q.provider),
        records=q.count,
        avg_confidence=avg,
        excellent=q.excellent,
        good=q.good,
        fair=q.fair,
        poor=q.poor,
        generation=q.generation,
    )


def validate_user_event(ev: UserEvent) -> UserEvent:
    _text("event_id", ev.event_id)
    _text("user_id", ev.user_id)
    _aware("ordering_ts", ev.ordering_ts)
    if ev.kind == "reauth" and not ev.old_user_id:
        raise InvalidRecord("reauth without old_user_id")
    return ev


_LATEST_FIELDS = operator.attrgetter(*LATEST_COLUMNS)


def latest_tuple(row: ObservationRow) -> tuple[object, ...]:
    """The ``latest_metrics`` candidate of an observation row (the LATEST_COLUMNS values)."""
    return tuple(_LATEST_FIELDS(row))


assert set(LATEST_COLUMNS) <= set(OBSERVATION_COLUMNS)
