"""Is a Docker engine answering? (Then testcontainers is the second choice after env-given services.)"""

from __future__ import annotations

import contextlib
import functools
import os
import socket


@functools.cache
def docker_answers() -> bool:
    """Ping the engine's unix socket (``DOCKER_HOST=unix://…`` or the default path)."""
    if os.environ.get("VITALSTREAM_TESTS_NO_DOCKER"):
        return False
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return False
    path = host.removeprefix("unix://")
    if not os.path.exists(path):
        return False
    with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as sock:
        sock.settimeout(2)
        try:
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in sock.recv(256)
        except OSError:
            return False
