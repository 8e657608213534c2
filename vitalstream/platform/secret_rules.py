"""What a usable secret looks like (pure): long enough to resist guessing, never a placeholder.

Settings validate every signing secret and the admin token with these rules when they are
read, so a process refuses to start with one line naming the variable instead of accepting
``acme=whsec_`` (an empty key), a 1-byte key, or the shipped template's ``REPLACE_ME``.
Messages never contain the secret itself.
"""

from __future__ import annotations

import base64
import binascii
import re

WHSEC_PREFIX = "whsec_"
MIN_KEY_BYTES = 24
"""Minimum decoded length of a Standard Webhooks (``whsec_``) key."""
MIN_SECRET_CHARS = 24
"""Minimum length of opaque secrets (Terra signing secrets, the admin token)."""

_PLACEHOLDER = re.compile(
    r"replace[_-]?(me|with)|change[_-]?me|changeit|placeholder|your[_-]?(secret|token|key)"
    r"|^(x+|0+|secret|password|test|todo|fixme|none|null|default|example|dummy)$",
    re.IGNORECASE,
)


class WeakSecretError(ValueError):
    """A secret that must not go live; the message says why and what to do, never the value."""


def looks_like_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.search(text))


def decode_whsec(secret: str | bytes) -> bytes:
    """A ``whsec_<base64>`` secret → the raw key bytes (no strength check)."""
    text = secret.decode() if isinstance(secret, bytes) else secret
    text = text.strip()
    if text.startswith(WHSEC_PREFIX):
        text = text[len(WHSEC_PREFIX) :]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WeakSecretError("a Standard Webhooks secret is 'whsec_' followed by base64") from None


def check_opaque(secret: str, what: str) -> None:
    """Terra signing secrets and the admin token: opaque strings of at least ``MIN_SECRET_CHARS``."""
    if not secret.strip():
        raise WeakSecretError(f"{what} is empty")
    if looks_like_placeholder(secret):
        raise WeakSecretError(f"{what} is a placeholder: generate one, e.g. `openssl rand -hex 32`")
    if len(secret.strip()) < MIN_SECRET_CHARS:
        raise WeakSecretError(f"{what} is shorter than {MIN_SECRET_CHARS} characters")


def check_whsec(secret: str, what: str) -> None:
    """A ``whsec_`` key whose decoded bytes are at least ``MIN_KEY_BYTES`` long and not a placeholder."""
    body = secret.strip().removeprefix(WHSEC_PREFIX)
    if not body:
        raise WeakSecretError(f"{what} has an empty key")
    if looks_like_placeholder(body):
        raise WeakSecretError(f"{what} is a placeholder: generate one, e.g. 'whsec_' + `openssl rand -base64 32`")
    try:
        key = decode_whsec(secret)
    except WeakSecretError as exc:
        raise WeakSecretError(f"{what}: {exc}") from None
    if len(key) < MIN_KEY_BYTES:
        raise WeakSecretError(f"{what} decodes to {len(key)} bytes; at least {MIN_KEY_BYTES} are required")
