"""Cloudflare's own Python SDK (``cloudflare`` on PyPI) reads the emulator's AI Gateway
management and logs API: the wire format is the one the SDK was generated for."""

from __future__ import annotations

from collections.abc import Iterator

import cloudflare
import httpx
import pytest

from cloudflare_ai_local import LocalCloudflare

LLAMA = "@cf/meta/llama-3.1-8b-instruct"


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def sdk(cf: LocalCloudflare) -> Iterator[cloudflare.Cloudflare]:
    client = cloudflare.Cloudflare(api_token=cf.api_token, base_url=cf.base_url, max_retries=0)
    yield client
    client.close()


def test_the_sdk_manages_gateways(cf: LocalCloudflare, sdk: cloudflare.Cloudflare) -> None:
    made = sdk.ai_gateway.create(
        account_id=cf.account_id,
        id="sdk-made",
        cache_invalidate_on_update=True,
        cache_ttl=120,
        collect_logs=True,
        rate_limiting_interval=60,
        rate_limiting_limit=50,
        rate_limiting_technique="fixed",
    )
    assert made.id == "sdk-made" and made.cache_ttl == 120 and made.created_at is not None
    assert "sdk-made" in [g.id for g in sdk.ai_gateway.list(account_id=cf.account_id)]
    updated = sdk.ai_gateway.update(
        "sdk-made",
        account_id=cf.account_id,
        cache_invalidate_on_update=False,
        cache_ttl=None,
        collect_logs=False,
        rate_limiting_interval=None,
        rate_limiting_limit=None,
    )
    assert updated.collect_logs is False and updated.rate_limiting_limit is None
    assert sdk.ai_gateway.get("sdk-made", account_id=cf.account_id).cache_ttl is None
    assert sdk.ai_gateway.delete("sdk-made", account_id=cf.account_id).id == "sdk-made"
    with pytest.raises(cloudflare.NotFoundError):
        sdk.ai_gateway.get("sdk-made", account_id=cf.account_id)


def test_the_sdk_lists_and_edits_logs(cf: LocalCloudflare, sdk: cloudflare.Cloudflare) -> None:
    url = f"{cf.gateway_url}/{cf.account_id}/sdk-logs/workers-ai/{LLAMA}"
    headers = {"Authorization": f"Bearer {cf.api_token}", "cf-aig-metadata": '{"app": "sdk"}'}
    ids = [
        httpx.post(url, json={"prompt": f"hello {i}"}, headers=headers).headers["cf-aig-log-id"]
        for i in range(3)
    ]
    listed = list(sdk.ai_gateway.logs.list("sdk-logs", account_id=cf.account_id, per_page=2))
    assert sorted(log.id for log in listed) == sorted(ids)  # two pages, followed by the SDK
    newest = listed[0]
    assert newest.id == ids[-1] and newest.model == LLAMA and newest.provider == "workers-ai"
    assert newest.success and not newest.cached and newest.status_code == 200
    assert newest.tokens_in and newest.tokens_out and newest.cost and newest.cost > 0
    assert newest.metadata == '{"app":"sdk"}'
    filtered = sdk.ai_gateway.logs.list(
        "sdk-logs",
        account_id=cf.account_id,
        filters=[{"key": "id", "operator": "eq", "value": [ids[0]]}],
    )
    assert [log.id for log in filtered] == [ids[0]]

    one = sdk.ai_gateway.logs.get(ids[0], account_id=cf.account_id, gateway_id="sdk-logs")
    assert one.id == ids[0] and one.request_size and one.response_size
    assert cf.api_token not in (one.request_head or "")
    body = sdk.ai_gateway.logs.request(ids[0], account_id=cf.account_id, gateway_id="sdk-logs")
    assert body == {"prompt": "hello 0"}
    answer = sdk.ai_gateway.logs.response(ids[0], account_id=cf.account_id, gateway_id="sdk-logs")
    assert isinstance(answer, dict) and answer["success"] is True
    sdk.ai_gateway.logs.edit(ids[0], account_id=cf.account_id, gateway_id="sdk-logs", feedback=1)
    liked = sdk.ai_gateway.logs.list("sdk-logs", account_id=cf.account_id, feedback=1)
    assert [log.id for log in liked] == [ids[0]]
    done = sdk.ai_gateway.logs.delete(
        "sdk-logs",
        account_id=cf.account_id,
        filters=[{"key": "id", "operator": "neq", "value": [ids[0]]}],
    )
    assert done.success
    left = sdk.ai_gateway.logs.list("sdk-logs", account_id=cf.account_id)
    assert [log.id for log in left] == [ids[0]]
