"""Ping-mode downloads (``s3_payload``): the URL Terra gave, guarded, with a timeout and a size cap.

Only the fetch stage (:mod:`streams.fetch`) calls this. Every connection goes through
:mod:`streams.ssrf` (scheme, literal and resolved addresses); redirects are followed by hand,
at most :data:`MAX_REDIRECTS`, and only on the same host. Timeouts, connection errors, 5xx and
429 are :class:`TransientError` (retried through the retry topics); an expired pre-signed URL
is :class:`UrlExpiredError`, any other 4xx, a refused URL and an oversized payload are
permanent. Messages never contain the URL (it carries a signature).
"""

from __future__ import annotations

import time

import aiohttp

from streams.errors import PermanentError, TransientError
from streams.ssrf import GuardedResolver, RefusedAddressError, RefusedUrlError, check_redirect, check_url

MAX_REDIRECTS = 3
READ_CHUNK = 64 * 1024
ERROR_BODY_BYTES = 4096
"""How much of a 4xx answer is read to tell an expired URL (S3: ``Request has expired``) from others."""


class PayloadTooLargeError(PermanentError):
    """The downloaded payload exceeds ``s3_max_bytes``."""


class DownloadFailedError(PermanentError):
    """The URL answered with a client error (forbidden, gone) other than an expiry."""


class UrlExpiredError(PermanentError):
    """The pre-signed URL expired before the payload could be downloaded: only Terra can resend it."""


class DownloadUnavailableError(TransientError):
    """Timeout, connection error or server error while downloading."""


EXPIRED_REASON = "the pre-signed ping URL expired before the payload was downloaded; Terra must resend it"


class PayloadFetcher:
    """One aiohttp session per fetch stage, created lazily inside the running loop."""

    def __init__(self, timeout_s: float, max_bytes: int, *, allow_private: bool = False) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_bytes = max_bytes
        self._allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._allow_private), limit=0)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector, auto_decompress=True)
        return self._session

    async def fetch_bytes(self, url: str, expires_at: float | None = None) -> bytes:
        """The body at ``url``; ``expires_at`` (epoch seconds, when known) tells a 4xx that is an expiry."""
        if expires_at is not None and time.time() >= expires_at:
            raise UrlExpiredError(EXPIRED_REASON)
        check_url(url, self._allow_private)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                async with self._client().get(url, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308):
                        url = check_redirect(url, resp.headers.get("Location", ""), self._allow_private)
                        continue
                    return await self._body(resp, expires_at)
        except TimeoutError:
            raise DownloadUnavailableError("payload download timed out") from None
        except aiohttp.InvalidURL:
            raise DownloadFailedError("payload URL is not valid") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddressError):
                raise RefusedUrlError("ping URL refused: the host resolves to a private or internal address") from None
            raise DownloadUnavailableError(f"payload download failed: {type(exc).__name__}") from None
        except aiohttp.ClientError as exc:
            raise DownloadUnavailableError(f"payload download failed: {type(exc).__name__}") from None
        raise DownloadFailedError(f"payload download redirected more than {MAX_REDIRECTS} times")

    async def _body(self, resp: aiohttp.ClientResponse, expires_at: float | None) -> bytes:
        status = resp.status
        if status == 429 or status >= 500:
            raise DownloadUnavailableError(f"payload download answered HTTP {status}")
        if status >= 400:
            text = await resp.content.read(ERROR_BODY_BYTES)
            if status in (400, 403) and (b"expired" in text.lower() or (expires_at and time.time() >= expires_at)):
                raise UrlExpiredError(EXPIRED_REASON)
            raise DownloadFailedError(f"payload download answered HTTP {status} (forbidden or gone)")
        if status >= 300:
            raise DownloadFailedError(f"payload download answered HTTP {status}")
        if resp.content_length is not None and resp.content_length > self._max_bytes:
            raise PayloadTooLargeError(f"payload of {resp.content_length} bytes exceeds {self._max_bytes}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(READ_CHUNK):
            size += len(chunk)
            if size > self._max_bytes:
                raise PayloadTooLargeError(f"payload exceeds {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
