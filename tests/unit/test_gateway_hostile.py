"""Pure pieces that hold against hostile senders: proxies, limiter keys, bounds, replay cache, ordering."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime

import pytest

from gateway.bodies import ReadSlots, read_body
from gateway.idempotency import IdempotencyCache, signed_identity
from gateway.intake import OrderingError, ordering_time, unsupported_encoding
from gateway.proxies import TrustedProxies
from gateway.ratelimit import SlidingWindowLimiter

# ------------------------------------------------------------------ trusted proxies (CIDR)


def test_forwarded_for_is_ignored_without_trusted_ranges() -> None:
    assert TrustedProxies([]).client("203.0.113.9", "1.1.1.1") == "203.0.113.9"


def test_forwarded_for_counts_only_from_a_trusted_peer() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client("203.0.113.9", "1.1.1.1") == "203.0.113.9"  # the peer is not our proxy
    assert proxies.client("10.1.2.3", "1.1.1.1") == "1.1.1.1"
    assert proxies.client("10.1.2.3", None) == "10.1.2.3"


def test_rightmost_untrusted_hop_is_the_client_whatever_the_client_prepends() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "192.168.0.0/16"])
    # the client wrote "6.6.6.6" itself; the ingress (192.168.1.1) appended the real peer 5.5.5.5
    assert proxies.client("10.0.0.2", "6.6.6.6, 5.5.5.5, 192.168.1.1") == "5.5.5.5"
    # every hop is a proxy of ours: the leftmost one is as far as we can see
    assert proxies.client("10.0.0.2", "10.9.9.9, 192.168.1.1") == "10.9.9.9"
    # garbage a client wrote stops the walk at the last address a proxy vouched for
    assert proxies.client("10.0.0.2", "not-an-ip, 10.3.3.3") == "10.3.3.3"


def test_ipv6_ranges_and_mapped_addresses() -> None:
    proxies = TrustedProxies(["fd00::/8", "127.0.0.1/32"])
    assert proxies.client("fd00::1", "2001:db8::7") == "2001:db8::7"
    assert proxies.client("::ffff:127.0.0.1", "198.51.100.4") == "198.51.100.4"
    assert not proxies.trusts(__import__("ipaddress").ip_address("2001:db8::1"))


# ------------------------------------------------------------------ limiter: only failures are charged


def test_peek_counts_nothing_and_failures_fill_the_bucket() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(3, 60.0, clock=lambda: now[0])
    for _ in range(100):
        assert limiter.peek("10.0.0.1").allowed
    assert len(limiter) == 0  # peeking creates no state
    assert [limiter.hit("10.0.0.1").allowed for _ in range(4)] == [True, True, True, False]
    assert not limiter.peek("10.0.0.1").allowed
    assert limiter.peek("10.0.0.2").allowed  # another address has its own bucket
    now[0] = 121.0
    assert limiter.peek("10.0.0.1").allowed


# ------------------------------------------------------------------ read slots and body reads


async def test_large_reads_have_their_own_small_pool_and_small_ones_keep_theirs() -> None:
    slots = ReadSlots(max_reads=3, max_large=1, large_bytes=100, wait_s=0.05)
    assert slots.is_large(None, False) and slots.is_large(50, True) and slots.is_large(101, False)
    assert not slots.is_large(100, False)
    async with slots.slot(True) as first:
        assert first
        async with slots.slot(True) as second:
            assert not second  # the one large slot is taken
        async with slots.slot(False) as small, slots.slot(False) as small2:
            assert small and small2
            async with slots.slot(False) as third:
                assert not third  # 3 reads at once, the large one included
    async with slots.slot(True) as again:
        assert again  # released on exit


async def test_a_waiting_read_gets_the_slot_when_it_frees_up() -> None:
    slots = ReadSlots(max_reads=1, max_large=1, large_bytes=100, wait_s=1.0)

    async def hold() -> None:
        async with slots.slot(False) as held:
            assert held
            await asyncio.sleep(0.05)

    task = asyncio.create_task(hold())
    await asyncio.sleep(0)
    async with slots.slot(False) as held:
        assert held
    await task


class Chunks:
    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)

    async def readany(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""

    def at_eof(self) -> bool:
        return not self._chunks


async def test_read_body_stops_at_the_cap_before_keeping_the_chunk() -> None:
    assert await read_body(Chunks(b"ab", b"cd"), 4) == b"abcd"
    assert await read_body(Chunks(b"ab", b"cde"), 4) is None
    assert await read_body(Chunks(b"abcde"), 4) is None


def test_content_encoding_refused_unless_enabled() -> None:
    assert not unsupported_encoding("", False) and not unsupported_encoding("identity", False)
    assert unsupported_encoding("gzip", False)
    assert not unsupported_encoding("GZIP", True) and not unsupported_encoding("deflate", True)
    assert unsupported_encoding("br", True) and unsupported_encoding("gzip, gzip", True)


# ------------------------------------------------------------------ replay cache and ordering


def test_signed_identity_ignores_the_unsigned_trace_id() -> None:
    cache = IdempotencyCache(600, 2, clock=lambda: 0.0)
    one = signed_identity("terra", 1700000000, b"\x01" * 32)
    cache.put(one, b"trace-original")
    assert cache.get(one) == b"trace-original"
    assert cache.get(signed_identity("terra", 1700000001, b"\x01" * 32)) is None
    assert cache.get(signed_identity("acme", 1700000000, b"\x01" * 32)) is None
    for n in range(3):  # bounded: the oldest entries go first
        cache.put(f"k{n}", b"v")
    assert cache.get(one) is None and len(cache) == 2


def test_ordering_timestamp_bounded_by_the_signed_time() -> None:
    signed = 1_700_000_000
    assert ordering_time(None, signed, 300) is None
    assert ordering_time("", signed, 300) is None
    at = ordering_time("1699999999123", signed, 300)
    assert at == datetime.fromtimestamp(1699999999.123, UTC)
    assert ordering_time(str((signed + 300) * 1000), signed, 300) is not None
    for value, code in [
        (str((signed + 301) * 1000), "ordering_timestamp_in_future"),
        ("253402300799999", "ordering_timestamp_in_future"),
        ("253402300800000", "ordering_timestamp_in_future"),
        ("9" * 15, "ordering_timestamp_in_future"),
        ("9" * 16, "malformed_ordering_timestamp"),
        ("-5", "malformed_ordering_timestamp"),
        ("1e12", "malformed_ordering_timestamp"),
        ("１２３", "malformed_ordering_timestamp"),
    ]:
        with pytest.raises(OrderingError) as caught:
            ordering_time(value, signed, 300)
        assert caught.value.code == code, value


def test_whsec_of_the_fixtures_is_long_enough() -> None:
    from tests.fix_kafka import new_whsec
    from vitalstream.platform.secret_rules import MIN_KEY_BYTES, decode_whsec

    assert len(decode_whsec(new_whsec())) >= MIN_KEY_BYTES
    assert base64.b64decode(new_whsec().removeprefix("whsec_"))
