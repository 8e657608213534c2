"""What the benchmarks ran on: cores, memory, CPU model (Linux ``/proc``, with portable fallbacks)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def _proc_value(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def describe() -> dict[str, Any]:
    mem = _proc_value("/proc/meminfo", "MemTotal")
    mem_gib = round(int(mem.split()[0]) / 1024 / 1024, 1) if mem else None
    return {
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "cpu_model": _proc_value("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def busy_processes(limit: int = 5) -> list[str]:
    """Other processes using CPU right now (the bench shares the machine; say so)."""
    import subprocess

    out = subprocess.run(["ps", "-eo", "pcpu,args", "--sort=-pcpu"], capture_output=True, text=True, check=False)
    rows = [line.strip()[:120] for line in out.stdout.splitlines()[1 : limit + 1]]
    return [r for r in rows if r and float(r.split()[0]) >= 5.0]
