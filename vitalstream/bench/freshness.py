"""Freshness: client-side accept time (the 2xx answer) → the row visible to a reader.

A poller thread asks the database which of the due-but-not-yet-seen subjects have a row (one
subject per webhook, so a row belongs to one event alone), every ~10 ms while few are unseen. A
row seen by a query that started at *t* was visible at *t*: late by up to one interval, never
early. Both clocks are ``time.monotonic()``, which is system-wide on Linux, so the generator's
processes and the poller agree.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from vitalstream.bench import payloads
from vitalstream.bench.stats import summary

MAX_PROBE = 2000
BASE_INTERVAL_S = 0.01
LOOKUPS_PER_S = 10_000
"""The poller's budget of subject look-ups per second, on both sides of its connection.

A poll asks for every unseen subject, so its cost follows the backlog. At a fixed 10 ms a
pipeline that fell behind made the poller take 24 % of a core and its PostgreSQL backend 18 %
(500 webhooks/s, 12-03, AMD EPYC): CPU the pipeline under test lost, the more the further behind
it was. Past 100 unseen subjects the interval grows instead (1,000 unseen: 100 ms); a row's
time stays that of the poll that saw it, late by at most one interval (each measurement's ``poll_interval_ms``)."""


def poll_interval(unseen: int, base_s: float) -> float:
    """Seconds until the next poll that asks for ``unseen`` subjects: ``base_s``, or longer, to keep to the budget."""
    return max(base_s, unseen / LOOKUPS_PER_S)


class VisibilityPoller:
    def __init__(
        self, dsn: str, sql: str, run: str, rate: float, total: int, interval_s: float = BASE_INTERVAL_S
    ) -> None:
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
        self.intervals_s: list[float] = []
        """The interval after each poll: how late a row may have been seen."""
        self._next = 0
        self._unseen: list[tuple[int, str]] = []
        """(index, subject) of the due webhooks whose row was not seen yet, oldest first."""
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
                self._unseen.extend((i, payloads.subject_of(self.run, i)) for i in range(self._next, due))
                self._next = max(self._next, due)
                probe = self._unseen[:MAX_PROBE]
                interval = self.interval_s
                if probe:
                    visible = {str(row[0]) for row in conn.execute(self.sql, ([name for _, name in probe],))}
                    self.polls += 1
                    if visible:
                        for i, name in probe:
                            if name in visible:
                                self.seen.setdefault(i, now)
                        self._unseen = [(i, name) for i, name in self._unseen if i not in self.seen]
                    interval = poll_interval(len(probe), self.interval_s)
                    self.intervals_s.append(interval)
                time.sleep(max(0.0, interval - (time.monotonic() - now)))

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
