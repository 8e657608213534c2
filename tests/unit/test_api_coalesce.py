"""``Coalescer``: reads beyond the in-flight bound go out together, each answered with its own value."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from vitalstream.api.coalesce import Coalescer, Overloaded


class Store:
    """A fetch that records each batch and can be held until released."""

    def __init__(self, values: Mapping[str, int]) -> None:
        self.values = dict(values)
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail: Exception | None = None

    async def fetch(self, keys: list[str]) -> dict[str, int]:
        self.batches.append(keys)
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return {k: self.values[k] for k in keys if k in self.values}


def coalescer(
    store: Store, inflight: int = 1, batch: int = 64, wait_s: float = 5.0, queued: int = 100
) -> Coalescer[str, int]:
    return Coalescer(store.fetch, lambda: -1, inflight, batch, wait_s=wait_s, max_queued=queued)


async def _started(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_a_lone_read_is_its_own_query() -> None:
    async def main() -> None:
        store = Store({"a": 1})
        c = coalescer(store)
        assert await c.get("a") == 1
        assert await c.get("nobody") == -1
        assert store.batches == [["a"], ["nobody"]]
        assert c.inflight == 0

    asyncio.run(main())


def test_a_read_with_a_query_to_spare_runs_it_on_its_own_task() -> None:
    """The cheap path: no future and no task of the coalescer's between the read and its query."""

    async def main() -> None:
        store = Store({"a": 1})
        ran_on: list[asyncio.Task[object] | None] = []
        inner = store.fetch

        async def fetch(keys: list[str]) -> dict[str, int]:
            ran_on.append(asyncio.current_task())
            return await inner(keys)

        c = Coalescer(fetch, lambda: -1, 1, 64, wait_s=5.0, max_queued=100)
        read = asyncio.ensure_future(c.get("a"))
        assert await read == 1
        assert ran_on == [read]

    asyncio.run(main())


def test_reads_queued_behind_a_running_query_go_out_together_once_per_key() -> None:
    async def main() -> None:
        store = Store({"a": 1, "b": 2, "c": 3})
        store.release.clear()
        c = coalescer(store)
        first = asyncio.ensure_future(c.get("a"))
        await _started()
        later = [asyncio.ensure_future(c.get(k)) for k in ("b", "c", "b", "nobody")]
        await _started()
        assert store.batches == [["a"]]  # the others wait: one query in flight at most
        store.release.set()
        assert await first == 1
        assert await asyncio.gather(*later) == [2, 3, 2, -1]
        assert store.batches == [["a"], ["b", "c", "nobody"]]

    asyncio.run(main())


def test_a_batch_holds_at_most_max_batch_keys_and_the_rest_follow() -> None:
    async def main() -> None:
        keys = [f"k{n}" for n in range(7)]
        store = Store({k: n for n, k in enumerate(keys)})
        store.release.clear()
        c = coalescer(store, inflight=1, batch=3)
        reads = [asyncio.ensure_future(c.get(k)) for k in keys]
        await _started()
        store.release.set()
        assert await asyncio.gather(*reads) == list(range(7))
        assert store.batches == [["k0"], ["k1", "k2", "k3"], ["k4", "k5", "k6"]]

    asyncio.run(main())


def test_up_to_max_inflight_queries_run_at_once() -> None:
    async def main() -> None:
        store = Store({"a": 1, "b": 2, "c": 3})
        store.release.clear()
        c = coalescer(store, inflight=2)
        reads = [asyncio.ensure_future(c.get(k)) for k in ("a", "b", "c")]
        await _started()
        assert store.batches == [["a"], ["b"]] and c.inflight == 2
        store.release.set()
        assert await asyncio.gather(*reads) == [1, 2, 3]

    asyncio.run(main())


def test_a_failed_query_fails_each_of_its_reads_and_the_next_query_runs() -> None:
    async def main() -> None:
        store = Store({"a": 1, "b": 2})
        store.release.clear()
        store.fail = RuntimeError("database gone")
        c = coalescer(store)
        first = asyncio.ensure_future(c.get("a"))
        await _started()
        second = asyncio.ensure_future(c.get("b"))
        await _started()
        store.release.set()
        with pytest.raises(RuntimeError, match="database gone"):
            await first
        with pytest.raises(RuntimeError, match="database gone"):
            await second
        store.fail = None
        assert await c.get("a") == 1
        assert c.inflight == 0

    asyncio.run(main())


def test_a_cancelled_read_leaves_the_others_of_its_batch_answered() -> None:
    async def main() -> None:
        store = Store({"a": 1, "b": 2})
        store.release.clear()
        c = coalescer(store)
        running = asyncio.ensure_future(c.get("a"))
        await _started()
        gone, kept = asyncio.ensure_future(c.get("b")), asyncio.ensure_future(c.get("b"))
        await _started()
        gone.cancel()
        store.release.set()
        assert await running == 1 and await kept == 2
        assert gone.cancelled()

    asyncio.run(main())


def test_a_read_behind_a_hung_query_gives_up_after_wait_s_and_the_queue_stays_bounded() -> None:
    async def main() -> None:
        store = Store({"a": 1, "b": 2, "c": 3})
        store.release.clear()  # the database hangs
        c = coalescer(store, wait_s=0.2, queued=2)
        running = asyncio.ensure_future(c.get("a"))
        await _started()
        queued = [asyncio.ensure_future(c.get(k)) for k in ("b", "c")]  # two reads waiting: the bound
        await _started()
        for key in ("b", "d"):  # a repeat of a queued key counts too
            with pytest.raises(Overloaded):
                await c.get(key)  # "busy" at once, never a longer queue
        started = asyncio.get_running_loop().time()
        for read in (running, *queued):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(read, 2.0)  # the test's own bound, far above wait_s
        assert asyncio.get_running_loop().time() - started < 1.0, "the reads waited past wait_s"
        store.release.set()
        await _started(10)
        assert await c.get("d") == -1, "the queue drained: new reads are taken again"

    asyncio.run(main())
