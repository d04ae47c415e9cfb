"""Fallback and providers through the frameworks' own entry points (LangChain ``invoke`` /
``stream`` / chains, LlamaIndex ``chat`` / ``stream_chat`` / ``complete``), against the
emulator with scripted faults; and provider keys kept secret."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.load import dumps
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from llama_index.core.base.llms.types import ChatMessage

from cloudflare_ai import GatewaySettings
from cloudflare_ai.errors import AuthenticationError
from cloudflare_ai.langchain import ChatWorkersAI
from cloudflare_ai.langchain import WorkersAI as LangChainLLM
from cloudflare_ai.llama_index import WorkersAI as LlamaLLM
from cloudflare_ai.transport import RetryPolicy
from cloudflare_ai.universal import StepConfig
from cloudflare_ai_local import FaultConfig, LocalCloudflare

PRIMARY = "@cf/meta/llama-3.1-8b-instruct"
SECOND = "@cf/meta/llama-3.2-1b-instruct"
RETRY = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005, max_retry_after=0.01)
SPENT = ("3040", "3040", "3040")
OPENAI_KEY = "sk-test-openai-adapter-key-42"
ANTHROPIC_KEY = "sk-ant-test-adapter-key-42"


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare(faults=FaultConfig(timeout_seconds=1.0)) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clean(cf: LocalCloudflare) -> Iterator[None]:
    cf.state.faults.clear_model_faults()
    yield
    cf.state.faults.clear_model_faults()


def connection(cf: LocalCloudflare, gateway: bool = False, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "account_id": cf.account_id,
        "api_token": cf.api_token,
        "base_url": cf.base_url,
        "retry_policy": RETRY,
        **extra,
    }
    if gateway:
        kwargs["gateway"] = GatewaySettings(id="adapters-gw", base_url=cf.gateway_url)
        kwargs["provider_keys"] = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}
    return kwargs


# --- LangChain ---------------------------------------------------------------------------------


def test_langchain_chat_falls_back_client_side(cf: LocalCloudflare) -> None:
    llm = ChatWorkersAI(model=PRIMARY, fallback_models=[SECOND], **connection(cf))
    cf.fail_model(PRIMARY, *SPENT)
    message = llm.invoke("Say hello.")
    assert message.response_metadata["model_name"] == SECOND
    [failed] = message.response_metadata["fallbacks"]
    assert failed["model"] == PRIMARY and failed["code"] == 3040
    assert llm.invoke("Say hello.").response_metadata["model_name"] == PRIMARY  # healthy again


def test_langchain_stream_and_chain_fall_back(cf: LocalCloudflare) -> None:
    llm = ChatWorkersAI(model=PRIMARY, fallback_models=[SECOND], **connection(cf))
    cf.fail_model(PRIMARY, *SPENT)
    chunks = list(llm.stream("Say hello."))
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.content and whole.response_metadata["model_name"] == SECOND
    assert whole.response_metadata["fallbacks"][0]["model"] == PRIMARY
    chain = ChatPromptTemplate.from_template("Answer: {q}") | llm | StrOutputParser()
    cf.fail_model(PRIMARY, *SPENT)
    assert chain.invoke({"q": "What is Vectorize?"})
    assert [m for m, _ in cf.injected_faults][-3:] == [PRIMARY] * 3


async def test_langchain_async_invoke_falls_back(cf: LocalCloudflare) -> None:
    llm = ChatWorkersAI(model=PRIMARY, fallback_models=[SECOND], **connection(cf))
    cf.fail_model(PRIMARY, *SPENT)
    message = await llm.ainvoke("Say hello.")
    assert message.response_metadata["model_name"] == SECOND


def test_langchain_completion_llm_reports_the_serving_model(cf: LocalCloudflare) -> None:
    llm = LangChainLLM(model=PRIMARY, fallback_models=[SECOND], **connection(cf))
    cf.fail_model(PRIMARY, *SPENT)
    result = llm.generate(["Say hello."])
    info = result.generations[0][0].generation_info or {}
    assert info["model_name"] == SECOND and info["fallbacks"][0]["model"] == PRIMARY
    cf.fail_model(PRIMARY, *SPENT)
    assert llm.invoke("Say hello.")


def test_langchain_through_the_universal_endpoint(cf: LocalCloudflare) -> None:
    llm = ChatWorkersAI(
        model=PRIMARY,
        fallback_models=[SECOND, "openai/gpt-4o-mini"],
        fallback_via="gateway",
        step_config=StepConfig(max_attempts=1),
        **connection(cf, gateway=True),
    )
    cf.fail_model(PRIMARY, "3040")
    cf.fail_model(SECOND, "500")
    message = llm.invoke("Say hello.")
    assert message.response_metadata["model_name"] == "openai/gpt-4o-mini"
    assert message.response_metadata["gateway"]["step"] == 2
    assert [f["step"] for f in message.response_metadata["fallbacks"]] == [0, 1]
    assert cf.gateway_logs[-1].step == 2


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"])
def test_langchain_compat_providers(cf: LocalCloudflare, model: str) -> None:
    llm = ChatWorkersAI(model=model, api="compat", **connection(cf, gateway=True))
    assert llm.invoke("Say hello.").response_metadata["model_name"] == model
    assert "".join(str(c.content) for c in llm.stream("Say hello."))


# --- LlamaIndex --------------------------------------------------------------------------------


def test_llama_index_chat_and_stream_fall_back(cf: LocalCloudflare) -> None:
    llm = LlamaLLM(model=PRIMARY, fallback_models=[SECOND], **connection(cf))
    cf.fail_model(PRIMARY, *SPENT)
    response = llm.chat([ChatMessage(role="user", content="Say hello.")])
    assert response.raw is not None and response.raw["model"] == SECOND
    assert response.additional_kwargs["fallbacks"][0]["model"] == PRIMARY
    cf.fail_model(PRIMARY, *SPENT)
    *_, last = llm.stream_chat([ChatMessage(role="user", content="Say hello.")])
    assert last.message.content and last.raw is not None
    assert last.raw["model"] == SECOND and last.raw["fallbacks"][0]["model"] == PRIMARY
    cf.fail_model(PRIMARY, *SPENT)
    assert llm.complete("Say hello.").text


async def test_llama_index_async_chat_falls_back(cf: LocalCloudflare) -> None:
    llm = LlamaLLM(model=PRIMARY, fallback_models=[SECOND], **connection(cf))
    cf.fail_model(PRIMARY, *SPENT)
    response = await llm.achat([ChatMessage(role="user", content="Say hello.")])
    assert response.raw is not None and response.raw["model"] == SECOND


def test_llama_index_universal_and_compat(cf: LocalCloudflare) -> None:
    llm = LlamaLLM(
        model=PRIMARY,
        fallback_models=["anthropic/claude-3-5-haiku-latest"],
        fallback_via="gateway",
        **connection(cf, gateway=True),
    )
    cf.fail_model(PRIMARY, "3040")
    response = llm.chat([ChatMessage(role="user", content="Say hello.")])
    assert response.raw is not None
    assert response.raw["model"] == "anthropic/claude-3-5-haiku-latest"
    assert response.raw["gateway"]["step"] == 1
    compat = LlamaLLM(model="openai/gpt-4o-mini", api="compat", **connection(cf, gateway=True))
    answer = compat.chat([ChatMessage(role="user", content="Say hello.")])
    assert answer.raw is not None and answer.raw["model"] == "openai/gpt-4o-mini"


def test_non_retryable_errors_do_not_fall_back_in_adapters(cf: LocalCloudflare) -> None:
    kwargs = {**connection(cf), "api_token": "wrong-token-value-123"}
    llm = ChatWorkersAI(model=PRIMARY, fallback_models=[SECOND], **kwargs)
    with pytest.raises(AuthenticationError) as caught:
        llm.invoke("Say hello.")
    assert caught.value.fallbacks == []


# --- secrets -----------------------------------------------------------------------------------


def test_provider_keys_stay_secret(
    cf: LocalCloudflare, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    keys = (OPENAI_KEY, ANTHROPIC_KEY)
    settings = GatewaySettings(id="gw", provider_keys={"openai": OPENAI_KEY})
    assert OPENAI_KEY not in repr(settings) and OPENAI_KEY not in str(settings)
    assert OPENAI_KEY not in str(settings.without_secrets())
    chat = ChatWorkersAI(model="openai/gpt-4o-mini", api="compat", **connection(cf, gateway=True))
    llama = LlamaLLM(model="openai/gpt-4o-mini", api="compat", **connection(cf, gateway=True))
    caplog.set_level(logging.DEBUG, logger="cloudflare_ai")
    chat.invoke("Say hello.")
    llama.chat([ChatMessage(role="user", content="Say hello.")])
    texts = [
        repr(chat),
        str(chat),
        repr(llama),
        str(chat.model_dump()),
        chat.model_dump_json(),
        llama.model_dump_json(),
        dumps(chat),
        repr(chat.workers_ai),
        repr(chat.workers_ai.settings),
        caplog.text,
    ]
    for key in keys:
        assert not any(key in text for text in texts)
    # Like the API token, a pickle keeps the keys (an unpickled adapter must still work).
    copy = pickle.loads(pickle.dumps(chat))  # noqa: S301 - our own bytes
    assert copy.invoke("Say hello.").content
    missing = ChatWorkersAI(model="openai/gpt-4o-mini", api="compat", **connection(cf))
    missing_gw = missing.model_copy(
        update={"gateway": GatewaySettings(id="gw", base_url=cf.gateway_url)}
    )
    with pytest.raises(AuthenticationError) as caught:
        missing_gw.invoke("Say hello.")
    assert cf.api_token not in str(caught.value)
