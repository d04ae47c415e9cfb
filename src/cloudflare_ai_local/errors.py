"""Cloudflare-style errors: the one table of codes the emulator answers with, and the envelope.

Codes that Cloudflare documents are used as documented; the rest are our choice and marked
UNCERTAIN. Every failure body is ``{"result": null, "success": false, "errors": [...],
"messages": []}`` with codes >= 1000, as the Vectorize OpenAPI schema requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    status: int
    message: str


# --- the error table -----------------------------------------------------------------------
AUTH = ErrorCode(10000, 401, "Authentication error")
FORBIDDEN = ErrorCode(10000, 403, "Authentication error")
NO_ROUTE = ErrorCode(7000, 404, "No route for that URI")  # UNCERTAIN: 400 or 404
METHOD_NOT_ALLOWED = ErrorCode(10405, 405, "Method not allowed")  # UNCERTAIN code
BAD_JSON = ErrorCode(10002, 400, "Malformed JSON in request body")  # UNCERTAIN code
# Workers AI (documented)
NO_SUCH_MODEL = ErrorCode(5007, 400, "No such model {model} or task")
BAD_INPUT = ErrorCode(5006, 400, "AiError: Bad input: {detail}")
INVALID_DATA = ErrorCode(5004, 400, "Invalid data type for base64 input: {type}")
JSON_STREAM = ErrorCode(5023, 400, "JSON Schema mode is not supported with stream mode")
REQUEST_TOO_LARGE = ErrorCode(3006, 413, "Request is too large")
TIMEOUT = ErrorCode(3007, 408, "Request timeout")
CAPACITY = ErrorCode(3040, 429, "Capacity temporarily exceeded, please try again.")
RATE_LIMITED = ErrorCode(971, 429, "Please wait and consider throttling your request speed")
INTERNAL = ErrorCode(7500, 500, "Internal server error")  # UNCERTAIN code
#: The emulator's own: engine="models" cannot run (a weight file changed or went missing after
#: start). 501, not 5xx-retryable, since asking again cannot succeed; Cloudflare has no such error.
LOCAL_MODELS = ErrorCode(7501, 501, "{detail}")
#: A local model failed while answering (engine="models"): the envelope, never a bare 500.
LOCAL_MODEL_FAILED = ErrorCode(7500, 500, "Internal server error: {detail}")
BAD_GATEWAY = ErrorCode(7502, 502, "Bad gateway")  # UNCERTAIN code
UNAVAILABLE = ErrorCode(7503, 503, "Service temporarily unavailable")  # UNCERTAIN code
# Vectorize: UNCERTAIN, except 40006 whose wording is observed from the Workers binding.
INDEX_NOT_FOUND = ErrorCode(3000, 404, "vectorize.index.not_found: {name}")
INDEX_EXISTS = ErrorCode(3002, 409, "vectorize.index.duplicate_name: {name}")
INVALID_INDEX_NAME = ErrorCode(3001, 400, "vectorize.index.invalid_name: {detail}")
INVALID_CONFIG = ErrorCode(3003, 400, "vectorize.index.invalid_config: {detail}")
BAD_REQUEST = ErrorCode(40001, 400, "{detail}")
INVALID_VECTOR = ErrorCode(40002, 400, "{detail}")
INVALID_ID = ErrorCode(40003, 400, "{detail}")
INVALID_NAMESPACE = ErrorCode(40004, 400, "{detail}")
INVALID_METADATA = ErrorCode(40005, 400, "{detail}")
DIMENSION_MISMATCH = ErrorCode(
    40006, 400, 'invalid vector for id "{id}", expected {expected} dimensions, and got {got}'
)
TOO_MANY_VECTORS = ErrorCode(40007, 400, "{detail}")
UNPARSABLE = ErrorCode(40008, 400, "{detail}")
INVALID_TOP_K = ErrorCode(40009, 400, "{detail}")
INVALID_FILTER = ErrorCode(40010, 400, "{detail}")
INVALID_RETURN_METADATA = ErrorCode(40026, 400, "{detail}")  # 3rd-party VECTOR_QUERY_ERROR
METADATA_INDEX_LIMIT = ErrorCode(40011, 400, "{detail}")
METADATA_INDEX_EXISTS = ErrorCode(40012, 409, "{detail}")
METADATA_INDEX_MISSING = ErrorCode(40013, 404, "{detail}")
VECTOR_NOT_FOUND = ErrorCode(40014, 404, "{detail}")
INVALID_CURSOR = ErrorCode(40015, 400, "{detail}")
# AI Gateway (UNCERTAIN: body not documented)
GATEWAY_AUTH = ErrorCode(2009, 401, "Unauthorized")
GATEWAY_BAD_REQUEST = ErrorCode(2001, 400, "{detail}")
GATEWAY_ALL_FAILED = ErrorCode(2005, 502, "All universal steps failed")
# AI Gateway management and logs REST API, rate limiting and request timeouts (UNCERTAIN: the
# codes and messages are ours; statuses follow HTTP usage: 404 unknown, 409 duplicate, 429 over
# the gateway's rate limit, 504 when cf-aig-request-timeout expires before the first byte).
GATEWAY_NOT_FOUND = ErrorCode(2020, 404, "gateway not found: {name}")
GATEWAY_EXISTS = ErrorCode(2021, 409, "a gateway with id {name} already exists")
GATEWAY_INVALID = ErrorCode(2022, 400, "{detail}")
GATEWAY_LOG_NOT_FOUND = ErrorCode(2023, 404, "log not found: {name}")
GATEWAY_RATE_LIMITED = ErrorCode(2024, 429, "Rate limited: too many requests to this gateway")
GATEWAY_TIMEOUT = ErrorCode(2025, 504, "Request timed out: no answer within cf-aig-request-timeout")

ERROR_TABLE: tuple[ErrorCode, ...] = tuple(
    v for v in list(globals().values()) if isinstance(v, ErrorCode)
)


class ApiError(Exception):
    """Raised by handlers; turned into a Cloudflare failure envelope by the app."""

    def __init__(
        self, error: ErrorCode, headers: dict[str, str] | None = None, **fields: Any
    ) -> None:
        self.error = error
        self.status = error.status
        self.code = error.code
        self.message = error.message.format(**fields) if fields else error.message
        self.headers = headers or {}
        super().__init__(f"{self.code}: {self.message}")

    def envelope(self) -> dict[str, Any]:
        return failure_body(self.code, self.message)


_MAX_ERROR_DETAIL = 300


def bad_input(detail: str) -> ApiError:
    """5006, Cloudflare's schema-validation failure, with ``detail`` cut to a readable length."""
    if len(detail) > _MAX_ERROR_DETAIL:
        detail = detail[:_MAX_ERROR_DETAIL] + "..."
    return ApiError(BAD_INPUT, detail=detail)


def failure_body(code: int, message: str) -> dict[str, Any]:
    return {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }


def envelope(result: Any, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"result": result, "success": True, "errors": [], "messages": []}
    body.update(extra)
    return body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(err: ApiError) -> Response:
    return json_response(err.envelope(), err.status, err.headers)
