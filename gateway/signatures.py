"""Webhook signature schemes: Terra and Standard Webhooks (pure: no I/O, no framework).

Both verifiers work on the exact raw body bytes, before anything parses them, accept
several secrets at once (rotation), check the timestamp against a tolerance window
both ways and compare signatures in constant time. HMAC keys are prepared once per
secret; a verification copies the prepared state instead of re-deriving the key.

The ``*_sign`` functions are the sender's side (the load generator and tests use them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from vitalstream.platform.secret_rules import decode_whsec

DEFAULT_TOLERANCE_S = 300
# A header longer than this is not a signature header: refuse before doing any work.
MAX_SIGNATURE_HEADER = 4096
MAX_SIGNATURES = 16


class Failure(StrEnum):
    """Why a signature did not verify (also the ``error`` code of the 401 answer)."""

    MISSING = "signature_missing"
    MALFORMED = "signature_malformed"
    EXPIRED = "signature_expired"
    INVALID = "signature_invalid"


_DETAIL = {
    Failure.MISSING: "The request carries no signature.",
    Failure.MALFORMED: "The signature header is not in the expected format.",
    Failure.EXPIRED: "The signature timestamp is outside the accepted window.",
    Failure.INVALID: "No signature matches any configured secret.",
}


class SignatureError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.value)
        self.failure = failure

    @property
    def code(self) -> str:
        return self.failure.value

    @property
    def detail(self) -> str:
        return _DETAIL[self.failure]


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified delivery: the signed timestamp (Unix seconds) and, for Standard Webhooks, the message id."""

    timestamp: int
    message_id: str | None = None


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _prepared(keys: Iterable[bytes]) -> tuple[hmac.HMAC, ...]:
    return tuple(hmac.new(k, digestmod=hashlib.sha256) for k in keys)


def _parse_ts(text: str) -> int:
    text = text.strip()
    # int() accepts "+1", " 1", "1_000": insist on plain digits.
    if not text or len(text) > 12 or not text.isascii() or not text.isdigit():
        raise SignatureError(Failure.MALFORMED)
    return int(text)


def _check_window(ts: int, now: float, tolerance_s: float) -> None:
    if abs(now - ts) > tolerance_s:
        raise SignatureError(Failure.EXPIRED)


# --------------------------------------------------------------------------- Terra


def terra_sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``<t>.<body>`` keyed with the signing secret."""
    return hmac.new(_as_bytes(secret), b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def terra_header(secrets: str | bytes | Sequence[str | bytes], timestamp: int, body: bytes) -> str:
    """The ``terra-signature`` header value: ``t=<t>,v1=<hex>[,v1=<hex>…]`` (one v1 per secret)."""
    if isinstance(secrets, (str, bytes)):
        secrets = [secrets]
    parts = [f"t={timestamp}"] + [f"v1={terra_sign(s, timestamp, body)}" for s in secrets]
    return ",".join(parts)


def parse_terra_header(header: str) -> tuple[int, list[bytes]]:
    """``t=…,v1=…[,v1=…]`` → (timestamp, [signature as ASCII hex bytes]). Unknown schemes are ignored."""
    if len(header) > MAX_SIGNATURE_HEADER:
        raise SignatureError(Failure.MALFORMED)
    ts: int | None = None
    sigs: list[bytes] = []
    for item in header.split(","):
        name, sep, value = item.partition("=")
        if not sep:
            raise SignatureError(Failure.MALFORMED)
        name = name.strip()
        if name == "t":
            if ts is not None:
                raise SignatureError(Failure.MALFORMED)
            ts = _parse_ts(value)
        elif name == "v1":
            value = value.strip()
            if not value.isascii():
                raise SignatureError(Failure.MALFORMED)
            sigs.append(value.lower().encode("ascii"))
    if ts is None or not sigs or len(sigs) > MAX_SIGNATURES:
        raise SignatureError(Failure.MALFORMED)
    return ts, sigs


class TerraVerifier:
    """Verifies ``terra-signature`` headers against one or more secrets."""

    def __init__(self, secrets: Iterable[str | bytes], tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
        self._macs = _prepared(_as_bytes(s) for s in secrets)
        self.tolerance_s = tolerance_s

    @property
    def configured(self) -> bool:
        return bool(self._macs)

    def check_header(self, header: str | None, now: float) -> tuple[int, list[bytes]]:
        """Everything that can be judged without the body: present, well formed, within the window."""
        if not header:
            raise SignatureError(Failure.MISSING)
        ts, sigs = parse_terra_header(header)
        _check_window(ts, now, self.tolerance_s)
        return ts, sigs

    def verify(self, header: str | None, body: bytes, now: float) -> Verified:
        ts, sigs = self.check_header(header, now)
        prefix = b"%d." % ts
        matched = False
        for base in self._macs:
            mac = base.copy()
            mac.update(prefix)
            mac.update(body)
            expected = mac.hexdigest().encode("ascii")
            for sig in sigs:
                # no early exit: every comparison is done, in constant time
                matched |= hmac.compare_digest(expected, sig)
        if not matched:
            raise SignatureError(Failure.INVALID)
        return Verified(timestamp=ts)


# ---------------------------------------------------------------- Standard Webhooks


def standard_sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of id.timestamp.body>`` for a ``whsec_`` secret."""
    digest = hmac.new(decode_whsec(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_headers(secrets: str | Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three ``webhook-*`` headers a Standard Webhooks sender adds (one signature per secret)."""
    if isinstance(secrets, str):
        secrets = [secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_sign(s, msg_id, timestamp, body) for s in secrets),
    }


class StandardVerifier:
    """Verifies Standard Webhooks deliveries against one or more ``whsec_`` secrets."""

    def __init__(self, secrets: Iterable[str | bytes], tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
        self._macs = _prepared(decode_whsec(s) for s in secrets)
        self.tolerance_s = tolerance_s

    def check_headers(
        self, msg_id: str | None, timestamp: str | None, signature: str | None, now: float
    ) -> tuple[str, int, list[bytes]]:
        """Everything that can be judged without the body: present, well formed, within the window."""
        if not msg_id or not timestamp or not signature:
            raise SignatureError(Failure.MISSING)
        if len(signature) > MAX_SIGNATURE_HEADER or len(msg_id) > 256 or not msg_id.isascii():
            raise SignatureError(Failure.MALFORMED)
        ts = _parse_ts(timestamp)
        sigs: list[bytes] = []
        for entry in signature.split():
            version, sep, value = entry.partition(",")
            if sep and version == "v1" and value.isascii():
                sigs.append(value.encode("ascii"))
        if not sigs or len(sigs) > MAX_SIGNATURES:
            raise SignatureError(Failure.MALFORMED)
        _check_window(ts, now, self.tolerance_s)
        return msg_id, ts, sigs

    def verify(
        self, msg_id: str | None, timestamp: str | None, signature: str | None, body: bytes, now: float
    ) -> Verified:
        msg_id, ts, sigs = self.check_headers(msg_id, timestamp, signature, now)
        prefix = f"{msg_id}.{ts}.".encode("ascii")
        matched = False
        for base in self._macs:
            mac = base.copy()
            mac.update(prefix)
            mac.update(body)
            expected = base64.b64encode(mac.digest())
            for sig in sigs:
                matched |= hmac.compare_digest(expected, sig)
        if not matched:
            raise SignatureError(Failure.INVALID)
        return Verified(timestamp=ts, message_id=msg_id)


def split_secrets(value: str) -> list[str]:
    """Several secrets for one source travel space- (or comma-) separated in one setting value."""
    return [part for part in value.replace(",", " ").split() if part]
