"""Confidence scoring (design §6): pure functions over an explicit per-(subject, metric) state.

No I/O and no framework imports: the score agent looks the state up in its Faust table,
calls :func:`score`, stores ``outcome.state.to_dict()`` back and publishes
``outcome.scored`` (and ``outcome.latest`` when not None).

``confidence = 100 × P × (w_R·R + w_C·C + w_F·F + w_M·M + w_A·A)`` with every term in
[0, 1] and the weights/priors/thresholds from :mod:`schemas.confidence_model`:

- P plausibility: 1 inside the metric's typical range, falling linearly to 0 at its hard
  bounds (0 beyond them, and for NaN/inf);
- R reliability: the prior for provider × metric (× device keyword) × provenance factor;
- C consistency: robust z-score of the value against the subject's own history (the state
  *before* this value), ``C = exp(-z² / (2·s²))`` (s = ``consistency_z_scale`` = 2, i.e.
  ``exp(-z²/8)``: a Gaussian kernel that barely punishes z ≤ 1 and drops steeply past z = 3);
  ``neutral_consistency`` until the history holds ``min_history`` values;
- F freshness: ``0.5 ** (age_s / half_life_s)``, age = now − (measured_until or measured_at),
  clamped at 0 (a value from the future is fresh, not fresher);
- M completeness: the observation's covered fraction (1 for samples);
- A agreement: mean over other providers whose last value is in the same slot of
  ``1 / (1 + (d / tol)²)``, d the relative difference; 1 when no other source.

Robust history: an exponentially weighted mean/variance (West's incremental form) of a
*winsorized* value — clipped to location ± k·spread once there are ``min_history`` values.
It is exact (Welford) for the first 1/alpha_min values, then forgets with alpha_min, so real
trends are followed while one wild reading cannot drag the baseline more than k·spread.
Three floats, O(1) per value — unlike an exact running median, which needs the values.
Impossible values (P = 0) never enter the history or the per-provider last values.

Hot path: :func:`score` mutates the state it is given in place and returns it (no copies);
the caller owns the state object. Pass ``SubjectMetricState.from_dict(s.to_dict())`` if
the old one must be kept.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from schemas.confidence_model import ConfidenceModel
from schemas.records import LatestMetric, Observation, ScoredObservation
from schemas.resolution import wins
from schemas.vocabulary import MetricSpec

__all__ = [
    "DEDUP_WINDOW",
    "MAX_PROVIDERS",
    "ScoreOutcome",
    "SubjectMetricState",
    "Winner",
    "dedup_key",
    "level_for",
    "plausibility",
    "score",
    "winner_record",
]

DEDUP_WINDOW = 64
"""Recently seen observation keys kept per state. Redeliveries (a worker restarting from its
last committed offset, a producer retry) arrive close behind the original in the same
partition, so the last 64 keys of one (subject, metric) cover them; anything older (a DLQ
replay days later) is caught by the winner check below and, for the tables, by the sink's
idempotent upserts keyed on (subject, metric, provider, measured_at)."""

MAX_PROVIDERS = 16
"""Per-provider last values kept per state (the most recent by measured_at); real subjects
have two or three sources, the bound only protects the state size."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_STATE_VERSION = 1


def _ms(dt: datetime) -> int:
    """Epoch milliseconds, exact (the Avro timestamp-millis resolution); naive means UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _MS


def _clamp01(x: float) -> float:
    if x >= 1.0:
        return 1.0
    if x > 0.0:
        return x
    return 0.0  # also NaN


def dedup_key(event_id: str, metric: str, measured_at_ms: int) -> int:
    """A signed 64-bit digest of (event id, metric, measured_at): one event carries many
    samples of one metric, so the event id alone is not the observation's identity.
    blake2b, not ``hash()``, because the key must be the same in every process."""
    raw = f"{event_id}\x1f{metric}\x1f{measured_at_ms}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


class Winner(NamedTuple):
    """The state's current value, in the fields the resolution rule compares (+ payload).

    Times are epoch milliseconds, so the order in :mod:`schemas.resolution` applies as is.
    """

    measured_at: int
    confidence: float
    reliability: float
    ordering_ts: int
    event_id: str
    value: float
    provider: str
    measured_until: int | None


@dataclass(slots=True)
class SubjectMetricState:
    """What scoring keeps per (subject, metric); serialised with :meth:`to_dict`."""

    count: int = 0
    """Values folded into the history (plausible ones only)."""
    location: float = 0.0
    """Exponentially weighted mean of the winsorized values."""
    variance: float = 0.0
    """Exponentially weighted variance of the winsorized values (spread = its square root)."""
    providers: dict[str, tuple[float, int]] = field(default_factory=dict)
    """provider → (last value, its measured_at in epoch ms). The slot is derived from the
    metric's kind (interval: same measured_at; sample: within the model's window), so it is
    not stored."""
    winner: Winner | None = None
    seen: deque[int] = field(default_factory=lambda: deque(maxlen=DEDUP_WINDOW))
    """Dedup keys (:func:`dedup_key`) of the last DEDUP_WINDOW observations applied."""

    @property
    def spread(self) -> float:
        return math.sqrt(self.variance) if self.variance > 0.0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Compact JSON-able form (short keys: there may be a million of these)."""
        w = self.winner
        return {
            "v": _STATE_VERSION,
            "n": self.count,
            "m": self.location,
            "q": self.variance,
            "p": {p: [v, t] for p, (v, t) in self.providers.items()},
            "w": None if w is None else list(w),
            "d": list(self.seen),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubjectMetricState:
        version = data.get("v", _STATE_VERSION)
        if version != _STATE_VERSION:
            raise ValueError(f"unsupported confidence state version {version!r}")
        w = data.get("w")
        winner = None
        if w is not None:
            mat, conf, rel, ots, eid, val, prov, until = w
            winner = Winner(
                int(mat),
                float(conf),
                float(rel),
                int(ots),
                str(eid),
                float(val),
                str(prov),
                None if until is None else int(until),
            )
        return cls(
            count=int(data.get("n", 0)),
            location=float(data.get("m", 0.0)),
            variance=float(data.get("q", 0.0)),
            providers={str(p): (float(v), int(t)) for p, (v, t) in data.get("p", {}).items()},
            winner=winner,
            seen=deque((int(k) for k in data.get("d", ())), maxlen=DEDUP_WINDOW),
        )


@dataclass(frozen=True, slots=True)
class ScoreOutcome:
    scored: ScoredObservation
    """Always present, also for a duplicate (downstream writes are idempotent)."""
    state: SubjectMetricState
    """The state after this observation (the same object that was passed in, if any)."""
    latest: LatestMetric | None
    """The new current value to publish when this observation became the winner."""
    duplicate: bool
    """True when this observation was already applied: state unchanged, nothing to publish."""


def level_for(confidence: float, model: ConfidenceModel) -> str:
    """excellent / good / fair / poor (per the model's thresholds)."""
    return model.level_for(confidence)


def plausibility(value: float, spec: MetricSpec) -> float:
    """1 inside [typical_low, typical_high]; linear to 0 at the hard bounds; 0 beyond/NaN."""
    lo, hi = spec.typical_low, spec.typical_high
    if lo <= value <= hi:
        return 1.0
    if value < lo:
        hard = spec.hard_low
        if value <= hard or lo <= hard:
            return 0.0
        return (value - hard) / (lo - hard)
    if value > hi:
        hard = spec.hard_high
        if value >= hard or hard <= hi:
            return 0.0
        return (hard - value) / (hard - hi)
    return 0.0  # NaN


def _consistency(value: float, state: SubjectMetricState, floor: float, model: ConfidenceModel) -> float:
    if state.count < model.min_history:
        return model.neutral_consistency
    z = abs(value - state.location) / max(state.spread, floor)
    s = model.consistency_z_scale
    if math.isnan(z) or z > 40.0 * s:  # NaN, or so far out that exp() underflows anyway
        return 0.0
    return math.exp(-0.5 * (z / s) ** 2)


def _agreement(
    value: float,
    provider: str,
    t_ms: int,
    state: SubjectMetricState,
    *,
    interval: bool,
    width: float,
    model: ConfidenceModel,
) -> float:
    if not state.providers:
        return 1.0
    floor = max(model.agreement_floor_fraction * width, 1e-12)
    tol = model.agreement_tolerance
    window_ms = model.sample_slot_window_s * 1000.0
    total = 0.0
    n = 0
    for other, (v, t) in state.providers.items():
        if other == provider:
            continue
        if interval:
            if t != t_ms:
                continue
        elif abs(t - t_ms) > window_ms:
            continue
        denom = max((abs(value) + abs(v)) * 0.5, floor)
        rel = abs(value - v) / denom
        total += _clamp01(1.0 / (1.0 + (rel / tol) ** 2))
        n += 1
    return total / n if n else 1.0


def _update_history(state: SubjectMetricState, value: float, floor: float, model: ConfidenceModel) -> None:
    n = state.count + 1
    alpha = max(1.0 / n, model.history_alpha_min)
    x = value
    if state.count >= model.min_history:
        k = model.winsor_k * max(state.spread, floor)
        x = min(max(x, state.location - k), state.location + k)
    diff = x - state.location
    incr = alpha * diff
    state.location += incr
    state.variance = (1.0 - alpha) * (state.variance + diff * incr)
    state.count = n


def _remember_provider(state: SubjectMetricState, provider: str, value: float, t_ms: int) -> None:
    providers = state.providers
    last = providers.get(provider)
    if last is not None and last[1] > t_ms:
        return  # an older value of this provider: keep the newer one
    providers[provider] = (value, t_ms)
    if len(providers) > MAX_PROVIDERS:
        oldest = min(providers, key=lambda p: providers[p][1])
        del providers[oldest]


def score(
    obs: Observation,
    state: SubjectMetricState | None,
    spec: MetricSpec,
    model: ConfidenceModel,
    now: datetime,
    generation: int = 0,
) -> ScoreOutcome:
    """Score ``obs`` against ``state`` (None = first value of this subject and metric).

    ``generation`` is the scoring generation stamped on what is published (see
    :mod:`streams.generation`); it never changes the score.

    ``now`` is the scoring time used for freshness; pass a time derived from the record
    (e.g. its ordering timestamp) instead of the wall clock when recomputation must
    reproduce the same scores.
    """
    st = state if state is not None else SubjectMetricState()
    value = obs.value
    t_ms = _ms(obs.measured_at)
    key = dedup_key(obs.event_id, obs.metric, t_ms)
    w = st.winner
    duplicate = key in st.seen or (w is not None and w.event_id == obs.event_id and w.measured_at == t_ms)

    width = spec.typical_high - spec.typical_low
    if not width > 0.0:
        width = max(abs(spec.typical_high), 1.0)
    floor = max(model.min_spread_fraction * width, 1e-12)
    interval = spec.kind == "interval"

    p = plausibility(value, spec)
    r = model.reliability(obs.provider, obs.metric, obs.device, obs.provenance, obs.upload_type)
    c = _clamp01(_consistency(value, st, floor, model))
    until = obs.measured_until
    end_ms = _ms(until) if until is not None else t_ms
    age_s = (_ms(now) - end_ms) / 1000.0
    half_life = model.half_life_s(obs.metric, spec.half_life_s)
    stale = age_s > 0.0 and half_life is not None and half_life > 0.0
    f = _clamp01(0.5 ** (age_s / half_life)) if stale and half_life else 1.0
    m = _clamp01(obs.completeness)
    a = _clamp01(_agreement(value, obs.provider, t_ms, st, interval=interval, width=width, model=model))

    wt = model.weights
    quality = wt.reliability * r + wt.consistency * c + wt.freshness * f + wt.completeness * m + wt.agreement * a
    confidence = round(min(100.0, max(0.0, 100.0 * p * quality)), 2)
    if math.isnan(confidence):
        confidence = 0.0
    level = model.level_for(confidence)
    scored = ScoredObservation(
        observation=obs,
        confidence=confidence,
        level=level,
        scored_at=now,
        components={
            "P": round(p, 4),
            "R": round(r, 4),
            "C": round(c, 4),
            "F": round(f, 4),
            "M": round(m, 4),
            "A": round(a, 4),
        },
        reliability=r,
        generation=generation,
    )
    if duplicate:
        return ScoreOutcome(scored, st, None, True)

    st.seen.append(key)
    if p > 0.0:
        _update_history(st, value, floor, model)
        _remember_provider(st, obs.provider, value, t_ms)

    latest = None
    if not math.isfinite(value):
        return ScoreOutcome(scored, st, None, False)  # never the current value (nor JSON-safe)
    candidate = Winner(
        t_ms,
        confidence,
        r,
        _ms(obs.ordering_ts),
        obs.event_id,
        value,
        obs.provider,
        None if until is None else end_ms,
    )
    if w is None or wins(candidate, w):
        st.winner = candidate
        latest = LatestMetric(
            subject=obs.subject,
            metric=obs.metric,
            value=value,
            unit=obs.unit,
            measured_at=obs.measured_at,
            provider=obs.provider,
            confidence=confidence,
            level=level,
            event_id=obs.event_id,
            ordering_ts=obs.ordering_ts,
            updated_at=now,
            measured_until=until,
            reliability=r,
            generation=generation,
        )
    return ScoreOutcome(scored, st, latest, False)


def winner_record(
    subject: str,
    metric: str,
    state: SubjectMetricState,
    unit: str,
    model: ConfidenceModel,
    generation: int,
    now: datetime,
) -> LatestMetric | None:
    """The state's current value as the ``metrics.latest`` record (None without one): what a
    recompute publishes for every key when its generation goes live."""
    w = state.winner
    if w is None:
        return None
    return LatestMetric(
        subject=subject,
        metric=metric,
        value=w.value,
        unit=unit,
        measured_at=_EPOCH + w.measured_at * _MS,
        provider=w.provider,
        confidence=w.confidence,
        level=model.level_for(w.confidence),
        event_id=w.event_id,
        ordering_ts=_EPOCH + w.ordering_ts * _MS,
        updated_at=now,
        measured_until=None if w.measured_until is None else _EPOCH + w.measured_until * _MS,
        reliability=w.reliability,
        generation=generation,
    )
