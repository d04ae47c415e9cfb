"""Async clients over aiohttp's pool: chosen by the setting, same answers, same errors."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from cloudflare_ai import (
    APIConnectionError,
    APITimeoutError,
    AsyncVectorizeClient,
    AsyncWorkersAIClient,
)
from cloudflare_ai.config import ClientSettings
from cloudflare_ai.errors import ConfigurationError
from cloudflare_ai.transport import AsyncTransport, RetryPolicy


def _settings(**options: object) -> ClientSettings:
    return ClientSettings(
        account_id="acct", api_token="tok", base_url="http://127.0.0.1:9/client/v4", **options
    )


@pytest.mark.parametrize(
    ("backend", "aiohttp_pool"), [("auto", True), ("aiohttp", True), ("httpx", False)]
)
async def test_the_setting_chooses_the_pool(backend: str, aiohttp_pool: bool) -> None:
    transport = AsyncTransport(_settings(http_backend=backend))
    try:
        inner = transport.client._transport
        assert isinstance(inner, AiohttpTransport) is aiohttp_pool
    finally:
        await transport.aclose()


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_AI_HTTP_BACKEND", "httpx")
    assert ClientSettings.resolve(account_id="a", api_token="t").http_backend == "httpx"
    monkeypatch.setenv("CLOUDFLARE_AI_HTTP_BACKEND", "curl")
    with pytest.raises(ConfigurationError):
        ClientSettings.resolve(account_id="a", api_token="t")


def test_insisting_on_aiohttp_without_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cloudflare_ai import aiohttp_backend

    monkeypatch.setattr(aiohttp_backend, "available", lambda: False)
    assert aiohttp_backend.wanted("auto") is False
    with pytest.raises(ConfigurationError, match=r"cloudflare-ai\[aiohttp\]"):
        aiohttp_backend.wanted("aiohttp")


async def test_a_refused_connection_is_a_connection_error_not_a_timeout() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = _settings(http_backend="aiohttp").model_copy(
        update={"base_url": f"http://127.0.0.1:{port}/client/v4", "max_retries": 0}
    )
    async with AsyncWorkersAIClient(settings=settings) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.embed(["hello"])
    assert not isinstance(caught.value, APITimeoutError)
    assert "ConnectError" in str(caught.value)


async def test_a_connection_dropped_mid_answer_is_retried_then_reported_as_dropped() -> None:
    calls = 0

    async def half_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"
            b'{"result":'
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(half_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = _settings(http_backend="aiohttp").model_copy(
        update={"base_url": f"http://127.0.0.1:{port}/client/v4"}
    )
    try:
        retry = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)
        async with AsyncVectorizeClient(settings=settings, retry=retry) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.list_indexes()
    finally:
        server.close()
        await server.wait_closed()
    assert calls == 3  # the first try and two retries
    assert not isinstance(caught.value, APITimeoutError)


async def test_a_slow_answer_is_still_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(2)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = _settings(http_backend="aiohttp").model_copy(
        update={
            "base_url": f"http://127.0.0.1:{port}/client/v4",
            "timeout": 0.2,
            "max_retries": 0,
        }
    )
    try:
        async with AsyncVectorizeClient(settings=settings) as client:
            with pytest.raises(APITimeoutError):
                await client.list_indexes()
    finally:
        server.close()
        await server.wait_closed()


async def test_large_answers_arrive_whole() -> None:
    body = (
        b'{"result":{"shape":[1,3],"data":[[1,2,3]]},"success":true,"pad":"'
        + b"x" * (3 << 20)
        + b'"}'
    )

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        writer.write(head % len(body) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(big, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = AsyncTransport(
        _settings(http_backend="aiohttp").model_copy(
            update={"base_url": f"http://127.0.0.1:{port}/client/v4"}
        )
    )
    try:
        from cloudflare_ai.transport import Request

        response = await transport.send(
            Request("POST", f"http://127.0.0.1:{port}/client/v4/x", json={}, label="x")
        )
        assert response.content == body
        assert isinstance(response, httpx.Response)
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()
