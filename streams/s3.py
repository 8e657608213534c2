"""Ping-mode payloads (``s3_payload``): download the URL Terra gave, with a timeout and a size cap.

Timeouts, connection errors, 5xx and 429 are :class:`TransientError` (retried through the
retry topics); any other 4xx (an expired pre-signed URL answers 403) and an oversized
payload are :class:`PermanentError`. Messages never contain the URL (it carries a signature).
"""

from __future__ import annotations

import aiohttp

from streams.errors import PermanentError, TransientError
from streams.normalize import parse_body


class PayloadTooLargeError(PermanentError):
    """The downloaded payload exceeds ``s3_max_bytes``."""


class DownloadFailedError(PermanentError):
    """The URL answered with a client error (expired, forbidden, gone)."""


class DownloadUnavailableError(TransientError):
    """Timeout, connection error or server error while downloading."""


class PayloadFetcher:
    """One aiohttp session per worker, created lazily inside the running loop."""

    def __init__(self, timeout_s: float, max_bytes: int) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, url: str) -> object:
        """The parsed JSON payload at ``url``."""
        return parse_body(await self.fetch_bytes(url))

    async def fetch_bytes(self, url: str) -> bytes:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=True)
        try:
            async with self._session.get(url, allow_redirects=True) as resp:
                status = resp.status
                if status == 429 or status >= 500:
                    raise DownloadUnavailableError(f"payload download answered HTTP {status}")
                if status >= 400:
                    raise DownloadFailedError(f"payload download answered HTTP {status} (expired or forbidden URL?)")
                if resp.content_length is not None and resp.content_length > self._max_bytes:
                    raise PayloadTooLargeError(f"payload of {resp.content_length} bytes exceeds {self._max_bytes}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise PayloadTooLargeError(f"payload exceeds {self._max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except TimeoutError:
            raise DownloadUnavailableError("payload download timed out") from None
        except aiohttp.InvalidURL:
            raise DownloadFailedError("payload URL is not valid") from None
        except aiohttp.ClientError as exc:
            raise DownloadUnavailableError(f"payload download failed: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
