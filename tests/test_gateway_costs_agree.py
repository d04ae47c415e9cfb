"""Three views of what a job cost agree: the answers' own usage, a usage tracker's totals and
the gateway's logs (and analytics). Chat calls through the gateway on the native and
OpenAI-compatible paths, a stream, a client-side fallback, a Universal fallback and a call
through ``/compat`` are all priced with the same catalog prices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudflare_ai import AIGatewayClient, GatewaySettings, WorkersAIClient
from cloudflare_ai.transport import RetryPolicy
from cloudflare_ai.types import Usage
from cloudflare_ai.usage import track_usage
from cloudflare_ai_local import LocalCloudflare

LLAMA = "@cf/meta/llama-3.1-8b-instruct"
SMALL = "@cf/meta/llama-3.2-1b-instruct"
GATEWAY = "costs-agree"
RETRY = RetryPolicy(max_retries=0)
QUESTION = [{"role": "user", "content": "What does AI Gateway record for each request?"}]


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


def test_tracker_answers_and_gateway_logs_agree(cf: LocalCloudflare) -> None:
    settings = GatewaySettings(id=GATEWAY, base_url=cf.gateway_url)
    usages: list[Usage] = []
    with (
        WorkersAIClient(
            account_id=cf.account_id,
            api_token=cf.api_token,
            base_url=cf.base_url,
            gateway=settings,
            retry=RETRY,
        ) as ai,
        track_usage() as tracker,
    ):
        for api in ("native", "openai"):
            answer = ai.chat(LLAMA, QUESTION, api=api, max_tokens=48)
            assert answer.usage is not None
            usages.append(answer.usage)
        stream = ai.stream_chat(SMALL, QUESTION, max_tokens=48)
        stream.text()
        assert stream.response is not None and stream.response.usage is not None
        usages.append(stream.response.usage)
        # the primary is at capacity on the gateway's first step: the second step answers
        cf.fail_model(LLAMA, "3040")
        universal = ai.chat(LLAMA, QUESTION, fallback_models=[SMALL], fallback_via="gateway")
        assert universal.model == SMALL and universal.usage is not None
        usages.append(universal.usage)
        compat = ai.chat(f"workers-ai/{LLAMA}", QUESTION, api="compat", max_tokens=48)
        assert compat.usage is not None
        usages.append(compat.usage)

    # every answer is priced: neurons and USD from the catalog
    assert all(u.neurons and u.cost_usd for u in usages)
    assert tracker.total.calls == len(usages)
    assert tracker.total.neurons == pytest.approx(sum(u.neurons or 0 for u in usages))
    assert tracker.total.cost_usd == pytest.approx(sum(u.cost_usd or 0 for u in usages))
    # a Workers AI model reached through /compat is the same model at the same price
    assert set(tracker.by_model) == {LLAMA, SMALL}

    with AIGatewayClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
    ) as gateways:
        logs = list(gateways.iter_logs(GATEWAY))
        analytics = gateways.analytics(GATEWAY)
    answered = [log for log in logs if log.success]
    assert len(answered) == len(usages)
    assert sum(log.tokens_in or 0 for log in answered) == sum(u.prompt_tokens for u in usages)
    assert sum(log.tokens_out or 0 for log in answered) == sum(u.completion_tokens for u in usages)
    assert sum(log.cost or 0 for log in answered) == pytest.approx(tracker.total.cost_usd)
    assert analytics.total.requests == len(usages)
    assert analytics.total.cost_usd == pytest.approx(tracker.total.cost_usd)
    assert analytics.total.neurons == pytest.approx(tracker.total.neurons)
    universal_log = next(log for log in answered if log.step is not None)
    assert universal_log.step == 1 and universal_log.model == SMALL
