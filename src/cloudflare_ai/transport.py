"""HTTP transport shared by every client: one pooled httpx client, timeouts and retries.

Retries follow Cloudflare's guidance: 408, 429, 5xx, Workers AI capacity (3040) and timeout
(3007) answers, and dropped or refused connections are retried with exponential backoff and
full jitter, waiting at least as long as ``Retry-After`` asks. Quota (3036), authentication
and validation errors are never retried: trying again cannot help.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import certifi
import httpx
import orjson

from . import __version__, aiohttp_backend, ratelimit
from .config import ClientSettings
from .errors import (
    RETRYABLE_CODES,
    APIConnectionError,
    APIError,
    APITimeoutError,
    error_from_response,
    parse_error_body,
    parse_retry_after,
)

logger = logging.getLogger("cloudflare_ai")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how patiently a failed request is tried again."""

    max_retries: int = 3
    initial_delay: float = 0.5
    max_delay: float = 8.0
    #: Upper bound on a server-requested ``Retry-After`` wait.
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        backoff = min(self.max_delay, self.initial_delay * (2 ** (attempt - 1)))
        jittered = random.uniform(backoff / 2, backoff)
        if retry_after is not None:
            return max(min(retry_after, self.max_retry_after), jittered if retry_after else 0.0)
        return jittered


@dataclass(slots=True)
class Request:
    """A request described independently of sync or async sending."""

    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    params: Mapping[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: The path shown in errors and logs (no host, no credentials).
    label: str = ""
    #: Default headers (lower case) this request must not carry: the Cloudflare token's
    #: ``authorization`` on a call whose upstream is another provider without a key of its
    #: own, so the token never travels towards that provider.
    omit: tuple[str, ...] = ()
    #: The Workers AI model this request runs, if any: its requests-per-minute limit applies
    #: (see :mod:`cloudflare_ai.ratelimit`).
    model: str | None = None

    def build(
        self, client: httpx.Client | httpx.AsyncClient, base_headers: Mapping[str, str]
    ) -> httpx.Request:
        body = self.content
        kept = {k: v for k, v in base_headers.items() if k.lower() not in self.omit}
        headers = {**kept, **self.headers}
        if self.json is not None:
            body = orjson.dumps(self.json, option=orjson.OPT_SERIALIZE_NUMPY)
            headers.setdefault("content-type", "application/json")
        return client.build_request(
            self.method, self.url, content=body, params=self.params, headers=headers
        )


def should_retry(response: httpx.Response, body: bytes) -> bool:
    """Whether a failed response is worth trying again."""
    code, _, _ = parse_error_body(body)
    if code == 3036:  # daily quota: waiting seconds will not help
        return False
    if code in RETRYABLE_CODES:
        return True
    return response.status_code in RETRYABLE_STATUS


def _connection_error(exc: httpx.TransportError, request: Request) -> APIError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"request timed out ({type(exc).__name__})", method=request.method, path=request.label
        )
    return APIConnectionError(
        f"connection failed: {type(exc).__name__}: {exc}",
        method=request.method,
        path=request.label,
    )


def _headers(settings: ClientSettings) -> dict[str, str]:
    return {
        "authorization": f"Bearer {settings.api_token.get_secret_value()}",
        "user-agent": f"cloudflare-ai-python/{__version__}",
        # vcrpy cannot decode zstd, and Cloudflare compresses with gzip/br anyway.
        "accept-encoding": "gzip, deflate",
        **settings.default_headers,
    }


def _timeout(settings: ClientSettings) -> httpx.Timeout:
    return httpx.Timeout(settings.timeout, connect=settings.connect_timeout)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verified TLS context for every client: building one costs ~20 ms, and adapters
    create clients per event loop."""
    return ssl.create_default_context(cafile=certifi.where())


def _limits(settings: ClientSettings) -> httpx.Limits:
    pool = max(10, settings.max_concurrency * 2)
    return httpx.Limits(max_connections=pool, max_keepalive_connections=pool)


class _Base:
    def __init__(self, settings: ClientSettings, retry: RetryPolicy | None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy(max_retries=settings.max_retries)
        self._auth_headers = _headers(settings)

    def _rate_limiter(self, request: Request) -> ratelimit.ModelRateLimiter | None:
        """The shared limiter that holds this attempt back, or None when none applies. Looked
        up for every attempt, so every client of an account shares one (process-wide)."""
        settings = self.settings
        if request.model is None or not ratelimit.applies(settings.rate_limits, request.url):
            return None
        return ratelimit.shared_limiter(
            settings.account_id,
            settings.base_url,
            settings.rate_limits,
            settings.rate_limit_window,
        )

    def _wait_after_exception(
        self, exc: httpx.TransportError, request: Request, attempt: int
    ) -> float:
        """Seconds to wait before retrying after a connection failure; raises when spent."""
        if attempt >= self.retry.max_retries:
            raise _connection_error(exc, request) from exc
        wait = self.retry.delay(attempt + 1, None)
        self._log_retry(request, attempt + 1, wait, type(exc).__name__)
        return wait

    def _wait_after_response(
        self, response: httpx.Response, body: bytes, request: Request, attempt: int
    ) -> float:
        """Seconds to wait before retrying a failed answer; raises the typed error when the
        answer is final or retries are spent."""
        if attempt < self.retry.max_retries and should_retry(response, body):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            wait = self.retry.delay(attempt + 1, retry_after)
            self._log_retry(request, attempt + 1, wait, f"HTTP {response.status_code}")
            return wait
        raise error_from_response(response, body, path=request.label)

    def _log_retry(self, request: Request, attempt: int, wait: float, why: str) -> None:
        logger.info(
            "retrying %s %s in %.2fs (retry %d of %d): %s",
            request.method,
            request.label,
            wait,
            attempt,
            self.retry.max_retries,
            why,
        )

    @staticmethod
    def _log_done(request: Request, response: httpx.Response, started: float) -> None:
        logger.debug(
            "%s %s -> %d in %.1f ms",
            request.method,
            request.label,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )


class SyncTransport(_Base):
    """Sends requests through one pooled :class:`httpx.Client`, retrying transient failures."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(settings, retry)
        self._owns_client = http_client is None
        self.client = http_client or httpx.Client(
            timeout=_timeout(settings), limits=_limits(settings), verify=_ssl_context()
        )

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def _open(self, request: Request, *, stream: bool) -> httpx.Response:
        """Send until a successful answer arrives (body unread when streaming)."""
        attempt = 0
        while True:
            limiter = self._rate_limiter(request)
            if limiter is not None and request.model is not None:
                limiter.acquire(request.model)
            started = time.perf_counter()
            try:
                built = request.build(self.client, self._auth_headers)
                response = self.client.send(built, stream=stream)
                if response.is_success:
                    if not stream:
                        response.read()
                    self._log_done(request, response, started)
                    return response
                try:
                    body = response.read()
                finally:
                    response.close()
            except httpx.TransportError as exc:
                wait = self._wait_after_exception(exc, request, attempt)
            else:
                self._log_done(request, response, started)
                wait = self._wait_after_response(response, body, request, attempt)
            attempt += 1
            time.sleep(wait)

    def send(self, request: Request) -> httpx.Response:
        """Send and read the whole response; raise a typed error once retries are spent."""
        return self._open(request, stream=False)

    @contextmanager
    def stream(self, request: Request) -> Iterator[httpx.Response]:
        """Open a streaming response. Failures before a successful answer starts are retried;
        once the body is flowing, errors surface to the reader."""
        response = self._open(request, stream=True)
        try:
            yield response
        finally:
            response.close()


class AsyncTransport(_Base):
    """The asyncio twin of :class:`SyncTransport`, over one pooled :class:`httpx.AsyncClient`
    (whose sockets are aiohttp's when it is installed: see :mod:`cloudflare_ai.aiohttp_backend`)."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(settings, retry)
        self._owns_client = http_client is None
        if http_client is not None:
            self.client = http_client
        elif aiohttp_backend.wanted(settings.http_backend):
            self.client = aiohttp_backend.async_client(
                timeout=_timeout(settings), limits=_limits(settings), verify=_ssl_context()
            )
        else:
            self.client = httpx.AsyncClient(
                timeout=_timeout(settings), limits=_limits(settings), verify=_ssl_context()
            )

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def _open(self, request: Request, *, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            limiter = self._rate_limiter(request)
            if limiter is not None and request.model is not None:
                await limiter.aacquire(request.model)
            started = time.perf_counter()
            try:
                built = request.build(self.client, self._auth_headers)
                response = await self.client.send(built, stream=stream)
                if response.is_success:
                    if not stream:
                        await response.aread()
                    self._log_done(request, response, started)
                    return response
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                wait = self._wait_after_exception(exc, request, attempt)
            else:
                self._log_done(request, response, started)
                wait = self._wait_after_response(response, body, request, attempt)
            attempt += 1
            await asyncio.sleep(wait)

    async def send(self, request: Request) -> httpx.Response:
        return await self._open(request, stream=False)

    @asynccontextmanager
    async def stream(self, request: Request) -> AsyncIterator[httpx.Response]:
        response = await self._open(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()


def decode_json(response: httpx.Response) -> Any:
    """The JSON body of a response (orjson, fast for large embedding and vector payloads).

    A body that is not JSON (a proxy's HTML page, a truncated answer) is an APIError, not a
    decoder exception."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        request = response.request
        snippet = response.content[:120].decode("utf-8", "replace")
        raise APIError(
            f"Cloudflare answered HTTP {response.status_code} with a body that is not JSON: "
            f"{snippet!r}",
            status_code=response.status_code,
            request_id=response.headers.get("cf-ray"),
            method=request.method if request else None,
            path=request.url.path if request else None,
        ) from None


def envelope_result(response: httpx.Response, request: Request) -> Any:
    """``result`` of Cloudflare's ``{success, result, errors}`` envelope, raising on
    ``success: false`` even with a 2xx status."""
    data = decode_json(response)
    if isinstance(data, dict) and "success" in data:
        if data.get("success") is False:
            raise error_from_response(response, response.content, path=request.label)
        return data.get("result")
    return data


def envelope_page(response: httpx.Response, request: Request) -> tuple[Any, dict[str, Any]]:
    """``result`` and ``result_info`` (paging: page, per_page, count, total_count) of an
    envelope, raising like :func:`envelope_result` on ``success: false``."""
    data = decode_json(response)
    if isinstance(data, dict) and "success" in data:
        if data.get("success") is False:
            raise error_from_response(response, response.content, path=request.label)
        info = data.get("result_info")
        return data.get("result"), info if isinstance(info, dict) else {}
    return data, {}


def response_headers(response: httpx.Response, prefix: str = "cf-") -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith(prefix)}
