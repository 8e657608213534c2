"""A lean HTTP/1.1 keep-alive client connection on a raw asyncio ``Protocol``.

One request in flight per connection (no pipelining); responses are framed by
``Content-Length`` (or a chunked terminator) and only the status code is parsed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked", re.IGNORECASE)

Done = Callable[["Connection", int, int], None]
"""(connection, request index, HTTP status or 0 for a transport failure)."""


def post(path: str, host: str, headers: list[tuple[bytes, bytes]], payload: bytes) -> bytes:
    head = [b"POST %s HTTP/1.1" % path.encode(), b"Host: " + host.encode(), b"Content-Length: %d" % len(payload)]
    head += [name + b": " + value for name, value in headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + payload


def get(path: str, host: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    extra = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path.encode(), host.encode(), extra)


class Connection(asyncio.Protocol):
    def __init__(self, done: Done, lost: Callable[[Connection], None]) -> None:
        self._done = done
        self._lost = lost
        self._buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.current: int | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.ready.done():
            self.ready.set_result(None)

    def send(self, index: int, data: bytes) -> None:
        assert self.transport is not None
        self.current = index
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buf[: end + 2])
            match = _CONTENT_LENGTH.search(head)
            if match is not None:
                total = end + 4 + int(match.group(1))
            elif _CHUNKED.search(head):
                tail = self._buf.find(b"\r\n0\r\n\r\n", end)
                if tail < 0:
                    return
                total = tail + 7
            else:
                total = end + 4
            if len(self._buf) < total:
                return
            status = int(head[9:12])
            del self._buf[:total]
            index, self.current = self.current, None
            if index is not None:
                self._done(self, index, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        index, self.current = self.current, None
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed"))
        if index is not None:
            self._done(self, index, 0)
        self._lost(self)
