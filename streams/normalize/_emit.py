"""Collects the observations of one payload: bounds check, dedup, shared provenance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from schemas.records import Observation, RawWebhook
from schemas.vocabulary import VOCABULARY

from ._values import EPOCH

FUTURE_SLACK: Final = timedelta(days=1)
"""How far past the receive time a measurement may lie. Terra sends local times that
may be naive (read as UTC, so up to 14 h early or late); anything beyond a day ahead is
a broken clock, and would otherwise win ``latest_metrics`` ("newer wins") forever."""

UNTIL_TOLERANCE: Final = timedelta(minutes=5)
"""How far past "now" an interval end may lie before it is clipped to now: a little clock
skew between the provider and us, not a day still in progress (its end is the next midnight)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A value outside its metric's hard bounds (or dated impossibly): counted, not kept."""

    metric: str
    value: float
    reason: str
    measured_at: datetime | None = None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Emitter:
    """Builds :class:`Observation` records for one webhook.

    Per data item the handler calls :meth:`begin_item` with the item's device and upload
    type, then :meth:`add` per value. Identical (metric, measured_at) pairs are
    deduplicated, the last one winning (the provider is the same for the whole payload).

    ``now`` is when the payload was sent (the gateway's receive time unless given): an
    interval never ends after it (:data:`UNTIL_TOLERANCE`), and a day still in progress is
    complete only up to it. Taking it from the record, not the wall clock, keeps a replay
    or a redelivery producing exactly the same observations.
    """

    __slots__ = (
        "_event_id",
        "_latest_allowed",
        "_observations",
        "_ordering_ts",
        "_provider",
        "_source",
        "_subject",
        "_until_limit",
        "_user_id",
        "device",
        "emitted",
        "now",
        "provenance",
        "rejections",
        "upload_type",
    )

    def __init__(
        self, raw: RawWebhook, *, subject: str, provider: str, user_id: str, now: datetime | None = None
    ) -> None:
        self._subject = subject
        self._provider = provider
        self._user_id = user_id
        self._event_id = raw.event_id
        received = _aware(raw.received_at)
        self._ordering_ts = received if raw.ordering_ts is None else _aware(raw.ordering_ts)
        self._source = raw.source
        self._latest_allowed = received + FUTURE_SLACK
        self.now = received if now is None else _aware(now)
        self._until_limit = self.now + UNTIL_TOLERANCE
        self._observations: dict[tuple[str, datetime], Observation] = {}
        self.rejections: list[Rejection] = []
        self.device: str | None = None
        self.upload_type: str | None = None
        self.provenance = "unknown"
        self.emitted: set[str] = set()

    def begin_item(self, device: str | None, upload_type: str | None, provenance: str) -> None:
        self.device = device
        self.upload_type = upload_type
        self.provenance = provenance
        self.emitted = set()

    def add(
        self,
        metric: str,
        value: float | None,
        at: datetime | None,
        until: datetime | None = None,
        completeness: float = 1.0,
    ) -> None:
        """Keep ``value`` (already in the metric's canonical unit) unless it is absent or
        impossible; an impossible value becomes a :class:`Rejection`."""
        if value is None or at is None:
            return
        spec = VOCABULARY[metric]
        if value < spec.hard_low or value > spec.hard_high:
            reason = f"{metric} {value:g} {spec.unit} outside hard bounds [{spec.hard_low:g}, {spec.hard_high:g}]"
            self.rejections.append(Rejection(metric, value, reason, at))
            return
        if at > self._latest_allowed or at < EPOCH:
            reason = f"{metric} measured_at {at.isoformat()} is implausible (future or before 1970)"
            self.rejections.append(Rejection(metric, value, reason, at))
            return
        if until is not None and until > self._until_limit:
            until = max(self.now, at)
        self._observations[(metric, at)] = Observation(
            subject=self._subject,
            metric=metric,
            value=value,
            unit=spec.unit,
            measured_at=at,
            provider=self._provider,
            event_id=self._event_id,
            ordering_ts=self._ordering_ts,
            measured_until=until,
            device=self.device,
            upload_type=self.upload_type,
            provenance=self.provenance,
            completeness=completeness,
            user_id=self._user_id,
            source=self._source,
        )
        self.emitted.add(metric)

    def add_fallback(
        self,
        metric: str,
        value: float | None,
        at: datetime | None,
        until: datetime | None = None,
        completeness: float = 1.0,
    ) -> None:
        """Add a summary value only if the current item produced no sample of ``metric``
        (e.g. a day-average weight when the individual weighings are present)."""
        if metric not in self.emitted:
            self.add(metric, value, at, until, completeness)

    def observations(self) -> list[Observation]:
        return list(self._observations.values())
