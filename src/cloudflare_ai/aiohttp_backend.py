"""httpx's asyncio API over aiohttp's connection pool, when the ``aiohttp`` extra is installed.

Why: httpx's own asyncio pool (httpcore 1.0) re-examines every pooled connection each time a
request starts or ends (a readability poll and a peer-name lookup per connection), and reads
bodies 64 KiB at a time through several Python layers. Measured on this project's benchmark
server, reading 100 embedding answers (95 MB) over 16-50 connections cost 0.9-1.8 s of
client CPU with httpcore and about 0.25 s with aiohttp (raw asyncio streams: 0.22-0.29 s).
Bulk ingestion reads that much per 10,000 vectors, so the HTTP library was its largest cost.

The clients keep speaking httpx (requests, responses, timeouts, typed errors, test
transports); only the sockets are aiohttp's, through ``httpx-aiohttp``'s transport, as in
the OpenAI SDK's ``aiohttp`` extra. Two things are adjusted here:

* errors: that transport reports every aiohttp connection error as ``httpx.ConnectTimeout``;
  a refused connection becomes ``httpx.ConnectError`` again and a dropped one
  ``httpx.RemoteProtocolError``, so a dropped connection is not reported as a timeout
  (both are retried the same way);
* reading: bodies come in chunks of up to 1 MiB instead of 16 KiB.

Selected by ``ClientSettings.http_backend`` (``CLOUDFLARE_AI_HTTP_BACKEND``): ``"auto"`` (the
default) uses aiohttp when it is installed, ``"httpx"`` never does, ``"aiohttp"`` insists.
Synchronous clients always use httpx's own pool, which has no such cost in threads.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .errors import ConfigurationError

#: Bytes asked of aiohttp per read of a response body.
READ_CHUNK = 1 << 20


def available() -> bool:
    """Whether aiohttp and httpx-aiohttp can be imported."""
    return all(importlib.util.find_spec(name) for name in ("aiohttp", "httpx_aiohttp"))


def wanted(backend: str) -> bool:
    """Whether an async client with ``backend`` uses aiohttp."""
    if backend == "httpx":
        return False
    if backend == "aiohttp":
        if not available():
            raise ConfigurationError(
                "http_backend='aiohttp' needs the aiohttp extra: "
                'pip install "cloudflare-ai[aiohttp]"'
            )
        return True
    return available()


def _remapped(exc: httpx.TransportError) -> httpx.TransportError:
    """The httpx error that says what happened: ``httpx-aiohttp`` maps every aiohttp
    connection error to ``ConnectTimeout``."""
    import aiohttp

    cause = exc.__cause__
    if not isinstance(exc, httpx.ConnectTimeout) or cause is None:
        return exc
    if isinstance(cause, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return exc
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:  # raised before a request was attached
        request = None
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(cause), request=request)
    return httpx.RemoteProtocolError(str(cause) or type(cause).__name__, request=request)


class _Body(httpx.AsyncByteStream):
    """A response body read in large chunks, with the errors :func:`_remapped`."""

    def __init__(self, response: Any, inner: httpx.AsyncByteStream) -> None:
        self._response = response
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        try:
            with map_aiohttp_exceptions():
                async for chunk in self._response.content.iter_chunked(READ_CHUNK):
                    yield chunk
        except httpx.TransportError as exc:
            raise _remapped(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


def async_client(
    *, timeout: httpx.Timeout, limits: httpx.Limits, verify: ssl.SSLContext
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose requests go through aiohttp."""
    from httpx_aiohttp import AiohttpTransport

    class Transport(AiohttpTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                response: httpx.Response = await super().handle_async_request(request)
            except httpx.TransportError as exc:
                raise _remapped(exc) from exc.__cause__
            inner = response.stream
            assert isinstance(inner, httpx.AsyncByteStream)
            response.stream = _Body(getattr(inner, "_aiohttp_response", None), inner)
            return response

    transport = Transport(verify=verify, limits=limits)
    return httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)
