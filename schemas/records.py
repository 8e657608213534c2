"""Plain record types mirroring the Avro schemas in ``schemas/avro``.

Timestamps are timezone-aware UTC ``datetime`` objects (what fastavro reads for
``timestamp-millis``); ``to_avro`` returns the dict fastavro writes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Self


class _Record:
    SCHEMA: ClassVar[str]

    def to_avro(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> Self:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class RawWebhook(_Record):
    SCHEMA: ClassVar[str] = "RawWebhook"
    event_id: str
    source: str
    received_at: datetime
    idempotency_key: str
    body: bytes
    ordering_ts: datetime | None = None
    trace_id: str | None = None
    provider_user_id: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Observation(_Record):
    SCHEMA: ClassVar[str] = "Observation"
    subject: str
    metric: str
    value: float
    unit: str
    measured_at: datetime
    provider: str
    event_id: str
    ordering_ts: datetime
    measured_until: datetime | None = None
    device: str | None = None
    upload_type: str | None = None
    provenance: str = "unknown"
    completeness: float = 1.0
    user_id: str | None = None
    source: str = "terra"
    value_operator: str | None = None
    reference_low: float | None = None
    reference_high: float | None = None
    interpretation: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredObservation(_Record):
    SCHEMA: ClassVar[str] = "ScoredObservation"
    observation: Observation
    confidence: float
    level: str
    scored_at: datetime
    components: dict[str, float] = field(default_factory=dict)
    reliability: float = 0.5
    generation: int = 0

    def to_avro(self) -> dict[str, Any]:
        return {
            "observation": self.observation.to_avro(),
            "confidence": self.confidence,
            "level": self.level,
            "components": self.components,
            "reliability": self.reliability,
            "scored_at": self.scored_at,
            "generation": self.generation,
        }

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> Self:
        return cls(**{**data, "observation": Observation.from_avro(data["observation"])})


@dataclass(frozen=True, slots=True)
class LatestMetric(_Record):
    SCHEMA: ClassVar[str] = "LatestMetric"
    subject: str
    metric: str
    value: float
    unit: str
    measured_at: datetime
    provider: str
    confidence: float
    level: str
    event_id: str
    ordering_ts: datetime
    updated_at: datetime
    measured_until: datetime | None = None
    reliability: float = 0.5
    generation: int = 0


@dataclass(frozen=True, slots=True)
class UserEvent(_Record):
    SCHEMA: ClassVar[str] = "UserEvent"
    event_id: str
    kind: str
    user_id: str
    occurred_at: datetime
    ordering_ts: datetime
    provider: str | None = None
    reference_id: str | None = None
    old_user_id: str | None = None
    status: str | None = None
    message: str | None = None
    scopes: str | None = None
    sex: str | None = None
    birth_year: int | None = None
    source: str = "terra"


@dataclass(frozen=True, slots=True)
class OpsEvent(_Record):
    SCHEMA: ClassVar[str] = "OpsEvent"
    event_id: str
    source: str
    type: str
    occurred_at: datetime
    status: str | None = None
    message: str | None = None
    provider: str | None = None
    user_id: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DlqReplay(_Record):
    SCHEMA: ClassVar[str] = "DlqReplay"
    dlq_partition: int
    dlq_offset: int
    original_topic: str
    replayed_by: str
    replayed_at: datetime
    event_id: str | None = None
    reason: str | None = None
    forced: bool = False


@dataclass(frozen=True, slots=True)
class QualityDaily(_Record):
    SCHEMA: ClassVar[str] = "QualityDaily"
    day: date
    metric: str
    provider: str
    count: int
    confidence_sum: float
    excellent: int = 0
    good: int = 0
    fair: int = 0
    poor: int = 0
    generation: int = 0


@dataclass(frozen=True, slots=True)
class EventOutcome(_Record):
    SCHEMA: ClassVar[str] = "EventOutcome"
    event_id: str
    outcome: str
    stage: str
    at: datetime
    source: str | None = None
    event_type: str | None = None
    reason: str | None = None
    observations: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class ScoringGeneration(_Record):
    """The live scoring generation (control topic, key ``scoring``); see ``vitalstream recompute``."""

    SCHEMA: ClassVar[str] = "ScoringGeneration"
    generation: int
    app_id: str
    switched_at: datetime
    previous_app_id: str | None = None
    since: datetime | None = None
    rebuilt_records: int = 0
    switched_by: str = ""


@dataclass(frozen=True, slots=True)
class BackfillJob(_Record):
    """A Terra large request by ``terra-reference`` (topic ``backfill.jobs``, design §13)."""

    SCHEMA: ClassVar[str] = "BackfillJob"
    reference: str
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    updated_at: datetime
    source: str = "terra"
    user_id: str | None = None
    expected_payloads: int | None = None
    chunks: list[int] = field(default_factory=list)
    requested_start: str | None = None
    requested_end: str | None = None


RECORD_TYPES: dict[str, type[_Record]] = {
    cls.SCHEMA: cls
    for cls in (
        RawWebhook,
        Observation,
        ScoredObservation,
        LatestMetric,
        UserEvent,
        OpsEvent,
        DlqReplay,
        QualityDaily,
        EventOutcome,
        ScoringGeneration,
        BackfillJob,
    )
}
