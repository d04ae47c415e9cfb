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
    assert universal_log.attempts == 2  # the first step failed once, the second answered


def test_a_cache_hit_costs_nothing_in_the_answer_the_tracker_and_the_logs(
    cf: LocalCloudflare,
) -> None:
    settings = GatewaySettings(id="costs-cache", base_url=cf.gateway_url, cache_ttl=300)
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
        first = ai.chat(LLAMA, QUESTION, max_tokens=48)
        again = ai.chat(LLAMA, QUESTION, max_tokens=48)
    assert first.gateway is not None and first.gateway.cache_status == "MISS"
    assert again.gateway is not None and again.gateway.cache_status == "HIT"
    assert first.usage is not None and again.usage is not None
    assert first.usage.neurons and again.usage.neurons == 0 and again.usage.cost_usd == 0
    assert again.usage.total_tokens == first.usage.total_tokens  # the same answer
    assert tracker.total.calls == 2
    assert tracker.total.neurons == pytest.approx(first.usage.neurons)
    with AIGatewayClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
    ) as gateways:
        analytics = gateways.analytics("costs-cache")
    assert analytics.total.requests == 2 and analytics.total.cache_hits == 1
    assert analytics.total.neurons == pytest.approx(tracker.total.neurons)
    assert analytics.total.cost_usd == pytest.approx(tracker.total.cost_usd)


def test_a_stream_cut_after_its_first_tokens_is_still_counted(cf: LocalCloudflare) -> None:
    from cloudflare_ai.errors import StreamError

    with WorkersAIClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url, retry=RETRY
    ) as ai:
        cf.set_faults(rate=1.0, kinds=("stream_cut",), paths=("/ai/run",), stream_cut_after=3)
        try:
            with track_usage() as tracker, pytest.raises(StreamError) as cut:
                ai.stream_chat(LLAMA, QUESTION, max_tokens=64).text()
        finally:
            cf.set_faults(rate=0.0)
    assert cut.value.partial_text  # some of the answer arrived before the cut
    assert tracker.total.calls == 1 and tracker.total.estimated_calls == 1
    assert tracker.total.output_tokens > 0 and tracker.total.neurons > 0


def test_analytics_count_calls_of_unpriced_models_apart(cf: LocalCloudflare) -> None:
    settings = GatewaySettings(
        id="costs-unpriced", base_url=cf.gateway_url, provider_keys={"openai": "sk-test-0123"}
    )
    with WorkersAIClient(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        gateway=settings,
        retry=RETRY,
    ) as ai:
        other = ai.chat("openai/gpt-4o-mini", QUESTION, api="compat")
        ours = ai.chat(LLAMA, QUESTION, max_tokens=32)
    assert other.usage is not None and other.usage.cost_usd is None  # no price known
    with AIGatewayClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
    ) as gateways:
        analytics = gateways.analytics("costs-unpriced")
    by_model = {m.model: m for m in analytics.models}
    assert by_model["openai/gpt-4o-mini"].unpriced == 1
    assert by_model[LLAMA].unpriced == 0 and analytics.total.unpriced == 1
    assert ours.usage is not None
    assert analytics.total.cost_usd == pytest.approx(ours.usage.cost_usd)
