"""LlamaIndex WorkersAI (LLM) and WorkersAIEmbedding against the emulator, from cassettes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ThinkingBlock, ToolCallBlock
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

from cloudflare_ai import NotFoundError, ValidationError
from cloudflare_ai.llama_index import WorkersAI, WorkersAIEmbedding
from tests.conftest import FAST_RETRY, requests_made

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
pytestmark = pytest.mark.usefixtures("cloudflare_env")

CHAT = [
    ChatMessage(
        role=MessageRole.SYSTEM,
        content="Vectorize filters need a metadata index created before vectors are written. "
        "AI Gateway caches identical requests.",
    ),
    ChatMessage(role=MessageRole.USER, content="When must the metadata index be created?"),
]


def multiply(a: int, b: int) -> int:
    """Multiply two integers a and b and return the product."""
    return a * b


MULTIPLY = FunctionTool.from_defaults(fn=multiply)


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="full name")
    age: int = Field(description="age in years")


def _llm(**kwargs: Any) -> WorkersAI:
    return WorkersAI(model=LLAMA, retry_policy=FAST_RETRY, **kwargs)


def test_metadata_comes_from_the_model_table() -> None:
    meta = _llm(account_id="a" * 32, api_token="t").metadata
    assert meta.context_window == 24000
    assert meta.is_chat_model and meta.is_function_calling_model
    assert meta.model_name == LLAMA
    assert _llm(account_id="a" * 32, api_token="t", max_tokens=99).metadata.num_output == 99
    scout = WorkersAI(model="@cf/meta/llama-4-scout-17b-16e-instruct", account_id="a" * 32,
                      api_token="t").metadata  # fmt: skip
    assert scout.context_window == 131000


@pytest.mark.vcr
def test_chat_and_complete_with_usage_in_raw() -> None:
    llm = _llm()
    response = llm.chat(CHAT)
    assert "before vectors are written" in (response.message.content or "")
    assert response.raw["usage"]["total_tokens"] > 0
    assert response.raw["usage"]["cost_usd"] > 0
    assert response.additional_kwargs["prompt_tokens"] > 0
    completion = llm.complete("Hello there, emulator")
    assert completion.text
    assert completion.raw["usage"]["completion_tokens"] > 0


@pytest.mark.vcr
def test_stream_chat_carries_delta_and_text_so_far() -> None:
    llm = _llm()
    whole = llm.chat(CHAT).message.content
    responses = list(llm.stream_chat(CHAT))
    assert len(responses) > 2
    so_far = ""
    for response in responses:
        so_far += response.delta or ""
        assert response.message.content == so_far
    assert so_far == whole
    assert responses[-1].raw["usage"]["total_tokens"] > 0
    texts = [r.text for r in llm.stream_complete("Hello there, emulator")]
    assert texts[-1] and all(texts[-1].startswith(t) for t in texts)


@pytest.mark.vcr
async def test_async_forms() -> None:
    llm = _llm()
    whole = await llm.achat(CHAT)
    streamed = [r async for r in await llm.astream_chat(CHAT)]
    assert streamed[-1].message.content == whole.message.content
    completion = await llm.acomplete("Hello async")
    parts = [r async for r in await llm.astream_complete("Hello async")]
    assert parts[-1].text == completion.text


@pytest.mark.vcr
def test_tool_calls_with_required_tool() -> None:
    llm = _llm()
    response = llm.chat_with_tools([MULTIPLY], user_msg="What is 6 times 7?", tool_required=True)
    [selection] = llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "multiply"
    assert selection.tool_kwargs == {"a": 6, "b": 7}
    assert selection.tool_id
    assert response.raw["finish_reason"] == "tool_calls"


@pytest.mark.vcr
def test_streamed_tool_calls_are_on_the_last_response() -> None:
    llm = _llm()
    responses = list(llm.stream_chat_with_tools([MULTIPLY], user_msg="What is 6 times 7?",
                                               tool_required=True))  # fmt: skip
    [selection] = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_kwargs == {"a": 6, "b": 7}


def test_no_tool_call_is_an_error_when_one_was_expected() -> None:
    from llama_index.core.base.llms.types import ChatResponse

    llm = _llm(account_id="a" * 32, api_token="t")
    empty = ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="no"))
    with pytest.raises(ValueError, match="expected at least one tool call"):
        llm.get_tool_calls_from_response(empty)
    assert llm.get_tool_calls_from_response(empty, error_on_no_tool_call=False) == []


@pytest.mark.vcr
def test_predict_and_call_runs_the_tool() -> None:
    output = _llm().predict_and_call([MULTIPLY], "Use multiply to multiply 6 by 7.")
    assert output.response == "42"


@pytest.mark.vcr
async def test_function_agent_calls_a_tool_and_answers() -> None:
    from llama_index.core.agent.workflow import FunctionAgent

    agent = FunctionAgent(tools=[MULTIPLY], llm=_llm(), system_prompt="Use tools for arithmetic.")
    result = await agent.run(user_msg="What is 6 times 7? Use the multiply tool.")
    assert "42" in str(result)
    assert result.tool_calls and result.tool_calls[0].tool_name == "multiply"


@pytest.mark.vcr
def test_structured_predict_and_structured_llm() -> None:
    llm = _llm()
    prompt = PromptTemplate("Extract the person: {text}")
    person = llm.structured_predict(Person, prompt, text="Ada Lovelace was 36 years old.")
    assert isinstance(person, Person)
    assert person.age == 36
    structured = llm.as_structured_llm(Person)
    response = structured.chat([ChatMessage(role="user", content="Ada Lovelace was 36.")])
    assert isinstance(response.raw, Person)
    assert response.raw.age == 36


@pytest.mark.vcr
def test_reasoning_arrives_as_thinking_block() -> None:
    llm = WorkersAI(model=QWEN, retry_policy=FAST_RETRY)
    response = llm.chat(CHAT)
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking and thinking[0].content
    assert "metadata index" in (response.message.content or "")


@pytest.mark.vcr
def test_tool_results_round_trip(vcr: Any) -> None:
    llm = _llm()
    first = llm.chat_with_tools([MULTIPLY], user_msg="What is 6 times 7?", tool_required=True)
    [call] = [b for b in first.message.blocks if isinstance(b, ToolCallBlock)]
    history = [
        ChatMessage(role="user", content="What is 6 times 7?"),
        first.message,
        ChatMessage(role="tool", content="42",
                    additional_kwargs={"tool_call_id": call.tool_call_id, "name": "multiply"}),
    ]  # fmt: skip
    final = llm.chat(history)
    assert final.message.content == "42"
    sent = json.loads(vcr.requests[-1].body)["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.tool_call_id
    assert sent[2] == {"role": "tool", "content": "42", "tool_call_id": call.tool_call_id,
                       "name": "multiply"}  # fmt: skip


@pytest.mark.vcr
def test_errors_are_typed() -> None:
    with pytest.raises(NotFoundError):
        WorkersAI(model="@cf/nobody/nothing", retry_policy=FAST_RETRY).complete("hi")


def test_images_for_a_text_model_are_refused_before_sending() -> None:
    from llama_index.core.base.llms.types import ImageBlock, TextBlock

    from tests.vision_support import RED, png

    llm = WorkersAI(model=LLAMA, account_id="a" * 32, api_token="t",
                    base_url="http://127.0.0.1:9/client/v4")  # fmt: skip
    blocks = [TextBlock(text="what is this?"), ImageBlock(image=png(RED))]
    with pytest.raises(ValidationError, match="does not take images"):
        llm.chat([ChatMessage(role="user", blocks=blocks)])


@pytest.mark.vcr
def test_embedding_batches_concurrently_in_order(vcr: Any) -> None:
    embed = WorkersAIEmbedding(retry_policy=FAST_RETRY, max_concurrency=4)
    texts = [f"node {i} text" for i in range(230)]
    vectors = embed.get_text_embedding_batch(texts)
    assert len(vectors) == 230 and len(vectors[0]) == 768
    assert requests_made(vcr) == 3  # one LlamaIndex batch; the core splits at 100
    assert embed.get_query_embedding(texts[150]) == pytest.approx(vectors[150])
    assert embed.dimensions == 768


@pytest.mark.vcr
async def test_embedding_async() -> None:
    embed = WorkersAIEmbedding(model_name="@cf/baai/bge-small-en-v1.5", retry_policy=FAST_RETRY)
    vectors = await embed.aget_text_embedding_batch(["a", "b"])
    assert [len(v) for v in vectors] == [384, 384]
    assert await embed.aget_query_embedding("a") == pytest.approx(vectors[0])


def test_secrets_stay_out_of_reprs_and_payloads() -> None:
    llm = _llm(account_id="a" * 32, api_token="very-secret-value")
    embed = WorkersAIEmbedding(account_id="a" * 32, api_token="very-secret-value")
    for text in (repr(llm), str(llm), repr(embed), str(llm.to_dict()), str(embed.to_dict())):
        assert "very-secret-value" not in text


@pytest.mark.vcr
async def test_react_agent_acts_and_answers() -> None:
    from llama_index.core.agent.workflow import ReActAgent

    agent = ReActAgent(tools=[MULTIPLY], llm=_llm(max_tokens=512))
    result = await agent.run(user_msg="Use multiply to multiply 6 by 7.")
    assert "42" in str(result)
    assert result.tool_calls and result.tool_calls[0].tool_name == "multiply"
