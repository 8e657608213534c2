"""Bounded cost of reading bodies before anyone is authenticated.

A body must be buffered whole before its signature can be checked, so reading is where an
unauthenticated sender can make the gateway hold memory. Three bounds keep that small:

- **slots**: at most ``max_reads`` bodies are read at once, and of those at most
  ``max_large`` may be large (announced above ``large_bytes``, or not announced at all:
  chunked or compressed). Memory held by reads is therefore at most about
  ``max_large × max_body + max_reads × large_bytes`` (2 × 10 MiB + 64 × 256 KiB by default),
  while small bodies — every ordinary webhook — keep their own slots. A small body waits
  ``wait_s`` for a slot, a large one not at all (a waiting connection still holds what the
  server has read ahead of it, so queueing large uploads would cost memory again); then 503
  with ``Retry-After`` and the connection is closed;
- **a deadline** on the whole read (408), so a stalled sender gives its slot back;
- **the size cap**, counted on the bytes actually received (inflated bytes when compressed
  bodies are enabled), before any of them is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol


class Stream(Protocol):
    async def readany(self) -> bytes: ...

    def at_eof(self) -> bool: ...


class ReadSlots:
    """Counting semaphores for body reads: all reads, and the large ones among them."""

    def __init__(self, max_reads: int, max_large: int, large_bytes: int, wait_s: float) -> None:
        self.large_bytes = large_bytes
        self.wait_s = wait_s
        self._all = asyncio.Semaphore(max_reads)
        self._large = asyncio.Semaphore(max_large)

    def is_large(self, content_length: int | None, encoded: bool) -> bool:
        return content_length is None or encoded or content_length > self.large_bytes

    @contextlib.asynccontextmanager
    async def slot(self, large: bool) -> AsyncIterator[bool]:
        """Yields True with a slot held, or False when none freed up within ``wait_s``."""
        held: list[asyncio.Semaphore] = []
        try:
            for sem, wait_s in ((self._large, 0.0), (self._all, self.wait_s)) if large else ((self._all, self.wait_s),):
                if not await _acquire(sem, wait_s):
                    yield False
                    return
                held.append(sem)
            yield True
        finally:
            for sem in held:
                sem.release()


async def _acquire(sem: asyncio.Semaphore, wait_s: float) -> bool:
    if not sem.locked():
        await sem.acquire()  # does not suspend when a permit is free
        return True
    if wait_s <= 0:
        return False
    try:
        async with asyncio.timeout(wait_s):
            await sem.acquire()
    except TimeoutError:
        return False
    return True


async def read_body(content: Stream, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` (never buffers more than that).

    Chunks are kept as received and joined once at the end: a growing buffer would be
    reallocated (and copied) as it grows, which costs a slow upload twice its size.
    """
    first = await content.readany()
    if len(first) > limit:
        return None
    if content.at_eof():
        return first
    chunks = [first]
    size = len(first)
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
