"""Dead-letter inspection and replay (``vitalstream dlq ls|show|replay``, admin endpoints).

Reading: every DLQ record from the earliest offset to the high watermark, and the
compacted ``dlq.replays`` topic that says which were replayed. Replaying: re-publish the
original key/value/headers to ``vs.original.topic`` (attempts reset, ``vs.replay.of`` set),
wait for the broker's acknowledgement, then record the replay in ``dlq.replays``; a
record already replayed is refused unless forced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import headers as H
from schemas.codec import Codec, DecodeError
from schemas.records import DlqReplay, Observation, RawWebhook, ScoredObservation
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings

# Personal fields, and credentials a payload may carry (Terra's ping-mode download URL is presigned).
PERSONAL_KEYS = re.compile(
    r"(^|_)(name|email|e_mail|date_of_birth|dob|phone|address|city|first_name|last_name"
    r"|url|token|secret|password|signature|authorization)$",
    re.I,
)
MASK = "***"


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
        return self.headers.get(H.ERROR_CLASS, "unknown")

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


def mask_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if PERSONAL_KEYS.search(str(k)) else mask_personal(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_personal(v) for v in value]
    return value


def describe(letter: DeadLetter, codec: Codec) -> dict[str, Any]:
    """One dead letter for people: headers decoded, payload decoded and masked."""
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
        out["value"] = {
            "undecodable": str(exc),
            "bytes": len(letter.value),
            "preview": letter.value[:64].decode("utf-8", "replace"),
        }
        return out
    data = record.to_avro()
    if isinstance(record, RawWebhook):
        try:
            data["body"] = mask_personal(orjson.loads(record.body))
        except orjson.JSONDecodeError:
            data["body"] = {"unparseable_json": len(record.body)}
        data["headers"] = {k: v for k, v in record.headers.items() if "signature" not in k.lower()}
    out["schema"] = record.SCHEMA
    out["value"] = data
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


@dataclass
class ReplayReport:
    matched: int = 0
    replayed: list[str] = field(default_factory=list)
    skipped_already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dry_run: bool = False


def replay_headers(letter: DeadLetter) -> list[tuple[str, str | bytes | None]]:
    """Original headers minus the failure details, attempts reset, replay origin recorded."""
    drop = {
        H.ERROR_STAGE,
        H.ERROR_CLASS,
        H.ERROR_MESSAGE,
        H.ERROR_STACKTRACE,
        H.ATTEMPTS,
        H.FIRST_FAILURE_AT,
        H.REPLAY_OF,
    }
    kept: list[tuple[str, str | bytes | None]] = [(k, v) for k, v in letter.raw_headers if k not in drop]
    return [*kept, (H.REPLAY_OF, f"dlq:{letter.ref}".encode()), (H.ATTEMPTS, b"0")]


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
