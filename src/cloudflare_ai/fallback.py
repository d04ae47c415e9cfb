"""Client-side model fallback: when to move on to the next model, and the loop that does it.

A call with ``fallback_models=[...]`` first goes to its own model; the transport retries
transient failures as always. Only when those retries are spent on a failure that another
model could avoid (capacity 3040, timeouts, dropped connections, rate limits, 5xx) is the
next model asked. Errors that no other model would fix (validation, authentication,
permissions, the daily quota 3036, any other 4xx) are raised at once: trying again cannot
succeed, and a fallback would hide the real problem.

The rule lives here once; clients call :func:`run` / :func:`arun`, streams ask
:func:`should_fall_back`, and adapters only pass the list and translate the report
(:class:`~cloudflare_ai.types.FallbackAttempt` s on the answer's ``fallbacks``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from .errors import (
    RETRYABLE_CODES,
    APIConnectionError,
    APIError,
    APITimeoutError,
    QuotaExceededError,
    StreamError,
    ValidationError,
)
from .transport import RETRYABLE_STATUS
from .types import FallbackAttempt

T = TypeVar("T")

#: Where fallback happens: in this client (``"client"``: one request per model, errors
#: known) or at AI Gateway's Universal endpoint (``"gateway"``: one request, the gateway
#: tries the steps in order).
FallbackVia = Literal["client", "gateway"]


def should_fall_back(exc: BaseException, *, delivered: bool = False) -> bool:
    """Whether another model may succeed where this error's model failed.

    ``delivered``: part of an answer already reached the caller (a stream that yielded a
    chunk). Then nothing falls back: a second model's words cannot be spliced onto the
    first's. A stream cut before its first chunk is a dropped connection and does."""
    if delivered or not isinstance(exc, APIError):
        return False
    if isinstance(exc, StreamError):
        return True  # cut before anything was delivered (checked above)
    if isinstance(exc, QuotaExceededError):
        return False  # the account's daily allocation: every Workers AI model shares it
    if isinstance(exc, APITimeoutError | APIConnectionError):
        return True
    if exc.code is not None and exc.code in RETRYABLE_CODES:
        return True
    return exc.status_code is not None and exc.status_code in RETRYABLE_STATUS


def attempt_of(model: str, exc: BaseException, *, step: int | None = None) -> FallbackAttempt:
    """The report of one model that failed (its error's class and message, which never
    contain credentials)."""
    status = code = None
    if isinstance(exc, APIError):
        status, code = exc.status_code, exc.code
    return FallbackAttempt(
        model=model,
        error=f"{type(exc).__name__}: {exc}",
        error_type=type(exc).__name__,
        status_code=status,
        code=code,
        step=step,
    )


def models_of(model: str, fallback_models: Sequence[str] | None) -> list[str]:
    """The models to try in order: ``model`` then the fallbacks (checked, duplicates
    dropped)."""
    if isinstance(fallback_models, str):
        raise ValidationError(
            "fallback_models must be a list of model names, not one string",
            field="fallback_models",
        )
    out = [model]
    for position, name in enumerate(fallback_models or ()):
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(
                f"fallback model #{position} must be a non-empty model name",
                position=position,
                field="fallback_models",
            )
        if name not in out:
            out.append(name)
    return out


def exhausted(exc: APIError, attempts: list[FallbackAttempt]) -> APIError:
    """The last model's error, carrying the failures of the models tried before it."""
    exc.fallbacks = list(attempts)
    if attempts:
        tried = ", ".join(a.model for a in attempts)
        exc.add_note(f"fallback: every model failed; tried before this one: {tried}")
    return exc


def run(models: Sequence[str], call: Callable[[str], T]) -> tuple[T, str, list[FallbackAttempt]]:
    """(answer, the model that gave it, the models that failed before) for ``call`` tried
    on each model in turn, moving on only when :func:`should_fall_back` says so."""
    attempts: list[FallbackAttempt] = []
    for position, model in enumerate(models):
        try:
            return call(model), model, attempts
        except APIError as exc:
            if position == len(models) - 1 or not should_fall_back(exc):
                exhausted(exc, attempts)
                raise
            attempts.append(attempt_of(model, exc))
    raise ValidationError("no model to call", field="model")


async def arun(
    models: Sequence[str], call: Callable[[str], Awaitable[T]]
) -> tuple[T, str, list[FallbackAttempt]]:
    """The asyncio twin of :func:`run`."""
    attempts: list[FallbackAttempt] = []
    for position, model in enumerate(models):
        try:
            return await call(model), model, attempts
        except APIError as exc:
            if position == len(models) - 1 or not should_fall_back(exc):
                exhausted(exc, attempts)
                raise
            attempts.append(attempt_of(model, exc))
    raise ValidationError("no model to call", field="model")
