"""Typed exceptions for everything that can go wrong talking to Cloudflare.

Each API error carries the HTTP status, Cloudflare's error code and message, and the request
id (``cf-ray``) so a failure can be reported to Cloudflare or matched in logs. Messages never
contain credentials: they are built only from the response body and the request's method and
path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .types import FallbackAttempt
    from .usage import UsageTotals


class CloudflareError(Exception):
    """Base class of every error this package raises."""


class ConfigurationError(CloudflareError, ValueError):
    """Missing or invalid settings: credentials, base URL, gateway options."""


class ValidationError(CloudflareError, ValueError):
    """Input refused before anything was sent, naming the offending item and its position."""

    def __init__(
        self,
        message: str,
        *,
        item: str | None = None,
        position: int | None = None,
        field: str | None = None,
    ) -> None:
        self.item = item
        self.position = position
        self.field = field
        super().__init__(message)


class APIError(CloudflareError):
    """Cloudflare answered with an error."""

    status_code: int | None
    code: int | None
    errors: list[dict[str, Any]]
    request_id: str | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        self.errors = [dict(e) for e in errors]
        self.request_id = request_id
        self.method = method
        self.path = path
        self.headers = dict(headers or {})
        #: When fallback models were given and every one failed: the models tried before
        #: the one this error is from (see :mod:`cloudflare_ai.fallback`).
        self.fallbacks: list[FallbackAttempt] = []
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        head = f"[{', '.join(parts)}] " if parts else ""
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        ray = f" [cf-ray {self.request_id}]" if self.request_id else ""
        return f"{head}{self.message}{where}{ray}"


class AuthenticationError(APIError):
    """The API token was missing, malformed or rejected (HTTP 401, code 10000)."""


class PermissionDeniedError(APIError):
    """The token is valid but may not do this (HTTP 403)."""


class NotFoundError(APIError):
    """Unknown model (5007, 3042), index, vector route or account (HTTP 404)."""


class ConflictError(APIError):
    """The resource already exists, e.g. an index name in use (HTTP 409)."""


class InvalidRequestError(APIError):
    """Cloudflare refused the input (HTTP 400/413/422, e.g. 5006 schema validation)."""


class RateLimitError(APIError):
    """Too many requests (HTTP 429). Retried automatically before this is raised."""

    retry_after: float | None = None


class CapacityError(RateLimitError):
    """Workers AI is out of capacity for the model (code 3040). Transient; retried."""


class QuotaExceededError(RateLimitError):
    """The account's daily free allocation is used up (code 3036). Not retried: it resets at
    00:00 UTC or with a Workers Paid plan."""


class ServerError(APIError):
    """Cloudflare failed (HTTP 5xx)."""


class APITimeoutError(APIError, TimeoutError):
    """The request timed out, on our side or Cloudflare's (HTTP 408, code 3007)."""


class APIConnectionError(APIError):
    """The connection failed or was dropped before a complete answer arrived."""


class StreamError(APIError):
    """A stream ended before Cloudflare said it was complete; the partial text is kept on
    ``partial_text`` but never passed off as a whole answer."""

    partial_text: str = ""


class MutationTimeoutError(CloudflareError, TimeoutError):
    """A Vectorize write was not searchable within the allowed time."""

    def __init__(self, message: str, *, mutation_id: str, last_processed: str | None) -> None:
        self.mutation_id = mutation_id
        self.last_processed = last_processed
        super().__init__(message)


class PartialWriteError(CloudflareError):
    """Some batches of a write were accepted and others failed after retries.

    ``written_ids`` were accepted by Cloudflare (with ``mutation_ids``); ``failed_ids`` were
    not, so the caller can retry exactly those. ``__cause__`` holds the last error.
    """

    def __init__(
        self,
        message: str,
        *,
        written_ids: Sequence[str],
        failed_ids: Sequence[str],
        mutation_ids: Sequence[str],
    ) -> None:
        self.written_ids = list(written_ids)
        self.failed_ids = list(failed_ids)
        self.mutation_ids = list(mutation_ids)
        super().__init__(message)


class BudgetExceededError(CloudflareError):
    """A call was refused **before it was sent**: what a usage tracker has spent (and has in
    flight), plus this call's estimate, would exceed the tracker's budget.

    Not retryable: waiting does not give a budget back. ``usage`` holds the tracker's totals
    when the call was refused (and ``by_model`` the same per model), so a bulk job can report
    what it finished; ``model``, ``estimate_neurons`` / ``estimate_usd``, ``budget_neurons`` /
    ``budget_usd`` say what was refused and why."""

    def __init__(
        self,
        message: str,
        *,
        model: str,
        estimate_neurons: float,
        estimate_usd: float,
        budget_neurons: float | None,
        budget_usd: float | None,
        usage: UsageTotals,
        by_model: Mapping[str, UsageTotals],
    ) -> None:
        self.model = model
        self.estimate_neurons = estimate_neurons
        self.estimate_usd = estimate_usd
        self.budget_neurons = budget_neurons
        self.budget_usd = budget_usd
        #: The totals of the tracker whose budget refused.
        self.usage = usage
        self.by_model = dict(by_model)
        super().__init__(message)


# --- mapping a response to an exception ------------------------------------------------------

#: Codes that decide the class regardless of HTTP status. (10000, "Authentication error", comes
#: with 401 or 403; the status decides between AuthenticationError and PermissionDeniedError.)
_CODE_CLASSES: dict[int, type[APIError]] = {
    5007: NotFoundError,
    3042: NotFoundError,
    7000: NotFoundError,
    7003: NotFoundError,
    3036: QuotaExceededError,
    3040: CapacityError,
    3007: APITimeoutError,
    3008: APITimeoutError,
    3002: ConflictError,
    5006: InvalidRequestError,
    5004: InvalidRequestError,
    3003: InvalidRequestError,
    3006: InvalidRequestError,
    5018: PermissionDeniedError,
    5016: PermissionDeniedError,
    3023: PermissionDeniedError,
    3041: PermissionDeniedError,
    5035: PermissionDeniedError,
}

#: Workers AI codes worth retrying (capacity and timeouts); 3036 (quota) is not among them.
RETRYABLE_CODES = frozenset({3040, 3007})


def _status_class(status: int) -> type[APIError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 408:
        return APITimeoutError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return InvalidRequestError


def parse_error_body(body: bytes) -> tuple[int | None, str | None, list[dict[str, Any]]]:
    """Cloudflare's first error code and message from an envelope (or OpenAI-style) body."""
    import orjson

    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return None, (text[:300] or None), []
    if not isinstance(data, dict):
        return None, None, []
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        items = [e for e in errors if isinstance(e, dict)]
        if items:
            code = items[0].get("code")
            message = items[0].get("message")
            return (
                int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
                str(message) if message is not None else None,
                items,
            )
    error = data.get("error")
    if isinstance(error, dict):  # OpenAI-compatible error shape
        code = error.get("code")
        return (
            int(code) if isinstance(code, int) else None,
            str(error.get("message", "")) or None,
            [error],
        )
    if isinstance(error, str):  # model search 404: {"success": false, "error": "..."}
        return None, error, []
    return None, None, []


def error_from_response(
    response: httpx.Response, body: bytes | None = None, *, path: str | None = None
) -> APIError:
    """The typed exception for an unsuccessful response."""
    raw = body if body is not None else response.content
    code, message, errors = parse_error_body(raw)
    cls = _CODE_CLASSES.get(code) if code is not None else None
    if cls is None:
        cls = _status_class(response.status_code)
    request = response.request
    exc = cls(
        message or response.reason_phrase or "Cloudflare returned an error",
        status_code=response.status_code,
        code=code,
        errors=errors,
        request_id=response.headers.get("cf-ray"),
        method=request.method if request else None,
        path=path if path is not None else (request.url.path if request else None),
        headers={k: v for k, v in response.headers.items() if k.lower().startswith("cf-")},
    )
    if isinstance(exc, RateLimitError):
        exc.retry_after = parse_retry_after(response.headers.get("retry-after"))
    return exc


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
