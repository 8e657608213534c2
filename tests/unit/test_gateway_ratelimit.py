"""Sliding-window rate limiter with an injected clock."""

from __future__ import annotations

import pytest

from gateway.ratelimit import PRESETS, SlidingWindowLimiter, resolve_limit


class Clock:
    def __init__(self, t: float = 6000.0) -> None:  # a window boundary (6000 = 100 × 60)
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_presets() -> None:
    assert PRESETS == {"strict": 10, "standard": 100, "lenient": 500, "webhook": 1000}
    assert resolve_limit("webhook") == 1000
    assert resolve_limit(" Strict ") == 10
    assert resolve_limit("42") == 42
    assert resolve_limit(7) == 7


@pytest.mark.parametrize("preset", ["strict", "standard", "lenient", "webhook"])
def test_exactly_limit_requests_then_refused(preset: str) -> None:
    clock = Clock()
    limit = PRESETS[preset]
    limiter = SlidingWindowLimiter(limit, 60.0, clock=clock)
    decisions = [limiter.hit("ip") for _ in range(limit)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == list(range(limit - 1, -1, -1))
    refused = limiter.hit("ip")
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.limit == limit
    assert 0 < refused.retry_after_s <= 120
    assert limiter.hit("other").allowed  # keys are independent


def test_sliding_not_fixed_window() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(10, 60.0, clock=clock)
    clock.t += 50  # burst late in the window
    for _ in range(10):
        assert limiter.hit("k").allowed
    clock.t += 15  # just past the fixed-window boundary: a fixed window would allow 10 more
    assert not limiter.hit("k").allowed
    clock.t += 60  # well past: the burst has slid out
    assert limiter.hit("k").allowed


def test_retry_after_is_honest() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(10, 60.0, clock=clock)
    for _ in range(10):
        limiter.hit("k")
    refused = limiter.hit("k")
    assert not refused.allowed
    clock.t += refused.retry_after_s - 0.01
    assert not limiter.hit("k").allowed
    clock.t += 0.02
    assert limiter.hit("k").allowed


def test_refused_requests_are_not_counted() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(2, 60.0, clock=clock)
    limiter.hit("k")
    limiter.hit("k")
    for _ in range(100):
        assert not limiter.hit("k").allowed
    clock.t += 120
    assert limiter.hit("k").allowed


def test_reset_header_value() -> None:
    clock = Clock(6010.0)
    decision = SlidingWindowLimiter(5, 60.0, clock=clock).hit("k")
    assert decision.reset_s == pytest.approx(50.0)


def test_disabled_limiter() -> None:
    limiter = SlidingWindowLimiter(0, clock=Clock())
    assert not limiter.enabled
    assert all(limiter.hit("k").allowed for _ in range(10_000))


def test_idle_keys_are_swept_and_table_is_bounded() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(10, 60.0, clock=clock, max_keys=100)
    for i in range(50):
        limiter.hit(f"k{i}")
    clock.t += 180
    limiter.hit("fresh")
    assert len(limiter) == 1
    for i in range(1000):
        limiter.hit(f"flood{i}")
    assert len(limiter) <= 100
