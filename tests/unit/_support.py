"""Helpers shared by the unit tests: a clean environment, fast retries and mock transports."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from cloudflare_ai import (
    AsyncVectorizeClient,
    AsyncWorkersAIClient,
    RetryPolicy,
    VectorizeClient,
    WorkersAIClient,
)

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "unit-test-SECRET-token-7f3a9c"
API = "https://api.cloudflare.com/client/v4"
CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"

#: Every environment variable the package reads.
ENV_NAMES = (
    "CLOUDFLARE_ACCOUNT_ID",
    "CF_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    "CF_API_TOKEN",
    "CF_AI_API_TOKEN",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_AI_GATEWAY_ID",
    "CLOUDFLARE_GATEWAY_ID",
    "CLOUDFLARE_AI_GATEWAY_URL",
    "CLOUDFLARE_AI_GATEWAY_TOKEN",
)

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_retry_after=0.01)

Handler = Callable[[httpx.Request], httpx.Response]


def clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def failure(code: int | None, message: str = "boom") -> dict[str, Any]:
    errors: list[dict[str, Any]] = [{"code": code, "message": message}]
    if code is None:
        errors = [{"message": message}]
    return {"result": None, "success": False, "errors": errors, "messages": []}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=orjson.dumps(body),
        headers={"content-type": "application/json", **(headers or {})},
    )


class Recorder:
    """A MockTransport handler that records every request (thread-safe)."""

    def __init__(self, respond: Handler) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self.lock:
            self.requests.append(request)
        return self.respond(request)

    @property
    def count(self) -> int:
        return len(self.requests)


def ai_client(handler: Handler, **kwargs: Any) -> WorkersAIClient:
    kwargs.setdefault("account_id", ACCOUNT)
    kwargs.setdefault("api_token", TOKEN)
    kwargs.setdefault("retry", FAST)
    return WorkersAIClient(
        http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kwargs
    )


def async_ai_client(handler: Any, **kwargs: Any) -> AsyncWorkersAIClient:
    kwargs.setdefault("account_id", ACCOUNT)
    kwargs.setdefault("api_token", TOKEN)
    kwargs.setdefault("retry", FAST)
    return AsyncWorkersAIClient(
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **kwargs
    )


def vz_client(handler: Handler, **kwargs: Any) -> VectorizeClient:
    kwargs.setdefault("account_id", ACCOUNT)
    kwargs.setdefault("api_token", TOKEN)
    kwargs.setdefault("retry", FAST)
    return VectorizeClient(
        http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kwargs
    )


def async_vz_client(handler: Any, **kwargs: Any) -> AsyncVectorizeClient:
    kwargs.setdefault("account_id", ACCOUNT)
    kwargs.setdefault("api_token", TOKEN)
    kwargs.setdefault("retry", FAST)
    return AsyncVectorizeClient(
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **kwargs
    )


def sse(*events: Any, done: bool = True) -> bytes:
    """An SSE body of ``data:`` events (dicts are JSON-encoded), ending with [DONE]."""
    parts = []
    for event in events:
        data = event if isinstance(event, str) else orjson.dumps(event).decode()
        parts.append(f"data: {data}\n\n")
    if done:
        parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


class ChunkedStream(httpx.SyncByteStream):
    """A response body delivered in the given pieces, optionally failing at the end."""

    def __init__(self, pieces: list[bytes], fail: Exception | None = None) -> None:
        self.pieces = pieces
        self.fail = fail

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self.pieces
        if self.fail is not None:
            raise self.fail


class AsyncChunkedStream(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for piece in self.pieces:
            yield piece
