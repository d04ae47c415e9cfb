"""The AI Gateway management and logs REST API
(``/client/v4/accounts/{account_id}/ai-gateway/gateways...``) over the gateway store, in the
wire format of Cloudflare's API as its Python SDK (``cloudflare`` 5.x) reads it.

Paths: ``GET|POST /gateways``, ``GET|PUT|DELETE /gateways/{id}``, ``GET|DELETE
/gateways/{id}/logs``, ``GET|PATCH /gateways/{id}/logs/{log_id}``, ``GET
/gateways/{id}/logs/{log_id}/request`` and ``/response``.

UNCERTAIN choices, kept here: page sizes (logs: 20 by default, at most 50; gateways: 20, at
most 100); the gateway id rule; ``feedback=0|1`` in a list query meaning thumbs down | up;
``search`` looking in metadata values; ``start_date``/``end_date`` inclusive; the request
and response bodies served raw (not in an envelope), as the SDK reads them; a PATCH answering
with the updated log; deleting logs oldest first unless ordered otherwise; lenient create
(only ``id`` is required, the SDK's other required fields default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cloudflare_ai import limits

from . import errors
from .errors import ApiError, envelope, json_response
from .gateway import Gateway, relative_path
from .gateway_store import (
    BOOLEAN_KEYS,
    FILTER_COLUMNS,
    METADATA_KEYS,
    NUMBER_KEYS,
    OPERATORS,
    ORDER_COLUMNS,
    Condition,
    GatewayLogEntry,
    GatewayRecord,
    iso,
    parse_time,
)

GATEWAY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LOGS_PER_PAGE = 20
MAX_LOGS_PER_PAGE = 50
GATEWAYS_PER_PAGE = 20
MAX_GATEWAYS_PER_PAGE = 100
MAX_GATEWAY_RETRY_DELAY_MS = 60_000
LOG_STRATEGIES = ("STOP_INSERTING", "DELETE_OLDEST")


def _bad(detail: str) -> ApiError:
    return ApiError(errors.GATEWAY_INVALID, detail=detail)


# --- wire shapes -----------------------------------------------------------------------------


def gateway_json(record: GatewayRecord) -> dict[str, Any]:
    return record.to_json()


def log_json(
    entry: GatewayLogEntry, *, detail: bool = False, sizes: tuple[int, int] = (0, 0)
) -> dict[str, Any]:
    """One log as the logs API lists it (``detail``: as ``GET /logs/{id}`` shows it)."""
    out: dict[str, Any] = {
        "id": entry.id,
        "cached": entry.cached,
        "created_at": iso(entry.created_at),
        "duration": round(entry.duration_ms),
        "model": entry.model or "",
        # The part after the gateway id, e.g. "workers-ai/@cf/..." (UNCERTAIN: Cloudflare's
        # exact form is not documented).
        "path": relative_path(entry.path, entry.gateway_id),
        "provider": entry.provider,
        "success": entry.success,
        "tokens_in": entry.tokens_in,
        "tokens_out": entry.tokens_out,
        "cost": entry.cost,
        "custom_cost": False,
        # The SDK types metadata as a string: the JSON of the cf-aig-metadata object.
        "metadata": orjson.dumps(entry.metadata).decode() if entry.metadata else None,
        "model_type": entry.model_type,
        "request_content_type": entry.request_content_type,
        "request_type": entry.request_type,
        "response_content_type": entry.response_content_type,
        "status_code": entry.status,
        "step": entry.step,
        # Not in the SDK's types (extra fields are kept): feedback, neurons, attempts, ...
        "feedback": entry.feedback,
        "score": entry.score,
        "event_id": entry.event_id,
        "neurons": entry.neurons,
        "attempts": entry.attempts,
        "cache_status": entry.cache_status,
    }
    if detail:
        out.update(
            request_head=entry.request_head,
            request_head_complete=True,
            request_size=sizes[0],
            response_head=entry.response_head,
            response_head_complete=True,
            response_size=sizes[1],
        )
    return out


# --- settings --------------------------------------------------------------------------------


def _optional_int(body: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = body[key]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{key} must be an integer in {low}..{high} or null, got {value!r}")
    return value


def _choice(body: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = body[key]
    if value is not None and value not in choices:
        raise _bad(f"{key} must be one of {list(choices)} or null, got {value!r}")
    return value  # type: ignore[no-any-return]


def settings_from_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway settings a create or update body sets, checked; unknown fields (DLP,
    guardrails, ... which the emulator does not model) are ignored."""
    out: dict[str, Any] = {}
    for key in ("cache_invalidate_on_update", "collect_logs", "authentication"):
        if key in body:
            if not isinstance(body[key], bool):
                raise _bad(f"{key} must be true or false, got {body[key]!r}")
            out[key] = body[key]
    ranges = {
        "cache_ttl": (0, limits.GATEWAY_MAX_CACHE_TTL),
        "rate_limiting_interval": (1, 24 * 3600),
        "rate_limiting_limit": (1, 10**9),
        "retry_max_attempts": (1, limits.GATEWAY_MAX_ATTEMPTS),
        "retry_delay": (0, MAX_GATEWAY_RETRY_DELAY_MS),
        "log_management": (1, 10_000_000),
    }
    for key, (low, high) in ranges.items():
        if key in body:
            out[key] = _optional_int(body, key, low, high)
    if "rate_limiting_technique" in body:
        out["rate_limiting_technique"] = (
            _choice(body, "rate_limiting_technique", ("fixed", "sliding")) or "fixed"
        )
    if "retry_backoff" in body:
        out["retry_backoff"] = _choice(body, "retry_backoff", limits.GATEWAY_BACKOFFS)
    if "log_management_strategy" in body:
        out["log_management_strategy"] = _choice(body, "log_management_strategy", LOG_STRATEGIES)
    return out


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise ApiError(errors.BAD_JSON) from exc
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    return body


# --- query parsing ---------------------------------------------------------------------------


def _int_param(params: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{key} must be an integer") from None
    if not low <= value <= high:
        raise _bad(f"{key} must be in {low}..{high}")
    return value


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false", "1", "0"):
        raise _bad(f"{key} must be true or false, got {value!r}")
    return text in ("true", "1")


def _convert(key: str, value: Any) -> Any:
    """A filter value as the store compares it."""
    if key in BOOLEAN_KEYS:
        return int(_bool(key, value))
    if key in NUMBER_KEYS:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f"filter {key} needs numbers, got {value!r}") from None
    if key == "created_at":
        try:
            return parse_time(str(value))
        except ValueError:
            raise _bad(f"created_at needs ISO 8601 times, got {value!r}") from None
    return value if key in METADATA_KEYS else str(value)


def condition(key: str, operator: str, values: list[Any]) -> Condition:
    """A checked :class:`Condition` from a filter of the logs API."""
    if key not in FILTER_COLUMNS and key not in METADATA_KEYS:
        raise _bad(f"filter key {key!r} is not supported by the local gateway")
    if operator not in OPERATORS:
        raise _bad(f"filter operator must be one of {sorted(OPERATORS)}, got {operator!r}")
    if not values:
        raise _bad(f"filter {key} {operator} needs at least one value")
    return Condition(key, operator, tuple(_convert(key, v) for v in values))


def _generic_filters(request: Request) -> list[Condition]:
    """``filters`` of the query: the SDK's repeated ``filters.key`` / ``filters.operator`` /
    ``filters.value`` triples (each ``filters.key`` starts a new filter), or a JSON array."""
    out: list[Condition] = []
    current: dict[str, Any] | None = None
    pending: list[dict[str, Any]] = []
    for name, value in request.query_params.multi_items():
        if name == "filters":
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise _bad("filters must be a JSON array of {key, operator, value}") from None
            items = parsed if isinstance(parsed, list) else [parsed]
            for item in items:
                if not isinstance(item, dict):
                    raise _bad("each filter must be an object")
                raw = item.get("value", [])
                pending.append(
                    {
                        "key": item.get("key"),
                        "operator": item.get("operator", "eq"),
                        "value": raw if isinstance(raw, list) else [raw],
                    }
                )
        elif name in ("filters.key", "filters[key]"):
            current = {"key": value, "operator": "eq", "value": []}
            pending.append(current)
        elif name in ("filters.operator", "filters[operator]") and current is not None:
            current["operator"] = value
        elif name in ("filters.value", "filters[value]", "filters[value][]") and current:
            current["value"].append(value)
    for item in pending:
        out.append(condition(str(item["key"]), str(item["operator"]), list(item["value"])))
    return out


_SIMPLE_EQUAL = (
    "cached",
    "success",
    "model",
    "provider",
    "model_type",
    "request_type",
    "request_content_type",
    "response_content_type",
)
_RANGES = {
    "cost": "cost",
    "duration": "duration",
    "tokens_in": "tokens_in",
    "tokens_out": "tokens_out",
    "total_tokens": "tokens",
}


def log_conditions(request: Request) -> list[Condition]:
    """Every filter of a logs query: the simple parameters and the generic ``filters``."""
    params = request.query_params
    out: list[Condition] = []
    for key in _SIMPLE_EQUAL:
        if params.get(key) not in (None, ""):
            out.append(condition(key, "eq", [params[key]]))
    if params.get("start_date"):
        out.append(condition("created_at", "gte", [params["start_date"]]))
    if params.get("end_date"):
        out.append(condition("created_at", "lte", [params["end_date"]]))
    if params.get("feedback") not in (None, ""):
        given = params["feedback"]
        if given not in ("0", "1", "-1"):
            raise _bad("feedback must be 0 (thumbs down) or 1 (thumbs up)")
        out.append(condition("feedback", "eq", [1 if given == "1" else -1]))
    for name, key in _RANGES.items():
        for prefix, operator in (("min_", "gte"), ("max_", "lte")):
            if params.get(prefix + name) not in (None, ""):
                out.append(condition(key, operator, [params[prefix + name]]))
    if params.get("search"):
        out.append(condition("metadata.value", "contains", [params["search"]]))
    return out + _generic_filters(request)


def _order(params: Mapping[str, str], default_direction: str) -> tuple[str, str]:
    order_by = params.get("order_by") or "created_at"
    if order_by not in ORDER_COLUMNS:
        raise _bad(f"order_by must be one of {sorted(ORDER_COLUMNS)}")
    direction = params.get("order_by_direction") or params.get("direction") or default_direction
    if direction not in ("asc", "desc"):
        raise _bad("order_by_direction must be asc or desc")
    return order_by, direction


# --- handlers --------------------------------------------------------------------------------


class GatewayApi:
    """Handlers bound to one :class:`~.gateway.Gateway`; each answers a whole response."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.store = gateway.store

    def _record(self, gateway_id: str) -> GatewayRecord:
        record = self.store.get(gateway_id)
        if record is None:
            raise ApiError(errors.GATEWAY_NOT_FOUND, name=gateway_id)
        return record

    def _log(self, gateway_id: str, log_id: str) -> GatewayLogEntry:
        self._record(gateway_id)
        entry = self.store.get_log(gateway_id, log_id)
        if entry is None:
            raise ApiError(errors.GATEWAY_LOG_NOT_FOUND, name=log_id)
        return entry

    async def list_gateways(self, request: Request) -> Response:
        params = request.query_params
        page = _int_param(params, "page", 1, 1, 1_000_000)
        per_page = _int_param(params, "per_page", GATEWAYS_PER_PAGE, 1, MAX_GATEWAYS_PER_PAGE)
        search = (params.get("search") or "").lower()
        found = [r for r in self.store.gateways() if search in r.id.lower()]
        chunk = found[(page - 1) * per_page : page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(found)}
        return json_response(envelope([gateway_json(r) for r in chunk], result_info=info))

    async def create_gateway(self, request: Request) -> Response:
        body = await _json_object(request)
        gateway_id = body.get("id")
        if not isinstance(gateway_id, str) or not GATEWAY_ID.match(gateway_id):
            raise _bad(
                "id must be 1-64 characters: lower-case letters, digits, '-' and '_', "
                f"starting with a letter or digit; got {gateway_id!r}"
            )
        settings = settings_from_body(body)
        if self.store.get(gateway_id) is not None:
            raise ApiError(errors.GATEWAY_EXISTS, name=gateway_id)
        record = self.store.create(gateway_id, settings)
        return json_response(envelope(gateway_json(record)))

    async def get_gateway(self, request: Request, gateway_id: str) -> Response:
        return json_response(envelope(gateway_json(self._record(gateway_id))))

    async def update_gateway(self, request: Request, gateway_id: str) -> Response:
        self._record(gateway_id)
        settings = settings_from_body(await _json_object(request))
        record = self.store.update(gateway_id, settings)
        self.gateway.settings_changed(record)
        return json_response(envelope(gateway_json(record)))

    async def delete_gateway(self, request: Request, gateway_id: str) -> Response:
        record = self._record(gateway_id)
        self.store.delete(gateway_id)
        self.gateway.settings_changed(record, deleted=True)
        return json_response(envelope(gateway_json(record)))

    async def list_logs(self, request: Request, gateway_id: str) -> Response:
        self._record(gateway_id)
        params = request.query_params
        page = _int_param(params, "page", 1, 1, 1_000_000)
        per_page = _int_param(params, "per_page", LOGS_PER_PAGE, 1, MAX_LOGS_PER_PAGE)
        order_by, direction = _order(params, "desc")
        entries, total = self.store.query_logs(
            gateway_id,
            log_conditions(request),
            order_by=order_by,
            direction=direction,
            limit=per_page,
            offset=(page - 1) * per_page,
        )
        info = {"page": page, "per_page": per_page, "count": len(entries), "total_count": total}
        return json_response(envelope([log_json(e) for e in entries], result_info=info))

    async def delete_logs(self, request: Request, gateway_id: str) -> Response:
        self._record(gateway_id)
        params = request.query_params
        order_by, direction = _order(params, "asc")
        limit = _int_param(params, "limit", 0, 1, 10_000_000) if params.get("limit") else None
        deleted = self.store.delete_logs(
            gateway_id,
            log_conditions(request),
            order_by=order_by,
            direction=direction,
            limit=limit,
        )
        return json_response(envelope({"deleted": deleted}))

    async def get_log(self, request: Request, gateway_id: str, log_id: str) -> Response:
        entry = self._log(gateway_id, log_id)
        sizes = self.store.body_sizes(gateway_id, log_id)
        return json_response(envelope(log_json(entry, detail=True, sizes=sizes)))

    async def edit_log(self, request: Request, gateway_id: str, log_id: str) -> Response:
        self._log(gateway_id, log_id)
        body = await _json_object(request)
        changes: dict[str, Any] = {}
        if "feedback" in body:
            feedback = body["feedback"]
            if feedback not in (None, -1, 0, 1) or isinstance(feedback, bool):
                raise _bad(
                    f"feedback must be 1 (thumbs up), -1 (thumbs down) or 0/null, got {feedback!r}"
                )
            changes["feedback"] = None if not feedback else int(feedback)
        if "score" in body:
            score = body["score"]
            if score is not None and (
                isinstance(score, bool) or not isinstance(score, int | float)
            ):
                raise _bad(f"score must be a number, got {score!r}")
            changes["score"] = score
        if "metadata" in body:
            metadata = body["metadata"]
            if metadata is not None and (
                not isinstance(metadata, dict)
                or len(metadata) > limits.GATEWAY_MAX_METADATA_ENTRIES
                or not all(isinstance(v, str | int | float | bool) for v in metadata.values())
            ):
                raise _bad(
                    f"metadata must be an object of at most {limits.GATEWAY_MAX_METADATA_ENTRIES}"
                    " string, number or boolean values"
                )
            changes["metadata"] = metadata or {}
        self.store.edit_log(gateway_id, log_id, changes)
        return json_response(envelope(log_json(self._log(gateway_id, log_id))))

    async def log_body(
        self, request: Request, gateway_id: str, log_id: str, which: str
    ) -> Response:
        entry = self._log(gateway_id, log_id)
        _, body = self.store.log_body(gateway_id, log_id, which)
        kind = entry.request_content_type if which == "request" else entry.response_content_type
        if body is None:
            return json_response(None)
        return Response(body, media_type=kind or "application/octet-stream")


__all__ = ["GatewayApi", "condition", "gateway_json", "log_conditions", "log_json"]
