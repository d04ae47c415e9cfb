"""AI Gateway management, logs and analytics clients (sync and async).

:class:`AIGatewayClient` and :class:`AsyncAIGatewayClient` speak Cloudflare's REST API under
``/accounts/{account_id}/ai-gateway/gateways``, with the same credentials, retries and typed
errors as the Workers AI and Vectorize clients:

- gateways: create (cache, rate limit, logging and authentication settings), get, list,
  update (only what you change; the rest is kept) and delete;
- logs: one page (:meth:`~AIGatewayClient.list_logs`) or every page
  (:meth:`~AIGatewayClient.iter_logs`) with filters (cached, success, model, provider, time
  range, feedback, metadata, or any raw :class:`LogFilter`), one log, its request and
  response bodies, feedback, and deleting logs by filter;
- :meth:`~AIGatewayClient.analytics`: requests, errors, cache hits, tokens, neurons, cost and
  latency percentiles per model, computed from the logs (see
  :mod:`cloudflare_ai.gateway_analytics` for why and what that means).

Filters are sent as the Cloudflare SDK sends them: simple query parameters where the API has
them, and repeated ``filters.key`` / ``filters.operator`` / ``filters.value`` triples for the
rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import quote, urlencode

import httpx
import orjson

from . import limits
from .config import ClientSettings, MetadataValue
from .errors import ConflictError, NotFoundError, ValidationError
from .gateway_analytics import summarize
from .gateway_types import (
    AIGateway,
    Backoff,
    FilterOperator,
    GatewayAnalytics,
    GatewayLog,
    LogFilter,
    LogPage,
    RateLimitTechnique,
)
from .transport import (
    AsyncTransport,
    Request,
    RetryPolicy,
    SyncTransport,
    envelope_page,
    envelope_result,
)

Direction = Literal["asc", "desc"]
Feedback = Literal[-1, 1]
#: Logs asked for per page when iterating (UNCERTAIN: Cloudflare's maximum is not documented;
#: the local emulator allows 50).
PAGE_SIZE: Final = 50


class _Unset:
    """The type of :data:`UNSET`: "leave this setting as it is"."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()

#: Fields Cloudflare requires in every create and update body.
_REQUIRED = (
    "cache_invalidate_on_update",
    "cache_ttl",
    "collect_logs",
    "rate_limiting_interval",
    "rate_limiting_limit",
)
_SETTINGS = (
    *_REQUIRED,
    "rate_limiting_technique",
    "authentication",
    "retry_max_attempts",
    "retry_delay",
    "retry_backoff",
    "log_management",
    "log_management_strategy",
)


def _check_id(gateway_id: str) -> str:
    if not isinstance(gateway_id, str) or not gateway_id or "/" in gateway_id:
        raise ValidationError(
            f"gateway id must be a non-empty name without '/', got {gateway_id!r}"
        )
    return gateway_id


def _check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings checked before sending, so a mistake is named instead of answered with 400."""
    out = dict(settings)
    ttl = out.get("cache_ttl")
    if ttl is not None and not 0 <= ttl <= limits.GATEWAY_MAX_CACHE_TTL:
        raise ValidationError(
            f"cache_ttl must be 0..{limits.GATEWAY_MAX_CACHE_TTL} seconds or None"
        )
    interval, limit = out.get("rate_limiting_interval"), out.get("rate_limiting_limit")
    if (interval is None) != (limit is None):
        raise ValidationError(
            "set both rate_limiting_interval and rate_limiting_limit (or neither)"
        )
    for name in ("rate_limiting_interval", "rate_limiting_limit"):
        if out.get(name) is not None and out[name] < 1:
            raise ValidationError(f"{name} must be at least 1")
    if out.get("rate_limiting_technique") not in (None, "fixed", "sliding"):
        raise ValidationError("rate_limiting_technique must be 'fixed' or 'sliding'")
    attempts = out.get("retry_max_attempts")
    if attempts is not None and not 1 <= attempts <= limits.GATEWAY_MAX_ATTEMPTS:
        raise ValidationError(f"retry_max_attempts must be 1..{limits.GATEWAY_MAX_ATTEMPTS}")
    if out.get("retry_backoff") not in (None, *limits.GATEWAY_BACKOFFS):
        raise ValidationError(f"retry_backoff must be one of {list(limits.GATEWAY_BACKOFFS)}")
    return out


def _iso(when: datetime) -> str:
    """``when`` in UTC as Cloudflare's filters take it (a naive time is read as UTC)."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _body(response: httpx.Response) -> Any:
    """A stored request or response body: JSON when it is JSON, else the bytes."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.content


class _GatewaysBase:
    """Request building and parsing shared by the sync and async clients."""

    settings: ClientSettings

    def _req(
        self,
        method: str,
        *parts: str,
        json: Any = None,
        query: Sequence[tuple[str, str]] = (),
    ) -> Request:
        path = "/ai-gateway/gateways" + "".join("/" + quote(p, safe="") for p in parts)
        url = f"{self.settings.account_url}{path}"
        if query:
            # Built here, not by httpx: repeated filter triples must keep their order.
            url += "?" + urlencode(list(query))
        return Request(method, url, json=json, label=path)

    # --- gateways --------------------------------------------------------------------------

    def _create_request(self, gateway_id: str, settings: Mapping[str, Any]) -> Request:
        body = {"id": _check_id(gateway_id), **_check_settings(settings)}
        return self._req("POST", json=body)

    @staticmethod
    def _update_body(current: AIGateway, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The full update body: the gateway's current settings with ``changes`` applied
        (Cloudflare's update replaces the required settings, so all are sent)."""
        merged = current.model_dump(include=set(_SETTINGS))
        merged.update({k: v for k, v in changes.items() if not isinstance(v, _Unset)})
        merged = {k: v for k, v in merged.items() if k in _REQUIRED or v is not None}
        return _check_settings(merged)

    @staticmethod
    def _gateway(response: httpx.Response, request: Request) -> AIGateway:
        return AIGateway.model_validate(envelope_result(response, request))

    @staticmethod
    def _gateway_page(response: httpx.Response, request: Request) -> tuple[list[AIGateway], bool]:
        result, info = envelope_page(response, request)
        found = [AIGateway.model_validate(g) for g in result or []]
        return found, _more(info, len(found))

    # --- logs ------------------------------------------------------------------------------

    @staticmethod
    def _filters(
        *,
        cached: bool | None,
        success: bool | None,
        model: str | None,
        provider: str | None,
        start: datetime | None,
        end: datetime | None,
        feedback: Feedback | None,
        metadata: Mapping[str, MetadataValue] | None,
        filters: Sequence[LogFilter],
        simple: bool,
    ) -> list[tuple[str, str]]:
        """Query pairs for a set of filters. ``simple``: use the list endpoint's own
        parameters where it has one (deleting takes only ``filters``)."""
        pairs: list[tuple[str, str]] = []
        generic: list[LogFilter] = []
        for key, flag in (("cached", cached), ("success", success)):
            if flag is not None:
                if simple:
                    pairs.append((key, "true" if flag else "false"))
                else:
                    generic.append(LogFilter(key, "eq", (flag,)))
        for key, text in (("model", model), ("provider", provider)):
            if text is not None:
                if simple:
                    pairs.append((key, text))
                else:
                    generic.append(LogFilter(key, "eq", (text,)))
        bounds: tuple[tuple[str, FilterOperator, datetime | None], ...] = (
            ("start_date", "gt", start),
            ("end_date", "lt", end),
        )
        for param, operator, when in bounds:
            if when is not None:
                if simple:
                    pairs.append((param, _iso(when)))
                else:
                    generic.append(LogFilter("created_at", operator, (_iso(when),)))
        if feedback is not None:
            if feedback not in (-1, 1):
                raise ValidationError(f"feedback must be 1 or -1, got {feedback!r}")
            generic.append(LogFilter("feedback", "eq", (feedback,)))
        # UNCERTAIN: the API filters metadata keys and values separately; a key and a value
        # that each appear in a log's metadata match even when not paired.
        for key, meta in (metadata or {}).items():
            generic.append(LogFilter("metadata.key", "eq", (key,)))
            generic.append(LogFilter("metadata.value", "eq", (meta,)))
        for item in (*generic, *filters):
            pairs.append(("filters.key", item.key))
            pairs.append(("filters.operator", item.operator))
            for raw in item.values:
                shown = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
                pairs.append(("filters.value", shown))
        return pairs

    def _logs_request(
        self,
        gateway_id: str,
        page: int,
        per_page: int,
        order_by: str,
        direction: Direction,
        filter_pairs: list[tuple[str, str]],
    ) -> Request:
        if page < 1 or per_page < 1:
            raise ValidationError("page and per_page must be at least 1")
        query = [
            ("page", str(page)),
            ("per_page", str(per_page)),
            ("order_by", order_by),
            ("order_by_direction", direction),
            *filter_pairs,
        ]
        return self._req("GET", _check_id(gateway_id), "logs", query=query)

    @staticmethod
    def _log_page(response: httpx.Response, request: Request, page: int) -> LogPage:
        result, info = envelope_page(response, request)
        logs = [GatewayLog.model_validate(item) for item in result or []]
        return LogPage(
            logs=logs,
            page=int(info.get("page", page)),
            per_page=int(info.get("per_page", len(logs))),
            total_count=info.get("total_count"),
        )

    def _feedback_request(
        self, gateway_id: str, log_id: str, feedback: Feedback | None, score: float | None
    ) -> Request:
        if feedback not in (None, -1, 1):
            raise ValidationError(f"feedback must be 1 (thumbs up), -1 or None, got {feedback!r}")
        body: dict[str, Any] = {"feedback": feedback}
        if score is not None:
            body["score"] = score
        return self._req("PATCH", _check_id(gateway_id), "logs", log_id, json=body)

    def _delete_logs_request(
        self, gateway_id: str, filter_pairs: list[tuple[str, str]], limit: int | None
    ) -> Request:
        query = list(filter_pairs)
        if limit is not None:
            if limit < 1:
                raise ValidationError("limit must be at least 1")
            query.append(("limit", str(limit)))
        return self._req("DELETE", _check_id(gateway_id), "logs", query=query)

    @staticmethod
    def _deleted(response: httpx.Response, request: Request) -> int | None:
        result = envelope_result(response, request)
        if isinstance(result, Mapping) and isinstance(result.get("deleted"), int):
            return int(result["deleted"])
        return None


def _more(info: Mapping[str, Any], got: int) -> bool:
    """Whether another page follows, from ``result_info`` (or a full page without it)."""
    page, per_page = info.get("page"), info.get("per_page")
    total = info.get("total_count")
    if isinstance(total, int) and isinstance(page, int) and isinstance(per_page, int):
        return page * per_page < total
    return bool(got) and (not isinstance(per_page, int) or got >= per_page)


def _changes(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if not isinstance(v, _Unset)}


class AIGatewayClient(_GatewaysBase):
    """Synchronous AI Gateway management, logs and analytics client."""

    def __init__(
        self,
        *,
        account_id: str | None = None,
        api_token: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        settings: ClientSettings | None = None,
    ) -> None:
        self.settings = settings or ClientSettings.resolve(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._transport = SyncTransport(self.settings, retry=retry, http_client=http_client)

    def __repr__(self) -> str:
        return f"AIGatewayClient({self.settings!r})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, request: Request) -> httpx.Response:
        return self._transport.send(request)

    # --- gateways --------------------------------------------------------------------------

    def create_gateway(
        self,
        gateway_id: str,
        *,
        cache_ttl: int | None = None,
        cache_invalidate_on_update: bool = False,
        collect_logs: bool = True,
        rate_limiting_interval: int | None = None,
        rate_limiting_limit: int | None = None,
        rate_limiting_technique: RateLimitTechnique = "fixed",
        authentication: bool = False,
        exist_ok: bool = False,
    ) -> AIGateway:
        """Create a gateway. With ``exist_ok``, an existing one is returned as it is."""
        request = self._create_request(
            gateway_id,
            {
                "cache_ttl": cache_ttl,
                "cache_invalidate_on_update": cache_invalidate_on_update,
                "collect_logs": collect_logs,
                "rate_limiting_interval": rate_limiting_interval,
                "rate_limiting_limit": rate_limiting_limit,
                "rate_limiting_technique": rate_limiting_technique,
                "authentication": authentication,
            },
        )
        try:
            return self._gateway(self._send(request), request)
        except ConflictError:
            if not exist_ok:
                raise
            return self.get_gateway(gateway_id)

    def get_gateway(self, gateway_id: str) -> AIGateway:
        request = self._req("GET", _check_id(gateway_id))
        return self._gateway(self._send(request), request)

    def list_gateways(self, *, search: str | None = None) -> list[AIGateway]:
        """Every gateway of the account (all pages), optionally those whose id contains
        ``search``."""
        found: list[AIGateway] = []
        page = 1
        while True:
            query = [("page", str(page)), ("per_page", "50")]
            if search:
                query.append(("search", search))
            request = self._req("GET", query=query)
            items, more = self._gateway_page(self._send(request), request)
            found += items
            if not more:
                return found
            page += 1

    def update_gateway(
        self,
        gateway_id: str,
        *,
        cache_ttl: int | _Unset | None = UNSET,
        cache_invalidate_on_update: bool | _Unset = UNSET,
        collect_logs: bool | _Unset = UNSET,
        rate_limiting_interval: int | _Unset | None = UNSET,
        rate_limiting_limit: int | _Unset | None = UNSET,
        rate_limiting_technique: RateLimitTechnique | _Unset = UNSET,
        authentication: bool | _Unset = UNSET,
        retry_max_attempts: int | _Unset | None = UNSET,
        retry_delay: int | _Unset | None = UNSET,
        retry_backoff: Backoff | _Unset | None = UNSET,
    ) -> AIGateway:
        """Change some settings of a gateway; those not given keep their current value."""
        changes = _changes(
            cache_ttl=cache_ttl,
            cache_invalidate_on_update=cache_invalidate_on_update,
            collect_logs=collect_logs,
            rate_limiting_interval=rate_limiting_interval,
            rate_limiting_limit=rate_limiting_limit,
            rate_limiting_technique=rate_limiting_technique,
            authentication=authentication,
            retry_max_attempts=retry_max_attempts,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
        )
        body = self._update_body(self.get_gateway(gateway_id), changes)
        request = self._req("PUT", gateway_id, json=body)
        return self._gateway(self._send(request), request)

    def delete_gateway(self, gateway_id: str, *, missing_ok: bool = False) -> AIGateway | None:
        """Delete a gateway (and its logs); the deleted settings, or None when it did not
        exist and ``missing_ok``."""
        request = self._req("DELETE", _check_id(gateway_id))
        try:
            return self._gateway(self._send(request), request)
        except NotFoundError:
            if missing_ok:
                return None
            raise

    # --- logs ------------------------------------------------------------------------------

    def list_logs(
        self,
        gateway_id: str,
        *,
        page: int = 1,
        per_page: int = 20,
        cached: bool | None = None,
        success: bool | None = None,
        model: str | None = None,
        provider: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        feedback: Feedback | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        filters: Sequence[LogFilter] = (),
        order_by: str = "created_at",
        direction: Direction = "desc",
    ) -> LogPage:
        """One page of a gateway's logs, newest first unless ordered otherwise."""
        pairs = self._filters(
            cached=cached,
            success=success,
            model=model,
            provider=provider,
            start=start,
            end=end,
            feedback=feedback,
            metadata=metadata,
            filters=filters,
            simple=True,
        )
        request = self._logs_request(gateway_id, page, per_page, order_by, direction, pairs)
        return self._log_page(self._send(request), request, page)

    def iter_logs(
        self,
        gateway_id: str,
        *,
        cached: bool | None = None,
        success: bool | None = None,
        model: str | None = None,
        provider: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        feedback: Feedback | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        filters: Sequence[LogFilter] = (),
        order_by: str = "created_at",
        direction: Direction = "desc",
        per_page: int = PAGE_SIZE,
    ) -> Iterator[GatewayLog]:
        """Every matching log, page after page (fetched as you iterate)."""
        page = 1
        while True:
            found = self.list_logs(
                gateway_id,
                page=page,
                per_page=per_page,
                cached=cached,
                success=success,
                model=model,
                provider=provider,
                start=start,
                end=end,
                feedback=feedback,
                metadata=metadata,
                filters=filters,
                order_by=order_by,
                direction=direction,
            )
            yield from found.logs
            info = {
                "page": found.page,
                "per_page": found.per_page,
                "total_count": found.total_count,
            }
            if not _more(info, len(found.logs)):
                return
            page += 1

    def get_log(self, gateway_id: str, log_id: str) -> GatewayLog:
        request = self._req("GET", _check_id(gateway_id), "logs", log_id)
        return GatewayLog.model_validate(envelope_result(self._send(request), request))

    def log_request(self, gateway_id: str, log_id: str) -> Any:
        """The request body a log stored (parsed JSON, or bytes), credentials removed."""
        request = self._req("GET", _check_id(gateway_id), "logs", log_id, "request")
        return _body(self._send(request))

    def log_response(self, gateway_id: str, log_id: str) -> Any:
        """The response body a log stored (parsed JSON, SSE text as bytes, or media)."""
        request = self._req("GET", _check_id(gateway_id), "logs", log_id, "response")
        return _body(self._send(request))

    def set_feedback(
        self,
        gateway_id: str,
        log_id: str,
        feedback: Feedback | None,
        *,
        score: float | None = None,
    ) -> None:
        """Rate a logged answer: 1 (thumbs up), -1 (thumbs down), None to clear; ``score``
        is an optional number of your own scale. Log ids come from ``cf-aig-log-id``
        (``answer.gateway.log_id``)."""
        request = self._feedback_request(gateway_id, log_id, feedback, score)
        envelope_result(self._send(request), request)

    def delete_logs(
        self,
        gateway_id: str,
        *,
        cached: bool | None = None,
        success: bool | None = None,
        model: str | None = None,
        provider: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        feedback: Feedback | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        filters: Sequence[LogFilter] = (),
        limit: int | None = None,
    ) -> int | None:
        """Delete the logs matching every filter given (all of them when none is); how many
        were deleted when the API says (the emulator does; None otherwise)."""
        pairs = self._filters(
            cached=cached,
            success=success,
            model=model,
            provider=provider,
            start=start,
            end=end,
            feedback=feedback,
            metadata=metadata,
            filters=filters,
            simple=False,
        )
        request = self._delete_logs_request(gateway_id, pairs, limit)
        return self._deleted(self._send(request), request)

    def analytics(
        self, gateway_id: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> GatewayAnalytics:
        """Requests, errors, cache hits, tokens, neurons, cost and latency of a gateway
        between ``start`` and ``end`` (default: all its logs), per model and in total."""
        logs = self.iter_logs(gateway_id, start=start, end=end, direction="asc")
        return summarize(gateway_id, logs, start, end)


class AsyncAIGatewayClient(_GatewaysBase):
    """Asynchronous twin of :class:`AIGatewayClient`."""

    def __init__(
        self,
        *,
        account_id: str | None = None,
        api_token: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        settings: ClientSettings | None = None,
    ) -> None:
        self.settings = settings or ClientSettings.resolve(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._transport = AsyncTransport(self.settings, retry=retry, http_client=http_client)

    def __repr__(self) -> str:
        return f"AsyncAIGatewayClient({self.settings!r})"

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, request: Request) -> httpx.Response:
        return await self._transport.send(request)

    # --- gateways --------------------------------------------------------------------------

    async def create_gateway(
        self,
        gateway_id: str,
        *,
        cache_ttl: int | None = None,
        cache_invalidate_on_update: bool = False,
        collect_logs: bool = True,
        rate_limiting_interval: int | None = None,
        rate_limiting_limit: int | None = None,
        rate_limiting_technique: RateLimitTechnique = "fixed",
        authentication: bool = False,
        exist_ok: bool = False,
    ) -> AIGateway:
        """Create a gateway. With ``exist_ok``, an existing one is returned as it is."""
        request = self._create_request(
            gateway_id,
            {
                "cache_ttl": cache_ttl,
                "cache_invalidate_on_update": cache_invalidate_on_update,
                "collect_logs": collect_logs,
                "rate_limiting_interval": rate_limiting_interval,
                "rate_limiting_limit": rate_limiting_limit,
                "rate_limiting_technique": rate_limiting_technique,
                "authentication": authentication,
            },
        )
        try:
            return self._gateway(await self._send(request), request)
        except ConflictError:
            if not exist_ok:
                raise
            return await self.get_gateway(gateway_id)

    async def get_gateway(self, gateway_id: str) -> AIGateway:
        request = self._req("GET", _check_id(gateway_id))
        return self._gateway(await self._send(request), request)

    async def list_gateways(self, *, search: str | None = None) -> list[AIGateway]:
        """Every gateway of the account (all pages), optionally those whose id contains
        ``search``."""
        found: list[AIGateway] = []
        page = 1
        while True:
            query = [("page", str(page)), ("per_page", "50")]
            if search:
                query.append(("search", search))
            request = self._req("GET", query=query)
            items, more = self._gateway_page(await self._send(request), request)
            found += items
            if not more:
                return found
            page += 1

    async def update_gateway(
        self,
        gateway_id: str,
        *,
        cache_ttl: int | _Unset | None = UNSET,
        cache_invalidate_on_update: bool | _Unset = UNSET,
        collect_logs: bool | _Unset = UNSET,
        rate_limiting_interval: int | _Unset | None = UNSET,
        rate_limiting_limit: int | _Unset | None = UNSET,
        rate_limiting_technique: RateLimitTechnique | _Unset = UNSET,
        authentication: bool | _Unset = UNSET,
        retry_max_attempts: int | _Unset | None = UNSET,
        retry_delay: int | _Unset | None = UNSET,
        retry_backoff: Backoff | _Unset | None = UNSET,
    ) -> AIGateway:
        """Change some settings of a gateway; those not given keep their current value."""
        changes = _changes(
            cache_ttl=cache_ttl,
            cache_invalidate_on_update=cache_invalidate_on_update,
            collect_logs=collect_logs,
            rate_limiting_interval=rate_limiting_interval,
            rate_limiting_limit=rate_limiting_limit,
            rate_limiting_technique=rate_limiting_technique,
            authentication=authentication,
            retry_max_attempts=retry_max_attempts,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
        )
        body = self._update_body(await self.get_gateway(gateway_id), changes)
        request = self._req("PUT", gateway_id, json=body)
        return self._gateway(await self._send(request), request)

    async def delete_gateway(
        self, gateway_id: str, *, missing_ok: bool = False
    ) -> AIGateway | None:
        """Delete a gateway (and its logs); the deleted settings, or None when it did not
        exist and ``missing_ok``."""
        request = self._req("DELETE", _check_id(gateway_id))
        try:
            return self._gateway(await self._send(request), request)
        except NotFoundError:
            if missing_ok:
                return None
            raise

    # --- logs ------------------------------------------------------------------------------

    async def list_logs(
        self,
        gateway_id: str,
        *,
        page: int = 1,
        per_page: int = 20,
        cached: bool | None = None,
        success: bool | None = None,
        model: str | None = None,
        provider: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        feedback: Feedback | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        filters: Sequence[LogFilter] = (),
        order_by: str = "created_at",
        direction: Direction = "desc",
    ) -> LogPage:
        """One page of a gateway's logs, newest first unless ordered otherwise."""
        pairs = self._filters(
            cached=cached,
            success=success,
            model=model,
            provider=provider,
            start=start,
            end=end,
            feedback=feedback,
            metadata=metadata,
            filters=filters,
            simple=True,
        )
        request = self._logs_request(gateway_id, page, per_page, order_by, direction, pairs)
        return self._log_page(await self._send(request), request, page)

    async def iter_logs(
        self,
        gateway_id: str,
        *,
        cached: bool | None = None,
        success: bool | None = None,
        model: str | None = None,
        provider: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        feedback: Feedback | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        filters: Sequence[LogFilter] = (),
        order_by: str = "created_at",
        direction: Direction = "desc",
        per_page: int = PAGE_SIZE,
    ) -> AsyncIterator[GatewayLog]:
        """Every matching log, page after page (fetched as you iterate)."""
        page = 1
        while True:
            found = await self.list_logs(
                gateway_id,
                page=page,
                per_page=per_page,
                cached=cached,
                success=success,
                model=model,
                provider=provider,
                start=start,
                end=end,
                feedback=feedback,
                metadata=metadata,
                filters=filters,
                order_by=order_by,
                direction=direction,
            )
            for log in found.logs:
                yield log
            info = {
                "page": found.page,
                "per_page": found.per_page,
                "total_count": found.total_count,
            }
            if not _more(info, len(found.logs)):
                return
            page += 1

    async def get_log(self, gateway_id: str, log_id: str) -> GatewayLog:
        request = self._req("GET", _check_id(gateway_id), "logs", log_id)
        return GatewayLog.model_validate(envelope_result(await self._send(request), request))

    async def log_request(self, gateway_id: str, log_id: str) -> Any:
        """The request body a log stored (parsed JSON, or bytes), credentials removed."""
        request = self._req("GET", _check_id(gateway_id), "logs", log_id, "request")
        return _body(await self._send(request))

    async def log_response(self, gateway_id: str, log_id: str) -> Any:
        """The response body a log stored (parsed JSON, SSE text as bytes, or media)."""
        request = self._req("GET", _check_id(gateway_id), "logs", log_id, "response")
        return _body(await self._send(request))

    async def set_feedback(
        self,
        gateway_id: str,
        log_id: str,
        feedback: Feedback | None,
        *,
        score: float | None = None,
    ) -> None:
        """Rate a logged answer: 1 (thumbs up), -1 (thumbs down), None to clear; ``score``
        is an optional number of your own scale."""
        request = self._feedback_request(gateway_id, log_id, feedback, score)
        envelope_result(await self._send(request), request)

    async def delete_logs(
        self,
        gateway_id: str,
        *,
        cached: bool | None = None,
        success: bool | None = None,
        model: str | None = None,
        provider: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        feedback: Feedback | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        filters: Sequence[LogFilter] = (),
        limit: int | None = None,
    ) -> int | None:
        """Delete the logs matching every filter given (all of them when none is); how many
        were deleted when the API says (the emulator does; None otherwise)."""
        pairs = self._filters(
            cached=cached,
            success=success,
            model=model,
            provider=provider,
            start=start,
            end=end,
            feedback=feedback,
            metadata=metadata,
            filters=filters,
            simple=False,
        )
        request = self._delete_logs_request(gateway_id, pairs, limit)
        return self._deleted(await self._send(request), request)

    async def analytics(
        self, gateway_id: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> GatewayAnalytics:
        """Requests, errors, cache hits, tokens, neurons, cost and latency of a gateway
        between ``start`` and ``end`` (default: all its logs), per model and in total."""
        logs = [
            log async for log in self.iter_logs(gateway_id, start=start, end=end, direction="asc")
        ]
        return summarize(gateway_id, logs, start, end)


__all__ = [
    "PAGE_SIZE",
    "UNSET",
    "AIGatewayClient",
    "AsyncAIGatewayClient",
    "LogFilter",
]
