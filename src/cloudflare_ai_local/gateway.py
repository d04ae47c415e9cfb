"""AI Gateway in front of the local Workers AI: caching, custom metadata, logging, the
Universal endpoint's ordered fallbacks and authenticated gateways.

Retry and timeout headers (``cf-aig-max-attempts``, ``-retry-delay``, ``-backoff``,
``-request-timeout``) are validated and logged; the local upstream answers at once, so
only failures it returns (5xx/429) are retried.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cloudflare_ai import limits

from . import errors
from .errors import ApiError, bad_input, error_response, json_response
from .workers_ai import AiOutcome

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DEFAULT_CUSTOM_KEY_TTL = 300  # seconds; documented default when only a cache key is sent


def new_log_id() -> str:
    """A 26-character ULID: 48-bit millisecond time plus 80 random bits, Crockford base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


@dataclass(slots=True)
class GatewayLogEntry:
    """One gateway request as the gateway's log would show it."""

    id: str
    event_id: str
    gateway_id: str
    path: str
    model: str | None
    status: int
    cache_status: str
    metadata: dict[str, Any]
    step: int | None
    duration_ms: float
    created_at: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Cached:
    body: bytes
    status: int
    headers: dict[str, str]
    expires: float


@dataclass(slots=True)
class GatewayOptions:
    skip_cache: bool
    cache_ttl: int | None
    cache_key: str | None
    metadata: dict[str, Any]
    request_timeout_ms: int | None
    max_attempts: int
    retry_delay_ms: int
    backoff: str
    collect_log: bool


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(errors.GATEWAY_BAD_REQUEST, detail=f"{name} must be an integer") from exc


def parse_options(headers: Mapping[str, str]) -> GatewayOptions:
    skip = (headers.get("cf-aig-skip-cache") or headers.get("cf-skip-cache") or "").lower()
    ttl = _int_header(headers, "cf-aig-cache-ttl")
    if ttl is None:
        ttl = _int_header(headers, "cf-cache-ttl")
    if ttl is not None:
        ttl = min(max(ttl, limits.GATEWAY_MIN_CACHE_TTL), limits.GATEWAY_MAX_CACHE_TTL)
    metadata: dict[str, Any] = {}
    raw_meta = headers.get("cf-aig-metadata")
    if raw_meta:
        try:
            parsed = orjson.loads(raw_meta)
        except orjson.JSONDecodeError as exc:
            raise ApiError(
                errors.GATEWAY_BAD_REQUEST, detail="cf-aig-metadata must be a JSON object"
            ) from exc
        if not isinstance(parsed, dict):
            raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="cf-aig-metadata must be an object")
        kept = [(k, v) for k, v in parsed.items() if isinstance(v, str | int | float | bool)]
        metadata = dict(kept[: limits.GATEWAY_MAX_METADATA_ENTRIES])
    attempts = _int_header(headers, "cf-aig-max-attempts") or 1
    delay = _int_header(headers, "cf-aig-retry-delay") or 0
    backoff = headers.get("cf-aig-backoff", "constant")
    if backoff not in limits.GATEWAY_BACKOFFS:
        raise ApiError(
            errors.GATEWAY_BAD_REQUEST,
            detail=f"cf-aig-backoff must be one of {list(limits.GATEWAY_BACKOFFS)}",
        )
    return GatewayOptions(
        skip_cache=skip == "true",
        cache_ttl=ttl,
        cache_key=headers.get("cf-aig-cache-key") or None,
        metadata=metadata,
        request_timeout_ms=_int_header(headers, "cf-aig-request-timeout"),
        max_attempts=min(max(attempts, 1), limits.GATEWAY_MAX_ATTEMPTS),
        retry_delay_ms=min(max(delay, 0), limits.GATEWAY_MAX_RETRY_DELAY_MS),
        backoff=backoff,
        collect_log=(headers.get("cf-aig-collect-log", "true").lower() != "false"),
    )


Upstream = Callable[[], AiOutcome]


class Gateway:
    """State of every local gateway: the response cache and the request log."""

    def __init__(self, api_token: str, gateway_token: str | None, default_ttl: int | None) -> None:
        self.api_token = api_token
        self.gateway_token = gateway_token
        self.default_ttl = default_ttl
        self._cache: dict[tuple[str, bytes, str], _Cached] = {}
        self._lock = threading.Lock()
        self.logs: list[GatewayLogEntry] = []

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def check_gateway_auth(self, request: Request) -> None:
        if self.gateway_token is None:
            return
        given = request.headers.get("cf-aig-authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.gateway_token}".encode()):
            raise ApiError(errors.GATEWAY_AUTH)

    def check_upstream_auth(self, authorization: str | None) -> None:
        if not hmac.compare_digest(
            (authorization or "").encode(), f"Bearer {self.api_token}".encode()
        ):
            raise ApiError(errors.AUTH)

    async def _attempt(self, upstream: Upstream, opts: GatewayOptions) -> Response:
        response: Response | None = None
        for attempt in range(opts.max_attempts):
            try:
                response = upstream().response()
            except ApiError as err:
                response = error_response(err)
            if response.status_code < 500 and response.status_code != 429:
                return response
            if attempt + 1 < opts.max_attempts and opts.retry_delay_ms:
                factor = {"constant": 1, "linear": attempt + 1, "exponential": 2**attempt}
                await asyncio.sleep(opts.retry_delay_ms * factor[opts.backoff] / 1000)
        assert response is not None
        return response

    async def handle(
        self,
        request: Request,
        gateway_id: str,
        model: str | None,
        upstream: Upstream,
        streaming: bool,
        raw_body: bytes,
    ) -> Response:
        started = time.monotonic()
        self.check_gateway_auth(request)
        opts = parse_options(request.headers)
        self.check_upstream_auth(request.headers.get("authorization"))
        ttl = opts.cache_ttl or (DEFAULT_CUSTOM_KEY_TTL if opts.cache_key else self.default_ttl)
        key = (request.url.path, raw_body, opts.cache_key or "")
        cache_status = "MISS"
        response: Response
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key) if not opts.skip_cache and not streaming else None
            if hit is not None and hit.expires < now:
                del self._cache[key]
                hit = None
        if hit is not None:
            cache_status = "HIT"
            response = Response(hit.body, hit.status, headers=hit.headers)
        else:
            response = await self._attempt(upstream, opts)
            if ttl and not streaming and 200 <= response.status_code < 300:
                kept = {
                    k: v
                    for k, v in response.headers.items()
                    if k in ("content-type", "x-local-engine")
                }
                with self._lock:
                    self._cache[key] = _Cached(
                        bytes(response.body), response.status_code, kept, now + ttl
                    )
        return self.finish(
            response, gateway_id, request.url.path, model, cache_status, opts, None, started
        )

    def finish(
        self,
        response: Response,
        gateway_id: str,
        path: str,
        model: str | None,
        cache_status: str,
        opts: GatewayOptions,
        step: int | None,
        started: float,
    ) -> Response:
        log_id, event_id = new_log_id(), str(uuid.uuid4())
        response.headers["cf-aig-cache-status"] = cache_status
        response.headers["cf-aig-log-id"] = log_id
        response.headers["cf-aig-event-id"] = event_id
        if step is not None:
            response.headers["cf-aig-step"] = str(step)
        if opts.collect_log:
            entry = GatewayLogEntry(
                log_id,
                event_id,
                gateway_id,
                path,
                model,
                response.status_code,
                cache_status,
                opts.metadata,
                step,
                (time.monotonic() - started) * 1000,
                time.time(),
                {
                    "skip_cache": opts.skip_cache,
                    "cache_ttl": opts.cache_ttl,
                    "cache_key": opts.cache_key,
                    "request_timeout_ms": opts.request_timeout_ms,
                    "max_attempts": opts.max_attempts,
                    "retry_delay_ms": opts.retry_delay_ms,
                    "backoff": opts.backoff,
                },
            )
            with self._lock:
                self.logs.append(entry)
        return response


def json_or_bad_input(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_input("Error: request body is not valid JSON") from exc


Handler = Callable[[Request], Awaitable[Response]]
__all__ = ["Gateway", "GatewayLogEntry", "json_or_bad_input", "json_response", "new_log_id"]
