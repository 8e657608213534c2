"""Ping mode, pure parts: the SSRF guard, ping detection, URL expiry, fetched records, offset tracking."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import orjson
import pytest

from schemas import deadletter as D
from schemas.records import RawWebhook
from streams.fetch import OffsetTracker
from streams.ping import FETCHED_FROM, expires_at, fetched_headers, fetched_record, is_fetched, ping_of
from streams.ssrf import RefusedUrlError, address_refused, check_redirect, check_url, without_query

RECEIVED = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)
SIGNED = "https://bucket.s3.amazonaws.com/u/p.json?X-Amz-Date=20260705T115900Z&X-Amz-Expires=600&X-Amz-Signature=ab"


def raw(body: object) -> RawWebhook:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return RawWebhook(event_id="e1", source="terra", received_at=RECEIVED, idempotency_key="e1", body=data)


# --- the SSRF guard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "::1", "169.254.10.10", "fe80::1", "100.64.0.1",
     "0.0.0.0", "224.0.0.1", "::ffff:127.0.0.1", "fc00::1", "169.254.169.254"],
)  # fmt: skip
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    assert address_refused(ipaddress.ip_address(address), allow_private=False)
    with pytest.raises(RefusedUrlError, match="private, loopback, link-local or metadata"):
        check_url(f"https://{'[' + address + ']' if ':' in address else address}/p.json", allow_private=False)


def test_public_addresses_pass() -> None:
    assert not address_refused(ipaddress.ip_address("52.216.8.1"), allow_private=False)
    assert not address_refused(ipaddress.ip_address("2600:1f18::1"), allow_private=False)
    assert check_url(SIGNED, allow_private=False) == "bucket.s3.amazonaws.com"


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"])
def test_the_metadata_service_is_refused_even_when_private_addresses_are_allowed(address: str) -> None:
    assert address_refused(ipaddress.ip_address(address), allow_private=True)


def test_allow_private_lets_loopback_and_http_through() -> None:
    assert not address_refused(ipaddress.ip_address("127.0.0.1"), allow_private=True)
    assert check_url("http://127.0.0.1:9000/p.json", allow_private=True) == "127.0.0.1"


@pytest.mark.parametrize("url", ["http://bucket.s3.amazonaws.com/p", "ftp://h/p", "file:///etc/passwd", "gopher://h"])
def test_only_https_by_default(url: str) -> None:
    with pytest.raises(RefusedUrlError, match="only https"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["https:///p", "https://h:99999/p", "https://[::1/p"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(RefusedUrlError):
        check_url(url, allow_private=False)


def test_redirects_stay_on_the_same_host() -> None:
    assert check_redirect(SIGNED, "/other.json", False) == "https://bucket.s3.amazonaws.com/other.json"
    for location in (
        "https://evil.example/p",
        "https://169.254.169.254/latest/meta-data/",
        "http://bucket.s3.amazonaws.com/p",
    ):
        with pytest.raises(RefusedUrlError):
            check_redirect(SIGNED, location, False)


def test_without_query_keeps_no_signature_and_no_credentials() -> None:
    assert without_query(SIGNED) == "https://bucket.s3.amazonaws.com/u/p.json"
    assert without_query("https://user:pw@h.example:8443/a/b?sig=1#f") == "https://h.example:8443/a/b"
    assert without_query("http://[::1]:9/x?y") == "http://[::1]:9/x"


# --- pings ----------------------------------------------------------------------------------------


def test_a_ping_and_its_expiry() -> None:
    ping = ping_of(raw({"type": "s3_payload", "status": "success", "url": SIGNED, "expires_in": 900}), {})
    assert ping is not None and ping.url == SIGNED
    # X-Amz-Date 11:59 + 600 s is earlier than received 12:00 + 900 s
    assert ping.expires_at == datetime(2026, 7, 5, 12, 9, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "body",
    [
        {"type": "body", "user": {"user_id": "u", "provider": "X"}, "data": [], "note": "s3_payload"},
        {"type": "s3_payload"},  # no url: normalize dead-letters it
        {"type": "s3_payload", "url": "file:///etc/passwd"},
        b"s3_payload, not json",
        {"type": "body", "data": []},
    ],
)
def test_not_pings(body: object) -> None:
    assert ping_of(raw(body), {}) is None


def test_expiry_from_either_source_or_none() -> None:
    assert expires_at("https://h/p", RECEIVED, 60) == RECEIVED.timestamp() + 60
    assert expires_at("https://h/p", RECEIVED, None) is None
    assert expires_at("https://h/p?X-Amz-Date=garbage&X-Amz-Expires=60", RECEIVED, True) is None


def test_the_fetched_record_keeps_the_event_id_and_drops_failure_headers() -> None:
    ping = raw({"type": "s3_payload", "url": SIGNED})
    fetched = fetched_record(ping, b'{"type": "body"}')
    assert (fetched.event_id, fetched.received_at, fetched.body) == ("e1", RECEIVED, b'{"type": "body"}')
    headers = fetched_headers(
        [("vs.t.accepted", b"1"), (D.ATTEMPTS, b"2"), (D.ERROR_CLASS, b"X"), (FETCHED_FROM, b"old")], SIGNED
    )
    assert headers == [("vs.t.accepted", b"1"), (FETCHED_FROM, b"https://bucket.s3.amazonaws.com/u/p.json")]
    assert is_fetched(headers) and not is_fetched([("vs.t.accepted", b"1")])


# --- offsets --------------------------------------------------------------------------------------


def test_offsets_never_pass_an_unfinished_download() -> None:
    t = OffsetTracker()
    tp = ("raw", 0)
    epochs = [t.take(tp, o) for o in (5, 6, 7)]
    t.finish(tp, 5, epochs[0])
    t.finish(tp, 7, epochs[2])
    assert t.committable() == {tp: 6}
    t.committed({tp: 6})
    assert t.committable() == {}
    t.finish(tp, 6, epochs[1])
    assert t.committable() == {tp: 8}


def test_a_download_finishing_after_its_partition_was_revoked_moves_nothing() -> None:
    t = OffsetTracker()
    tp = ("raw", 1)
    old = t.take(tp, 10)
    t.forget([tp])
    new = t.take(tp, 10)  # assigned back: the same record is taken again
    t.finish(tp, 10, old)
    assert t.committable() == {tp: 10}
    t.finish(tp, 10, new)
    assert t.committable() == {tp: 11}
