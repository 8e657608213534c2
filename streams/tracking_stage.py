"""The tracking agent: facts (keyed by ``terra-reference``) → table → ``backfill.jobs``.

Wiring only; the rules are :mod:`streams.tracking`. Two kinds of record arrive on the
internal facts topic: a fact (keyed by reference, from normalize) and a *tick* (no key, one
per partition, sent by every worker's timer, :func:`tick_outs`). A tick sweeps the table's
jobs of its partition for requests that went silent; running the sweep from a record of the
partition keeps it where table writes are legal (the partition's store and changelog) and
makes it idempotent and at-least-once like any other input. Outputs are acknowledged before
the table changes (``TableWriter``), and before Faust commits the offsets.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from streams import tracking
from streams.agents import Stage
from streams.agents_io import KeyValueTable, Out, StreamEvent, bind
from streams.tables import TableWriter
from vitalstream.platform.partitioning import java_partition
from vitalstream.platform.settings import Settings

TICK = b'{"tick":1}'
MAX_TICK_S = 60.0


def tracking_tick_s(settings: Settings) -> float:
    """How often the sweep runs: a quarter of the timeout, at most a minute."""
    return min(MAX_TICK_S, settings.backfill_incomplete_after_s / 4)


def tick_outs(topic: str, partitions: int) -> list[Out]:
    """One keyless tick per partition of the facts topic."""
    return [Out(topic, None, TICK, None, p) for p in range(partitions)]


def status_counts(states: Iterable[bytes]) -> Counter[str]:
    """Jobs per status over stored states (the ``vitalstream_backfill_jobs`` gauge)."""
    counts: Counter[str] = Counter({s: 0 for s in tracking.STATUSES})
    for stored in states:
        counts[str(orjson.loads(stored).get("st"))] += 1
    return counts


class TrackingStage(Stage):
    def __init__(self, *args: Any, table: KeyValueTable, partitions: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table_writer = TableWriter(table)
        self.table = table
        self.partitions = partitions
        self.incomplete_after_ms = int(self.settings.backfill_incomplete_after_s * 1000)

    async def process(self, events: Sequence[StreamEvent]) -> None:
        outs: list[Out] = []
        now_ms = int(time.time() * 1000)
        groups: dict[bytes, list[StreamEvent]] = defaultdict(list)
        ticks: dict[int, StreamEvent] = {}
        for event in events:
            key = event.message.key
            if key is None:
                ticks[event.message.partition] = event
            else:
                groups[bytes(key)].append(event)
        updates: dict[bytes, tuple[StreamEvent, dict[str, Any]]] = {}
        for key, items in groups.items():
            bind(items[0])
            state = self._stored(key)
            before = state
            for event in items:
                try:
                    state = tracking.merge(state, tracking.decode_fact(event.message.value or b""))
                except Exception as exc:  # our own internal format: only a bug gets here
                    self.failure(event, exc, "tracking", None, outs)
            if state is not None and state != before:
                updates[key] = (items[-1], state)
        for partition, event in ticks.items():
            bind(event)
            for key, state in self._swept(partition, updates, now_ms):
                updates[key] = (event, state)
        t_jobs = self.topic("backfill.jobs")
        for key, (_event, state) in updates.items():
            outs.append(Out(t_jobs, key, self.codec.encode(tracking.to_record(state, now_ms))))
        await self.send(outs)
        await self.table_writer.write(
            self.producer, [(event, key, orjson.dumps(state)) for key, (event, state) in updates.items()], self.metrics
        )

    def _stored(self, key: bytes) -> dict[str, Any] | None:
        stored = self.table_writer.get(key)
        return orjson.loads(stored) if stored is not None else None

    def _swept(
        self, partition: int, pending: Mapping[bytes, tuple[StreamEvent, dict[str, Any]]], now_ms: int
    ) -> list[tuple[bytes, dict[str, Any]]]:
        """Jobs of ``partition`` (as this batch leaves them) that the sweep turns ``incomplete``."""
        n = self.partitions
        states = {k: orjson.loads(v) for k, v in self.table.data.items() if java_partition(k, n) == partition}
        states.update({k: state for k, (_e, state) in pending.items() if java_partition(k, n) == partition})
        swept = ((k, tracking.sweep(state, now_ms, self.incomplete_after_ms)) for k, state in states.items())
        return [(k, marked) for k, marked in swept if marked is not None]
