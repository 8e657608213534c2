"""The normalize, score and quality stages as batch processors (wired into Faust in ``streams.app``).

Each ``process_*`` method takes one batch of Faust events (:func:`streams.batching.take_ready`), does
every record's work, sends all outputs and failure records through
:func:`streams.agents_io.send_all` (awaiting every acknowledgement) and only then updates
its tables. It never raises for a bad record: a record's failure is routed (retry tier or
DLQ, see :mod:`streams.failures`) and the batch goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from schemas import timing
from schemas.codec import Codec
from schemas.confidence_model import ConfidenceModel
from schemas.records import EventOutcome, Observation, RawWebhook
from schemas.vocabulary import LAB_PREFIX, spec_for
from streams import quality, tracking
from streams.agents_io import Headers, KeyValueTable, Out, OutputProducer, StreamEvent, bind, send_all
from streams.confidence import SubjectMetricState, score
from streams.encoders import RecordEncoder
from streams.errors import PermanentError, SchemaInvalidError
from streams.failures import FailedRecord, route
from streams.generation import tracking_facts_topic
from streams.metrics import WorkerMetrics
from streams.normalize import NormalizeResult, normalizer_for, parse_body
from streams.ping import is_fetched, looks_like_ping
from streams.tables import TableWriter
from vitalstream.platform.settings import Settings

"""How long an event id is remembered for event-level dedup (the raw topic's retention)."""
TERRA_SOURCE = "terra"
"""Only Terra's own deliveries are tracked: a reference is Terra's, and no other source may touch its jobs."""


class UnknownMetricError(PermanentError):
    """An observation names a metric the vocabulary does not define."""


@dataclass
class Stage:
    """What every stage shares: settings, codec, metrics, the Faust app, the output producer."""

    app: Any
    settings: Settings
    codec: Codec
    metrics: WorkerMetrics
    producer: OutputProducer
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def topic(self, short: str) -> str:
        return self.settings.topic(short)

    async def send(self, outs: list[Out], track_offsets: bool = False) -> dict[tuple[str, int], int]:
        """Every record of ``outs`` acknowledged by the broker (see :func:`streams.agents_io.send_all`);
        with ``track_offsets``, the highest acknowledged offset per topic partition."""
        return await send_all(
            self.producer, outs, self.metrics, track_offsets=track_offsets, dead_letter_topic=self.topic("dlq")
        )

    def dead_context(self, raw: RawWebhook, stage: str, event_type: str | None) -> EventOutcome:
        """What the ledger row of ``raw`` says if it is dead-lettered at ``stage`` (see :meth:`failure`)."""
        return EventOutcome(
            event_id=raw.event_id,
            outcome="dead_lettered",
            stage=stage,
            at=self.clock(),
            source=raw.source,
            event_type=event_type,
        )

    def failure(
        self,
        event: StreamEvent,
        exc: BaseException,
        stage: str,
        event_id: str | None,
        outs: list[Out],
        *,
        dead_outcome: EventOutcome | None = None,
    ) -> None:
        """Append the retry/DLQ record for a failed event (and its ledger row if dead) to ``outs``."""
        msg = event.message
        record = FailedRecord(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            timestamp_ms=int((msg.timestamp or 0) * 1000),
            key=msg.key,
            value=msg.value,
            headers=list(msg.headers or ()),
        )
        routed = route(record, exc, stage=stage, now_ms=int(time.time() * 1000), event_id=event_id)
        short = routed.topic
        outs.append(Out(self.topic(short), routed.key, routed.value, routed.headers))
        if routed.dead:
            self.metrics.dead_letters.labels(stage, routed.error_class).inc()
            if routed.event_id:
                outcome = EventOutcome(
                    event_id=routed.event_id,
                    outcome="dead_lettered",
                    stage=stage,
                    at=self.clock(),
                    source=dead_outcome.source if dead_outcome else None,
                    event_type=dead_outcome.event_type if dead_outcome else None,
                    reason=routed.reason,
                )
                outs.append(Out(self.topic("events.ledger"), routed.event_id.encode(), self.codec.encode(outcome)))
        else:
            self.metrics.retries.labels(stage, routed.error_class, short).inc()


class Lane(Protocol):
    """How the backfill lane yields to live work inside one big record (see ``streams.backfill``)."""

    slice_outs: int
    """Outputs sent at a time."""
    offload_bytes: int
    """A record this large is normalized on a thread, so the event loop keeps serving live work."""

    async def make_way(self, sent: Mapping[tuple[str, int], int]) -> None:
        """Return once what was sent (highest offset per topic partition) has been taken downstream."""


@dataclass
class _NormalizeBatch:
    """What one normalize batch has gathered so far."""

    now_s: int
    normalized: tuple[str, bytes]
    outs: list[Out] = field(default_factory=list)
    done: list[tuple[StreamEvent, str]] = field(default_factory=list)
    in_batch: set[str] = field(default_factory=set)
    obs_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)


class NormalizeStage(Stage):
    """``webhooks.raw`` → observations, user events, ops events, one ledger row per event.

    A ping (``s3_payload``) is skipped without a ledger row and without remembering its event
    id: the fetch stage (:mod:`streams.fetch`) publishes the payload under the same id."""

    def __init__(self, *args: Any, seen: KeyValueTable, lane: Lane | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen = seen
        self.lane = lane
        """The backfill lane's pacing; None on the live lane."""
        self.lane_mark = [] if lane is None else [timing.BACKFILL]
        """Carried to the sink, which counts a backfill's rows apart from live freshness."""
        self.seen_writer = TableWriter(seen)
        self.encoder = RecordEncoder(self.codec)
        self.facts_topic = tracking_facts_topic(self.settings)

    async def process(self, events: Sequence[StreamEvent]) -> None:
        batch = _NormalizeBatch(now_s=int(time.time()), normalized=timing.stamp(timing.NORMALIZED))
        self.metrics.batch.labels("normalize").observe(len(events))
        for event in events:
            if self.lane is not None and len(event.message.value or b"") >= self.lane.offload_bytes:
                await asyncio.to_thread(self._normalize_one, event, batch)  # the loop keeps serving live work
            else:
                self._normalize_one(event, batch)
        await self._send_outputs(batch.outs)
        stamp = str(batch.now_s).encode()  # only now: its outputs are durable
        await self.seen_writer.write(
            self.producer, [(event, eid.encode(), stamp) for event, eid in batch.done], self.metrics
        )
        for (metric, provider), n in batch.obs_counts.items():
            self.metrics.observations.labels(metric, provider).inc(n)
        for reason, n in batch.rejections.items():
            self.metrics.rejections.labels(reason).inc(n)
        for outcome, n in batch.outcomes.items():
            self.metrics.events.labels(outcome).inc(n)

    def _normalize_one(self, event: StreamEvent, batch: _NormalizeBatch) -> None:
        raw: RawWebhook | None = None
        try:
            raw = self.codec.decode_as(event.message.value or b"", RawWebhook)  # a null value: a DecodeError
            eid = raw.event_id
            bind(event)
            if eid in batch.in_batch or self._seen_recently(eid, batch.now_s):
                self.metrics.duplicates.labels("normalize").inc()
                return
            payload = parse_body(raw.body)
            batch.outs.extend(self._tracking_fact(raw, payload))  # whatever becomes of the event (design §13)
            normalize = normalizer_for(raw.source, self.settings.source_formats)
            result = normalize(raw, payload)
            if result.s3_url is not None:
                self._ping(raw, event)  # the fetch stage downloads it; its record has this event id
                batch.outcomes["ping"] += 1
                return
            headers = [*timing.forward(event.message.headers), batch.normalized, *self.lane_mark]
            event_outs, outcome = self._outputs(raw, payload, result, headers, batch.obs_counts, batch.rejections)
        except Exception as exc:  # a bad record never stops the batch (design §7)
            ctx = None if raw is None else self.dead_context(raw, "normalize", _event_type(raw))
            self.failure(event, exc, "normalize", raw.event_id if raw else None, batch.outs, dead_outcome=ctx)
            return
        batch.outs.extend(event_outs)
        batch.outcomes[outcome] += 1
        batch.in_batch.add(eid)
        batch.done.append((event, eid))

    async def _send_outputs(self, outs: list[Out]) -> None:
        """All at once on the live lane; on the backfill lane in slices, each only once the stage
        reading them has taken all but the last one (a live observation never queues behind more)."""
        lane = self.lane
        if lane is None or len(outs) <= lane.slice_outs:
            await self.send(outs)
            return
        previous: dict[tuple[str, int], int] = {}
        for start in range(0, len(outs), lane.slice_outs):
            await lane.make_way(previous)
            previous = await self.send(outs[start : start + lane.slice_outs], track_offsets=True)

    @staticmethod
    def _ping(raw: RawWebhook, event: StreamEvent) -> None:
        """Skip a ping the fetch stage downloads; refuse one it cannot see (design §5.1)."""
        if is_fetched(event.message.headers):
            raise SchemaInvalidError("the downloaded payload is itself an s3_payload event")
        if not looks_like_ping(raw.body):
            raise SchemaInvalidError("an s3_payload event whose type is escaped is not fetched")

    def _tracking_fact(self, raw: RawWebhook, payload: object) -> list[Out]:
        """The large-request fact of a Terra record, keyed by its reference (none for other records)."""
        if raw.source != TERRA_SOURCE:
            return []
        fact = tracking.fact_of(raw, payload, int(raw.received_at.timestamp() * 1000))
        return [] if fact is None else [Out(self.facts_topic, fact["r"].encode(), tracking.encode_fact(fact))]

    def _seen_recently(self, event_id: str, now_s: int) -> bool:
        stamp = self.seen_writer.get(event_id.encode())
        if stamp is None:
            return False
        try:
            return now_s - int(stamp) < self.settings.dedup_window_s
        except ValueError:
            return True

    def _outputs(
        self,
        raw: RawWebhook,
        payload: object,
        result: NormalizeResult,
        headers: Headers,
        obs_counts: Counter[tuple[str, str]],
        rejections: Counter[str],
    ) -> tuple[list[Out], str]:
        encode = self.codec.encode
        outs: list[Out] = []
        t_norm, t_users, t_ops = self.topic("metrics.normalized"), self.topic("users"), self.topic("ops.events")
        encode_observation = self.encoder.observation
        for obs in result.observations:
            outs.append(Out(t_norm, obs.subject.encode(), encode_observation(obs), headers))
            # a bounded label: lab metrics (one per biomarker and unit) count as "lab"
            metric_label = "lab" if obs.metric.startswith(LAB_PREFIX) else obs.metric
            obs_counts[(metric_label, obs.provider)] += 1
        for ue in result.user_events:
            outs.append(Out(t_users, ue.user_id.encode(), encode(ue)))
        for oe in result.ops_events:
            outs.append(Out(t_ops, oe.source.encode(), encode(oe)))
        for rej in result.rejections:
            rejections[_reason_label(rej.reason)] += 1
        produced = bool(result.observations or result.user_events or result.ops_events or result.rejections)
        outcome = "processed" if produced else "ignored"
        reason = None if produced else (result.ignored or "no values in the payload")
        ledger = EventOutcome(
            event_id=raw.event_id,
            outcome=outcome,
            stage="normalize",
            at=self.clock(),
            source=raw.source,
            event_type=_payload_type(payload),
            reason=reason,
            observations=len(result.observations),
            rejected=len(result.rejections),
        )
        outs.append(Out(self.topic("events.ledger"), raw.event_id.encode(), encode(ledger)))
        return outs, outcome


def _payload_type(payload: object) -> str | None:
    if isinstance(payload, dict):
        t = payload.get("type")
        return t[:64] if isinstance(t, str) else None
    return None


def _event_type(raw: RawWebhook) -> str | None:
    try:
        return _payload_type(parse_body(raw.body))
    except PermanentError:
        return None


def _reason_label(reason: str) -> str:
    """Rejection reasons may carry values; the label keeps the words before the first digit/colon."""
    head = reason.split(":", 1)[0]
    return "".join(ch for ch in head if not ch.isdigit()).strip()[:64] or "other"


class ScoreStage(Stage):
    """``metrics.normalized`` → ``metrics.scored`` / ``metrics.latest`` + quality deltas."""

    def __init__(
        self,
        *args: Any,
        table: KeyValueTable,
        model: ConfidenceModel,
        deltas_topic: str,
        scoring_clock: Callable[[Observation], datetime] | None = None,
        generation: int = 0,
        emit_latest: bool = True,
        live_age: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.generation = generation
        self.emit_latest = emit_latest
        self.live_age = live_age
        """Told, per batch once durable, how long ago its oldest live record was accepted (the backfill's pacing)."""
        self.table = table
        self.table_writer = TableWriter(table)
        self.model = model
        self.deltas_topic = deltas_topic
        self.scoring_clock = scoring_clock
        self.encoder = RecordEncoder(self.codec)

    async def process(self, events: Sequence[StreamEvent]) -> None:
        outs: list[Out] = []
        groups: dict[tuple[int, str], list[tuple[StreamEvent, Observation]]] = defaultdict(list)
        decode_as = self.codec.decode_as
        self.metrics.batch.labels("score").observe(len(events))
        oldest_live: int | None = None
        for event in events:
            if self.live_age is not None:
                accepted = timing.live_accepted(event.message.headers)
                if accepted is not None and (oldest_live is None or accepted < oldest_live):
                    oldest_live = accepted
            obs: Observation | None = None
            try:
                obs = decode_as(event.message.value or b"", Observation)
                if spec_for(obs.metric) is None:
                    raise UnknownMetricError("the observation's metric is not in the vocabulary")
            except Exception as exc:
                self.failure(event, exc, "score", obs.event_id if obs else None, outs)
                continue
            groups[(event.message.partition, f"{obs.subject}|{obs.metric}")].append((event, obs))

        new_states: list[tuple[StreamEvent, bytes, bytes]] = []
        latest: dict[str, Out] = {}
        deltas: dict[tuple[str, int], list[tuple[int, float, str]]] = defaultdict(list)
        t_scored, t_latest = self.topic("metrics.scored"), self.topic("metrics.latest")
        encode_scored, encode_latest = self.encoder.scored, self.encoder.latest
        clock, scoring_clock, generation = self.clock, self.scoring_clock, self.generation
        observe = self.metrics.confidence.observe
        scored_at, forward = timing.stamp(timing.SCORED), timing.forward
        scored_n = dup_n = 0
        for (_partition, key), items in groups.items():
            bind(items[0][0])
            tkey = key.encode()
            stored = self.table_writer.get(tkey)
            state = SubjectMetricState.from_dict(orjson.loads(stored)) if stored is not None else None
            before = stored
            spec = spec_for(items[0][1].metric)
            assert spec is not None  # checked when the group was formed
            for event, obs in items:
                try:
                    now = scoring_clock(obs) if scoring_clock is not None else clock()
                    out = score(obs, state, spec, self.model, now, generation)
                except Exception as exc:  # a scoring bug dead-letters the record, the rest goes on
                    self.failure(event, exc, "score", obs.event_id, outs)
                    continue
                state = out.state
                if out.duplicate:
                    dup_n += 1
                    continue
                scored_n += 1
                sc = out.scored
                observe(sc.confidence)
                headers = [*forward(event.message.headers), scored_at]
                outs.append(Out(t_scored, obs.subject.encode(), encode_scored(sc, obs, event.message.value), headers))
                if out.latest is not None:
                    latest[key] = Out(t_latest, tkey, encode_latest(out.latest))
                qk = quality.quality_key(obs.measured_at, obs.metric, obs.provider)
                deltas[(qk, event.message.partition)].append((event.message.offset, sc.confidence, sc.level))
            if state is not None:
                after = orjson.dumps(state.to_dict())
                if after != before:
                    new_states.append((items[-1][0], tkey, after))
        if self.emit_latest:
            outs.extend(latest.values())
        for (qk, partition), entries in deltas.items():
            outs.append(Out(self.deltas_topic, qk.encode(), quality.encode_delta(partition, entries)))
        await self.send(outs)
        await self.table_writer.write(self.producer, new_states, self.metrics)  # after the outputs are durable
        if self.live_age is not None and oldest_live is not None:
            self.live_age(timing.now_ms() - oldest_live)
        self.metrics.scored.inc(scored_n)
        if dup_n:
            self.metrics.duplicates.labels("score").inc(dup_n)


class QualityStage(Stage):
    """Quality deltas (keyed ``day|metric|provider``) → table → ``metrics.quality_daily``."""

    def __init__(self, *args: Any, table: KeyValueTable, generation: int = 0, emit: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table = table
        self.table_writer = TableWriter(table)
        self.generation = generation
        self.emit = emit

    async def process(self, events: Sequence[StreamEvent]) -> None:
        outs: list[Out] = []
        groups: dict[tuple[int, bytes], list[StreamEvent]] = defaultdict(list)
        for event in events:
            key = event.message.key
            if key is None:
                continue
            groups[(event.message.partition, bytes(key))].append(event)
        updates: list[tuple[StreamEvent, bytes, bytes]] = []
        t_quality = self.topic("metrics.quality_daily")
        for (_partition, key), items in groups.items():
            bind(items[0])
            stored = self.table_writer.get(key)
            state: dict[str, Any] | None = orjson.loads(stored) if stored is not None else None
            applied = 0
            for event in items:
                try:
                    source_partition, entries = quality.decode_delta(event.message.value or b"")
                except Exception as exc:  # our own internal format: only a bug gets here
                    self.failure(event, exc, "quality", None, outs)
                    continue
                state, n = quality.apply_delta(state, source_partition, entries)
                applied += n
            if state is None:
                continue
            updates.append((items[-1], key, orjson.dumps(state)))
            if applied and self.emit:
                record = quality.to_record(key.decode(), state, self.generation)
                outs.append(Out(t_quality, key, self.codec.encode(record)))
        await self.send(outs)
        await self.table_writer.write(self.producer, updates, self.metrics)
