"""Freshness: client-side accept time (the 2xx answer) → the row visible to a reader.

A poller thread asks the database every ~10 ms which of the due-but-not-yet-seen subjects
have a row (one subject per webhook, so a row belongs to one event alone). A row seen by
a query that started at *t* was visible at *t*; both clocks are ``time.monotonic()``,
which is system-wide on Linux, so the generator's processes and the poller agree.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from vitalstream.bench import payloads
from vitalstream.bench.stats import summary

MAX_PROBE = 2000


class VisibilityPoller:
    def __init__(self, dsn: str, sql: str, run: str, rate: float, total: int, interval_s: float = 0.01) -> None:
        """``sql`` takes one parameter, a list of subjects, and returns the visible ones (first column)."""
        self.dsn = dsn
        self.sql = sql
        self.run = run
        self.rate = rate
        self.total = total
        self.interval_s = interval_s
        self.start: float | None = None
        self.seen: dict[int, float] = {}
        self.polls = 0
        self._next = 0
        self._unseen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="freshness-poller", daemon=True)

    def begin(self, start: float) -> None:
        self.start = start
        self._thread.start()

    def _due_until(self, now: float) -> int:
        assert self.start is not None
        return min(self.total, int((now - self.start) * self.rate) + 1) if now >= self.start else 0

    def _loop(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                now = time.monotonic()
                due = self._due_until(now)
                self._unseen.extend(range(self._next, due))
                self._next = max(self._next, due)
                probe = self._unseen[:MAX_PROBE]
                if probe:
                    names = [payloads.subject_of(self.run, i) for i in probe]
                    visible = {str(row[0]) for row in conn.execute(self.sql, (names,))}
                    self.polls += 1
                    if visible:
                        for i, name in zip(probe, names, strict=True):
                            if name in visible:
                                self.seen.setdefault(i, now)
                        self._unseen = [i for i in self._unseen if i not in self.seen]
                time.sleep(max(0.0, self.interval_s - (time.monotonic() - now)))

    def wait_for(self, indices: set[int], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if indices <= self.seen.keys():
                return True
            time.sleep(0.05)
        return indices <= self.seen.keys()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def freshness(
    accepted: list[tuple[int, float]], seen: dict[int, float], slice_s: float | None = None
) -> dict[str, Any]:
    """Per accepted event: seconds from its 2xx to its row being seen; summary in ms (and, with
    ``slice_s``, p50/p99 of the events accepted in each slice of that many seconds: when the tail happened)."""
    ages_ms = [(seen[i] - t) * 1000 for i, t in accepted if i in seen]
    out: dict[str, Any] = {
        "accepted": len(accepted),
        "visible": len(ages_ms),
        "not_visible": len(accepted) - len(ages_ms),
        "freshness_ms": summary(ages_ms, digits=1),
    }
    if slice_s is not None:
        out["by_slice"] = by_slice(accepted, seen, slice_s)
    return out


def by_slice(accepted: list[tuple[int, float]], seen: dict[int, float], slice_s: float) -> list[dict[str, Any]]:
    """p50/p99 freshness (ms) of the visible events accepted in each ``slice_s`` from the first accept."""
    if not accepted:
        return []
    first = min(t for _, t in accepted)
    slices: dict[int, list[float]] = {}
    for i, t in accepted:
        if i in seen:
            slices.setdefault(int((t - first) // slice_s), []).append((seen[i] - t) * 1000)
    out = []
    for n in sorted(slices):
        stats = summary(slices[n], digits=1)
        out.append({"from_s": n * slice_s, "count": len(slices[n]), "p50_ms": stats["p50"], "p99_ms": stats["p99"]})
    return out
