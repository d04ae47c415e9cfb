"""The AI Gateway management and logs REST API of the emulator, and the gateway settings it
applies at runtime: cache TTL, logging, authentication, rate limits, retries and timeouts."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from cloudflare_ai.costs import Units, cost_of
from cloudflare_ai_local import EmulatorConfig, FaultConfig, create_app, emulator_state
from cloudflare_ai_local.gateway_ratelimit import RateLimiter
from cloudflare_ai_local.gateway_redact import redact_body, redact_head

from .conftest import ACCOUNT, API, AUTH, BGE, LLAMA_8B, TOKEN
from .helpers import assert_error

GWS = f"{API}/ai-gateway/gateways"
ROOT = f"/gateway/v1/{ACCOUNT}"


def run_url(gateway: str, model: str = LLAMA_8B) -> str:
    return f"{ROOT}/{gateway}/workers-ai/{model}"


async def create(client: httpx.AsyncClient, gateway: str, **settings: Any) -> dict[str, Any]:
    body = {
        "id": gateway,
        "cache_invalidate_on_update": False,
        "cache_ttl": None,
        "collect_logs": True,
        "rate_limiting_interval": None,
        "rate_limiting_limit": None,
        **settings,
    }
    r = await client.post(GWS, json=body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


async def logs_of(client: httpx.AsyncClient, gateway: str, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{GWS}/{gateway}/logs", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- management ------------------------------------------------------------------------------


async def test_gateway_lifecycle(client: httpx.AsyncClient) -> None:
    made = await create(
        client,
        "ops",
        cache_ttl=120,
        rate_limiting_interval=60,
        rate_limiting_limit=10,
        rate_limiting_technique="sliding",
        authentication=True,
    )
    assert made["id"] == "ops" and made["cache_ttl"] == 120 and made["authentication"] is True
    assert made["rate_limiting_technique"] == "sliding"
    assert made["created_at"].endswith("Z") and made["created_at"] == made["modified_at"]
    assert_error(await client.post(GWS, json={"id": "ops"}), 409, 2021)
    assert_error(await client.post(GWS, json={"id": "Bad Id"}), 400, 2022)
    assert_error(await client.post(GWS, json={"id": "x", "cache_ttl": "soon"}), 400, 2022)
    bad_technique = {"id": "y", "rate_limiting_technique": "leaky"}
    assert_error(await client.post(GWS, json=bad_technique), 400, 2022)

    updated = await client.put(f"{GWS}/ops", json={"collect_logs": False, "cache_ttl": None})
    assert updated.json()["result"]["collect_logs"] is False
    assert updated.json()["result"]["cache_ttl"] is None
    assert updated.json()["result"]["rate_limiting_limit"] == 10  # kept
    got = (await client.get(f"{GWS}/ops")).json()["result"]
    assert got["modified_at"] >= got["created_at"] and got["collect_logs"] is False

    await create(client, "other")
    listed = await client.get(GWS, params={"per_page": 1, "page": 2})
    assert [g["id"] for g in listed.json()["result"]] == ["other"]
    assert listed.json()["result_info"]["total_count"] == 2
    searched = await client.get(GWS, params={"search": "OP"})
    assert [g["id"] for g in searched.json()["result"]] == ["ops"]

    deleted = await client.delete(f"{GWS}/ops")
    assert deleted.json()["result"]["id"] == "ops"
    assert_error(await client.get(f"{GWS}/ops"), 404, 2020)
    assert_error(await client.delete(f"{GWS}/ops"), 404, 2020)
    assert_error(await client.get(f"{GWS}/ops/logs"), 404, 2020)


async def test_management_needs_the_api_token(app: Starlette) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as c:
        assert_error(await c.get(GWS), 401, 10000)
        wrong = await c.get(GWS.replace(ACCOUNT, "f" * 32), headers=AUTH)
        assert_error(wrong, 403, 10000)


async def test_unknown_gateway_is_created_on_first_use(client: httpx.AsyncClient) -> None:
    assert (await client.get(GWS)).json()["result"] == []
    await client.post(run_url("fresh"), json={"prompt": "hi"})
    fresh = (await client.get(f"{GWS}/fresh")).json()["result"]
    assert fresh["collect_logs"] is True and fresh["authentication"] is False


# --- logs ------------------------------------------------------------------------------------


async def test_logs_carry_usage_cost_and_bodies(client: httpx.AsyncClient) -> None:
    headers = {"cf-aig-metadata": '{"user": "u1", "beta": true}', "cf-aig-cache-ttl": "300"}
    first = await client.post(run_url("gw"), json={"prompt": "hello there"}, headers=headers)
    again = await client.post(run_url("gw"), json={"prompt": "hello there"}, headers=headers)
    emb = await client.post(
        f"{ROOT}/gw/workers-ai/v1/embeddings", json={"model": BGE, "input": ["a b", "c"]}
    )
    assert again.headers["cf-aig-cache-status"] == "HIT"
    usage = first.json()["result"]["usage"]
    listed = await logs_of(client, "gw", order_by_direction="asc")
    assert listed["result_info"]["total_count"] == 3
    miss, hit, embedded = listed["result"]
    assert miss["id"] == first.headers["cf-aig-log-id"]
    assert (miss["tokens_in"], miss["tokens_out"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    expected = cost_of(
        LLAMA_8B,
        Units(input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"]),
    )
    assert expected is not None and expected.usd > 0
    assert miss["cost"] == pytest.approx(expected.usd)
    assert miss["neurons"] == pytest.approx(expected.neurons)
    assert miss["provider"] == "workers-ai" and miss["model"] == LLAMA_8B
    assert miss["model_type"] == "text-generation" and miss["request_type"] == "run"
    assert miss["success"] is True and miss["status_code"] == 200 and miss["cached"] is False
    assert miss["path"] == f"workers-ai/{LLAMA_8B}"
    assert orjson.loads(miss["metadata"]) == {"user": "u1", "beta": True}
    assert isinstance(miss["duration"], int) and miss["created_at"].endswith("Z")
    # A cache hit reports the answer's tokens but no upstream cost.
    assert hit["cached"] is True and hit["tokens_in"] == miss["tokens_in"]
    assert hit["cost"] == 0 and hit["neurons"] == 0
    emb_usage = emb.json()["usage"]["prompt_tokens"]
    assert embedded["tokens_in"] == emb_usage and embedded["tokens_out"] == 0
    emb_cost = cost_of(BGE, Units(input_tokens=emb_usage))
    assert emb_cost is not None and embedded["cost"] == pytest.approx(emb_cost.usd)
    assert embedded["request_type"] == "embeddings"

    one = (await client.get(f"{GWS}/gw/logs/{miss['id']}")).json()["result"]
    assert one["request_size"] > 0 and one["response_size"] > 0
    assert "cf-aig-metadata" in one["request_head"]
    request_body = await client.get(f"{GWS}/gw/logs/{miss['id']}/request")
    assert request_body.json() == {"prompt": "hello there"}
    response_body = await client.get(f"{GWS}/gw/logs/{miss['id']}/response")
    assert response_body.json() == first.json()
    assert_error(await client.get(f"{GWS}/gw/logs/nope"), 404, 2023)
    assert_error(await client.get(f"{GWS}/gw/logs/nope/request"), 404, 2023)


async def test_streamed_answers_are_logged_with_their_usage(client: httpx.AsyncClient) -> None:
    r = await client.post(run_url("gw"), json={"prompt": "stream me", "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    [entry] = (await logs_of(client, "gw"))["result"]
    assert entry["tokens_in"] > 0 and entry["tokens_out"] > 0 and entry["cost"] > 0
    stored = await client.get(f"{GWS}/gw/logs/{entry['id']}/response")
    assert b"data: [DONE]" in stored.content


def test_redaction_of_bodies_and_heads() -> None:
    body = orjson.dumps(
        [{"headers": {"Authorization": "Bearer abc", "X-Api-Key": "k1"}, "query": {"prompt": "p"}}]
    )
    cleaned = redact_body(body)
    assert cleaned is not None and b"abc" not in cleaned and b"k1" not in cleaned
    assert orjson.loads(cleaned)[0]["query"] == {"prompt": "p"}
    assert redact_body(b"text with Bearer secret-token inside") == (
        b"text with Bearer [redacted] inside"
    )
    head = redact_head([("Authorization", "Bearer t"), ("cf-aig-authorization", "Bearer g")])
    assert "Bearer" not in head and "content" not in head


async def test_no_secret_is_stored() -> None:
    app = create_app(EmulatorConfig(gateway_token="gw-secret-123"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e", headers=AUTH
    ) as c:
        gw_auth = {"cf-aig-authorization": "Bearer gw-secret-123"}
        await c.post(run_url("gw"), json={"prompt": "x"}, headers=gw_auth)
        steps = [
            {
                "provider": "workers-ai",
                "endpoint": LLAMA_8B,
                "headers": {"Authorization": f"Bearer {TOKEN}", "x-api-key": "provider-key"},
                "query": {"prompt": "y"},
            }
        ]
        await c.post(f"{ROOT}/gw", json=steps, headers=gw_auth)
        listed = (await c.get(f"{GWS}/gw/logs")).json()["result"]
        assert len(listed) == 2
        everything = b""
        for entry in listed:
            for suffix in ("", "/request", "/response"):
                everything += (await c.get(f"{GWS}/gw/logs/{entry['id']}{suffix}")).content
        assert b"gw-secret-123" not in everything
        assert TOKEN.encode() not in everything
        assert b"provider-key" not in everything
        assert b"[redacted]" in everything


async def test_filters_ordering_and_paging(client: httpx.AsyncClient) -> None:
    for i in range(7):
        await client.post(
            run_url("gw"), json={"prompt": f"p{i}"}, headers={"cf-aig-metadata": f'{{"n": {i}}}'}
        )
    await client.post(f"{ROOT}/gw/workers-ai/v1/embeddings", json={"model": BGE, "input": "x"})
    await client.post(run_url("gw", "@cf/nope/nope"), json={"prompt": "x"})

    page = await logs_of(client, "gw", per_page=4, page=2, order_by_direction="asc")
    assert page["result_info"] == {"page": 2, "per_page": 4, "count": 4, "total_count": 9}
    assert [orjson.loads(e["metadata"] or "{}").get("n") for e in page["result"]] == [4, 5, 6, None]
    newest = await logs_of(client, "gw", per_page=1)
    assert newest["result"][0]["model"] == "@cf/nope/nope"

    assert (await logs_of(client, "gw", model=BGE))["result_info"]["total_count"] == 1
    assert (await logs_of(client, "gw", success="false"))["result_info"]["total_count"] == 1
    assert (await logs_of(client, "gw", success="true"))["result_info"]["total_count"] == 8
    assert (await logs_of(client, "gw", cached="true"))["result_info"]["total_count"] == 0
    assert (await logs_of(client, "gw", provider="openai"))["result_info"]["total_count"] == 0
    # Built into the URL: an httpx client's params= would group repeated keys together.
    generic = await client.get(
        f"{GWS}/gw/logs?"
        + urlencode(
            [
                ("filters.key", "model"),
                ("filters.operator", "eq"),
                ("filters.value", LLAMA_8B),
                ("filters.value", BGE),
                ("filters.key", "metadata.value"),
                ("filters.operator", "neq"),
                ("filters.value", "3"),
            ]
        )
    )
    assert generic.json()["result_info"]["total_count"] == 7  # 8 minus n=3
    by_meta = await logs_of(client, "gw", search="5")
    assert by_meta["result_info"]["total_count"] == 1
    cheapest = await logs_of(
        client, "gw", order_by="tokens_in", order_by_direction="asc", per_page=1
    )
    assert cheapest["result"][0]["tokens_in"] == 0

    all_logs = (await logs_of(client, "gw", per_page=50, order_by_direction="asc"))["result"]
    middle = all_logs[3]["created_at"]
    later = await logs_of(client, "gw", start_date=middle)
    assert later["result_info"]["total_count"] == 6
    earlier = await logs_of(client, "gw", end_date=middle)
    assert earlier["result_info"]["total_count"] == 4
    assert_error(await client.get(f"{GWS}/gw/logs", params={"per_page": 500}), 400, 2022)
    bad_key = [("filters.key", "wholesale"), ("filters.operator", "eq"), ("filters.value", "1")]
    assert_error(await client.get(f"{GWS}/gw/logs?" + urlencode(bad_key)), 400, 2022)


async def test_feedback_and_delete(client: httpx.AsyncClient) -> None:
    ids = []
    for i in range(4):
        r = await client.post(run_url("gw"), json={"prompt": f"q{i}"})
        ids.append(r.headers["cf-aig-log-id"])
    up = await client.patch(f"{GWS}/gw/logs/{ids[0]}", json={"feedback": 1})
    assert up.json()["result"]["feedback"] == 1
    await client.patch(f"{GWS}/gw/logs/{ids[1]}", json={"feedback": -1, "score": 42})
    assert_error(await client.patch(f"{GWS}/gw/logs/{ids[2]}", json={"feedback": 5}), 400, 2022)
    assert_error(await client.patch(f"{GWS}/gw/logs/nope", json={"feedback": 1}), 404, 2023)
    thumbs_up = await logs_of(client, "gw", feedback=1)
    assert [e["id"] for e in thumbs_up["result"]] == [ids[0]]
    thumbs_down = await logs_of(client, "gw", feedback=0)
    assert [(e["id"], e["score"]) for e in thumbs_down["result"]] == [(ids[1], 42)]

    filters = [("filters.key", "feedback"), ("filters.operator", "eq"), ("filters.value", "-1")]
    deleted = await client.delete(f"{GWS}/gw/logs?" + urlencode(filters))
    assert deleted.json() == {
        "result": {"deleted": 1},
        "success": True,
        "errors": [],
        "messages": [],
    }
    oldest = await client.delete(f"{GWS}/gw/logs", params={"limit": 1})
    assert oldest.json()["result"]["deleted"] == 1
    left = (await logs_of(client, "gw", order_by_direction="asc"))["result"]
    assert [e["id"] for e in left] == ids[2:]
    await client.delete(f"{GWS}/gw/logs")
    assert (await logs_of(client, "gw"))["result"] == []


# --- settings at runtime ---------------------------------------------------------------------


async def test_cache_ttl_collect_logs_and_invalidation(client: httpx.AsyncClient) -> None:
    await create(client, "cached", cache_ttl=600, cache_invalidate_on_update=True)
    url = run_url("cached")
    statuses = []
    for _ in range(2):
        r = await client.post(url, json={"prompt": "same"})
        statuses.append(r.headers["cf-aig-cache-status"])
    assert statuses == ["MISS", "HIT"]
    await client.put(f"{GWS}/cached", json={"collect_logs": False})
    after_update = await client.post(url, json={"prompt": "same"})
    assert after_update.headers["cf-aig-cache-status"] == "MISS"  # invalidated on update
    assert (await logs_of(client, "cached"))["result_info"]["total_count"] == 2
    forced = await client.post(url, json={"prompt": "new"}, headers={"cf-aig-collect-log": "true"})
    assert forced.status_code == 200
    assert (await logs_of(client, "cached"))["result_info"]["total_count"] == 3


async def test_authentication_setting(client: httpx.AsyncClient) -> None:
    await create(client, "locked", authentication=True)
    assert_error(await client.post(run_url("locked"), json={"prompt": "x"}), 401, 2009)
    ok = await client.post(
        run_url("locked"), json={"prompt": "x"}, headers={"cf-aig-authorization": f"Bearer {TOKEN}"}
    )
    assert ok.status_code == 200
    await client.put(f"{GWS}/locked", json={"authentication": False})
    assert (await client.post(run_url("locked"), json={"prompt": "x"})).status_code == 200


async def test_log_management_keeps_the_newest(client: httpx.AsyncClient) -> None:
    await create(client, "small", log_management=2, log_management_strategy="DELETE_OLDEST")
    for i in range(4):
        await client.post(run_url("small"), json={"prompt": f"m{i}"})
    kept = (await logs_of(client, "small", order_by_direction="asc"))["result"]
    assert len(kept) == 2
    bodies = [(await client.get(f"{GWS}/small/logs/{e['id']}/request")).json() for e in kept]
    assert bodies == [{"prompt": "m2"}, {"prompt": "m3"}]


@pytest.mark.parametrize("technique", ["fixed", "sliding"])
async def test_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, technique: str
) -> None:
    await create(
        client,
        "limited",
        rate_limiting_interval=3600,  # one window for the whole test
        rate_limiting_limit=2,
        rate_limiting_technique=technique,
    )
    answers = [await client.post(run_url("limited"), json={"prompt": "x"}) for _ in range(3)]
    assert [r.status_code for r in answers[:2]] == [200, 200]
    refused = answers[2]
    assert_error(refused, 429, 2024)
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    # Other gateways are not limited, and lifting the limit lets requests through.
    assert (await client.post(run_url("free"), json={"prompt": "x"})).status_code == 200
    await client.put(
        f"{GWS}/limited", json={"rate_limiting_interval": None, "rate_limiting_limit": None}
    )
    assert (await client.post(run_url("limited"), json={"prompt": "x"})).status_code == 200


def test_fixed_and_sliding_windows() -> None:
    limiter = RateLimiter()
    # Fixed: 2 per 10 s windows starting at multiples of 10.
    assert limiter.admit("f", 2, 10, "fixed", now=100.0) is None
    assert limiter.admit("f", 2, 10, "fixed", now=105.0) is None
    assert limiter.admit("f", 2, 10, "fixed", now=109.0) == pytest.approx(1.0)
    assert limiter.admit("f", 2, 10, "fixed", now=110.0) is None  # a new window
    # Sliding: 2 in any 10 s.
    assert limiter.admit("s", 2, 10, "sliding", now=100.0) is None
    assert limiter.admit("s", 2, 10, "sliding", now=105.0) is None
    assert limiter.admit("s", 2, 10, "sliding", now=109.0) == pytest.approx(1.0)
    assert limiter.admit("s", 2, 10, "sliding", now=110.5) is None  # 100.0 left the window
    assert limiter.admit("s", 2, 10, "sliding", now=111.0) == pytest.approx(4.0)
    limiter.reset("s")
    assert limiter.admit("s", 2, 10, "sliding", now=111.0) is None


# --- retries and timeouts against scripted upstream faults -----------------------------------


async def test_retries_recover_from_scripted_faults(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    faults = emulator_state(app).faults
    faults.fail_model(LLAMA_8B, "500", "3040")
    retry = {
        "cf-aig-max-attempts": "3",
        "cf-aig-retry-delay": "50",
        "cf-aig-backoff": "exponential",
    }
    started = time.monotonic()
    ok = await client.post(run_url("gw"), json={"prompt": "x"}, headers=retry)
    elapsed = time.monotonic() - started
    assert ok.status_code == 200
    assert elapsed >= 0.05 + 0.1 - 0.01  # 50 ms, then 100 ms (exponential)
    [entry] = (await logs_of(client, "gw"))["result"]
    assert entry["attempts"] == 3 and entry["success"] is True

    faults.fail_model(LLAMA_8B, "503", "503")
    failed = await client.post(
        run_url("gw"), json={"prompt": "x"}, headers={"cf-aig-max-attempts": "2"}
    )
    assert failed.status_code == 503
    latest = (await logs_of(client, "gw", per_page=1))["result"][0]
    assert latest["attempts"] == 2 and latest["success"] is False and latest["cost"] == 0
    # Without retry headers one failure is final.
    faults.fail_model(LLAMA_8B, "429")
    assert (await client.post(run_url("gw"), json={"prompt": "x"})).status_code == 429


async def test_gateway_retry_defaults_apply_without_headers(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await create(client, "retrying", retry_max_attempts=2, retry_delay=0, retry_backoff="linear")
    emulator_state(app).faults.fail_model(LLAMA_8B, "502")
    assert (await client.post(run_url("retrying"), json={"prompt": "x"})).status_code == 200
    emulator_state(app).faults.fail_model(LLAMA_8B, "502")
    one_try = {"cf-aig-max-attempts": "1"}
    assert (
        await client.post(run_url("retrying"), json={"prompt": "x"}, headers=one_try)
    ).status_code == 502


async def test_request_timeout_against_a_slow_upstream(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    state = emulator_state(app)
    state.faults.set(FaultConfig(timeout_seconds=2.0))
    state.faults.fail_model(LLAMA_8B, "timeout")
    started = time.monotonic()
    timed_out = await client.post(
        run_url("gw"), json={"prompt": "x"}, headers={"cf-aig-request-timeout": "100"}
    )
    assert time.monotonic() - started < 1.5
    assert_error(timed_out, 504, 2025)
    # A retry after the timeout reaches the (now fast) upstream.
    state.faults.fail_model(LLAMA_8B, "timeout")
    recovered = await client.post(
        run_url("gw"),
        json={"prompt": "x"},
        headers={"cf-aig-request-timeout": "100", "cf-aig-max-attempts": "2"},
    )
    assert recovered.status_code == 200
    entries = (await logs_of(client, "gw", order_by_direction="asc"))["result"]
    assert [(e["status_code"], e["attempts"]) for e in entries] == [(504, 1), (200, 2)]
    # A timeout longer than the stall lets the slow answer through.
    state.faults.set(FaultConfig(timeout_seconds=0.2))
    state.faults.fail_model(LLAMA_8B, "timeout")
    slow = await client.post(
        run_url("gw"), json={"prompt": "x"}, headers={"cf-aig-request-timeout": "3000"}
    )
    assert slow.status_code == 200


async def test_embeddings_on_run_are_estimated(client: httpx.AsyncClient) -> None:
    await client.post(run_url("gw", BGE), json={"text": ["one two three", "four"]})
    [entry] = (await logs_of(client, "gw"))["result"]
    assert entry["tokens_in"] > 0 and entry["cost"] > 0 and entry["model_type"] == "text-embeddings"


async def test_logs_survive_a_restart(tmp_path: Any) -> None:
    config = EmulatorConfig(data_dir=tmp_path)
    app = create_app(config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e", headers=AUTH
    ) as c:
        await create(c, "kept", cache_ttl=900, rate_limiting_interval=60, rate_limiting_limit=5)
        r = await c.post(run_url("kept"), json={"prompt": "remember me"})
        log_id = r.headers["cf-aig-log-id"]
        await c.patch(f"{GWS}/kept/logs/{log_id}", json={"feedback": 1})
    emulator_state(app).gateway.close()

    reopened = create_app(EmulatorConfig(data_dir=tmp_path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=reopened), base_url="http://e", headers=AUTH
    ) as c:
        settings = (await c.get(f"{GWS}/kept")).json()["result"]
        assert settings["cache_ttl"] == 900 and settings["rate_limiting_limit"] == 5
        [entry] = (await logs_of(c, "kept"))["result"]
        assert entry["id"] == log_id and entry["feedback"] == 1 and entry["tokens_in"] > 0
        body = await c.get(f"{GWS}/kept/logs/{log_id}/request")
        assert body.json() == {"prompt": "remember me"}
    emulator_state(reopened).gateway.close()
