"""Where the two cores went during a measured window: CPU per process group, in % of one core.

The pipeline, Kafka, PostgreSQL and the bench itself share the machine (design §11), so a hop
that waits may be waiting for a core: this is the figure that says which process had it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from vitalstream.platform.procstat import (
    cpu_seconds,
    lifetime_tree_cpu_seconds,
    machine_busy_ticks,
    reaped_cpu_seconds,
    thread_cpu_seconds,
)

Reading = tuple[float, dict[str, float], tuple[int, int]]


def _groups(
    pids: Mapping[str, int | None], trees: Mapping[str, int | None], reaping: Mapping[str, int | None]
) -> dict[str, float]:
    out = {name: cpu_seconds(pid) for name, pid in pids.items() if pid}
    out.update({name: lifetime_tree_cpu_seconds(pid) for name, pid in trees.items() if pid})
    out.update({name: reaped_cpu_seconds(pid) for name, pid in reaping.items() if pid})
    return out


class CpuShares:
    """``pids``: one process each; ``trees``: a process and its children, ended ones included
    (PostgreSQL's backends); ``reaping``: a process and the children it has reaped, not its live ones
    (the bench itself: its poller thread and load-generator processes, not the services it spawned)."""

    def __init__(
        self,
        pids: Mapping[str, int | None],
        trees: Mapping[str, int | None] | None = None,
        reaping: Mapping[str, int | None] | None = None,
    ) -> None:
        self._read: Callable[[], dict[str, float]] = lambda: _groups(pids, trees or {}, reaping or {})
        self._start: Reading | None = None

    def begin(self) -> None:
        self._start = (time.monotonic(), self._read(), machine_busy_ticks())

    def end(self) -> dict[str, float | None]:
        """% of one core per group since :meth:`begin`, and ``machine_busy_percent`` (of all cores)."""
        assert self._start is not None, "begin() first"
        t0, before, ticks0 = self._start
        elapsed = time.monotonic() - t0
        after, ticks1 = self._read(), machine_busy_ticks()
        shares: dict[str, float | None] = {
            name: round(100 * (after[name] - before[name]) / elapsed, 1) if elapsed > 0 else None
            for name in before
            if name in after
        }
        total = ticks1[1] - ticks0[1]
        shares["machine_busy_percent"] = round(100 * (ticks1[0] - ticks0[0]) / total, 1) if total > 0 else None
        return shares


JIT_THREADS = ("C1 CompilerThre", "C2 CompilerThre")
"""HotSpot's JIT compiler threads, as Linux names them (15 characters)."""


class JitWatch:
    """The share of one core that the JIT compilers of the JVMs ``pids`` (the brokers) took since the last look."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._pids = list(pids)
        self._last = self._read()

    def _read(self) -> tuple[float, float]:
        return time.monotonic(), sum(thread_cpu_seconds(pid, JIT_THREADS) for pid in self._pids)

    def share(self) -> float:
        (t0, cpu0), self._last = self._last, self._read()
        t1, cpu1 = self._last
        return (cpu1 - cpu0) / (t1 - t0) if t1 > t0 else 0.0
