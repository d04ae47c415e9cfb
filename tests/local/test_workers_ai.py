"""Workers AI routes of the emulator: /ai/run, OpenAI-compatible /ai/v1, model discovery."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest

from cloudflare_ai.models import get_model, iter_models

from .conftest import API, BGE, LLAMA, LLAMA_8B, QWEN
from .helpers import assert_error, sse_events

CONTEXT = (
    "The Eiffel Tower is in Paris. It was completed in 1889. "
    "Bananas are rich in potassium. The Louvre is the largest art museum."
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "days": {"type": "integer", "description": "Forecast days"},
            },
            "required": ["city", "days"],
        },
    },
}


async def run(client: httpx.AsyncClient, model: str, body: Any) -> httpx.Response:
    return await client.post(f"{API}/ai/run/{model}", json=body)


def engine_of(response: httpx.Response) -> str:
    return response.headers["x-local-engine"]


async def test_prompt_answer_is_deterministic_and_enveloped(client: httpx.AsyncClient) -> None:
    r1 = await run(client, LLAMA_8B, {"prompt": "What is 2 + 3?"})
    r2 = await run(client, LLAMA_8B, {"prompt": "What is 2 + 3?"})
    assert r1.status_code == 200
    body = r1.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    assert "5" in body["result"]["response"]
    assert r1.json()["result"] == r2.json()["result"]
    usage = body["result"]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "extractive-answerer" in engine_of(r1)
    assert re.fullmatch(r"[0-9a-f]{16}-LCL", r1.headers["cf-ray"])


async def test_extractive_answer_uses_context(client: httpx.AsyncClient) -> None:
    r = await run(
        client,
        LLAMA,
        {
            "messages": [
                {"role": "system", "content": CONTEXT},
                {"role": "user", "content": "When was the Eiffel Tower completed?"},
            ]
        },
    )
    answer = r.json()["result"]["response"]
    assert "1889" in answer
    assert "Bananas" not in answer


async def test_no_match_in_context(client: httpx.AsyncClient) -> None:
    r = await run(
        client,
        LLAMA,
        {
            "messages": [
                {"role": "system", "content": CONTEXT},
                {"role": "user", "content": "Who wrote Hamlet?"},
            ]
        },
    )
    assert r.json()["result"]["response"] == "I could not find that in the provided context."


async def test_max_tokens_truncates(client: httpx.AsyncClient) -> None:
    r = await run(
        client, LLAMA_8B, {"prompt": "Tell me about the long history of Rome", "max_tokens": 2}
    )
    result = r.json()["result"]
    assert result["usage"]["completion_tokens"] == 2
    assert len(result["response"].split()) == 2


async def test_unknown_model_is_5007(client: httpx.AsyncClient) -> None:
    r = await run(client, "@cf/nobody/nothing", {"prompt": "hi"})
    body = assert_error(r, 400, 5007)
    assert "@cf/nobody/nothing" in body["errors"][0]["message"]
    assert "x-local-engine" in r.headers


@pytest.mark.parametrize(
    "body",
    [
        {"promptx": "hi"},
        {"prompt": ""},
        {"prompt": "hi", "max_tokens": "many"},
        {"messages": [{"role": "user"}]},
        [1, 2, 3],
    ],
)
async def test_schema_violations_are_5006(client: httpx.AsyncClient, body: Any) -> None:
    r = await run(client, LLAMA, body)
    data = assert_error(r, 400, 5006)
    assert data["errors"][0]["message"].startswith("AiError: Bad input:")


async def test_malformed_json_is_5006(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{API}/ai/run/{LLAMA}", content=b"{nope")
    assert_error(r, 400, 5006)


async def test_classic_stream_framing(client: httpx.AsyncClient) -> None:
    r = await run(client, LLAMA_8B, {"prompt": "hello there my friend", "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "x-local-engine" in r.headers
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    tokens = events[:-2]
    assert all(set(e) == {"response", "p"} and e["p"] for e in tokens)
    assert "".join(e["response"] for e in tokens) == "You said: hello there my friend"
    final = events[-2]
    assert final["response"] == ""
    assert final["usage"]["completion_tokens"] == len(tokens)


async def test_chat_completion_model_run_shape(client: httpx.AsyncClient) -> None:
    r = await run(client, QWEN, {"messages": [{"role": "user", "content": "What is 6 * 7?"}]})
    result = r.json()["result"]
    assert result["object"] == "chat.completion"
    assert result["model"] == QWEN
    assert "42" in result["choices"][0]["message"]["content"]
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"]["total_tokens"] > 0


async def test_chat_completion_model_stream(client: httpx.AsyncClient) -> None:
    r = await run(
        client, QWEN, {"messages": [{"role": "user", "content": "What is 6 * 7?"}], "stream": True}
    )
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events[:-1] if isinstance(e, dict) and "choices" in e]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "42" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-2] == {"response": "", "usage": chunks[-1]["usage"]}


async def test_json_schema_mode_returns_valid_object(client: httpx.AsyncClient) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "year": {"type": "integer", "minimum": 1800, "maximum": 2000},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "kind": {"enum": ["tower", "museum"]},
            "open": {"type": "boolean"},
            "location": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
        "required": ["name", "year", "tags", "kind", "open", "location"],
        "additionalProperties": False,
    }
    r = await run(
        client,
        LLAMA,
        {
            "messages": [
                {"role": "system", "content": CONTEXT},
                {"role": "user", "content": "Describe the tower."},
            ],
            "response_format": {"type": "json_schema", "json_schema": schema},
        },
    )
    value = r.json()["result"]["response"]
    jsonschema.validate(value, schema)
    assert value["year"] == 1889


async def test_guided_json(client: httpx.AsyncClient) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
    model = "@cf/meta/llama-4-scout-17b-16e-instruct"
    r = await run(
        client, model, {"messages": [{"role": "user", "content": "hi"}], "guided_json": schema}
    )
    jsonschema.validate(r.json()["result"]["response"], schema)


async def test_json_mode_with_stream_is_5023(client: httpx.AsyncClient) -> None:
    r = await run(
        client,
        LLAMA,
        {"prompt": "hi", "stream": True, "response_format": {"type": "json_object"}},
    )
    assert_error(r, 400, 5023)


async def test_classic_tool_call(client: httpx.AsyncClient) -> None:
    r = await run(
        client,
        LLAMA,
        {
            "messages": [{"role": "user", "content": "What is the weather in Paris for 3 days?"}],
            "tools": [WEATHER_TOOL],
        },
    )
    result = r.json()["result"]
    assert result["response"] in ("", None)
    call = result["tool_calls"][0]
    assert call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Paris", "days": 3}
    jsonschema.validate(call["arguments"], WEATHER_TOOL["function"]["parameters"])


async def test_flat_tool_forced_and_stream(client: httpx.AsyncClient) -> None:
    flat = {
        "name": "lookup",
        "description": "Look something up",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string", "description": "query"}},
            "required": ["q"],
        },
    }
    r = await run(
        client,
        LLAMA,
        {
            "messages": [{"role": "user", "content": "hello"}],
            "tools": [flat],
            "tool_choice": "required",
            "stream": True,
        },
    )
    events = sse_events(r.text)
    call = events[0]["tool_calls"][0]
    assert call["type"] == "function" and call["index"] == 0
    assert re.fullmatch(r"[A-Za-z0-9]{9,}", call["id"])
    assert call["function"]["name"] == "lookup"
    assert isinstance(call["function"]["arguments"], str)
    assert events[1] == {"finish_reason": "tool_calls"}
    assert "usage" in events[2] and events[3] == "[DONE]"


async def test_tool_result_is_answered_in_text(client: httpx.AsyncClient) -> None:
    r = await run(
        client,
        LLAMA,
        {
            "messages": [
                {"role": "user", "content": "What is the weather in Paris?"},
                {"role": "assistant", "content": ""},
                {"role": "tool", "content": "The weather in Paris is sunny and 21 degrees."},
            ],
            "tools": [WEATHER_TOOL],
        },
    )
    result = r.json()["result"]
    assert "tool_calls" not in result
    assert "sunny" in result["response"]


async def test_irrelevant_question_does_not_call_tool(client: httpx.AsyncClient) -> None:
    r = await run(
        client,
        LLAMA,
        {"messages": [{"role": "user", "content": "Tell me a joke"}], "tools": [WEATHER_TOOL]},
    )
    assert "tool_calls" not in r.json()["result"]


async def test_bge_embeddings(client: httpx.AsyncClient) -> None:
    texts = ["the cat sat on the mat", "a cat sat on a mat", "quarterly tax filing deadline"]
    r = await run(client, BGE, {"text": texts})
    result = r.json()["result"]
    assert result["shape"] == [3, 768]
    assert result["pooling"] == "mean"
    m = np.array(result["data"])
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    assert m[0] @ m[1] > 0.5 > m[0] @ m[2]
    assert "feature-hash-embedder" in engine_of(r)
    cls = (await run(client, BGE, {"text": texts[0], "pooling": "cls"})).json()["result"]
    assert cls["pooling"] == "cls" and cls["shape"] == [1, 768]


async def test_embedding_batch_limit(client: httpx.AsyncClient) -> None:
    info = get_model(BGE)
    assert info is not None and info.max_batch is not None
    r = await run(client, BGE, {"text": ["x"] * (info.max_batch + 1)})
    assert_error(r, 400, 5006)


async def test_qwen3_embedding_fields(client: httpx.AsyncClient) -> None:
    model = "@cf/qwen/qwen3-embedding-0.6b"
    for field in ("text", "documents", "queries"):
        r = await run(client, model, {field: ["alpha beta", "gamma"]})
        assert r.json()["result"]["shape"] == [2, 1024], field
        assert "pooling" not in r.json()["result"]


async def test_bge_m3_rerank(client: httpx.AsyncClient) -> None:
    r = await run(
        client,
        "@cf/baai/bge-m3",
        {"query": "cat food", "contexts": [{"text": "stock market"}, {"text": "food for a cat"}]},
    )
    ranked = r.json()["result"]["response"]
    assert ranked[0]["id"] == 1 and ranked[0]["score"] > ranked[1]["score"]


# --- OpenAI compatible -----------------------------------------------------------------------


async def test_openai_chat_completion(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={"model": LLAMA, "messages": [{"role": "user", "content": "What is 1 + 1?"}]},
    )
    body = r.json()
    assert "result" not in body
    assert body["object"] == "chat.completion"
    assert re.fullmatch(r"id-\d+", body["id"])
    msg = body["choices"][0]["message"]
    assert msg["role"] == "assistant" and "2" in msg["content"] and msg["refusal"] is None
    assert body["choices"][0]["logprobs"] is None
    assert body["usage"]["total_tokens"] > 0


async def test_openai_stream_matches_recording_shape(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={
            "model": LLAMA,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is 1 + 1?"}]}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for c in chunks[:-1]:
        assert list(c) == ["id", "created", "model", "object", "choices"]
        assert c["choices"] == [
            {"index": 0, "delta": {"content": c["choices"][0]["delta"]["content"]}}
        ]
    last = chunks[-1]
    assert list(last) == ["id", "object", "created", "model", "choices", "usage"]
    assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert len({c["id"] for c in chunks}) == 1
    assert "2" in "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)


async def test_openai_stop_sequence(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={
            "model": LLAMA,
            "messages": [{"role": "user", "content": "apples and pears"}],
            "stop": ["and"],
        },
    )
    assert "pears" not in r.json()["choices"][0]["message"]["content"]


async def test_openai_json_schema_like_recording(client: httpx.AsyncClient) -> None:
    article = (
        "\n# Apples are tasty\n\nBy Hadley Wickham\nApples are delicious and tasty and I like "
        "to eat them.\nExcept for red delicious, that is. They are NOT delicious.\n"
    )
    schema = {
        "description": "Summary of the article",
        "properties": {"title": {"type": "string"}, "author": {"type": "string"}},
        "required": ["title", "author"],
        "type": "object",
        "additionalProperties": False,
    }
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={
            "model": LLAMA,
            "messages": [{"role": "user", "content": [{"type": "text", "text": article}]}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "structured_data", "schema": schema, "strict": True},
            },
        },
    )
    body = r.json()
    assert list(body) == ["id", "object", "created", "model", "choices"]
    content = body["choices"][0]["message"]["content"]
    jsonschema.validate(content, schema)
    assert content == {"title": "Apples are tasty", "author": "Hadley Wickham"}


async def test_openai_tool_calls(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={
            "model": LLAMA,
            "messages": [{"role": "user", "content": "weather in Berlin for 2 days"}],
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
    )
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and len(call["id"]) >= 9
    import json

    args = json.loads(call["function"]["arguments"])
    jsonschema.validate(args, WEATHER_TOOL["function"]["parameters"])
    assert args == {"city": "Berlin", "days": 2}


async def test_openai_null_assistant_content_rejected(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={
            "model": LLAMA,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": []},
            ],
        },
    )
    body = assert_error(r, 400, 5006)
    assert "/messages/1/content" in body["errors"][0]["message"]


async def test_openai_embeddings(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{API}/ai/v1/embeddings", json={"model": BGE, "input": ["a b", "c"]})
    body = r.json()
    assert body["object"] == "list" and body["model"] == BGE
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 768 for d in body["data"])
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] == 3
    bad = await client.post(f"{API}/ai/v1/embeddings", json={"model": BGE, "input": 5})
    assert_error(bad, 400, 5006)


# --- discovery -------------------------------------------------------------------------------


async def test_model_search(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/ai/models/search", params={"task": "Text Embeddings"})
    body = r.json()
    names = [m["name"] for m in body["result"]]
    assert BGE in names and LLAMA not in names
    assert all("schema" not in m for m in body["result"])
    assert body["result_info"]["total_count"] == len(names)
    page = await client.get(f"{API}/ai/models/search", params={"per_page": 2, "page": 2})
    total = len(list(iter_models()))  # every model of the table, whatever its task
    assert page.json()["result_info"] == {
        "count": 2,
        "page": 2,
        "per_page": 2,
        "total_count": total,
    }
    found = await client.get(f"{API}/ai/models/search", params={"search": "qwen3-30b"})
    assert [m["name"] for m in found.json()["result"]] == [QWEN]


async def test_model_schema(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/ai/models/schema", params={"model": BGE})
    result = r.json()["result"]
    assert set(result) == {"input", "output"}
    assert "text" in str(result["input"])
    missing = await client.get(f"{API}/ai/models/schema", params={"model": "@cf/x/y"})
    assert_error(missing, 400, 5007)


async def test_async_batch_queue(client: httpx.AsyncClient) -> None:
    url = f"{API}/ai/run/{LLAMA}?queueRequest=true"
    r = await client.post(
        url,
        json={
            "requests": [
                {"prompt": "What is 2 + 2?", "external_reference": "a"},
                {"prompt": "hello"},
            ]
        },
    )
    queued = r.json()["result"]
    assert queued["status"] == "queued" and queued["model"] == LLAMA
    polled = (await client.post(url, json={"request_id": queued["request_id"]})).json()["result"]
    responses = polled["responses"]
    assert [x["external_reference"] for x in responses] == ["a", None]
    assert "4" in responses[0]["result"]["response"]
    assert polled["usage"]["total_tokens"] == sum(
        x["result"]["usage"]["total_tokens"] for x in responses
    )
    assert_error(await client.post(url, json={"request_id": "nope"}), 400, 5006)


def test_react_prompts_get_an_action_then_an_answer() -> None:
    """LlamaIndex's ReAct format: Thought/Action/Action Input, then Answer after Observation."""
    from cloudflare_ai_local import react

    system = (
        "Use this format:\nThought: ...\nAction: ...\nAction Input: {...}\n"
        "Observation: tool response\n\nYou have access to the following tools:\n"
        "> Tool Name: multiply\nTool Description: multiply(a: int, b: int) -> int\n"
        "Multiply two integers.\nTool Args: "
        '{"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, '
        '"required": ["a", "b"], "type": "object"}\n'
    )
    body = {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "Use multiply to multiply 6 by 7."},
        ]
    }
    assert react.is_react(body)
    step = react.reply(body)
    assert "Action: multiply" in step
    assert 'Action Input: {"a":6,"b":7}' in step
    body["messages"] += [
        {"role": "assistant", "content": step},
        {"role": "user", "content": "Observation: 42"},
    ]
    assert react.reply(body).endswith("Answer: 42")
    assert not react.is_react({"messages": [{"role": "user", "content": "hi"}]})
