"""Fallback in its three forms against the emulator, with scripted per-model faults:
client-side (one request per model), AI Gateway's Universal endpoint (one request, a step per
model) and providers through the unified ``/compat`` endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cloudflare_ai import AsyncWorkersAIClient, GatewaySettings, WorkersAIClient
from cloudflare_ai.errors import (
    APITimeoutError,
    AuthenticationError,
    CapacityError,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
    ServerError,
    StreamError,
    ValidationError,
)
from cloudflare_ai.fallback import should_fall_back
from cloudflare_ai.transport import RetryPolicy
from cloudflare_ai.universal import StepConfig
from cloudflare_ai_local import FaultConfig, LocalCloudflare

PRIMARY = "@cf/meta/llama-3.1-8b-instruct"
SECOND = "@cf/meta/llama-3.2-1b-instruct"
THIRD = "@cf/meta/llama-3.2-3b-instruct"
#: Two retries: a model must fail three times to spend them.
RETRY = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005, max_retry_after=0.01)
SPENT = ("3040", "3040", "3040")
OPENAI_KEY = "sk-test-openai-key-0123456789"
ANTHROPIC_KEY = "sk-ant-test-key-0123456789"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare(faults=FaultConfig(timeout_seconds=1.0)) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _no_leftover_faults(cf: LocalCloudflare) -> Iterator[None]:
    cf.state.faults.clear_model_faults()
    yield
    cf.state.faults.clear_model_faults()


def gateway(cf: LocalCloudflare, **options: object) -> GatewaySettings:
    return GatewaySettings(
        id="fallback-gw",
        base_url=cf.gateway_url,
        provider_keys={"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY},
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(cf: LocalCloudflare) -> Iterator[WorkersAIClient]:
    with WorkersAIClient(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        gateway=None,
        retry=RETRY,
    ) as c:
        yield c


@pytest.fixture
def gw_client(cf: LocalCloudflare) -> Iterator[WorkersAIClient]:
    with WorkersAIClient(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        gateway=gateway(cf),
        retry=RETRY,
    ) as c:
        yield c


# --- the rule ---------------------------------------------------------------------------------


def test_the_rule_falls_back_only_where_another_model_may_succeed() -> None:
    assert should_fall_back(CapacityError("busy", status_code=429, code=3040))
    assert should_fall_back(APITimeoutError("slow"))
    assert should_fall_back(ServerError("down", status_code=503))
    assert should_fall_back(StreamError("cut before any chunk"))
    assert not should_fall_back(StreamError("cut"), delivered=True)
    assert not should_fall_back(QuotaExceededError("quota", status_code=429, code=3036))
    assert not should_fall_back(AuthenticationError("no", status_code=401, code=10000))
    assert not should_fall_back(InvalidRequestError("bad", status_code=400, code=5006))
    assert not should_fall_back(ValueError("not an API error"))


# --- client-side ------------------------------------------------------------------------------


def test_client_side_fallback_after_the_retries_are_spent(
    cf: LocalCloudflare, client: WorkersAIClient
) -> None:
    cf.fail_model(PRIMARY, *SPENT)
    answer = client.chat(PRIMARY, HELLO, fallback_models=[SECOND, THIRD])
    assert answer.model == SECOND and answer.text
    [failed] = answer.fallbacks
    assert failed.model == PRIMARY and failed.code == 3040
    assert failed.error_type == "CapacityError" and "3040" in failed.error


def test_no_fallback_while_retries_suffice(cf: LocalCloudflare, client: WorkersAIClient) -> None:
    cf.fail_model(PRIMARY, "3040", "503")  # two failures, two retries: the primary answers
    answer = client.chat(PRIMARY, HELLO, fallback_models=[SECOND])
    assert answer.model == PRIMARY and answer.fallbacks == []


def test_timeouts_fall_back(cf: LocalCloudflare) -> None:
    with WorkersAIClient(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        timeout=0.3,
        retry=RetryPolicy(max_retries=0),
    ) as fast:
        cf.fail_model(PRIMARY, "timeout")
        answer = fast.chat(PRIMARY, prompt="hi", fallback_models=[SECOND])
    assert answer.model == SECOND
    assert answer.fallbacks[0].error_type == "APITimeoutError"


def test_every_model_failing_raises_the_last_error_with_the_others(
    cf: LocalCloudflare, client: WorkersAIClient
) -> None:
    cf.fail_model(PRIMARY, *SPENT)
    cf.fail_model(SECOND, "500", "500", "500")
    with pytest.raises(ServerError) as caught:
        client.chat(PRIMARY, HELLO, fallback_models=[SECOND])
    assert [a.model for a in caught.value.fallbacks] == [PRIMARY]


def test_non_retryable_errors_do_not_fall_back(cf: LocalCloudflare) -> None:
    seen: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [seen.append]})
    with WorkersAIClient(
        account_id=cf.account_id,
        api_token="wrong-token-value-123",
        base_url=cf.base_url,
        http_client=http,
        retry=RETRY,
    ) as bad:
        with pytest.raises(AuthenticationError) as caught:
            bad.chat(PRIMARY, HELLO, fallback_models=[SECOND])
    http.close()
    assert caught.value.fallbacks == []
    assert [r.url.path.rsplit("/run/", 1)[-1] for r in seen] == [PRIMARY]


def test_unknown_models_and_bad_lists_do_not_fall_back(client: WorkersAIClient) -> None:
    with pytest.raises(NotFoundError) as caught:  # 5007: no other model would fix the name
        client.chat("@cf/does/not-exist", HELLO, fallback_models=[SECOND])
    assert caught.value.fallbacks == []
    with pytest.raises(ValidationError):
        client.chat(PRIMARY, HELLO, fallback_models=[""])


def test_run_falls_back(cf: LocalCloudflare, client: WorkersAIClient) -> None:
    cf.fail_model(PRIMARY, *SPENT)
    result = client.run(PRIMARY, {"prompt": "hi"}, fallback_models=[SECOND])
    assert result.model == SECOND and [a.model for a in result.fallbacks] == [PRIMARY]


def test_stream_falls_back_before_the_first_chunk(
    cf: LocalCloudflare, client: WorkersAIClient
) -> None:
    cf.fail_model(PRIMARY, *SPENT)
    stream = client.stream_chat(PRIMARY, HELLO, fallback_models=[SECOND])
    text = stream.text()
    assert text and stream.model == SECOND
    assert stream.response is not None and stream.response.model == SECOND
    assert [a.model for a in stream.response.fallbacks] == [PRIMARY]


def test_stream_cut_after_a_chunk_does_not_fall_back(cf: LocalCloudflare) -> None:
    with WorkersAIClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url, retry=RETRY
    ) as c:
        cf.set_faults(rate=1.0, kinds=("stream_cut",), stream_cut_after=2, timeout_seconds=1.0)
        try:
            stream = c.stream_chat(PRIMARY, HELLO, fallback_models=[SECOND])
            with pytest.raises(StreamError) as caught:
                stream.text()
        finally:
            cf.set_faults(FaultConfig(timeout_seconds=1.0))
    assert caught.value.partial_text
    assert stream.model == PRIMARY and stream.fallbacks == []


async def test_async_chat_and_stream_fall_back(cf: LocalCloudflare) -> None:
    async with AsyncWorkersAIClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url, retry=RETRY
    ) as c:
        cf.fail_model(PRIMARY, *SPENT)
        answer = await c.chat(PRIMARY, HELLO, fallback_models=[SECOND])
        assert answer.model == SECOND and answer.fallbacks[0].model == PRIMARY
        cf.fail_model(PRIMARY, *SPENT)
        cf.fail_model(SECOND, *SPENT)
        stream = c.stream_chat(PRIMARY, HELLO, fallback_models=[SECOND, THIRD])
        assert await stream.text()
        assert stream.model == THIRD
        assert [a.model for a in stream.fallbacks] == [PRIMARY, SECOND]


# --- the Universal endpoint ---------------------------------------------------------------------


def test_universal_needs_a_gateway(client: WorkersAIClient) -> None:
    with pytest.raises(ConfigurationError, match="AI Gateway"):
        client.chat(PRIMARY, HELLO, fallback_models=[SECOND], fallback_via="gateway")


def test_universal_reports_the_step_that_answered(
    cf: LocalCloudflare, gw_client: WorkersAIClient
) -> None:
    cf.fail_model(PRIMARY, "3040")  # the gateway does not retry it (maxAttempts 1)
    answer = gw_client.chat(PRIMARY, HELLO, fallback_models=[SECOND], fallback_via="gateway")
    assert answer.model == SECOND and answer.gateway is not None and answer.gateway.step == 1
    assert [(a.model, a.step) for a in answer.fallbacks] == [(PRIMARY, 0)]
    entry = cf.gateway_logs[-1]
    assert entry.step == 1 and entry.model == SECOND


def test_universal_step_config_retries_and_timeouts(
    cf: LocalCloudflare, gw_client: WorkersAIClient
) -> None:
    cf.fail_model(PRIMARY, "3040", "3040")
    retried = gw_client.chat(
        PRIMARY,
        HELLO,
        fallback_models=[SECOND],
        fallback_via="gateway",
        step_config=StepConfig(max_attempts=3, retry_delay_ms=1, backoff="exponential"),
    )
    assert retried.model == PRIMARY and retried.gateway is not None and retried.gateway.step == 0
    cf.fail_model(PRIMARY, "timeout")  # answers after 1 s; the step gives up after 100 ms
    slow = gw_client.chat(
        PRIMARY,
        HELLO,
        fallback_models=[SECOND],
        fallback_via="gateway",
        step_config={PRIMARY: StepConfig(request_timeout_ms=100)},
    )
    assert slow.model == SECOND


def test_universal_across_providers(cf: LocalCloudflare, gw_client: WorkersAIClient) -> None:
    cf.fail_model(PRIMARY, "500")
    cf.fail_model("openai/gpt-4o-mini", "503")
    answer = gw_client.chat(
        PRIMARY,
        HELLO,
        fallback_models=["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"],
        fallback_via="gateway",
        max_tokens=64,
    )
    assert answer.model == "anthropic/claude-3-5-haiku-latest" and answer.text
    assert answer.gateway is not None and answer.gateway.step == 2
    assert answer.usage is not None and answer.usage.completion_tokens > 0


def test_universal_streams(cf: LocalCloudflare, gw_client: WorkersAIClient) -> None:
    cf.fail_model(PRIMARY, "3040")
    stream = gw_client.stream_chat(
        PRIMARY, HELLO, fallback_models=["openai/gpt-4o-mini"], fallback_via="gateway"
    )
    assert stream.text()
    assert stream.model == "openai/gpt-4o-mini"
    assert [a.step for a in stream.fallbacks] == [0]
    with pytest.raises(ValidationError, match="streaming"):
        gw_client.stream_chat(
            PRIMARY, HELLO, fallback_models=["anthropic/claude-x"], fallback_via="gateway"
        )


# --- providers through /compat -----------------------------------------------------------------


@pytest.mark.parametrize(
    "model", [f"workers-ai/{PRIMARY}", "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"]
)
def test_compat_answers_for_every_provider(
    cf: LocalCloudflare, gw_client: WorkersAIClient, model: str
) -> None:
    answer = gw_client.chat(model, HELLO, api="compat")
    assert answer.model == model and answer.text and answer.finish_reason == "stop"
    assert cf.gateway_logs[-1].path.endswith("/compat/chat/completions")
    # Logged as the provider's own model name: Workers AI's log (and its price) is the @cf model
    assert cf.gateway_logs[-1].model == model.removeprefix("workers-ai/")
    assert cf.gateway_logs[-1].provider == model.partition("/")[0]
    streamed = gw_client.stream_chat(model, HELLO, api="compat")
    assert streamed.text() and streamed.model == model


def test_compat_falls_back_client_side_across_providers(
    cf: LocalCloudflare, gw_client: WorkersAIClient
) -> None:
    cf.fail_model("openai/gpt-4o-mini", *SPENT)
    answer = gw_client.chat(
        "openai/gpt-4o-mini", HELLO, api="compat", fallback_models=[f"workers-ai/{SECOND}"]
    )
    assert answer.model == f"workers-ai/{SECOND}"
    assert answer.fallbacks[0].model == "openai/gpt-4o-mini"


def test_compat_without_a_provider_key_sends_no_cloudflare_token(cf: LocalCloudflare) -> None:
    seen: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [seen.append]})
    with WorkersAIClient(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        gateway=GatewaySettings(id="gw", base_url=cf.gateway_url),
        http_client=http,
        retry=RETRY,
    ) as c:
        with pytest.raises(AuthenticationError) as caught:
            c.chat("openai/gpt-4o-mini", HELLO, api="compat")
    http.close()
    assert "authorization" not in seen[-1].headers
    assert caught.value.fallbacks == []
    with pytest.raises(ValidationError, match="provider"):
        c.chat("gpt-4o-mini", HELLO, api="compat")


def test_compat_needs_a_gateway(client: WorkersAIClient) -> None:
    with pytest.raises(ConfigurationError, match="AI Gateway"):
        client.chat("openai/gpt-4o-mini", HELLO, api="compat")


def test_provider_native_routes(cf: LocalCloudflare) -> None:
    base = f"{cf.gateway_url}/{cf.account_id}/native-gw"
    body = {"model": "gpt-4o-mini", "messages": HELLO}
    ok = httpx.post(
        f"{base}/openai/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {OPENAI_KEY}"},
    )
    assert ok.status_code == 200 and ok.json()["object"] == "chat.completion"
    leaked = httpx.post(
        f"{base}/openai/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {cf.api_token}"},
    )
    assert leaked.status_code == 401
    anthropic = {"model": "claude-3-5-haiku-latest", "max_tokens": 32, "messages": HELLO}
    msg = httpx.post(
        f"{base}/anthropic/v1/messages", json=anthropic, headers={"x-api-key": ANTHROPIC_KEY}
    )
    assert msg.status_code == 200 and msg.json()["type"] == "message"
    assert msg.json()["content"][0]["type"] == "text"
    events = httpx.post(
        f"{base}/anthropic/v1/messages",
        json={**anthropic, "stream": True},
        headers={"x-api-key": ANTHROPIC_KEY},
    ).text
    assert events.startswith("event: message_start") and "event: message_stop" in events
    assert httpx.post(f"{base}/anthropic/v1/messages", json=anthropic).status_code == 401
