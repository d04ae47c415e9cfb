"""The AI Gateway Universal endpoint: a JSON array of provider steps tried in order, the
``cf-aig-step`` response header naming the one that answered (cloudflare-api.md §3.1)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from . import errors
from .errors import ApiError, error_response
from .gateway import Gateway, parse_options
from .workers_ai import chat_completions, openai_embeddings, run_model


async def universal(
    gateway: Gateway, request: Request, gateway_id: str, raw_body: bytes
) -> Response:
    """Try each step of the JSON array in order; ``cf-aig-step`` names the one that answered."""
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
    for index, step in enumerate(steps):
        response, model = _run_step(gateway, step, request)
        if 200 <= response.status_code < 300:
            return gateway.finish(
                response, gateway_id, request.url.path, model, "MISS", opts, index, started
            )
    assert response is not None
    return gateway.finish(
        response, gateway_id, request.url.path, model, "MISS", opts, len(steps) - 1, started
    )


def _run_step(gateway: Gateway, step: Any, request: Request) -> tuple[Response, str | None]:
    try:
        if not isinstance(step, dict):
            raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="each step must be an object")
        if step.get("provider") != "workers-ai":
            raise ApiError(
                errors.GATEWAY_BAD_REQUEST,
                detail=f"provider {step.get('provider')!r} is not served locally",
            )
        endpoint = step.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise ApiError(errors.GATEWAY_BAD_REQUEST, detail="step needs an 'endpoint'")
        headers = step.get("headers") if isinstance(step.get("headers"), dict) else {}
        assert isinstance(headers, dict)
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        gateway.check_upstream_auth(
            lowered.get("authorization", request.headers.get("authorization"))
        )
        query = step.get("query", {})
        endpoint = endpoint.removeprefix("run/").lstrip("/")
        if endpoint == "v1/chat/completions":
            return chat_completions(query).response(), query.get("model")
        if endpoint == "v1/embeddings":
            return openai_embeddings(query).response(), query.get("model")
        return run_model(endpoint, query).response(), endpoint
    except ApiError as err:
        return error_response(err), None
