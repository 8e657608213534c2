"""Stand-ins for Terra's S3 bucket in ping mode (a real HTTP server on 127.0.0.1), and a black hole.

:class:`PayloadServer` serves ``files[name]`` at ``/<name>`` (else 404, a permanent failure);
``expire(name)`` makes that URL answer as S3 answers an expired pre-signed URL (403, ``Request
has expired``); ``fail_next[name] = n`` answers the next ``n`` requests 503 (a transient
failure); ``redirect[name] = url`` answers 302 to ``url``. ``requests`` counts the GETs per name.
:func:`black_hole` is a TCP port that accepts connections and never answers a byte.

The worker refuses loopback URLs unless ``VITALSTREAM_FETCH_ALLOW_PRIVATE`` is set: tests that
use these set it (``tests.fix_pipeline`` does for its services).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

EXPIRED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


class PayloadServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.expired: set[str] = set()
        self.fail_next: Counter[str] = Counter()
        self.redirect: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, name: str, query: str = "") -> str:
        return f"{self.base}/{name}" + (f"?{query}" if query else "")

    def expire(self, name: str) -> None:
        self.expired.add(name)

    def _answer(self, name: str) -> tuple[int, dict[str, str], bytes]:
        self.requests[name] += 1
        if name in self.redirect:
            return 302, {"Location": self.redirect[name]}, b""
        if self.fail_next[name] > 0:
            self.fail_next[name] -= 1
            return 503, {}, b""
        if name in self.expired:
            return 403, {"Content-Type": "application/xml"}, EXPIRED_BODY
        body = self.files.get(name)
        return (200, {"Content-Type": "application/json"}, body) if body is not None else (404, {}, b"")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = server._answer(self.path.lstrip("/").split("?", 1)[0])
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler

    def start(self) -> PayloadServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serving_payloads() -> Iterator[PayloadServer]:
    """A :class:`PayloadServer` for the ``with`` block (module-scoped fixtures use this)."""
    server = PayloadServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def payload_server() -> Iterator[PayloadServer]:
    with serving_payloads() as server:
        yield server


@pytest.fixture
def black_hole() -> Iterator[str]:
    """``http://127.0.0.1:<port>``: connections are accepted (by the kernel's backlog) and never answered."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
