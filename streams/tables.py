"""Batch writes to a Faust table: changelog through :class:`~streams.agents_io.OutputProducer`.

``table[key] = value`` makes Faust send the changelog record through its aiokafka producer
(one Python-built record, future and callback each, then one RocksDB write of the
"persisted offset" per record). The agents instead write a batch's changed keys like this:

1. the changelog records go out through the worker's confluent-kafka producer, to the
   partition of the source event (Faust's own placement for co-partitioned tables), and
   are awaited like any other output;
2. only then the local store is updated (``table.data``: the RocksDB store of that
   partition, exactly where ``table[key] = value`` writes) and, once per changelog
   partition, the persisted offset (so a restart with the same datadir reads only newer
   changelog records, as Faust does).

The changelog topic, its records (raw key, raw value) and Faust's restore from it are
unchanged, and a change is never in the local store before it is in the changelog.
"""

from __future__ import annotations

from collections.abc import Sequence

from faust.types import TP

from streams.agents_io import KeyValueTable, Out, OutputProducer, StreamEvent, bind, send_all
from streams.metrics import WorkerMetrics


class TableWriter:
    """Writes batches of ``(event, key, value)`` to one bytes→bytes Faust table."""

    def __init__(self, table: KeyValueTable) -> None:
        self.table = table
        self._topic: str | None = None

    def get(self, key: bytes) -> bytes | None:
        """The stored value (None if absent) in the current event's partition: one store lookup.

        ``table.get`` would look the key up twice (``in``, then ``[]``); the store's own ``get``
        reads it once. Call with the event bound (:func:`~streams.agents_io.bind`).
        """
        value: bytes | None = self.table.data.get(key)
        return value

    @property
    def changelog_topic(self) -> str:
        if self._topic is None:
            self._topic = str(self.table.changelog_topic.get_topic_name())
        return self._topic

    async def write(
        self,
        producer: OutputProducer,
        updates: Sequence[tuple[StreamEvent, bytes, bytes]],
        metrics: WorkerMetrics | None = None,
    ) -> None:
        """Changelog first (acknowledged), then the local store; ``event`` picks the partition."""
        if not updates:
            return
        topic = self.changelog_topic
        outs = [Out(topic, key, value, None, event.message.partition) for event, key, value in updates]
        offsets = await send_all(producer, outs, metrics, track_offsets=True)
        store = self.table.data
        for event, key, value in updates:
            bind(event)
            store[key] = value
        for (t, partition), offset in offsets.items():
            if t == topic:
                store.set_persisted_offset(TP(topic, partition), offset)
