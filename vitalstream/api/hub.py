"""The stream's in-process state (no I/O): the current value of every key of ``metrics.latest``
with its position, the positions consumed so far, and the subscribers by subject.

One feed per process applies consumed records here, on the event loop; a subscription is
made on the loop too, so its snapshot and the changes after it meet with no gap and no
overlap. A subscriber's queue is bounded: one that falls behind is dropped — its queue is
replaced by one ``dropped`` event saying why, sent last before the connection closes — and
it reconnects with its ``Last-Event-ID`` and loses nothing, because the state here has every
key's current value with the offset it came from.

Resuming from positions sends every key of the subscribed subjects whose current value
came after them: the value a key has now, not each value it had meanwhile — the same
view a reader of the compacted topic gets.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from vitalstream.api.cursors import encode_positions

METRIC_EVENT = "metric"
REMOVED_EVENT = "removed"
READY_EVENT = "ready"
DROPPED_EVENT = "dropped"


@dataclass(frozen=True, slots=True)
class Change:
    """One consumed record. ``data`` is the API's JSON for the value; None for a tombstone.
    An empty ``subject`` only moves the position (a record this API cannot read)."""

    partition: int
    offset: int
    subject: str
    metric: str
    data: bytes | None


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    data: str
    id: str | None = None


def _event(change: Change, event_id: str | None) -> Event:
    if change.data is None:
        removed = {"subject": change.subject, "metric": change.metric}
        return Event(REMOVED_EVENT, orjson.dumps(removed).decode(), event_id)
    return Event(METRIC_EVENT, change.data.decode(), event_id)


def _dropped(max_queue: int) -> Event:
    """The last event of a stream whose client fell behind; no id, so the client resumes from its last one."""
    reason = {
        "reason": f"client too slow: more than {max_queue} events waiting to be sent",
        "resume": "reconnect with Last-Event-ID (an EventSource does so by itself)",
    }
    return Event(DROPPED_EVENT, orjson.dumps(reason).decode())


class Subscription:
    """A client's bounded queue of live events."""

    def __init__(self, subjects: frozenset[str], max_queue: int, floor: Mapping[int, int] | None = None) -> None:
        self.subjects = subjects
        self.floor = dict(floor or {})
        """Per partition, the offset the client has already seen up to (its ``Last-Event-ID``)."""
        self.dropped = False
        self._max = max_queue
        self._events: deque[Event] = deque()
        self._wake = asyncio.Event()

    def offer(self, event: Event) -> bool:
        if self.dropped:
            return False
        if len(self._events) >= self._max:
            self.dropped = True
            self._events.clear()
            self._events.append(_dropped(self._max))
            self._wake.set()
            return False
        self._events.append(event)
        self._wake.set()
        return True

    async def next_batch(self, timeout_s: float) -> list[Event]:
        """Events queued since the last call; waits up to ``timeout_s`` for the first (then [])."""
        if not self._events and not self.dropped:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._wake.wait()
            except TimeoutError:
                return []
        self._wake.clear()
        batch = list(self._events)
        self._events.clear()
        return batch


class Hub:
    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self.positions: dict[int, int] = {}
        self.ready = asyncio.Event()
        self._values: dict[str, dict[str, Change]] = {}
        self._subscribers: dict[str, set[Subscription]] = {}

    def start(self, partitions: Sequence[int]) -> None:
        for p in partitions:
            self.positions.setdefault(p, -1)

    def advance(self, positions: Mapping[int, int]) -> None:
        """Records up to these offsets were read (compaction gaps, transaction markers)."""
        for p, offset in positions.items():
            self.positions[p] = max(self.positions.get(p, -1), offset)

    def mark_ready(self) -> None:
        self.ready.set()

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.positions[change.partition] = max(self.positions.get(change.partition, -1), change.offset)
            if not change.subject:
                continue
            self._values.setdefault(change.subject, {})[change.metric] = change
            subscribers = self._subscribers.get(change.subject)
            if subscribers:
                event = _event(change, encode_positions(self.positions))
                for sub in list(subscribers):
                    if change.offset <= sub.floor.get(change.partition, -1):
                        continue  # seen through another replica that was further along
                    if not sub.offer(event):
                        self.unsubscribe(sub)

    def subscribe(self, subjects: frozenset[str], since: Mapping[int, int] | None) -> tuple[Subscription, list[Event]]:
        """A subscription and what to send first: the current values (``since`` None) or what
        changed after ``since``, then a ``ready`` event carrying the position."""
        sub = Subscription(subjects, self.max_queue, since)
        for subject in subjects:
            self._subscribers.setdefault(subject, set()).add(sub)
        first = sorted(
            (
                c
                for subject in subjects
                for c in self._values.get(subject, {}).values()
                if (c.data is not None if since is None else c.offset > since.get(c.partition, -1))
            ),
            key=lambda c: (c.partition, c.offset),
        )
        events = [_event(c, None) for c in first]
        ready = {"subjects": sorted(subjects), "sent": len(events), "resumed": since is not None}
        seen = since or {}
        position = {p: max(self.positions.get(p, -1), seen.get(p, -1)) for p in self.positions.keys() | seen.keys()}
        events.append(Event(READY_EVENT, orjson.dumps(ready).decode(), encode_positions(position)))
        return sub, events

    def unsubscribe(self, sub: Subscription) -> None:
        for subject in sub.subjects:
            subscribers = self._subscribers.get(subject)
            if subscribers is not None:
                subscribers.discard(sub)
                if not subscribers:
                    del self._subscribers[subject]

    @property
    def streams(self) -> int:
        return len({id(s) for subs in self._subscribers.values() for s in subs})

    @property
    def keys(self) -> int:
        return sum(len(v) for v in self._values.values())
