"""ChatWorkersAI beyond the standard suite: the behaviours the peers get wrong.

Each test names the item of peers.md §9 (or the issue's requirement) it pins down.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from cloudflare_ai import GatewaySettings, NotFoundError, ValidationError
from cloudflare_ai.langchain import ChatWorkersAI
from cloudflare_ai.types import ChatResponse, ToolCall, Usage
from tests.conftest import FAST_RETRY, GATEWAY_TOKEN, Target

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
CONTEXT = SystemMessage(
    "Context: Vectorize filters need a metadata index created before vectors are written. "
    "AI Gateway caches identical requests."
)
QUESTION = HumanMessage("When must the metadata index be created?")


@tool
def lookup_order(order_id: int, items: list[str], express: bool) -> str:
    """Look up an order by its numeric id, with the item names and express flag."""
    return f"order {order_id}"


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny in {city}"


def _llm(**kwargs: Any) -> ChatWorkersAI:
    return ChatWorkersAI(model=LLAMA, retry_policy=FAST_RETRY, **kwargs)


pytestmark = pytest.mark.usefixtures("cloudflare_env")


def _merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


@pytest.mark.vcr
def test_invoke_metadata_usage_and_cost() -> None:
    message = _llm().invoke([CONTEXT, QUESTION])
    assert "before vectors are written" in message.content
    assert message.usage_metadata is not None
    assert message.usage_metadata["total_tokens"] > 0
    meta = message.response_metadata
    assert meta["model_name"] == LLAMA
    assert meta["finish_reason"] == "stop"
    assert meta["model_provider"] == "cloudflare"
    assert meta["cost_usd"] > 0


@pytest.mark.vcr
def test_stream_usage_on_exactly_one_chunk_and_text_matches_invoke() -> None:
    llm = _llm()
    whole = llm.invoke([CONTEXT, QUESTION])
    chunks = list(llm.stream([CONTEXT, QUESTION]))
    assert len(chunks) > 3
    assert sum(1 for c in chunks if c.usage_metadata) == 1  # peers: none at all
    assert sum(1 for c in chunks if c.response_metadata.get("model_name")) == 1
    merged = _merge(chunks)
    assert merged.content == whole.content
    assert merged.usage_metadata == whole.usage_metadata
    assert chunks[-1].chunk_position == "last"


@pytest.mark.vcr
def test_openai_compatible_api() -> None:
    llm = _llm(api="openai")
    whole = llm.invoke([CONTEXT, QUESTION])
    assert "metadata index" in whole.content
    merged = _merge(list(llm.stream([CONTEXT, QUESTION])))
    assert merged.content == whole.content
    assert merged.usage_metadata is not None


@pytest.mark.vcr
def test_stop_sequences_from_constructor_and_call() -> None:
    full = _llm().invoke([CONTEXT, QUESTION]).content
    assert isinstance(full, str)
    word = full.split()[2]
    per_call = _llm().invoke([CONTEXT, QUESTION], stop=[word]).content
    from_init = _llm(stop=[word]).invoke([CONTEXT, QUESTION]).content
    assert per_call == from_init
    assert word not in per_call
    assert full.startswith(str(per_call))


@pytest.mark.vcr
def test_sampling_parameters_are_sent(vcr: Any) -> None:
    _llm(temperature=0.2, top_p=0.9, top_k=5, seed=7, max_tokens=40, repetition_penalty=1.1,
         frequency_penalty=0.1, presence_penalty=0.2).invoke("Hello")  # fmt: skip
    import json

    body = json.loads(vcr.requests[-1].body)
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["top_k"] == 5
    assert body["seed"] == 7 and body["max_tokens"] == 40
    assert body["repetition_penalty"] == 1.1
    assert body["frequency_penalty"] == 0.1 and body["presence_penalty"] == 0.2


@pytest.mark.vcr
@pytest.mark.parametrize("choice", ["any", "required", "get_weather", True])
def test_tool_choice_forms_force_a_call(choice: Any) -> None:
    llm = _llm().bind_tools([get_weather, lookup_order], tool_choice=choice)
    message = llm.invoke("What's the weather in Lisbon?")
    assert isinstance(message, AIMessage)
    assert message.tool_calls, "a call was required"
    if choice == "get_weather":
        assert message.tool_calls[0]["name"] == "get_weather"
    assert message.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.vcr
def test_tool_choice_auto_lets_the_model_answer() -> None:
    llm = _llm().bind_tools([get_weather], tool_choice="auto")
    message = llm.invoke([CONTEXT, QUESTION])
    assert not message.tool_calls
    assert message.content


def test_unknown_tool_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of the bound tools"):
        _llm().bind_tools([get_weather], tool_choice="launch_rockets")


@pytest.mark.vcr
def test_streamed_tool_calls_merge_by_index() -> None:
    llm = _llm().bind_tools([lookup_order], tool_choice="lookup_order")
    chunks = list(llm.stream("Look up order 42 with items apple and pear, express please"))
    merged = _merge(chunks)
    [call] = merged.tool_calls
    assert call["name"] == "lookup_order"
    assert isinstance(call["args"]["order_id"], int)
    assert all(c["index"] is not None for c in merged.tool_call_chunks)
    assert merged.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.vcr
def test_tool_loop_feeds_results_back() -> None:
    llm = _llm().bind_tools([get_weather])
    history: list[Any] = [HumanMessage("What's the weather in Lisbon? Use get_weather.")]
    first = llm.invoke(history, tool_choice="get_weather")
    [call] = first.tool_calls
    result = get_weather.invoke(call)
    assert isinstance(result, ToolMessage)
    history += [first, result]
    final = llm.invoke(history)
    assert not final.tool_calls
    assert "Sunny" in final.content


def test_arguments_are_coerced_to_the_tool_schema() -> None:
    """peers.md §1.1: llama returns ints and lists as strings; they were passed through."""
    llm = _llm(account_id="a" * 32, api_token="t")
    answer = ChatResponse(
        model=LLAMA,
        text="",
        tool_calls=[
            ToolCall(
                id="call_1",
                name="lookup_order",
                arguments={"order_id": "123", "items": '["a", "b"]', "express": "true"},
                raw_arguments="{}",
            )
        ],
        finish_reason="tool_calls",
        usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
    )
    from langchain_core.utils.function_calling import convert_to_openai_tool

    options = {"tools": [convert_to_openai_tool(lookup_order)]}
    message = llm._result(answer, options, [])  # type: ignore[arg-type]
    [call] = message.generations[0].message.tool_calls  # type: ignore[attr-defined]
    assert call["args"] == {"order_id": 123, "items": ["a", "b"], "express": True}


def test_tool_call_ids_stay_unique_across_turns() -> None:
    """peers.md §6.8: some models reuse ids like functions.x:0 on every turn."""
    llm = _llm(account_id="a" * 32, api_token="t")
    earlier = AIMessage(
        "", tool_calls=[{"name": "get_weather", "args": {}, "id": "functions.get_weather:0"}]
    )
    answer = ChatResponse(
        model=LLAMA,
        text="",
        tool_calls=[
            ToolCall(
                id="functions.get_weather:0",
                name="get_weather",
                arguments={"city": "x"},
                raw_arguments='{"city":"x"}',
            )
        ],
    )
    result = llm._result(answer, {}, [earlier])  # type: ignore[arg-type]
    [call] = result.generations[0].message.tool_calls  # type: ignore[attr-defined]
    assert call["id"] != "functions.get_weather:0"


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="full name")
    age: int = Field(description="age in years")


@pytest.mark.vcr
@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output_methods(method: str) -> None:
    structured = _llm().with_structured_output(Person, method=method)  # type: ignore[arg-type]
    person = structured.invoke("Ada Lovelace was 36 years old.")
    assert isinstance(person, Person)
    assert person.age == 36


@pytest.mark.vcr
def test_structured_output_json_mode_and_include_raw() -> None:
    structured = _llm().with_structured_output(None, method="json_mode", include_raw=True)
    result = structured.invoke("Return a JSON object about Vectorize.")
    assert isinstance(result["raw"], AIMessage)
    assert isinstance(result["parsed"], dict)
    assert result["parsing_error"] is None


@pytest.mark.vcr
def test_json_schema_stream_falls_back_to_one_request() -> None:
    """Cloudflare refuses JSON-schema mode with streaming (5023): one request instead."""
    structured = _llm().with_structured_output(Person, method="json_schema")
    parts = list(structured.stream("Ada Lovelace was 36 years old."))
    assert parts[-1] == Person(name=parts[-1].name, age=36)


@pytest.mark.vcr
def test_reasoning_content_is_surfaced() -> None:
    llm = ChatWorkersAI(model=QWEN, retry_policy=FAST_RETRY)
    message = llm.invoke([CONTEXT, QUESTION])
    assert message.additional_kwargs.get("reasoning_content")
    assert any(block["type"] == "reasoning" for block in message.content_blocks)
    streamed = _merge(list(llm.stream([CONTEXT, QUESTION])))
    assert (
        streamed.additional_kwargs["reasoning_content"]
        == message.additional_kwargs["reasoning_content"]
    )
    assert streamed.content == message.content


# A 1x1 red PNG (fixed bytes: the recorded request body holds them).
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c49444154"
        "789c63b82322070002de010fe4ff2eb90000000049454e44ae426082"
    )
).decode()


@pytest.mark.vcr
def test_images_go_to_vision_models_as_data_urls(vcr: Any) -> None:
    llm = ChatWorkersAI(model=SCOUT, retry_policy=FAST_RETRY)
    message = HumanMessage(
        content=[
            {"type": "text", "text": "Describe this image."},
            {"type": "image", "base64": PIXEL, "mime_type": "image/png"},
        ]
    )
    answer = llm.invoke([message])
    assert "mostly red" in answer.text
    import json

    sent = json.loads(vcr.requests[-1].body)["messages"][0]["content"]
    image = next(part for part in sent if part["type"] == "image_url")
    assert image["image_url"]["url"] == f"data:image/png;base64,{PIXEL}"


def test_images_for_a_text_model_are_refused_before_sending() -> None:
    llm = ChatWorkersAI(model=LLAMA, account_id="a" * 32, api_token="t",
                        base_url="http://127.0.0.1:9/client/v4")  # fmt: skip
    message = HumanMessage(content=[{"type": "image", "base64": PIXEL, "mime_type": "image/png"}])
    with pytest.raises(ValidationError, match=f"{LLAMA} does not take images"):
        llm.invoke([message])


@pytest.mark.vcr
def test_gateway_headers_reach_response_metadata(target: Target) -> None:
    gateway = GatewaySettings(
        id="lc-gateway", base_url=target.gateway_url, token=GATEWAY_TOKEN, cache_ttl=120
    )
    llm = _llm(gateway=gateway)
    first = llm.invoke([CONTEXT, QUESTION])
    second = llm.invoke([CONTEXT, QUESTION])
    assert first.response_metadata["gateway"]["cache_status"] == "MISS"
    assert second.response_metadata["gateway"]["cache_status"] == "HIT"
    assert second.response_metadata["gateway"]["log_id"]


@pytest.mark.vcr
def test_cloudflare_errors_arrive_typed() -> None:
    with pytest.raises(NotFoundError) as info:
        ChatWorkersAI(model="@cf/nobody/nothing", retry_policy=FAST_RETRY).invoke("hi")
    assert info.value.code == 5007


@pytest.mark.vcr
async def test_async_paths() -> None:
    llm = _llm()
    whole = await llm.ainvoke([CONTEXT, QUESTION])
    chunks = [c async for c in llm.astream([CONTEXT, QUESTION])]
    assert _merge(chunks).content == whole.content
    batch = await llm.abatch(["Hello one", "Hello two"])
    assert len(batch) == 2 and all(m.content for m in batch)


@pytest.mark.vcr
def test_streaming_flag_streams_invoke_through_callbacks() -> None:
    class Tokens(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            self.tokens.append(token)

    handler = Tokens()
    message = _llm(streaming=True).invoke([CONTEXT, QUESTION], config={"callbacks": [handler]})
    assert len(handler.tokens) > 3
    assert "".join(handler.tokens) == message.content


def test_one_pooled_client_per_instance_with_default_timeout() -> None:
    """peers.md §1.1: a new client per call, no timeout by default, max_retries unused."""
    llm = ChatWorkersAI(account_id="a" * 32, api_token="t", max_retries=5)
    assert llm.workers_ai is llm.workers_ai
    assert llm.workers_ai.settings.timeout == 60.0
    assert llm.workers_ai._transport.retry.max_retries == 5


def test_token_never_in_repr() -> None:
    llm = ChatWorkersAI(account_id="a" * 32, api_token="super-secret-token-123")
    assert "super-secret-token-123" not in repr(llm)
    assert "super-secret-token-123" not in str(llm.workers_ai)
