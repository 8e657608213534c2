"""Dead-letter inspection and replay (``vitalstream dlq ls|show|replay``, admin endpoints).

Reading: every DLQ record from the earliest offset to the high watermark, and the
compacted ``dlq.replays`` topic that says which were replayed. Replaying: re-publish the
original key/value/headers to ``vs.original.topic`` (attempts reset, ``vs.replay.of`` set),
wait for the broker's acknowledgement, then record the replay in ``dlq.replays``; a
record already replayed is refused unless forced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import deadletter as H
from schemas.codec import Codec, DecodeError
from schemas.records import DlqReplay, Observation, RawWebhook, ScoredObservation
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings
from vitalstream.record_view import record_view


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    raw_headers: list[tuple[str, bytes]]

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def stage(self) -> str:
        return self.headers.get(H.ERROR_STAGE, "unknown")

    @property
    def error_class(self) -> str:
        """The contract's bare class name (dotted names of older sinks folded into it)."""
        return H.canonical_class(self.headers.get(H.ERROR_CLASS, "unknown"))

    @property
    def event_id(self) -> str | None:
        return self.headers.get(H.EVENT_ID)

    @property
    def failed_at(self) -> datetime:
        first = self.headers.get(H.FIRST_FAILURE_AT)
        if first:
            try:
                return datetime.fromisoformat(first) if not first.isdigit() else _ms(int(first))
            except ValueError:
                pass
        return _ms(self.timestamp_ms)


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


# --- pure helpers ----------------------------------------------------------------------------


def provider_of(letter: DeadLetter, codec: Codec) -> str | None:
    """The data provider behind a dead letter, when the record shows it."""
    if letter.value is None:
        return None
    try:
        record = codec.decode(letter.value)
    except DecodeError:
        return None
    if isinstance(record, RawWebhook):
        try:
            doc = orjson.loads(record.body)
        except orjson.JSONDecodeError:
            return None
        user = doc.get("user") if isinstance(doc, dict) else None
        provider = user.get("provider") if isinstance(user, dict) else None
        return provider if isinstance(provider, str) else None
    if isinstance(record, Observation):
        return record.provider
    if isinstance(record, ScoredObservation):
        return record.observation.provider
    return None


@dataclass(frozen=True)
class Filters:
    stage: str | None = None
    error_class: str | None = None
    provider: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    event_id: str | None = None
    refs: frozenset[str] = frozenset()

    def matches(self, letter: DeadLetter, codec: Codec) -> bool:
        if self.refs and letter.ref not in self.refs:
            return False
        if self.stage and letter.stage != self.stage:
            return False
        if self.error_class and letter.error_class != self.error_class:
            return False
        if self.event_id and letter.event_id != self.event_id:
            return False
        if self.since and letter.failed_at < self.since:
            return False
        if self.until and letter.failed_at > self.until:
            return False
        return not (self.provider and (provider_of(letter, codec) or "").upper() != self.provider.upper())


@dataclass
class Group:
    stage: str
    error_class: str
    count: int = 0
    pending: int = 0
    replayed: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample_message: str = ""


def summarize(letters: Iterable[DeadLetter], replayed: set[str]) -> list[Group]:
    groups: dict[tuple[str, str], Group] = {}
    for letter in letters:
        g = groups.setdefault((letter.stage, letter.error_class), Group(letter.stage, letter.error_class))
        g.count += 1
        if letter.ref in replayed:
            g.replayed += 1
        else:
            g.pending += 1
        at = letter.failed_at
        g.first_seen = at if g.first_seen is None or at < g.first_seen else g.first_seen
        g.last_seen = at if g.last_seen is None or at > g.last_seen else g.last_seen
        g.sample_message = g.sample_message or letter.headers.get(H.ERROR_MESSAGE, "")[:120]
    return sorted(groups.values(), key=lambda g: (-g.pending, g.stage, g.error_class))


def describe(letter: DeadLetter, codec: Codec) -> dict[str, Any]:
    """One dead letter for people: headers decoded, payload decoded with every personal field masked."""
    out: dict[str, Any] = {
        "ref": letter.ref,
        "key": letter.key.decode("utf-8", "replace") if letter.key else None,
        "timestamp": _ms(letter.timestamp_ms).isoformat(),
        "headers": {k: v for k, v in letter.headers.items() if "signature" not in k.lower()},
    }
    if letter.value is None:
        out["value"] = None
        return out
    try:
        record = codec.decode(letter.value)
    except DecodeError as exc:
        out["value"] = {"undecodable": H.describe(exc).message, "bytes": len(letter.value)}
        return out
    out["schema"] = record.SCHEMA
    out["value"] = record_view(record)
    return out


# --- Kafka I/O -------------------------------------------------------------------------------


def read_dead_letters(settings: Settings) -> list[DeadLetter]:
    letters = []
    for m in kafka.read_to_end(settings, settings.topic("dlq"), "dlq-cli"):
        raw = [(str(h[0]), h[1]) for h in m.headers() or [] if isinstance(h[1], bytes)]
        letters.append(
            DeadLetter(
                int(m.partition() or 0),
                int(m.offset() or 0),
                m.timestamp()[1],
                m.key(),
                m.value(),
                {k: v.decode("utf-8", "replace") for k, v in raw},
                raw,
            )
        )
    return letters


def read_replayed(settings: Settings) -> set[str]:
    return {key.decode() for key in kafka.read_compacted(settings, settings.topic("dlq.replays"), "dlq-cli")}


PLAN_COLUMNS = ("ref", "event_id", "stage", "error_class", "first_failure", "provider")


def plan_row(letter: DeadLetter, codec: Codec) -> dict[str, str | None]:
    """What a dry run shows of one dead letter it would replay (no record values: nothing personal)."""
    return {
        "ref": letter.ref,
        "event_id": letter.event_id,
        "stage": letter.stage,
        "error_class": letter.error_class,
        "first_failure": letter.failed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "provider": provider_of(letter, codec),
    }


@dataclass
class ReplayReport:
    matched: int = 0
    replayed: list[str] = field(default_factory=list)
    skipped_already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dry_run: bool = False
    planned: list[dict[str, str | None]] = field(default_factory=list)
    """Dry run only: one :func:`plan_row` per record that would be replayed."""


def replay_headers(letter: DeadLetter) -> list[tuple[str, str | bytes | None]]:
    """Original headers minus the failure details, attempts reset, replay origin recorded."""
    return list(H.replay_headers(letter.raw_headers, letter.ref))


def replay(
    settings: Settings,
    filters: Filters,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    force: bool = False,
    actor: str = "cli",
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    codec = codec_for(settings)
    letters = [lt for lt in read_dead_letters(settings) if filters.matches(lt, codec)]
    replayed = read_replayed(settings)
    report = ReplayReport(dry_run=dry_run)
    todo: list[DeadLetter] = []
    for letter in letters:
        if letter.ref in replayed and not force:
            report.skipped_already.append(letter.ref)
        else:
            todo.append(letter)
    if limit is not None:
        todo = todo[:limit]
    report.matched = len(letters)
    if dry_run or not todo:
        report.replayed = [lt.ref for lt in todo] if dry_run else []
        report.planned = [plan_row(lt, codec) for lt in todo] if dry_run else []
        return report
    producer = kafka.producer(settings, "dlq-replay")
    start = time.monotonic()
    for i, letter in enumerate(todo):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        target = letter.headers.get(H.ORIGINAL_TOPIC)
        if not target:
            report.failed.append(f"{letter.ref}: no {H.ORIGINAL_TOPIC} header")
            continue
        try:
            kafka.produce_all(producer, [kafka.OutRecord(target, letter.value, letter.key, replay_headers(letter))])
        except kafka.DeliveryFailed as exc:
            report.failed.append(f"{letter.ref}: {exc.first_error}")
            continue
        audit = DlqReplay(
            dlq_partition=letter.partition,
            dlq_offset=letter.offset,
            original_topic=target,
            replayed_by=actor,
            replayed_at=datetime.now(UTC),
            event_id=letter.event_id,
            forced=force,
        )
        try:  # at once: a replay interrupted later must still know this one is done
            kafka.produce_all(
                producer, [kafka.OutRecord(settings.topic("dlq.replays"), codec.encode(audit), letter.ref.encode())]
            )
        except kafka.DeliveryFailed as exc:
            report.failed.append(
                f"{letter.ref}: replayed, but its audit record was not acknowledged ({exc.first_error})"
            )
            continue
        report.replayed.append(letter.ref)
        if on_progress is not None:
            on_progress(i + 1, len(todo))
    return report
