"""The AI Gateway Universal endpoint: a JSON array of provider steps tried in order, the
``cf-aig-step`` response header naming the one that answered (cloudflare-api.md §3.1).

Each step is ``{provider, endpoint, headers, query, config?}``. ``config`` is enforced:
``requestTimeout`` (ms, to the answer's start; default the request's
``cf-aig-request-timeout``) abandons a slow attempt, ``maxAttempts`` / ``retryDelay`` /
``backoff`` (defaults: the request's ``cf-aig-*`` headers) retry a step failing with 408, 429
or 5xx before the next step is tried. Any other failure moves on at once. Steps reach the
local Workers AI (``workers-ai``: a model name, ``v1/chat/completions`` or
``v1/embeddings``), OpenAI (``chat/completions``) and Anthropic (``v1/messages``); scripted
model faults apply to each step's model, so tests can say exactly which step answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cloudflare_ai import limits

from . import engines, errors, providers
from .errors import ApiError, error_response
from .faults import FaultController, apply_model_fault
from .gateway import Gateway, GatewayOptions, parse_options
from .workers_ai import AiOutcome, chat_completions, openai_embeddings, run_model

#: Statuses a step is retried on (within its ``maxAttempts``) before falling back.
RETRIED = frozenset({408, 429})


async def universal(
    gateway: Gateway,
    faults: FaultController,
    request: Request,
    gateway_id: str,
    raw_body: bytes,
) -> Response:
    """Try each step of the JSON array in order; ``cf-aig-step`` names the one that answered
    (or, when all failed, the last one, with its error)."""
    started = time.monotonic()
    gateway.check_gateway_auth(request)
    opts = parse_options(request.headers)
    try:
        steps = orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="body must be JSON") from exc
    if isinstance(steps, dict):
        steps = [steps]
    if not isinstance(steps, list) or not steps:
        raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="body must be a non-empty array of steps")
    response: Response | None = None
    model: str | None = None
    answered = len(steps) - 1
    tried = 0  # upstream attempts over every step tried, retries included
    for index, step in enumerate(steps):
        response, model, made = await _run_step(gateway, faults, step, request, opts)
        tried += made
        if 200 <= response.status_code < 300:
            answered = index
            break
    assert response is not None
    chosen = steps[answered] if isinstance(steps[answered], dict) else {}
    provider = str(chosen.get("provider") or providers.WORKERS_AI)
    return gateway.finish(
        response,
        gateway_id,
        request.url.path,
        model,
        "MISS",
        opts,
        answered,
        started,
        provider=provider,
        request=request,
        request_body=raw_body,
        attempts=max(tried, 1),  # each step's credential headers are redacted when stored
    )


def _config(step: Mapping[str, Any], opts: GatewayOptions) -> tuple[float | None, int, int, str]:
    """(timeout in seconds or None, attempts, delay in ms, backoff) of one step."""
    config = step.get("config") or {}
    if not isinstance(config, dict):
        raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="a step's config must be an object")
    timeout = config.get("requestTimeout", opts.request_timeout_ms)
    attempts = config.get("maxAttempts", opts.max_attempts)
    delay = config.get("retryDelay", opts.retry_delay_ms)
    backoff = config.get("backoff", opts.backoff)
    for name, value in (
        ("requestTimeout", timeout),
        ("maxAttempts", attempts),
        ("retryDelay", delay),
    ):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise ApiError(errors.GATEWAY_BAD_REQUEST, detail=f"config.{name} must be an integer")
    if backoff not in limits.GATEWAY_BACKOFFS:
        raise ApiError(
            errors.GATEWAY_BAD_REQUEST,
            detail=f"config.backoff must be one of {list(limits.GATEWAY_BACKOFFS)}",
        )
    return (
        timeout / 1000 if timeout else None,
        min(max(attempts or 1, 1), limits.GATEWAY_MAX_ATTEMPTS),
        min(delay or 0, limits.GATEWAY_MAX_RETRY_DELAY_MS),
        str(backoff),
    )


async def _run_step(
    gateway: Gateway,
    faults: FaultController,
    step: Any,
    request: Request,
    opts: GatewayOptions,
) -> tuple[Response, str | None, int]:
    """One step, with its timeout and retries: (the answer or the last failure, its model,
    the attempts made)."""
    try:
        call, model = _step_call(gateway, faults, step, request)
        timeout, attempts, delay, backoff = _config(step, opts)
    except ApiError as err:
        return error_response(err), None, 0
    except providers.ProviderError as err:
        return err.response(), None, 0
    response: Response | None = None
    for attempt in range(attempts):
        try:
            response = await asyncio.wait_for(call(), timeout)
        except TimeoutError:
            # UNCERTAIN: what the gateway answers when the last step times out is not
            # documented; Workers AI's own timeout (3007, 408) stands for it.
            response = error_response(ApiError(errors.TIMEOUT))
        if response.status_code < 500 and response.status_code not in RETRIED:
            return response, model, attempt + 1
        if attempt + 1 < attempts and delay:
            factor = {"constant": 1, "linear": attempt + 1, "exponential": 2**attempt}[backoff]
            await asyncio.sleep(delay * factor / 1000)
    assert response is not None
    return response, model, attempts


def _step_call(
    gateway: Gateway, faults: FaultController, step: Any, request: Request
) -> tuple[Callable[[], Awaitable[Response]], str | None]:
    """(a coroutine function answering the step once, the step's model for logs)."""
    if not isinstance(step, dict):
        raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="each step must be an object")
    provider = step.get("provider")
    endpoint = step.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="step needs an 'endpoint'")
    raw_headers = step.get("headers")
    headers = (
        {str(k).lower(): str(v) for k, v in raw_headers.items()}
        if isinstance(raw_headers, dict)
        else {}
    )
    query = step.get("query", {})
    endpoint = endpoint.lstrip("/")
    if provider == providers.WORKERS_AI:
        return _workers_ai_step(gateway, faults, endpoint, headers, query, request)
    if provider in (providers.OPENAI, providers.ANTHROPIC):
        return _provider_step(gateway, faults, provider, endpoint, headers, query)
    raise ApiError(
        errors.GATEWAY_BAD_REQUEST, detail=f"provider {provider!r} is not served locally"
    )


def _workers_ai_step(
    gateway: Gateway,
    faults: FaultController,
    endpoint: str,
    headers: Mapping[str, str],
    query: Any,
    request: Request,
) -> tuple[Callable[[], Awaitable[Response]], str | None]:
    endpoint = endpoint.removeprefix("run/")
    openai = endpoint in ("v1/chat/completions", "v1/embeddings")
    model = query.get("model") if openai and isinstance(query, dict) else endpoint
    model = model if isinstance(model, str) else None

    async def call() -> Response:
        try:
            gateway.check_upstream_auth(
                headers.get("authorization", request.headers.get("authorization"))
            )
            await apply_model_fault(faults, model)
            outcome: AiOutcome
            if endpoint == "v1/chat/completions":
                outcome = await engines.call(lambda: chat_completions(query))
            elif endpoint == "v1/embeddings":
                outcome = await engines.call(lambda: openai_embeddings(query))
            else:
                outcome = await engines.call(lambda: run_model(endpoint, query))
            return outcome.response()
        except ApiError as err:
            return error_response(err)

    return call, model


def _provider_step(
    gateway: Gateway,
    faults: FaultController,
    provider: str,
    endpoint: str,
    headers: Mapping[str, str],
    query: Any,
) -> tuple[Callable[[], Awaitable[Response]], str | None]:
    expected = {providers.OPENAI: "chat/completions", providers.ANTHROPIC: "v1/messages"}
    if endpoint.removeprefix("v1/") != expected[provider].removeprefix("v1/"):
        raise ApiError(
            errors.GATEWAY_BAD_REQUEST,
            detail=f"{provider} steps are served locally at {expected[provider]!r} only",
        )
    name = query.get("model") if isinstance(query, dict) else None
    model = f"{provider}/{name}" if isinstance(name, str) else None

    async def call() -> Response:
        try:
            providers.check_key(provider, headers, gateway.api_token)
            await apply_model_fault(faults, model)
            if provider == providers.ANTHROPIC:
                return providers.anthropic_messages(query).response()
            return providers.openai_chat(query).response()
        except ApiError as err:
            return error_response(err)
        except providers.ProviderError as err:
            return err.response()

    return call, model
