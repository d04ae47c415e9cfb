"""Fallback and metering together: the model that answered is the one priced and recorded;
models that failed before it record nothing and give their budget hold back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudflare_ai import GatewaySettings, WorkersAIClient
from cloudflare_ai.costs import Units, cost_of
from cloudflare_ai.fallback import FallbackVia
from cloudflare_ai.transport import RetryPolicy
from cloudflare_ai.usage import track_usage
from cloudflare_ai_local import LocalCloudflare

PRIMARY = "@cf/meta/llama-3.1-8b-instruct"
SECOND = "@cf/meta/llama-3.2-1b-instruct"
RETRY = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.005, max_retry_after=0.01)
HELLO = [{"role": "user", "content": "Say hello to the gateway."}]


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


def client(cf: LocalCloudflare, *, gateway: bool = False) -> WorkersAIClient:
    return WorkersAIClient(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        gateway=GatewaySettings(id="usage-gw", base_url=cf.gateway_url) if gateway else None,
        retry=RETRY,
    )


def _priced_as(model: str, answer_usage: object) -> float:
    assert answer_usage is not None
    cost = cost_of(
        model,
        Units(
            input_tokens=answer_usage.prompt_tokens,  # type: ignore[attr-defined]
            output_tokens=answer_usage.completion_tokens,  # type: ignore[attr-defined]
        ),
    )
    assert cost is not None
    return cost.neurons


@pytest.mark.parametrize("via", ["client", "gateway"])
def test_only_the_answering_model_is_priced_and_recorded(
    cf: LocalCloudflare, via: FallbackVia
) -> None:
    cf.fail_model(PRIMARY, "3040", "3040")
    with (
        client(cf, gateway=via == "gateway") as ai,
        track_usage(budget_neurons=10_000) as usage,
    ):
        answer = ai.chat(PRIMARY, HELLO, fallback_models=[SECOND], fallback_via=via, max_tokens=32)
        assert answer.model == SECOND
        assert [a.model for a in answer.fallbacks] == [PRIMARY]
        assert answer.usage is not None and answer.usage.neurons
        assert answer.usage.neurons == pytest.approx(_priced_as(SECOND, answer.usage))
        assert set(usage.by_model) == {SECOND}
        assert usage.total.calls == 1
        assert usage.total.neurons == pytest.approx(answer.usage.neurons)
        # the failed attempt's hold was given back: the whole budget but this call remains
        assert usage.remaining_neurons == pytest.approx(10_000 - answer.usage.neurons)


def test_a_stream_that_falls_back_is_recorded_once_as_its_answering_model(
    cf: LocalCloudflare,
) -> None:
    cf.fail_model(PRIMARY, "3040", "3040")
    with client(cf) as ai, track_usage() as usage:
        stream = ai.stream_chat(PRIMARY, HELLO, fallback_models=[SECOND], max_tokens=32)
        text = stream.text()
        assert text and stream.model == SECOND
        assert stream.response is not None and stream.response.usage is not None
        assert set(usage.by_model) == {SECOND}
        assert usage.total.neurons == pytest.approx(stream.response.usage.neurons)
