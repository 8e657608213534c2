"""Faust's aiokafka consumer with a cheaper per-record hand-off to the agents' streams.

Faust's fetch loop (``Consumer._drain_messages``) delivers every record with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: four tasks (the
callback, the flow event, the consumer's stopped and crashed events), an ``asyncio.wait``
and three cancellations per record — measured as the largest single cost of consuming
(more than the Avro decoding of the record). Delivering a record normally finishes at
once (the stream's queue has room), so this consumer first runs the callback directly and
falls back to Faust's ``wait_first`` only when the callback really has to wait (a full
stream buffer, a rebalance lock) or the flow is suspended: the suspension, stop and crash
semantics of the waiting case are Faust's own. The rest of the loop (read offsets, gaps,
``commit_every``, yielding to the loop every 100 records) is Faust 0.15's, except for seeks.

Seeks (design §1, "Scaling out"): Faust moves a partition's position (``perform_seek`` to
the committed offsets when a rebalance's recovery ends, ``seek_wait`` for changelogs) while
this loop may still hold records fetched before the seek. Faust's loop delivers them anyway
and records their offsets as read after the seek reset the read offset; once the queues are
cleared (right after the seek), the partition's records re-fetched from the seek position are
all below that read offset and dropped unseen. They are never acked, so the consumer never
commits that partition again: its lag stays for good while the records after the hole are
processed (upstream: faust-streaming issue 596, gaps in acked offsets). Here a seek waits
until no fetch is in flight, and a record fetched before a seek of its partition is neither
delivered nor recorded as read: the seek's position fetches it again. Likewise a partition
paused for a recovery is not resumed by its stream buffer draining
(:meth:`FastDeliveryConsumer.on_buffer_drop`).

Fetches (design §11): Faust builds aiokafka's consumer with ``fetch.min.bytes`` 1 and a
1.5 s wait, so the broker answers a fetch as soon as any one record lands — under load one
fetch over every assigned partition per append, at the broker a fixed per-request cost. Kafka
has no setting for "answer at once, but not more often than": a floor (``fetch.min.bytes``
with a short wait) makes an idle worker poll the broker every few milliseconds. So this
consumer sets a floor only while records flow (:class:`FetchFloor`): a fetch after one that
brought records waits for :data:`FETCH_MIN_BYTES` or :data:`FETCH_MAX_WAIT_MS`, a fetch
after an empty one is Faust's long poll.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from types import CoroutineType
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING, ensure_TP
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaDriverConsumer
from faust.types import TP


class _Resume(Awaitable[Any]):
    """Awaits a coroutine that was already started and is suspended on ``waiting_on``.

    The same trampoline as ``yield from``: values and exceptions (cancellation) that the
    driving task sends in are passed on to the coroutine.
    """

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, nxt = self.coro, self.waiting_on
        while True:
            try:
                sent = yield nxt
            except BaseException as exc:  # passed on to the coroutine, as `yield from` does
                try:
                    nxt = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                nxt = coro.send(sent)
            except StopIteration as stop:
                return stop.value


FETCH_MIN_BYTES = 16 * 1024
FETCH_MAX_WAIT_MS = 5
"""The floor of a fetch while records flow: 16 KiB or 5 ms, whichever comes first (design §11)."""


class FetchFloor:
    """aiokafka's ``Fetcher._proc_fetch_request`` with a floor on each node's fetches while records flow.

    A fetch to a node whose last fetch brought records asks for :data:`FETCH_MIN_BYTES` or
    :data:`FETCH_MAX_WAIT_MS`; any other is sent as the fetcher built it (Faust's long poll,
    answered by the first record). The fetcher holds the node as in flight until this returns,
    so no second fetch to it is built meanwhile.
    """

    def __init__(self, send: Callable[[Any, int, Any], Awaitable[bool]]) -> None:
        self.send = send
        self.flowing: set[int] = set()
        self.sends = 0

    async def __call__(self, assignment: Any, node_id: int, request: Any) -> bool:
        if node_id in self.flowing:
            request._min_bytes, request._max_wait_ms = FETCH_MIN_BYTES, FETCH_MAX_WAIT_MS
        self.sends += 1
        has_records = await self.send(assignment, node_id, request)
        if has_records:
            self.flowing.add(node_id)
        else:
            self.flowing.discard(node_id)
        return has_records


class PacedFetchThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, whose aiokafka consumer fetches through :class:`FetchFloor`.

    aiokafka builds its fetcher when the consumer starts, so the floor wraps it right after.
    """

    async def on_start(self) -> None:
        await super().on_start()
        assert self._consumer is not None, "Faust's on_start creates it"
        fetcher = self._consumer._fetcher
        fetcher._proc_fetch_request = FetchFloor(fetcher._proc_fetch_request)


class FastDeliveryConsumer(AIOKafkaDriverConsumer):
    """``faust.transport.drivers.aiokafka.Consumer`` with a direct call per delivered record,
    and seeks that records fetched before them cannot undo (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fetch_lock = asyncio.Lock()
        """Held by a fetch and by a seek: a seek never overlaps a fetch."""
        self._seeks: Counter[TP] = Counter()
        """How often each partition was seeked."""
        self._batch_seeks: dict[TP, int] = {}
        """``_seeks`` when the records being delivered were fetched."""

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return PacedFetchThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        async with self._fetch_lock:
            records = await super()._getmany(active_partitions, timeout)
            self._batch_seeks = dict(self._seeks)
        return records

    def _fetched_before_seek(self, tp: TP) -> bool:
        return self._seeks[tp] != self._batch_seeks.get(tp, 0)

    def _seeked(self, tps: Any) -> None:
        self._seeks.update(ensure_TP(tp) for tp in tps)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        offsets: Mapping[TP, int] = await super().seek_to_committed()
        self._seeked(tp for tp, offset in offsets.items() if offset and offset > 0)  # what aiokafka moves
        return offsets

    async def perform_seek(self) -> None:
        async with self._fetch_lock:  # the read offsets too: they are the seek's
            await super().perform_seek()

    async def seek(self, partition: TP, offset: int) -> None:
        async with self._fetch_lock:
            await super().seek(partition, offset)
            self._seeked([partition])

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        async with self._fetch_lock:
            await super().seek_wait(partitions)
            self._seeked(partitions)

    def on_buffer_drop(self, tp: TP) -> None:
        """Fetch ``tp`` again once its stream buffer drained, unless a recovery paused it meanwhile:
        Faust's version resumes it, and its records reach the agents before the tables are restored."""
        if tp in self._paused_partitions:
            self._buffered_partitions.discard(tp)
            return
        super().on_buffer_drop(tp)

    async def _deliver(self, message: Any) -> None:
        callback = self.callback
        if self.suspend_flow.is_set():
            await self.wait_first(callback(message), self.suspend_flow.wait())
            return
        coro = callback(message)
        if not isinstance(coro, CoroutineType):
            await self.wait_first(coro, self.suspend_flow.wait())
            return
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return  # delivered without waiting: the common case
        await self.wait_first(_Resume(coro, waiting_on), self.suspend_flow.wait())

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop, see module doc
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        deliver = self._deliver
        fetched_before_seek = self._fetched_before_seek
        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        if fetched_before_seek(tp):
                            continue  # the seek's position fetches it again
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await deliver(message)
                            if not fetched_before_seek(tp):  # a seek meanwhile set the read offset
                                set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)
