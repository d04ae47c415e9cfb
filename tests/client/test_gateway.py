"""AI Gateway routing, options and response headers, replayed from emulator recordings."""

from __future__ import annotations

from typing import Any

import pytest

from cloudflare_ai import AuthenticationError, GatewaySettings, WorkersAIClient
from tests.conftest import GATEWAY_TOKEN, Target

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
MESSAGES = [
    {"role": "system", "content": "The gateway caches identical requests. Logs get an id."},
    {"role": "user", "content": "What does the gateway cache?"},
]


def _client(target: Target, **gateway: Any) -> WorkersAIClient:
    settings = target.gateway(token=GATEWAY_TOKEN, **gateway)
    return WorkersAIClient(**target.client_kwargs(), gateway=settings)


@pytest.mark.vcr
def test_gateway_cache_miss_then_hit_with_log_ids(target: Target) -> None:
    with _client(target, cache_ttl=300, metadata={"team": "docs", "run": 1}) as client:
        first = client.chat(LLAMA, MESSAGES)
        second = client.chat(LLAMA, MESSAGES)
    assert first.gateway is not None and second.gateway is not None
    assert first.gateway.cache_status == "MISS"
    assert second.gateway.cache_status == "HIT"
    assert second.text == first.text
    assert first.gateway.log_id and second.gateway.log_id
    assert first.gateway.log_id != second.gateway.log_id


@pytest.mark.vcr
def test_gateway_skip_cache(target: Target) -> None:
    with _client(target, cache_ttl=300) as client:
        client.chat(LLAMA, MESSAGES, max_tokens=20)
        settings = target.gateway(token=GATEWAY_TOKEN, cache_ttl=300, skip_cache=True)
        again = client.chat(LLAMA, MESSAGES, max_tokens=20, gateway=GatewaySettings(**settings))
    assert again.gateway is not None and again.gateway.cache_status == "MISS"


@pytest.mark.vcr
def test_gateway_options_are_sent_as_headers(target: Target, vcr: Any) -> None:
    options = {
        "cache_key": "faq-1",
        "metadata": {"user": "u1", "beta": True},
        "request_timeout_ms": 20000,
        "max_attempts": 3,
        "retry_delay_ms": 500,
        "backoff": "exponential",
        "collect_log": True,
    }
    with _client(target, **options) as client:
        answer = client.chat(LLAMA, MESSAGES)
    assert answer.gateway is not None
    sent = {k.lower(): v for k, v in vcr.requests[-1].headers.items()}
    assert sent["cf-aig-cache-key"] == "faq-1"
    assert sent["cf-aig-metadata"] == '{"user":"u1","beta":true}'
    assert sent["cf-aig-request-timeout"] == "20000"
    assert sent["cf-aig-max-attempts"] == "3"
    assert sent["cf-aig-retry-delay"] == "500"
    assert sent["cf-aig-backoff"] == "exponential"
    assert sent["cf-aig-collect-log"] == "true"
    assert sent["cf-aig-authorization"] == "REDACTED"


@pytest.mark.vcr
def test_gateway_stream_exposes_headers(target: Target) -> None:
    with _client(target) as client:
        stream = client.stream_chat(LLAMA, MESSAGES)
        text = stream.text()
    assert text
    assert stream.gateway is not None and stream.gateway.log_id


@pytest.mark.vcr
def test_gateway_openai_and_embeddings(target: Target) -> None:
    with _client(target) as client:
        answer = client.chat(LLAMA, MESSAGES, api="openai")
        vectors = client.embed(["gateway embeddings"], model="@cf/baai/bge-small-en-v1.5")
    assert answer.text and answer.gateway is not None
    assert vectors.dimensions == 384


@pytest.mark.vcr
def test_authenticated_gateway_refuses_a_missing_token(target: Target) -> None:
    settings = target.gateway()  # no token
    with WorkersAIClient(**target.client_kwargs(), gateway=settings) as client:
        with pytest.raises(AuthenticationError) as info:
            client.chat(LLAMA, MESSAGES)
    assert info.value.status_code == 401
