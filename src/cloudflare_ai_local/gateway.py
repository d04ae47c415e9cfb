"""AI Gateway in front of the local Workers AI: each gateway's settings applied at runtime
(cache TTL, logging, authentication, rate limit, retry defaults), caching, custom metadata,
retries with delays and backoff against scripted upstream faults, request timeouts, and a
log entry per request with tokens, neurons and cost.

Gateways are records in a :class:`~.gateway_store.GatewayStore` (SQLite, persisted with the
emulator's ``data_dir``). An unknown gateway id is created on first use with default settings
(UNCERTAIN: Cloudflare now creates a "default" gateway automatically, and may refuse other
unknown ids; the emulator creates any id, so tests need no setup). The management and logs
REST API over the same store lives in :mod:`.gateway_api`.
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
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cloudflare_ai import limits

from . import engines, errors
from .errors import ApiError, bad_input, error_response, json_response
from .faults import FaultController, apply_model_fault
from .gateway_ratelimit import RateLimiter, retry_after
from .gateway_redact import redact_body, redact_head
from .gateway_store import GatewayLogEntry, GatewayRecord, GatewayStore
from .gateway_usage import (
    estimated_embedding_tokens,
    model_type,
    priced,
    usage_of_bytes,
    usage_of_events,
    usage_of_json,
)
from .workers_ai import AiOutcome

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DEFAULT_CUSTOM_KEY_TTL = 300  # seconds; documented default when only a cache key is sent


def new_log_id() -> str:
    """A 26-character ULID: 48-bit millisecond time plus 80 random bits, Crockford base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


@dataclass(slots=True)
class _Cached:
    body: bytes
    status: int
    headers: dict[str, str]
    expires: float


@dataclass(slots=True)
class GatewayOptions:
    """A request's ``cf-aig-*`` options. ``given`` names those the request set itself, so
    the gateway's own settings fill in the others (see :meth:`Gateway.effective`)."""

    skip_cache: bool
    cache_ttl: int | None
    cache_key: str | None
    metadata: dict[str, Any]
    request_timeout_ms: int | None
    max_attempts: int
    retry_delay_ms: int
    backoff: str
    collect_log: bool
    given: frozenset[str] = field(default_factory=frozenset)


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
        given=frozenset(name for header, name in _OPTION_HEADERS if headers.get(header)),
    )


#: Request headers whose absence lets the gateway's settings decide.
_OPTION_HEADERS = (
    ("cf-aig-max-attempts", "max_attempts"),
    ("cf-aig-retry-delay", "retry_delay_ms"),
    ("cf-aig-backoff", "backoff"),
    ("cf-aig-collect-log", "collect_log"),
)


Upstream = Callable[[], AiOutcome]

#: Statuses after which the gateway tries the upstream again (with cf-aig-max-attempts > 1).
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class UpstreamResult:
    """The last upstream answer, the outcome behind it (None after an error) and how many
    attempts it took."""

    response: Response
    outcome: AiOutcome | None
    attempts: int


def relative_path(path: str, gateway_id: str) -> str:
    """The part of a gateway URL after the gateway id (``workers-ai/@cf/...``); "" for the
    Universal endpoint."""
    marker = f"/{gateway_id}"
    at = path.find(marker + "/")
    if at < 0:
        return "" if path.endswith(marker) else path
    return path[at + len(marker) + 1 :]


def request_type_of(path: str) -> str:
    """What kind of call a gateway path is, for the log's ``request_type``.

    UNCERTAIN: Cloudflare's values are not documented; ours are ``universal``, ``chat``,
    ``embeddings`` and ``run``."""
    if not path:
        return "universal"
    if path.endswith("chat/completions"):
        return "chat"
    if path.endswith("embeddings"):
        return "embeddings"
    return "run"


class Gateway:
    """Every local gateway: settings and logs (in the store), the response cache and the
    rate limiter (in memory)."""

    def __init__(
        self,
        api_token: str,
        gateway_token: str | None,
        default_ttl: int | None,
        *,
        store: GatewayStore | None = None,
        faults: FaultController | None = None,
    ) -> None:
        self.api_token = api_token
        self.gateway_token = gateway_token
        #: Cache TTL of gateways created on first use.
        self.default_ttl = default_ttl
        self.store = store or GatewayStore()
        self.faults = faults
        self.limiter = RateLimiter()
        self._cache: dict[tuple[str, str, bytes, str], _Cached] = {}
        self._lock = threading.Lock()

    # --- gateways ------------------------------------------------------------------------

    def defaults(self) -> dict[str, Any]:
        """Settings of a gateway created on first use: the emulator's cache TTL, logs on, and
        authentication on when the emulator was given a gateway token."""
        return {"cache_ttl": self.default_ttl, "authentication": self.gateway_token is not None}

    def record(self, gateway_id: str) -> GatewayRecord:
        """The gateway's settings, creating it with :meth:`defaults` on first use."""
        return self.store.ensure(gateway_id, self.defaults())

    def settings_changed(self, record: GatewayRecord, *, deleted: bool = False) -> None:
        """Apply a management change: restart the rate-limit windows and drop the gateway's
        cached answers when it was deleted or asks for that on update."""
        self.limiter.reset(record.id)
        if deleted or record.cache_invalidate_on_update:
            self.clear_cache(record.id)

    @property
    def logs(self) -> list[GatewayLogEntry]:
        """Every gateway's log, oldest first."""
        return self.store.all_logs()

    def clear_cache(self, gateway_id: str | None = None) -> None:
        with self._lock:
            if gateway_id is None:
                self._cache.clear()
            else:
                for key in [k for k in self._cache if k[0] == gateway_id]:
                    del self._cache[key]

    def close(self) -> None:
        self.store.close()

    # --- admission -----------------------------------------------------------------------

    def check_gateway_auth(self, request: Request, gateway_id: str | None = None) -> GatewayRecord:
        """Admit a request to a gateway: its token when the gateway is authenticated, then its
        rate limit (429 with ``Retry-After`` when over). Every gateway route calls this first.

        UNCERTAIN: Cloudflare's gateway token is an API token with AI Gateway Run permission;
        here the emulator's gateway token and its API token are both accepted."""
        gid = gateway_id or str(request.path_params.get("gateway_id", ""))
        record = self.record(gid)
        if record.authentication:
            given = request.headers.get("cf-aig-authorization", "").encode()
            tokens = [t for t in (self.gateway_token, self.api_token) if t]
            if not any(hmac.compare_digest(given, f"Bearer {t}".encode()) for t in tokens):
                raise ApiError(errors.GATEWAY_AUTH)
        if record.rate_limiting_limit and record.rate_limiting_interval:
            wait = self.limiter.admit(
                gid,
                record.rate_limiting_limit,
                record.rate_limiting_interval,
                record.rate_limiting_technique,
            )
            if wait is not None:
                raise ApiError(
                    errors.GATEWAY_RATE_LIMITED, headers={"retry-after": retry_after(wait)}
                )
        return record

    def check_upstream_auth(self, authorization: str | None) -> None:
        if not hmac.compare_digest(
            (authorization or "").encode(), f"Bearer {self.api_token}".encode()
        ):
            raise ApiError(errors.AUTH)

    @staticmethod
    def effective(opts: GatewayOptions, record: GatewayRecord) -> GatewayOptions:
        """``opts`` with the gateway's retry and logging settings where the request set none."""
        if "max_attempts" not in opts.given and record.retry_max_attempts:
            opts.max_attempts = min(max(record.retry_max_attempts, 1), limits.GATEWAY_MAX_ATTEMPTS)
        if "retry_delay_ms" not in opts.given and record.retry_delay is not None:
            opts.retry_delay_ms = max(record.retry_delay, 0)
        if "backoff" not in opts.given and record.retry_backoff in limits.GATEWAY_BACKOFFS:
            opts.backoff = str(record.retry_backoff)
        if "collect_log" not in opts.given:
            opts.collect_log = record.collect_logs
        return opts

    # --- the upstream call ---------------------------------------------------------------

    async def _upstream_fault(self, model: str | None, timeout_ms: int | None) -> None:
        """The scripted fault of ``model``'s next call, if any (an error, or a slow answer
        that a request timeout turns into a gateway timeout)."""
        if self.faults is None:
            return
        if timeout_ms is None:
            await apply_model_fault(self.faults, model)
            return
        try:
            await asyncio.wait_for(apply_model_fault(self.faults, model), timeout_ms / 1000)
        except TimeoutError:
            raise ApiError(errors.GATEWAY_TIMEOUT) from None

    @staticmethod
    async def _run_upstream(upstream: Upstream, timeout_ms: int | None) -> AiOutcome:
        """The upstream's outcome with any stream read whole (logged and cached as one body).
        A local model (engine="models") takes real time, so the request timeout bounds it too;
        the answer it abandons finishes in its thread (at most ``max_tokens``)."""
        call = engines.call(lambda: upstream().materialized())
        if not (timeout_ms and engines.using_models()):
            return await call
        try:
            return await asyncio.wait_for(call, timeout_ms / 1000)
        except TimeoutError:
            raise ApiError(errors.GATEWAY_TIMEOUT) from None

    async def call_upstream(
        self, upstream: Upstream, opts: GatewayOptions, model: str | None = None
    ) -> UpstreamResult:
        """Call the upstream up to ``opts.max_attempts`` times while it fails with a 429,
        5xx or timeout, waiting ``retry_delay_ms`` times 1 (constant), n (linear) or 2^(n-1)
        (exponential) between attempts. A request timeout counts as a failed attempt.

        UNCERTAIN: which failures Cloudflare retries is not documented; these are the
        transient ones."""
        response: Response | None = None
        outcome: AiOutcome | None = None
        attempts = 0
        for attempt in range(opts.max_attempts):
            attempts = attempt + 1
            outcome = None
            try:
                await self._upstream_fault(model, opts.request_timeout_ms)
                outcome = await self._run_upstream(upstream, opts.request_timeout_ms)
                response = outcome.response()
            except ApiError as err:
                response = error_response(err)
            if response.status_code not in RETRIED_STATUSES:
                break
            if attempts < opts.max_attempts and opts.retry_delay_ms:
                factor = {"constant": 1, "linear": attempts, "exponential": 2**attempt}
                await asyncio.sleep(opts.retry_delay_ms * factor[opts.backoff] / 1000)
        assert response is not None
        return UpstreamResult(response, outcome, attempts)

    async def _attempt(self, upstream: Upstream, opts: GatewayOptions) -> Response:
        """The upstream's answer after retries (see :meth:`call_upstream`)."""
        return (await self.call_upstream(upstream, opts)).response

    # --- one request ---------------------------------------------------------------------

    async def handle(
        self,
        request: Request,
        gateway_id: str,
        model: str | None,
        upstream: Upstream,
        streaming: bool,
        raw_body: bytes,
        *,
        provider: str = "workers-ai",
    ) -> Response:
        """Serve one provider request through the gateway: admission, cache, upstream with
        retries, then :meth:`finish` (headers and the log entry)."""
        started = time.monotonic()
        record = self.check_gateway_auth(request, gateway_id)
        opts = self.effective(parse_options(request.headers), record)
        self.check_upstream_auth(request.headers.get("authorization"))
        ttl = (
            opts.cache_ttl
            or record.cache_ttl
            or (DEFAULT_CUSTOM_KEY_TTL if opts.cache_key else None)
        )
        key = (gateway_id, request.url.path, raw_body, opts.cache_key or "")
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key) if not opts.skip_cache and not streaming else None
            if hit is not None and hit.expires < now:
                del self._cache[key]
                hit = None
        if hit is not None:
            response = Response(hit.body, hit.status, headers=hit.headers)
            return self.finish(
                response,
                gateway_id,
                request.url.path,
                model,
                "HIT",
                opts,
                None,
                started,
                provider=provider,
                request=request,
                request_body=raw_body,
                attempts=0,
            )
        result = await self.call_upstream(upstream, opts, model)
        response = result.response
        if ttl and not streaming and 200 <= response.status_code < 300:
            kept = {
                k: v for k, v in response.headers.items() if k in ("content-type", "x-local-engine")
            }
            with self._lock:
                self._cache[key] = _Cached(
                    bytes(response.body), response.status_code, kept, now + ttl
                )
        tokens: tuple[int, int] | None = None
        response_body: bytes | None = None
        outcome = result.outcome
        if outcome is not None and outcome.events is not None:
            response_body = b"".join(outcome.events)
            tokens = usage_of_events(outcome.events)
        elif outcome is not None and outcome.media is None:
            tokens = usage_of_json(outcome.body)
        return self.finish(
            response,
            gateway_id,
            request.url.path,
            model,
            "MISS",
            opts,
            None,
            started,
            provider=provider,
            request=request,
            request_body=raw_body,
            response_body=response_body,
            attempts=result.attempts,
            tokens_in=tokens[0] if tokens else None,
            tokens_out=tokens[1] if tokens else None,
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
        *,
        provider: str = "workers-ai",
        request: Request | None = None,
        request_body: bytes | None = None,
        response_body: bytes | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        attempts: int = 1,
    ) -> Response:
        """Stamp the gateway's response headers and log the request (unless logging is off
        for it). Tokens not given are read from the response body's ``usage`` (a non-
        streaming response), or estimated for embeddings; neurons and cost are priced with
        :func:`cloudflare_ai.costs.cost_of`, and are zero for cache hits and failures (no
        upstream call was billed). UNCERTAIN: what Cloudflare's logs show as cost there."""
        log_id, event_id = new_log_id(), str(uuid.uuid4())
        response.headers["cf-aig-cache-status"] = cache_status
        response.headers["cf-aig-log-id"] = log_id
        response.headers["cf-aig-event-id"] = event_id
        if step is not None:
            response.headers["cf-aig-step"] = str(step)
        collect = opts.collect_log
        if "collect_log" not in opts.given:
            collect = self.record(gateway_id).collect_logs
        if not collect:
            return response
        if response_body is None:
            response_body = getattr(response, "body", None)
        if tokens_in is None:
            found = usage_of_bytes(response_body)
            if found is None and 200 <= response.status_code < 300:
                estimate = estimated_embedding_tokens(model, request_body)
                found = (estimate, 0) if estimate is not None else None
            tokens_in, tokens_out = found or (0, 0)
        tokens_out = tokens_out or 0
        success = 200 <= response.status_code < 300
        neurons: float | None = 0.0
        cost: float | None = 0.0
        if success and cache_status != "HIT":
            neurons, cost = priced(model, tokens_in, tokens_out)
        relative = relative_path(path, gateway_id)
        entry = GatewayLogEntry(
            id=log_id,
            event_id=event_id,
            gateway_id=gateway_id,
            path=path,
            model=model,
            status=response.status_code,
            cache_status=cache_status,
            metadata=opts.metadata,
            step=step,
            duration_ms=(time.monotonic() - started) * 1000,
            # Whole microseconds, so the time read back from its ISO form is equal.
            created_at=datetime.now(UTC).timestamp(),
            options={
                "skip_cache": opts.skip_cache,
                "cache_ttl": opts.cache_ttl,
                "cache_key": opts.cache_key,
                "request_timeout_ms": opts.request_timeout_ms,
                "max_attempts": opts.max_attempts,
                "retry_delay_ms": opts.retry_delay_ms,
                "backoff": opts.backoff,
            },
            provider=provider,
            model_type=model_type(model),
            request_type=request_type_of(relative),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            neurons=neurons,
            cost=cost,
            attempts=attempts,
            request_content_type=request.headers.get("content-type") if request else None,
            response_content_type=response.headers.get("content-type"),
            request_head=redact_head(request.headers.items()) if request else "",
            response_head=redact_head(response.headers.items()),
        )
        record = self.record(gateway_id)
        self.store.add_log(
            entry,
            redact_body(request_body),
            bytes(response_body) if response_body is not None else None,
            record.log_management,
            record.log_management_strategy,
        )
        return response


def json_or_bad_input(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_input("Error: request body is not valid JSON") from exc


Handler = Callable[[Request], Awaitable[Response]]
__all__ = ["Gateway", "GatewayLogEntry", "json_or_bad_input", "json_response", "new_log_id"]
