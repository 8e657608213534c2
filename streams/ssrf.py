"""Where a ping-mode download may go (design §5.1): the guard against server-side request forgery.

A ping's URL comes from the webhook body, so it is attacker-controlled as far as the worker
knows. By default only ``https`` to a public address is allowed: private, loopback,
link-local (the cloud metadata service at 169.254.169.254 among them), shared, reserved and
multicast addresses are refused — checked on the address a name *resolves to* (the
:class:`GuardedResolver` the download session connects through), so a public name that
resolves to an internal address is refused too. ``allow_private`` (the setting
``VITALSTREAM_FETCH_ALLOW_PRIVATE``, for tests and the local stack) also allows plain
``http`` and private addresses; the metadata addresses stay refused even then.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from streams.errors import PermanentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
"""Cloud instance-metadata endpoints (AWS, GCP, Azure, …): never fetched, whatever the settings."""


class RefusedUrlError(PermanentError):
    """A ping URL the guard refuses (scheme, address, redirect): never downloaded."""


class RefusedAddressError(OSError):
    """Raised inside the resolver (aiohttp wraps it in a connector error): the name resolves inward."""


def address_refused(ip: IPAddress, allow_private: bool) -> bool:
    """True for an address a download must not connect to."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return True
    if allow_private:
        return ip.is_unspecified or ip.is_multicast
    return not ip.is_global or ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """The URL's host name when the URL may be fetched; else :class:`RefusedUrlError` (value-free text)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a malformed port raises here
    except ValueError:
        raise RefusedUrlError("ping URL is not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes:
        raise RefusedUrlError("ping URL refused: only https is fetched")
    if not host:
        raise RefusedUrlError("ping URL refused: no host")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and address_refused(literal, allow_private):
        raise RefusedUrlError("ping URL refused: a private, loopback, link-local or metadata address")
    return host.lower()


def check_redirect(current: str, location: str, allow_private: bool) -> str:
    """The absolute URL of a redirect when it stays on the same host (and passes :func:`check_url`)."""
    target = urljoin(current, location)
    if check_url(target, allow_private) != check_url(current, allow_private):
        raise RefusedUrlError("ping URL refused: redirect to another host")
    return target


def without_query(url: str) -> str:
    """``scheme://host[:port]/path``: what may be kept of a pre-signed URL (no signature, no credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class GuardedResolver(AbstractResolver):
    """The default resolver, refusing names that resolve to an address :func:`address_refused` refuses."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if address_refused(ipaddress.ip_address(result["host"]), self._allow_private):
                raise RefusedAddressError("the name resolves to a refused address")
        return results

    async def close(self) -> None:
        await self._inner.close()
