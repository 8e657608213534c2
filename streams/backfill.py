"""The backfill lane's lower priority in the worker (design §14).

``webhooks.backfill`` (historical traffic, see ``gateway.lanes``) is normalized by its own
agent, sharing the ``seen-events`` table with ``normalize`` (both topics are co-partitioned,
so an event id lands on the same partition in either). The worker measures its *live lag*
— records of ``webhooks.raw`` and ``metrics.normalized`` on its partitions not yet
processed — every ``TICK_S``:

- above ``VITALSTREAM_BACKFILL_PAUSE_LAG``, the backfill partitions are paused at the
  consumer (nothing more is fetched) and the backfill agent waits before its next batch;
- at or below it, they are resumed.

``metrics.normalized`` counts as live work because the backfill's own observations queue
there: the lane waits until score has caught up, so a live observation never queues behind
more than about the threshold of historical ones. Inside one chunk the lane yields too: the
chunk is normalized on a thread (the event loop keeps serving live batches between the
interpreter's switches) and its outputs are sent ``SLICE_OUTS`` at a time, each slice only
once score has taken the one before the last (:meth:`BackfillGate.make_way`).

Lag is not the only cost: on a busy machine every slice delays live work without any live
record queueing. So the agent's next batch and each slice also wait while live records take
longer from accept to scored than at their best lately (:class:`LiveDelay`, fed by score). A
pause or wait lasts ``MAX_PAUSE_S`` at most; then the lane gets a turn, so history is never
starved by a lag or a delay that does not drain.

The backfill partitions are also paused while more than ``MAX_BACKLOG`` of their records
were fetched but not processed. That bounds the memory the lane holds (chunks are up to
10 MB each) and keeps its stream buffer from filling: a full buffer would block Faust's one
fetch loop, and with it every live partition, while the agent waits for the live lag.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import TP

from streams.agents_io import StreamEvent
from streams.metrics import WorkerMetrics

TICK_S = 0.1
MAX_BACKLOG = 16
"""Backfill records fetched but not yet processed, at most (then its partitions are paused)."""
MAX_PAUSE_S = 5.0
"""Longest pause or wait: then the lane gets one tick (and the agent one record), so it is never starved."""
BATCH = 1
"""Backfill records per batch (a 10 MB chunk holds ~170,000 observations)."""
SLICE_OUTS = 100
"""A chunk's outputs go out this many at a time: a live observation queues behind two slices at most
(~10 ms of score's time each; the lane pays a round trip per slice, which it can afford)."""
OFFLOAD_BYTES = 64 * 1024
"""A backfill record this large is normalized on a thread (an 8 MB chunk takes seconds of CPU)."""
MAKE_WAY_POLL_S = 0.005
DELAY_WINDOW_S = 0.5
"""The live delay *now*: the median over this window of each live score batch's oldest record's age."""
BASE_WINDOW_S = 120.0
"""The live delay *at its best*: the lowest "now" over this window (LEDBAT's base delay)."""


class LiveDelay:
    """How much longer live records now take from accept to scored than at their best lately.

    The idea of LEDBAT (RFC 6817), the transport for background traffic: the queueing delay a
    background flow adds is measured against the lowest delay seen recently, and the flow holds
    back while it is above a target. Here the delay is live traffic's own, observed by score;
    without live traffic there is no delay to add to, and the backfill goes at full speed.
    """

    def __init__(self, target_ms: float) -> None:
        self.target_ms = target_ms
        self._recent: deque[tuple[float, float]] = deque()
        """(when, age in ms) of each live score batch's oldest record, over ``DELAY_WINDOW_S``."""
        self._best: deque[tuple[float, float]] = deque()
        """(when, "now" delay): increasing delays, so the first is the window's lowest."""

    def note(self, now: float, age_ms: float) -> None:
        self._recent.append((now, age_ms))
        self._trim(now)
        current = statistics.median(age for _, age in self._recent)
        best = self._best
        while best and best[-1][1] >= current:
            best.pop()
        best.append((now, current))

    def added_ms(self, now: float) -> float | None:
        """The live delay now above its lowest over ``BASE_WINDOW_S``; None without recent live traffic."""
        self._trim(now)
        if not self._recent or not self._best:
            return None
        return statistics.median(age for _, age in self._recent) - self._best[0][1]

    def congested(self, now: float) -> bool:
        added = self.added_ms(now)
        return self.target_ms > 0 and added is not None and added > self.target_ms

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - DELAY_WINDOW_S:
            self._recent.popleft()
        while self._best and self._best[0][0] < now - BASE_WINDOW_S:
            self._best.popleft()


def lag_of(ends: Mapping[TP, int | None], positions: Mapping[TP, int | None]) -> int:
    """Records between each partition's position (the next offset to process) and its end."""
    total = 0
    for tp, end in ends.items():
        position = positions.get(tp)
        if end is not None and position is not None:
            total += max(0, end - position)
    return total


@dataclass(frozen=True, slots=True)
class LaneDecision:
    live_lag: int
    backfill_lag: int
    backlog: int
    pause: bool
    """Pause the backfill partitions (live lag above the threshold, or the backlog full)."""
    wait: bool
    """The backfill agent waits before its next batch (live lag above the threshold)."""


def decide(
    live_lag: int, backfill_lag: int, backlog: int, threshold: int, max_backlog: int, paused_for_s: float = 0.0
) -> LaneDecision:
    """Paused for ``MAX_PAUSE_S`` already: one tick's turn whatever the lag (starvation guard)."""
    if paused_for_s >= MAX_PAUSE_S:
        return LaneDecision(live_lag, backfill_lag, backlog, False, False)
    behind = live_lag > threshold
    return LaneDecision(live_lag, backfill_lag, backlog, behind or backlog >= max_backlog, behind)


class BackfillGate:
    """Measures the live lag on a Faust consumer and pauses/resumes the backfill partitions."""

    def __init__(
        self,
        app: Any,
        live_topics: Iterable[str],
        backfill_topic: str,
        threshold: int,
        metrics: WorkerMetrics,
        max_backlog: int = MAX_BACKLOG,
        target_delay_ms: float = 0.0,
    ) -> None:
        self.app = app
        self.live_topics = frozenset(live_topics)
        self.backfill_topic = backfill_topic
        self.threshold = threshold
        self.max_backlog = max_backlog
        self.metrics = metrics
        self.done: dict[TP, int] = {}
        """Per partition, the offset after the last processed record."""
        self.paused: set[TP] = set()
        self.paused_since: float | None = None
        self.delay = LiveDelay(target_delay_ms)
        self._turn = asyncio.Event()
        self._turn.set()

    def note_live_age(self, age_ms: float) -> None:
        """Score's report: a live batch durable, its oldest record accepted ``age_ms`` ago."""
        self.delay.note(time.monotonic(), age_ms)

    def processed(self, events: Sequence[StreamEvent]) -> None:
        """Record a processed batch's progress (call after its outputs are durable)."""
        done = self.done
        for event in events:
            msg = event.message
            tp = TP(msg.topic, msg.partition)
            if msg.offset + 1 > done.get(tp, -1):
                done[tp] = msg.offset + 1

    async def wait_turn(self) -> None:
        """Return once the live lag is at or below the threshold and live records are not delayed
        (:class:`LiveDelay`), after ``MAX_PAUSE_S``, or when a rebalance or stop needs the agent."""
        app = self.app
        deadline = time.monotonic() + MAX_PAUSE_S
        while not self._turn.is_set() and not app.rebalancing and not app.should_stop:
            if time.monotonic() >= deadline:
                return
            try:
                await asyncio.wait_for(self._turn.wait(), TICK_S)
            except TimeoutError:
                continue

    slice_outs: int = SLICE_OUTS
    offload_bytes: int = OFFLOAD_BYTES

    async def make_way(self, sent: Mapping[tuple[str, int], int]) -> None:
        """Return once this worker's live stages have processed every record of ``sent`` (the
        highest offset per topic partition of the slice before) on their topics and live records
        are not delayed by more than the target (:class:`LiveDelay`), or after ``MAX_PAUSE_S``
        (a partition another worker owns is not waited for)."""
        app = self.app
        deadline = time.monotonic() + MAX_PAUSE_S
        while not app.rebalancing and not app.should_stop and time.monotonic() < deadline:
            assigned = app.consumer.assignment()
            waiting = [
                tp
                for tp, offset in sent.items()
                if tp[0] in self.live_topics and tp in assigned and self.done.get(TP(*tp), -1) <= offset
            ]
            if not waiting and not self.delay.congested(time.monotonic()):
                return
            await asyncio.sleep(MAKE_WAY_POLL_S)

    def measure(self) -> LaneDecision:
        consumer = self.app.consumer
        assigned = consumer.assignment()
        live = [tp for tp in assigned if tp.topic in self.live_topics]
        backfill = [tp for tp in assigned if tp.topic == self.backfill_topic]
        position = {tp: self._position(consumer, tp) for tp in (*live, *backfill)}
        fetched = {tp: _next_to_deliver(consumer, tp) for tp in backfill}
        return decide(
            lag_of({tp: consumer.highwater(tp) for tp in live}, position),
            lag_of({tp: consumer.highwater(tp) for tp in backfill}, position),
            lag_of(fetched, position),
            self.threshold,
            self.max_backlog,
            0.0 if self.paused_since is None else time.monotonic() - self.paused_since,
        )

    def tick(self) -> LaneDecision:
        decision = self.measure()
        consumer = self.app.consumer
        if decision.wait or self.delay.congested(time.monotonic()):  # behind, or live records delayed
            self._turn.clear()
        else:
            self._turn.set()
        backfill = {tp for tp in consumer.assignment() if tp.topic == self.backfill_topic}
        if decision.pause:
            # applied every tick: Faust resumes every partition after a rebalance or recovery
            consumer.pause_partitions(backfill)
            self.paused = backfill
            if self.paused_since is None:
                self.paused_since = time.monotonic()
        elif not self.app.in_recovery:
            if self.paused:
                consumer.resume_partitions(self.paused & backfill)
            self.paused = set()
            self.paused_since = None
        m = self.metrics
        m.live_lag.set(decision.live_lag)
        m.backfill_lag.set(decision.backfill_lag)
        m.backfill_paused.set(1 if self.paused else 0)
        m.live_added_delay.set(max(0.0, self.delay.added_ms(time.monotonic()) or 0.0) / 1000)
        return decision

    def _position(self, consumer: Any, tp: TP) -> int | None:
        done = self.done.get(tp)
        if done is not None:
            return done
        committed: int | None = consumer._committed_offset.get(tp)  # read at assignment, before any record
        return committed


def _next_to_deliver(consumer: Any, tp: TP) -> int | None:
    read: int | None = consumer._read_offset.get(tp)  # Faust's last delivered offset per partition
    return None if read is None else read + 1
