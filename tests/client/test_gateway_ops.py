"""AIGatewayClient against the emulator over HTTP: management, logs, feedback, deletion,
analytics that equal what the calls did, retries through the gateway, and its rate limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cloudflare_ai import (
    AIGatewayClient,
    AsyncAIGatewayClient,
    GatewaySettings,
    LogFilter,
    RateLimitError,
    RetryPolicy,
    ValidationError,
    WorkersAIClient,
)
from cloudflare_ai.costs import Units, cost_of
from cloudflare_ai.errors import APIError, ConflictError, NotFoundError
from cloudflare_ai_local import LocalCloudflare

LLAMA = "@cf/meta/llama-3.1-8b-instruct"
SMALL = "@cf/meta/llama-3.2-1b-instruct"
BGE = "@cf/baai/bge-base-en-v1.5"
FAST = RetryPolicy(max_retries=0)


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def gateways(cf: LocalCloudflare) -> Iterator[AIGatewayClient]:
    with AIGatewayClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url, retry=FAST
    ) as client:
        yield client


def ai(
    cf: LocalCloudflare, gateway: str, retry: RetryPolicy = FAST, **options: object
) -> WorkersAIClient:
    settings = GatewaySettings(id=gateway, base_url=cf.gateway_url, **options)  # type: ignore[arg-type]
    return WorkersAIClient(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        gateway=settings,
        retry=retry,
    )


def test_gateway_management(gateways: AIGatewayClient) -> None:
    made = gateways.create_gateway(
        "mgmt",
        cache_ttl=300,
        rate_limiting_interval=60,
        rate_limiting_limit=100,
        rate_limiting_technique="sliding",
    )
    assert made.id == "mgmt" and made.cache_ttl == 300 and made.created_at is not None
    assert made.rate_limit == "100 per 60 s, sliding"
    with pytest.raises(ConflictError):
        gateways.create_gateway("mgmt")
    assert gateways.create_gateway("mgmt", exist_ok=True).cache_ttl == 300
    changed = gateways.update_gateway("mgmt", collect_logs=False, authentication=True)
    assert changed.collect_logs is False and changed.authentication is True
    assert changed.cache_ttl == 300 and changed.rate_limiting_limit == 100  # kept
    assert gateways.update_gateway("mgmt", cache_ttl=None).cache_ttl is None
    assert "mgmt" in [g.id for g in gateways.list_gateways(search="mgm")]
    assert gateways.get_gateway("mgmt").authentication is True
    assert gateways.delete_gateway("mgmt") is not None
    assert gateways.delete_gateway("mgmt", missing_ok=True) is None
    with pytest.raises(NotFoundError):
        gateways.get_gateway("mgmt")
    with pytest.raises(ValidationError, match="both"):
        gateways.create_gateway("half", rate_limiting_limit=3)
    with pytest.raises(ValidationError):
        gateways.get_gateway("a/b")


def test_many_gateways_are_listed_across_pages(gateways: AIGatewayClient) -> None:
    for i in range(55):
        gateways.create_gateway(f"page-{i:02d}", exist_ok=True)
    listed = [g.id for g in gateways.list_gateways(search="page-")]
    assert listed == [f"page-{i:02d}" for i in range(55)]


def test_analytics_equal_what_the_calls_did(cf: LocalCloudflare, gateways: AIGatewayClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    with ai(cf, "stats", cache_ttl=300, metadata={"team": "a"}) as client:
        first = client.chat(LLAMA, prompt="What is a gateway?")
        hit = client.chat(LLAMA, prompt="What is a gateway?")
        other = client.chat(LLAMA, prompt="And a cache?")
        embedded = client.embed(["one two three", "four five"], api="openai")
        cf.fail_model(SMALL, "500")
        with pytest.raises(APIError):
            client.chat(SMALL, prompt="this one fails")
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert hit.gateway is not None and hit.gateway.cache_status == "HIT"

    priced = []
    for answer in (first, other):
        assert answer.usage is not None
        priced.append((LLAMA, answer.usage.prompt_tokens, answer.usage.completion_tokens))
    assert embedded.usage is not None
    priced.append((BGE, embedded.usage.prompt_tokens, 0))
    costs = [cost_of(m, Units(input_tokens=i, output_tokens=o)) for m, i, o in priced]
    assert all(c is not None for c in costs)
    usd = sum(c.usd for c in costs if c)
    neurons = sum(c.neurons for c in costs if c)
    assert first.usage is not None
    tokens_in = sum(i for _, i, _ in priced) + first.usage.prompt_tokens  # the hit's answer
    tokens_out = sum(o for _, _, o in priced) + first.usage.completion_tokens

    stats = gateways.analytics("stats", start=before, end=after)
    total = stats.total
    assert (total.requests, total.errors, total.cache_hits) == (5, 1, 1)
    assert (total.tokens_in, total.tokens_out) == (tokens_in, tokens_out)
    assert total.cost_usd == pytest.approx(usd)
    assert total.neurons == pytest.approx(neurons)
    assert total.cache_hit_rate == pytest.approx(0.2) and total.error_rate == pytest.approx(0.2)
    assert total.p50_ms is not None and total.p95_ms is not None
    assert total.p50_ms <= total.p95_ms
    by_model = {m.model: m for m in stats.models}
    assert [m.model for m in stats.models] == [LLAMA, BGE, SMALL]  # most requested first
    assert (by_model[LLAMA].requests, by_model[LLAMA].cache_hits) == (3, 1)
    assert (by_model[SMALL].errors, by_model[SMALL].cost_usd) == (1, 0)
    assert by_model[BGE].cost_usd == pytest.approx(costs[2].usd if costs[2] else 0)

    empty = gateways.analytics("stats", start=after)
    assert empty.total.requests == 0 and empty.models == []


def test_logs_paging_filters_bodies_feedback_and_deletion(
    cf: LocalCloudflare, gateways: AIGatewayClient
) -> None:
    log_ids = []
    with ai(cf, "browse") as client:
        for i in range(7):
            meta = GatewaySettings(
                id="browse", base_url=cf.gateway_url, metadata={"n": i, "even": i % 2 == 0}
            )
            answer = client.chat(LLAMA, prompt=f"question {i}", gateway=meta)
            assert answer.gateway is not None and answer.gateway.log_id
            log_ids.append(answer.gateway.log_id)
        client.embed("just one", api="openai")

    page = gateways.list_logs("browse", per_page=3, page=1)
    assert page.total_count == 8 and len(page.logs) == 3
    every = list(gateways.iter_logs("browse", per_page=2))
    assert len(every) == 8 and len({log.id for log in every}) == 8
    assert [log.created_at for log in every] == sorted(
        (log.created_at for log in every), reverse=True
    )
    oldest_first = list(gateways.iter_logs("browse", direction="asc", model=LLAMA))
    assert [log.id for log in oldest_first] == log_ids
    assert oldest_first[3].metadata == {"n": 3, "even": False}
    assert len(list(gateways.iter_logs("browse", model=BGE))) == 1
    assert len(list(gateways.iter_logs("browse", metadata={"even": True}))) == 4
    assert len(list(gateways.iter_logs("browse", cached=True))) == 0
    assert len(list(gateways.iter_logs("browse", success=True))) == 8
    raw = [LogFilter("tokens_out", "gt", (0,))]
    assert len(list(gateways.iter_logs("browse", filters=raw))) == 7
    middle = oldest_first[3].created_at
    assert len(list(gateways.iter_logs("browse", start=middle))) == 5  # 3..6 and the embedding

    one = gateways.get_log("browse", log_ids[0])
    assert one.model == LLAMA and one.tokens_in and one.cost and one.request_head
    assert "authorization: [redacted]" in (one.request_head or "")
    sent = gateways.log_request("browse", log_ids[0])
    assert sent == {"prompt": "question 0"}
    answered = gateways.log_response("browse", log_ids[0])
    assert answered["result"]["usage"]["prompt_tokens"] == one.tokens_in

    gateways.set_feedback("browse", log_ids[1], 1)
    gateways.set_feedback("browse", log_ids[2], -1, score=10)
    assert gateways.get_log("browse", log_ids[2]).feedback == -1
    assert [log.id for log in gateways.iter_logs("browse", feedback=1)] == [log_ids[1]]
    with pytest.raises(ValidationError):
        gateways.set_feedback("browse", log_ids[1], 2)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        gateways.set_feedback("browse", "no-such-log", 1)

    assert gateways.delete_logs("browse", feedback=-1) == 1
    assert gateways.delete_logs("browse", model=BGE) == 1
    assert gateways.delete_logs("browse", metadata={"n": 0}) == 1
    assert (
        gateways.delete_logs("browse", start=oldest_first[5].created_at - timedelta(microseconds=1))
        == 2
    )
    left = [log.id for log in gateways.iter_logs("browse", direction="asc")]
    assert left == [log_ids[1], log_ids[3], log_ids[4]]
    assert gateways.delete_logs("browse") == 3
    assert gateways.list_logs("browse").logs == []


def test_gateway_retries_recover_from_scripted_faults(
    cf: LocalCloudflare, gateways: AIGatewayClient
) -> None:
    cf.fail_model(LLAMA, "3040", "503")
    with ai(cf, "retries", max_attempts=3, retry_delay_ms=20, backoff="linear") as client:
        started = time.monotonic()
        answer = client.chat(LLAMA, prompt="retry me")
        assert time.monotonic() - started >= 0.02 + 0.04 - 0.005
    assert answer.text
    [log] = gateways.list_logs("retries").logs
    assert log.attempts == 3 and log.success


def test_the_gateway_rate_limit_and_client_retries(
    cf: LocalCloudflare, gateways: AIGatewayClient
) -> None:
    gateways.create_gateway(
        "limited",
        rate_limiting_interval=1,
        rate_limiting_limit=1,
        rate_limiting_technique="sliding",
    )
    patient = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05, max_retry_after=3)
    with ai(cf, "limited") as impatient, ai(cf, "limited", retry=patient) as client:
        client.chat(LLAMA, prompt="first")
        with pytest.raises(RateLimitError) as refused:
            impatient.chat(LLAMA, prompt="second, without retries")
        assert refused.value.status_code == 429 and refused.value.retry_after == 1
        started = time.monotonic()
        assert client.chat(LLAMA, prompt="second, retried").text
        assert time.monotonic() - started >= 0.9  # waited as Retry-After asked
    assert gateways.list_logs("limited").total_count == 2  # refused requests are not logged


async def test_the_async_client(cf: LocalCloudflare) -> None:
    with ai(cf, "async-gw") as client:
        for i in range(3):
            client.chat(LLAMA, prompt=f"async {i}")
    async with AsyncAIGatewayClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url, retry=FAST
    ) as gateways:
        assert (await gateways.get_gateway("async-gw")).collect_logs is True
        logs = [log async for log in gateways.iter_logs("async-gw", per_page=2)]
        assert len(logs) == 3
        stats = await gateways.analytics("async-gw")
        assert stats.total.requests == 3 and stats.total.cost_usd == pytest.approx(
            sum(log.cost or 0 for log in logs)
        )
        await gateways.set_feedback("async-gw", logs[0].id, 1)
        assert (await gateways.get_log("async-gw", logs[0].id)).feedback == 1
        assert await gateways.delete_logs("async-gw") == 3
        await gateways.create_gateway("async-made")
        assert (await gateways.update_gateway("async-made", cache_ttl=120)).cache_ttl == 120
        assert "async-made" in [g.id for g in await gateways.list_gateways()]
        assert (await gateways.delete_gateway("async-made")) is not None


def test_reprs_hide_the_token(cf: LocalCloudflare, gateways: AIGatewayClient) -> None:
    assert cf.api_token not in repr(gateways)
