"""CPU accounting from Linux ``/proc`` for the benchmarks: a process's CPU time, its children's,
and the machine's steal time (a figure is only as good as the machine it was measured on).

Everywhere ``/proc`` cannot be read, the figures are 0 (a bench then reports no CPU figure).
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int, stat: str = "stat") -> list[str] | None:
    """The fields after the name of ``/proc/<pid>/<stat>`` (``task/<tid>/stat``: one thread's)."""
    try:
        return Path(f"/proc/{pid}/{stat}").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_ticks(fields: list[str] | None) -> int:
    return int(fields[11]) + int(fields[12]) if fields else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (0.0 where it cannot be read)."""
    return _cpu_ticks(_stat_fields(pid)) / _TICK


def main_thread_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the main thread of ``pid`` (an asyncio server's event loop)."""
    return _cpu_ticks(_stat_fields(pid, f"task/{pid}/stat")) / _TICK


def thread_cpu_seconds(pid: int, name_prefixes: tuple[str, ...]) -> float:
    """User + system CPU time of the live threads of ``pid`` whose name starts with one of ``name_prefixes``."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    ticks = 0
    for tid in tasks:
        try:
            named = Path(f"/proc/{pid}/task/{tid}/comm").read_text().startswith(name_prefixes)
        except OSError:
            continue
        if named:
            ticks += _cpu_ticks(_stat_fields(pid, f"task/{tid}/stat"))
    return ticks / _TICK


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and fields[1] == str(pid):
                found.append(int(entry))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of its live children (the API's replicas, PostgreSQL's backends)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid))


def machine_ticks() -> tuple[int, int]:
    """``(steal, total)`` jiffies of every CPU since boot (``/proc/stat``); two readings give the
    share of the time the hypervisor ran someone else while this machine wanted to run."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0, 0
    values = [int(v) for v in first[1:9]]
    return (values[7] if len(values) > 7 else 0), sum(values)


def reaped_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of its children that ended and were reaped (their time joins the parent's)."""
    fields = _stat_fields(pid)
    return sum(int(f) for f in fields[11:15]) / _TICK if fields else 0.0


def lifetime_tree_cpu_seconds(pid: int) -> float:
    """:func:`reaped_cpu_seconds` plus the live children's: a server whose backends come and go."""
    return reaped_cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid))


def machine_busy_ticks() -> tuple[int, int]:
    """``(busy, total)`` jiffies of every CPU since boot: busy is everything but idle and iowait."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0, 0
    values = [int(v) for v in first[1:9]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The steal share between two :func:`machine_ticks` readings, None when nothing elapsed."""
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total > 0 else None
