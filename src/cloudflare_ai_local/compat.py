"""AI Gateway's calls to providers by name: the unified OpenAI-compatible
``/compat/chat/completions`` (``provider/model`` names, OpenAI's format for every provider)
and the provider-native routes ``/openai/chat/completions`` and ``/anthropic/v1/messages``.

Workers AI models are answered by the local Workers AI (with the Cloudflare API token as the
key); OpenAI and Anthropic by :mod:`.providers`. Each call is logged through the gateway and
consults the scripted model faults. Not cached here (UNCERTAIN whether the real gateway
caches these routes like the Workers AI ones).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from . import engines, providers
from .errors import ApiError, error_response
from .faults import FaultController, apply_model_fault
from .gateway import Gateway, json_or_bad_input, parse_options
from .workers_ai import chat_completions


async def compat_chat(
    gateway: Gateway, faults: FaultController, request: Request, gateway_id: str, raw: bytes
) -> Response:
    """``POST /{account}/{gateway}/compat/chat/completions``."""
    started = time.monotonic()
    gateway.check_gateway_auth(request)
    opts = parse_options(request.headers)
    model: str | None = None
    try:
        body = json_or_bad_input(raw)
        name = body.get("model") if isinstance(body, dict) else None
        if not isinstance(name, str):
            raise providers.openai_error(400, "'model' is required", "invalid_request_error")
        provider, bare = providers.split(name)
        # Logged (and priced) as Workers AI's own model name; other providers' models keep
        # their "provider/model" form. UNCERTAIN: how Cloudflare's logs name compat models.
        model = bare if provider == providers.WORKERS_AI else name
        if provider == providers.WORKERS_AI:
            gateway.check_upstream_auth(request.headers.get("authorization"))
            await apply_model_fault(faults, bare)
            request_body = {**body, "model": bare}
            outcome = await engines.call(lambda: chat_completions(request_body))
            response = outcome.response()
        else:
            providers.check_key(provider, request.headers, gateway.api_token)
            await apply_model_fault(faults, name)
            # The unified endpoint answers OpenAI's format whichever provider serves.
            response = providers.openai_chat(body, model=bare).response()
    except ApiError as err:
        response = error_response(err)
    except providers.ProviderError as err:
        response = err.response()
    return gateway.finish(
        response,
        gateway_id,
        request.url.path,
        model,
        "MISS",
        opts,
        None,
        started,
        provider=model.partition("/")[0]
        if model and not model.startswith("@")
        else providers.WORKERS_AI,
        request=request,
        request_body=raw,
    )


async def provider_native(
    gateway: Gateway,
    faults: FaultController,
    request: Request,
    gateway_id: str,
    raw: bytes,
    provider: str,
) -> Response:
    """``POST /{account}/{gateway}/openai/chat/completions`` (OpenAI's format) and
    ``/anthropic/v1/messages`` (Anthropic's, key in ``x-api-key``)."""
    started = time.monotonic()
    gateway.check_gateway_auth(request)
    opts = parse_options(request.headers)
    model: str | None = None
    try:
        body = json_or_bad_input(raw)
        name = body.get("model") if isinstance(body, dict) else None
        model = f"{provider}/{name}" if isinstance(name, str) else None
        providers.check_key(provider, request.headers, gateway.api_token)
        await apply_model_fault(faults, model)
        if provider == providers.ANTHROPIC:
            response = providers.anthropic_messages(body).response()
        else:
            response = providers.openai_chat(body).response()
    except ApiError as err:
        response = error_response(err)
    except providers.ProviderError as err:
        response = err.response()
    return gateway.finish(
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
        request_body=raw,
    )
