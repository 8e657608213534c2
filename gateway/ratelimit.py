"""Sliding-window rate limiter (pure: the clock is injected, nothing here does I/O).

The window is approximated the usual way (two fixed windows, the previous one weighted
by how much of it still overlaps the sliding window): O(1) time and two integers per
key, exact at window boundaries and never more permissive than ``limit`` per window
by more than the weighting error. Idle keys are swept, and the key table is bounded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

PRESETS: dict[str, int] = {"strict": 10, "standard": 100, "lenient": 500, "webhook": 1000}
"""Requests per minute of the named presets (the earlier design's strict/standard/lenient/webhook)."""

DEFAULT_MAX_KEYS = 100_000


def resolve_limit(value: int | str) -> int:
    """A per-minute limit given as a number or a preset name (``"webhook"`` → 1000)."""
    if isinstance(value, int):
        return value
    text = value.strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    return int(text)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    """Seconds until the current fixed window ends (``RateLimit-Reset``)."""
    retry_after_s: float
    """Seconds until a request would be allowed again (0 when allowed)."""


class SlidingWindowLimiter:
    """``limit`` requests per ``window_s`` per key. ``limit <= 0`` disables the limiter."""

    __slots__ = ("_clock", "_next_sweep", "_state", "limit", "max_keys", "window_s")

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        # key -> [window index, count in that window, count in the window before]
        self._state: dict[str, list[int]] = {}
        self._next_sweep = clock() + window_s

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def __len__(self) -> int:
        return len(self._state)

    def hit(self, key: str) -> Decision:
        """Count one request for ``key`` if it is allowed; a refused request is not counted."""
        return self._decide(key, count=True)

    def peek(self, key: str) -> Decision:
        """Would a request for ``key`` be allowed now? Counts nothing (for "charge only failures")."""
        return self._decide(key, count=False)

    def _decide(self, key: str, *, count: bool) -> Decision:
        now = self._clock()
        limit, window = self.limit, self.window_s
        if limit <= 0:
            return Decision(True, 0, 0, 0.0, 0.0)
        if now >= self._next_sweep or len(self._state) >= self.max_keys:
            self._sweep(now)
        index = int(now // window)
        elapsed = now - index * window
        state = self._state.get(key)
        if state is None:
            state = [index, 0, 0]
            if count:
                self._state[key] = state
        elif state[0] != index:
            state[2] = state[1] if state[0] == index - 1 else 0
            state[1] = 0
            state[0] = index
        current, previous = state[1], state[2]
        weight = 1.0 - elapsed / window
        estimate = previous * weight + current
        reset = window - elapsed
        if estimate + 1 <= limit:
            if count:
                state[1] = current + 1
            remaining = max(0, math.floor(limit - estimate - 1))
            return Decision(True, limit, remaining, reset, 0.0)
        return Decision(False, limit, 0, reset, self._wait(current, previous, elapsed))

    def _wait(self, current: int, previous: int, elapsed: float) -> float:
        """Time until ``previous*(1-e/W) + current + 1 <= limit`` holds again."""
        limit, window = self.limit, self.window_s
        room = limit - 1 - current
        if room >= 0 and previous > 0:
            # still in this window: wait until the previous window's weight has decayed enough
            target = window * (1.0 - room / previous)
            if target < window:
                return max(target - elapsed, 0.001)
        # next window: this window's count becomes the weighted "previous"
        after = window - elapsed
        if current > 0 and limit - 1 < current:
            after += window * (1.0 - (limit - 1) / current)
        return max(after, 0.001)

    def _sweep(self, now: float) -> None:
        index = int(now // self.window_s)
        stale = [k for k, s in self._state.items() if s[0] < index - 1]
        for k in stale:
            del self._state[k]
        if len(self._state) >= self.max_keys:
            # still full of live keys: forget the oldest half rather than grow without bound
            for k in list(self._state)[: len(self._state) // 2]:
                del self._state[k]
        self._next_sweep = now + self.window_s
