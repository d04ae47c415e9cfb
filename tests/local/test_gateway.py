"""AI Gateway routes of the emulator: caching, headers, auth, logs, Universal fallbacks."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette

from cloudflare_ai_local import EmulatorConfig, create_app, emulator_state

from .conftest import ACCOUNT, AUTH, BGE, GW, LLAMA_8B
from .helpers import assert_error, sse_events


def logs(app: Starlette) -> list[object]:
    return list(emulator_state(app).gateway.logs)


@pytest.mark.parametrize("route", [f"workers-ai/{LLAMA_8B}", f"workers-ai/run/{LLAMA_8B}"])
async def test_run_through_gateway_and_cache(
    client: httpx.AsyncClient, app: Starlette, route: str
) -> None:
    headers = {
        "cf-aig-cache-ttl": "120",
        "cf-aig-metadata": '{"team":"ai","user":1,"a":true,"b":2,"c":3,"d":4}',
    }
    first = await client.post(f"{GW}/{route}", json={"prompt": "hi"}, headers=headers)
    second = await client.post(f"{GW}/{route}", json={"prompt": "hi"}, headers=headers)
    other = await client.post(f"{GW}/{route}", json={"prompt": "other"}, headers=headers)
    skipped = await client.post(
        f"{GW}/{route}", json={"prompt": "hi"}, headers={**headers, "cf-aig-skip-cache": "true"}
    )
    assert first.json()["result"]["response"] == "You said: hi"
    assert [r.headers["cf-aig-cache-status"] for r in (first, second, other, skipped)] == [
        "MISS",
        "HIT",
        "MISS",
        "MISS",
    ]
    assert second.json() == first.json()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", first.headers["cf-aig-log-id"])
    assert first.headers["cf-aig-log-id"] != second.headers["cf-aig-log-id"]
    assert first.headers["cf-aig-event-id"]
    assert "x-local-engine" in second.headers
    entries = emulator_state(app).gateway.logs
    assert [e.cache_status for e in entries] == ["MISS", "HIT", "MISS", "MISS"]
    assert entries[0].metadata == {"team": "ai", "user": 1, "a": True, "b": 2, "c": 3}
    assert entries[0].model == LLAMA_8B and entries[0].gateway_id == "my-gateway"


async def test_no_cache_without_ttl_and_custom_key(client: httpx.AsyncClient) -> None:
    url = f"{GW}/workers-ai/{LLAMA_8B}"
    a = await client.post(url, json={"prompt": "x"})
    b = await client.post(url, json={"prompt": "x"})
    assert a.headers["cf-aig-cache-status"] == b.headers["cf-aig-cache-status"] == "MISS"
    k1 = await client.post(url, json={"prompt": "x"}, headers={"cf-aig-cache-key": "k"})
    k2 = await client.post(url, json={"prompt": "x"}, headers={"cf-aig-cache-key": "k"})
    k3 = await client.post(url, json={"prompt": "x"}, headers={"cf-aig-cache-key": "other"})
    assert [r.headers["cf-aig-cache-status"] for r in (k1, k2, k3)] == ["MISS", "HIT", "MISS"]


async def test_streams_are_not_cached(client: httpx.AsyncClient) -> None:
    url = f"{GW}/workers-ai/{LLAMA_8B}"
    body = {"prompt": "x", "stream": True}
    for _ in range(2):
        r = await client.post(url, json=body, headers={"cf-aig-cache-ttl": "100"})
        assert r.headers["cf-aig-cache-status"] == "MISS"
        assert sse_events(r.text)[-1] == "[DONE]"


async def test_openai_routes_through_gateway(client: httpx.AsyncClient) -> None:
    chat = await client.post(
        f"{GW}/workers-ai/v1/chat/completions",
        json={"model": LLAMA_8B, "messages": [{"role": "user", "content": "What is 3 + 4?"}]},
    )
    assert "7" in chat.json()["choices"][0]["message"]["content"]
    emb = await client.post(f"{GW}/workers-ai/v1/embeddings", json={"model": BGE, "input": "hi"})
    assert len(emb.json()["data"][0]["embedding"]) == 768
    bad = await client.post(f"{GW}/workers-ai/@cf/nope/nope", json={"prompt": "x"})
    assert_error(bad, 400, 5007)
    assert bad.headers["cf-aig-cache-status"] == "MISS"


async def test_upstream_auth_required(app: Starlette) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as c:
        r = await c.post(f"{GW}/workers-ai/{LLAMA_8B}", json={"prompt": "x"})
        assert_error(r, 401, 10000)


async def test_authenticated_gateway() -> None:
    app = create_app(EmulatorConfig(gateway_token="gw-secret"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e", headers=AUTH
    ) as c:
        url = f"{GW}/workers-ai/{LLAMA_8B}"
        assert_error(await c.post(url, json={"prompt": "x"}), 401, 2009)
        wrong = await c.post(
            url, json={"prompt": "x"}, headers={"cf-aig-authorization": "Bearer nope"}
        )
        assert_error(wrong, 401, 2009)
        ok = await c.post(
            url, json={"prompt": "x"}, headers={"cf-aig-authorization": "Bearer gw-secret"}
        )
        assert ok.status_code == 200


async def test_bad_gateway_headers(client: httpx.AsyncClient) -> None:
    url = f"{GW}/workers-ai/{LLAMA_8B}"
    for headers in (
        {"cf-aig-metadata": "not json"},
        {"cf-aig-cache-ttl": "soon"},
        {"cf-aig-backoff": "random"},
    ):
        assert_error(await client.post(url, json={"prompt": "x"}, headers=headers), 400, 2001)


async def test_retry_headers_are_logged(client: httpx.AsyncClient, app: Starlette) -> None:
    await client.post(
        f"{GW}/workers-ai/{LLAMA_8B}",
        json={"prompt": "x"},
        headers={
            "cf-aig-max-attempts": "9",
            "cf-aig-retry-delay": "99999",
            "cf-aig-backoff": "linear",
            "cf-aig-request-timeout": "1500",
        },
    )
    opts = emulator_state(app).gateway.logs[-1].options
    assert opts["max_attempts"] == 5 and opts["retry_delay_ms"] == 5000
    assert opts["backoff"] == "linear" and opts["request_timeout_ms"] == 1500
    await client.post(
        f"{GW}/workers-ai/{LLAMA_8B}", json={"prompt": "x"}, headers={"cf-aig-collect-log": "false"}
    )
    assert len(emulator_state(app).gateway.logs) == 1


async def test_universal_fallback(client: httpx.AsyncClient, app: Starlette) -> None:
    steps = [
        {
            "provider": "workers-ai",
            "endpoint": "@cf/does/not-exist",
            "headers": dict(AUTH),
            "query": {"prompt": "x"},
        },
        {
            "provider": "workers-ai",
            "endpoint": LLAMA_8B,
            "headers": {"Authorization": "Bearer wrong"},
            "query": {"prompt": "x"},
        },
        {
            "provider": "workers-ai",
            "endpoint": LLAMA_8B,
            "headers": dict(AUTH),
            "query": {"prompt": "third"},
        },
    ]
    r = await client.post(GW, json=steps)
    assert r.status_code == 200
    assert r.headers["cf-aig-step"] == "2"
    assert r.json()["result"]["response"] == "You said: third"
    assert emulator_state(app).gateway.logs[-1].step == 2
    first_ok = await client.post(GW, json=steps[2:])
    assert first_ok.headers["cf-aig-step"] == "0"
    failed = await client.post(GW, json=steps[:2])
    assert failed.status_code == 401 and failed.headers["cf-aig-step"] == "1"
    assert_error(await client.post(GW, json=[]), 400, 2001)
    assert_error(await client.post(GW, content=b"{"), 400, 2001)


async def test_gateway_wrong_account(client: httpx.AsyncClient) -> None:
    r = await client.post(f"/gateway/v1/{'f' * 32}/gw/workers-ai/{LLAMA_8B}", json={"prompt": "x"})
    assert_error(r, 403, 10000)
    assert ACCOUNT != "f" * 32
