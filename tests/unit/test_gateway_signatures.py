"""Terra and Standard Webhooks signature schemes: vectors, tolerance, rotation, forgery."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.signatures import (
    Failure,
    SignatureError,
    StandardVerifier,
    TerraVerifier,
    parse_terra_header,
    split_secrets,
    standard_headers,
    standard_sign,
    terra_header,
    terra_sign,
)
from vitalstream.platform.secret_rules import decode_whsec

TERRA_VECTOR = "ad2da523c6d08e6ba4d8c36d86d5ca1f31f26992aabde11659556ced1d96509b"
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_VECTOR = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def failure_of(fn: object, *args: object) -> Failure:
    with pytest.raises(SignatureError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.failure


# ----------------------------------------------------------------------------- Terra


def test_terra_vector() -> None:
    assert terra_sign("secret", 10, b"b") == TERRA_VECTOR
    assert terra_header("secret", 10, b"b") == f"t=10,v1={TERRA_VECTOR}"


def test_terra_vector_verifies_at_its_time() -> None:
    verified = TerraVerifier(["secret"]).verify(f"t=10,v1={TERRA_VECTOR}", b"b", now=10.0)
    assert verified.timestamp == 10


@pytest.mark.parametrize("skew", [-300, -299.5, 0, 299.9, 300])
def test_terra_inside_tolerance_both_ways(skew: float) -> None:
    body = b'{"type":"body"}'
    header = terra_header("s3cr3t", 1_700_000_000, body)
    TerraVerifier(["s3cr3t"], tolerance_s=300).verify(header, body, now=1_700_000_000 + skew)


@pytest.mark.parametrize("skew", [-301, -300.001, 300.001, 301, 86_400])
def test_terra_outside_tolerance_both_ways(skew: float) -> None:
    body = b"{}"
    header = terra_header("s3cr3t", 1_700_000_000, body)
    verifier = TerraVerifier(["s3cr3t"], tolerance_s=300)
    assert failure_of(verifier.verify, header, body, 1_700_000_000 + skew) is Failure.EXPIRED


def test_terra_rotation_any_configured_secret_and_any_v1() -> None:
    body = b'{"a":1}'
    verifier = TerraVerifier(["old-secret", "new-secret"])
    for secret in ("old-secret", "new-secret"):
        verifier.verify(terra_header(secret, 100, body), body, now=100)
    # sender signs with both (several v1 entries), receiver knows only one of them
    both = terra_header(["retired", "new-secret"], 100, body)
    TerraVerifier(["new-secret"]).verify(both, body, now=100)
    # signed with a secret the receiver does not have
    assert failure_of(verifier.verify, terra_header("other", 100, body), body, 100) is Failure.INVALID


def test_terra_header_details() -> None:
    body = b"{}"
    sig = terra_sign("k", 50, body)
    verifier = TerraVerifier(["k"])
    verifier.verify(f"t=50, v1={sig.upper()}", body, now=50)  # spaces, uppercase hex
    verifier.verify(f"v0=zzz,t=50,v1=deadbeef,v1={sig}", body, now=50)  # unknown scheme, wrong v1 first
    assert failure_of(verifier.verify, None, body, 50) is Failure.MISSING
    assert failure_of(verifier.verify, "", body, 50) is Failure.MISSING
    for bad in ("garbage", f"v1={sig}", "t=50", "t=abc,v1=00", "t=+50,v1=00", "t=50,t=50,v1=00", "t=5_0,v1=00"):
        assert failure_of(verifier.verify, bad, body, 50) is Failure.MALFORMED, bad
    assert failure_of(verifier.verify, f"t=50,v1={sig}", body + b" ", 50) is Failure.INVALID
    assert failure_of(verifier.verify, f"t=51,v1={sig}", body, 50) is Failure.INVALID


def test_terra_without_secrets_never_verifies() -> None:
    verifier = TerraVerifier([])
    assert not verifier.configured
    assert failure_of(verifier.verify, terra_header("", 1, b"{}"), b"{}", 1) is Failure.INVALID


def test_parse_terra_header() -> None:
    assert parse_terra_header("t=1,v1=AB,v1=cd") == (1, [b"ab", b"cd"])


# ----------------------------------------------------------------- Standard Webhooks


def test_standard_webhooks_vector() -> None:
    assert standard_sign(SW_SECRET, SW_ID, SW_TS, SW_BODY) == SW_VECTOR
    verified = StandardVerifier([SW_SECRET]).verify(SW_ID, str(SW_TS), SW_VECTOR, SW_BODY, now=SW_TS)
    assert verified.message_id == SW_ID
    assert verified.timestamp == SW_TS


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_standard_inside_tolerance(skew: int) -> None:
    StandardVerifier([SW_SECRET]).verify(SW_ID, str(SW_TS), SW_VECTOR, SW_BODY, now=SW_TS + skew)


@pytest.mark.parametrize("skew", [-301, 301])
def test_standard_outside_tolerance(skew: int) -> None:
    verifier = StandardVerifier([SW_SECRET])
    assert failure_of(verifier.verify, SW_ID, str(SW_TS), SW_VECTOR, SW_BODY, SW_TS + skew) is Failure.EXPIRED


def test_standard_rotation_and_several_signatures() -> None:
    new = "whsec_" + base64.b64encode(b"n" * 24).decode()
    verifier = StandardVerifier([SW_SECRET, new])
    headers = standard_headers(new, "msg_1", 1000, b"{}")
    verifier.verify(headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"], b"{}", 1000)
    two = standard_headers([new, SW_SECRET], "msg_2", 1000, b"{}")["webhook-signature"]
    assert len(two.split()) == 2
    StandardVerifier([SW_SECRET]).verify("msg_2", "1000", "v2,abc " + two, b"{}", 1000)


def test_standard_failures() -> None:
    verifier = StandardVerifier([SW_SECRET])
    args = (SW_ID, str(SW_TS), SW_VECTOR, SW_BODY, SW_TS)
    assert failure_of(verifier.verify, None, *args[1:]) is Failure.MISSING
    assert failure_of(verifier.verify, SW_ID, None, *args[2:]) is Failure.MISSING
    assert failure_of(verifier.verify, SW_ID, str(SW_TS), "", SW_BODY, SW_TS) is Failure.MISSING
    assert failure_of(verifier.verify, SW_ID, "soon", SW_VECTOR, SW_BODY, SW_TS) is Failure.MALFORMED
    assert failure_of(verifier.verify, SW_ID, str(SW_TS), "v2,abc", SW_BODY, SW_TS) is Failure.MALFORMED
    assert failure_of(verifier.verify, "msg_other", str(SW_TS), SW_VECTOR, SW_BODY, SW_TS) is Failure.INVALID
    assert failure_of(verifier.verify, SW_ID, str(SW_TS), SW_VECTOR, SW_BODY + b"x", SW_TS) is Failure.INVALID


def test_whsec_decoding() -> None:
    assert decode_whsec("whsec_" + base64.b64encode(b"key").decode()) == b"key"
    with pytest.raises(ValueError, match="whsec_"):
        decode_whsec("whsec_not base64!")
    assert split_secrets("whsec_a  whsec_b") == ["whsec_a", "whsec_b"]


# ------------------------------------------------------------------------ forgery


SECRET = "the-real-secret"
WHSEC = "whsec_" + base64.b64encode(b"the-real-whsec-key-bytes").decode()


@settings(max_examples=300, deadline=None)
@given(
    header=st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda t, sigs: ",".join([f"t={t}", *(f"v1={s}" for s in sigs)]),
            st.integers(0, 2_000_000_000),
            st.lists(st.text(alphabet="0123456789abcdef", min_size=0, max_size=64), max_size=4),
        ),
    ),
    body=st.binary(max_size=300),
    now=st.integers(0, 2_000_000_000),
)
def test_no_terra_header_verifies_without_the_secret(header: str, body: bytes, now: int) -> None:
    with pytest.raises(SignatureError):
        TerraVerifier([SECRET]).verify(header, body, now)


@settings(max_examples=300, deadline=None)
@given(
    msg_id=st.text(max_size=40),
    timestamp=st.one_of(st.text(max_size=12), st.integers(0, 2_000_000_000).map(str)),
    signature=st.one_of(
        st.text(max_size=200),
        st.lists(st.binary(min_size=32, max_size=32), max_size=3).map(
            lambda sigs: " ".join("v1," + base64.b64encode(s).decode() for s in sigs)
        ),
    ),
    body=st.binary(max_size=300),
    other_key=st.binary(min_size=1, max_size=32),
)
def test_no_standard_signature_verifies_without_the_secret(
    msg_id: str, timestamp: str, signature: str, body: bytes, other_key: bytes
) -> None:
    verifier = StandardVerifier([WHSEC])
    plain = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    now = int(timestamp) if plain else 0
    with pytest.raises(SignatureError):
        verifier.verify(msg_id, timestamp, signature, body, now)
    # a correct signature made with any other key is refused as well
    if plain and msg_id and msg_id.isascii():
        if other_key == b"the-real-whsec-key-bytes":
            return
        forged = standard_sign("whsec_" + base64.b64encode(other_key).decode(), msg_id, int(timestamp), body)
        with pytest.raises(SignatureError):
            verifier.verify(msg_id, timestamp, forged, body, now)
