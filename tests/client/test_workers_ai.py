"""Workers AI through the core client, replayed from cassettes recorded on the emulator."""

from __future__ import annotations

import logging

import jsonschema
import pytest

from cloudflare_ai import (
    AsyncWorkersAIClient,
    AuthenticationError,
    ChatChunk,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    WorkersAIClient,
    get_model,
)
from tests.conftest import Target

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
BGE = "@cf/baai/bge-base-en-v1.5"

CONTEXT = (
    "Vectorize is Cloudflare's vector database. Metadata filtering only works on properties "
    "that have a metadata index, and the index must exist before the vectors are written. "
    "Workers AI runs models on Cloudflare's network. The sky over the lake was grey."
)
QUESTION = "When must a metadata index be created for filtering to work?"
MESSAGES = [
    {"role": "system", "content": f"Answer from this context only.\n\n{CONTEXT}"},
    {"role": "user", "content": QUESTION},
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "days": {"type": "integer", "description": "Days of forecast"},
            },
            "required": ["city", "days"],
        },
    },
}

PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "tags"],
}


def _chunks_text(chunks: list[ChatChunk]) -> str:
    return "".join(c.text for c in chunks)


@pytest.mark.vcr
def test_chat_native_answers_from_context_with_usage_and_cost(workers_ai: WorkersAIClient) -> None:
    answer = workers_ai.chat(LLAMA, MESSAGES, max_tokens=128, temperature=0)
    assert "metadata index" in answer.text
    assert "before the vectors are written" in answer.text
    assert answer.finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    info = get_model(LLAMA)
    assert info is not None
    expected = info.cost(answer.usage.prompt_tokens, answer.usage.completion_tokens)
    assert answer.usage.cost_usd == pytest.approx(expected)
    assert answer.request_id  # cf-ray


@pytest.mark.vcr
def test_chat_with_prompt(workers_ai: WorkersAIClient) -> None:
    answer = workers_ai.chat(LLAMA, prompt=f"{CONTEXT}\n\nQuestion: {QUESTION}")
    assert answer.text
    assert answer.finish_reason in {"stop", "length"}


@pytest.mark.vcr
def test_stream_native_matches_whole_answer_and_reports_usage_once(
    workers_ai: WorkersAIClient,
) -> None:
    whole = workers_ai.chat(LLAMA, MESSAGES)
    stream = workers_ai.stream_chat(LLAMA, MESSAGES)
    chunks = list(stream)
    assert len(chunks) > 2, "the answer should arrive in several chunks"
    assert _chunks_text(chunks) == whole.text
    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1 and with_usage[0] is chunks[-1]
    assert chunks[-1].finish_reason == "stop"
    assert stream.response is not None and stream.response.text == whole.text
    assert stream.response.usage == chunks[-1].usage


@pytest.mark.vcr
def test_chat_completion_shaped_model_non_stream_and_stream(workers_ai: WorkersAIClient) -> None:
    info = get_model(QWEN)
    assert info is not None and info.output_style == "chat.completion"
    whole = workers_ai.chat(QWEN, MESSAGES)
    assert "metadata index" in whole.text
    assert whole.usage is not None and whole.usage.total_tokens > 0
    assert whole.raw.get("object") == "chat.completion"
    chunks = list(workers_ai.stream_chat(QWEN, MESSAGES))
    assert _chunks_text(chunks) == whole.text
    assert sum(1 for c in chunks if c.usage) == 1


@pytest.mark.vcr
def test_openai_compatible_chat_and_stream(workers_ai: WorkersAIClient) -> None:
    whole = workers_ai.chat(LLAMA, MESSAGES, api="openai", max_tokens=64)
    assert "metadata index" in whole.text
    assert whole.raw.get("object") == "chat.completion"
    chunks = list(workers_ai.stream_chat(LLAMA, MESSAGES, api="openai", max_tokens=64))
    assert _chunks_text(chunks) == whole.text
    final = chunks[-1]
    assert final.finish_reason == "stop" and final.usage is not None


@pytest.mark.vcr
def test_stop_sequences_cut_native_answers(workers_ai: WorkersAIClient) -> None:
    full = workers_ai.chat(LLAMA, MESSAGES)
    words = full.text.split()
    assert len(words) > 4
    stop_word = words[3]
    cut = workers_ai.chat(LLAMA, MESSAGES, stop=[stop_word])
    assert stop_word not in cut.text
    assert full.text.startswith(cut.text)
    assert cut.finish_reason == "stop"
    streamed = _chunks_text(list(workers_ai.stream_chat(LLAMA, MESSAGES, stop=[stop_word])))
    assert streamed == cut.text


@pytest.mark.vcr
def test_openai_api_sends_stop_to_the_server(workers_ai: WorkersAIClient) -> None:
    full = workers_ai.chat(LLAMA, MESSAGES, api="openai")
    stop_word = full.text.split()[2]
    cut = workers_ai.chat(LLAMA, MESSAGES, api="openai", stop=[stop_word])
    assert stop_word not in cut.text
    assert len(cut.text) < len(full.text)


@pytest.mark.vcr
def test_max_tokens_reports_length(workers_ai: WorkersAIClient) -> None:
    answer = workers_ai.chat(LLAMA, MESSAGES, max_tokens=3)
    assert answer.finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens <= 3


@pytest.mark.vcr
@pytest.mark.parametrize("api", ["native", "openai"])
def test_forced_tool_call_is_parsed(workers_ai: WorkersAIClient, api: str) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris for the next 3 days?"}]
    answer = workers_ai.chat(
        LLAMA,
        messages,
        tools=[WEATHER_TOOL],
        tool_choice="required",
        api=api,  # type: ignore[arg-type]
    )
    assert answer.finish_reason == "tool_calls"
    assert len(answer.tool_calls) == 1
    call = answer.tool_calls[0]
    assert call.name == "get_weather"
    assert call.arguments is not None
    jsonschema.validate(call.arguments, WEATHER_TOOL["function"]["parameters"])  # type: ignore[index]
    assert call.id


@pytest.mark.vcr
def test_streamed_tool_call_aggregates(workers_ai: WorkersAIClient) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris for the next 3 days?"}]
    stream = workers_ai.stream_chat(
        LLAMA, messages, tools=[WEATHER_TOOL], tool_choice="get_weather"
    )
    chunks = list(stream)
    assert any(c.tool_calls for c in chunks)
    assert stream.response is not None
    assert stream.response.finish_reason == "tool_calls"
    [call] = stream.response.tool_calls
    assert call.name == "get_weather" and call.arguments is not None
    jsonschema.validate(call.arguments, WEATHER_TOOL["function"]["parameters"])  # type: ignore[index]


@pytest.mark.vcr
def test_tool_result_round_trip(workers_ai: WorkersAIClient) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris for the next 3 days?"}]
    first = workers_ai.chat(LLAMA, messages, tools=[WEATHER_TOOL], tool_choice="required")
    [call] = first.tool_calls
    follow_up = [
        *messages,
        {
            "role": "assistant",
            "content": None,  # what OpenAI-style code sends back; Cloudflare refuses null
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "Paris: sunny, 21 degrees."},
    ]
    second = workers_ai.chat(LLAMA, follow_up, tools=[WEATHER_TOOL])
    assert not second.tool_calls
    assert "sunny" in second.text


@pytest.mark.vcr
@pytest.mark.parametrize("api", ["native", "openai"])
def test_json_schema_output_validates(workers_ai: WorkersAIClient, api: str) -> None:
    messages = [{"role": "user", "content": "Ada Lovelace was 36. Tags: math, poetry."}]
    fmt = {"type": "json_schema", "json_schema": PERSON_SCHEMA}
    answer = workers_ai.chat(LLAMA, messages, response_format=fmt, api=api)  # type: ignore[arg-type]
    assert isinstance(answer.parsed, dict)
    jsonschema.validate(answer.parsed, PERSON_SCHEMA)


@pytest.mark.vcr
def test_json_schema_with_streaming_falls_back_to_one_request(workers_ai: WorkersAIClient) -> None:
    messages = [{"role": "user", "content": "Ada Lovelace was 36. Tags: math, poetry."}]
    fmt = {"type": "json_schema", "json_schema": PERSON_SCHEMA}
    stream = workers_ai.stream_chat(LLAMA, messages, response_format=fmt)
    chunks = list(stream)
    assert len(chunks) == 2 and chunks[-1].finish_reason
    assert stream.response is not None
    jsonschema.validate(stream.response.parsed, PERSON_SCHEMA)


@pytest.mark.vcr
def test_run_any_model_raw(workers_ai: WorkersAIClient) -> None:
    result = workers_ai.run(BGE, {"text": ["hello"], "pooling": "cls"})
    assert result.result["shape"] == [1, 768]
    assert len(result.result["data"][0]) == 768


@pytest.mark.vcr
def test_embeddings_batch_at_the_model_limit_and_keep_order(workers_ai: WorkersAIClient) -> None:
    texts = [f"document number {i} about topic {i % 7}" for i in range(205)]
    batched = workers_ai.embed(texts, model=BGE)
    assert batched.requests == 3  # 100 + 100 + 5
    assert batched.dimensions == 768 and len(batched.vectors) == 205
    # Order: the vector at each position is the one the text gets on its own.
    for i in (0, 99, 100, 204):
        alone = workers_ai.embed([texts[i]], model=BGE)
        assert alone.vectors[0] == pytest.approx(batched.vectors[i])


@pytest.mark.vcr
def test_embeddings_boundary_exactly_one_batch(workers_ai: WorkersAIClient) -> None:
    texts = [f"text {i}" for i in range(100)]
    assert workers_ai.embed(texts, model=BGE).requests == 1
    assert workers_ai.embed([*texts, "one more"], model=BGE).requests == 2


@pytest.mark.vcr
def test_embeddings_small_batch_model(workers_ai: WorkersAIClient) -> None:
    model = "@cf/qwen/qwen3-embedding-0.6b"
    result = workers_ai.embed([f"t{i}" for i in range(33)], model=model)
    assert result.requests == 2  # 32 + 1
    assert result.dimensions == 1024


@pytest.mark.vcr
def test_openai_compatible_embeddings(workers_ai: WorkersAIClient) -> None:
    native = workers_ai.embed(["matcha latte", "green tea"], model=BGE)
    openai = workers_ai.embed(["matcha latte", "green tea"], model=BGE, api="openai")
    assert openai.vectors[0] == pytest.approx(native.vectors[0], abs=1e-6)
    assert openai.vectors[1] == pytest.approx(native.vectors[1], abs=1e-6)


@pytest.mark.vcr
def test_similar_texts_embed_close(workers_ai: WorkersAIClient) -> None:
    a, b, c = workers_ai.embed(
        ["metadata filters in vectorize", "vectorize metadata filter", "bread recipes"],
        model=BGE,
    ).vectors

    def dot(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y, strict=True))

    assert dot(a, b) > dot(a, c)


@pytest.mark.vcr
def test_list_models(workers_ai: WorkersAIClient) -> None:
    models = workers_ai.list_models(task="Text Embeddings", online=True)
    names = {m.name for m in models}
    assert BGE in names and LLAMA not in names


@pytest.mark.vcr
def test_unknown_model_is_not_found(workers_ai: WorkersAIClient) -> None:
    with pytest.raises(NotFoundError) as info:
        workers_ai.chat("@cf/nobody/no-such-model", MESSAGES)
    assert info.value.code == 5007
    assert info.value.status_code == 400
    assert "no-such-model" in str(info.value)


@pytest.mark.vcr
def test_schema_violation_is_invalid_request(workers_ai: WorkersAIClient) -> None:
    with pytest.raises(InvalidRequestError) as info:
        workers_ai.run(LLAMA, {"nonsense": True})
    assert info.value.code == 5006
    assert info.value.request_id


@pytest.mark.vcr
def test_wrong_token_is_authentication_error(target: Target) -> None:
    kwargs = {**target.client_kwargs(), "api_token": "wrong-token-value-123"}
    with WorkersAIClient(**kwargs) as client, pytest.raises(AuthenticationError) as info:
        client.chat(LLAMA, MESSAGES)
    assert info.value.code == 10000 and info.value.status_code == 401
    assert "wrong-token-value-123" not in str(info.value)


@pytest.mark.vcr
def test_wrong_account_is_permission_denied(target: Target) -> None:
    kwargs = {**target.client_kwargs(), "account_id": "someone-elses-account"}
    with WorkersAIClient(**kwargs) as client, pytest.raises(PermissionDeniedError):
        client.chat(LLAMA, MESSAGES)


@pytest.mark.vcr
async def test_async_chat_stream_and_embed(async_workers_ai: AsyncWorkersAIClient) -> None:
    whole = await async_workers_ai.chat(LLAMA, MESSAGES)
    chunks = [c async for c in async_workers_ai.stream_chat(LLAMA, MESSAGES)]
    assert "".join(c.text for c in chunks) == whole.text
    assert chunks[-1].usage is not None
    vectors = await async_workers_ai.embed([f"a{i}" for i in range(150)], model=BGE)
    assert vectors.requests == 2 and len(vectors.vectors) == 150


@pytest.mark.vcr
def test_retries_through_injected_rate_limits(
    target: Target, workers_ai: WorkersAIClient, caplog: pytest.LogCaptureFixture
) -> None:
    target.set_faults(rate=0.3, kinds=["429", "3040", "503"], seed=1, paths=["/ai/run"])
    caplog.set_level(logging.INFO, logger="cloudflare_ai")
    for i in range(4):
        answer = workers_ai.chat(LLAMA, [{"role": "user", "content": f"Say hello number {i}"}])
        assert answer.text
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert retries, "the injected faults should have caused retries"
    assert any("429" in r.getMessage() for r in retries)
