"""Which address a request comes from, believing ``X-Forwarded-For`` only from trusted proxies (pure).

``X-Forwarded-For`` is a list any client can start; each proxy appends the address it saw.
Walking from the right (the entry our peer added), every address inside a trusted range
is a proxy of ours and we step left; the first address outside them is the client. The
peer itself must be trusted for the header to count at all, so with no ranges configured
(the default) the socket address is the client, whatever the header says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_FORWARDED_HOPS = 32


def _address(text: str) -> Address | None:
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class TrustedProxies:
    """CIDR ranges of the load balancers / ingress controllers in front of the gateway."""

    __slots__ = ("_networks",)

    def __init__(self, ranges: Iterable[str]) -> None:
        self._networks: tuple[Network, ...] = tuple(ipaddress.ip_network(r.strip(), strict=False) for r in ranges)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: Address) -> bool:
        return any(address.version == net.version and address in net for net in self._networks)

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client address: the peer, or the rightmost untrusted ``X-Forwarded-For`` entry."""
        if not peer:
            return "unknown"
        if not self._networks or not forwarded_for:
            return peer  # nothing to look behind: no parsing on the hot path
        current = _address(peer)
        if current is None or not self.trusts(current):
            return peer
        hops = [h for h in forwarded_for.split(",") if h.strip()][-MAX_FORWARDED_HOPS:]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break  # garbage a client wrote: the last proxy's view is the best we have
            current = address
            if not self.trusts(address):
                break
        return str(current)
