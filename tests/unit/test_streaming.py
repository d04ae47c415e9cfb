"""SSE decoding (real recordings and the documented native examples) and result parsing."""

from __future__ import annotations

import random
from typing import Any

import httpx
import orjson
import pytest
import yaml

from cloudflare_ai import APIError, StreamError
from cloudflare_ai.models import get_model
from cloudflare_ai.responses import parse_arguments, parse_chat_result, parse_usage
from cloudflare_ai.streaming import SSEParser, StopSequences, StreamDecoder, aggregate, iter_sse
from cloudflare_ai.types import ChatChunk
from tests.conftest import REFERENCE

from ._support import (
    CHAT_MODEL,
    AsyncChunkedStream,
    ChunkedStream,
    Recorder,
    ai_client,
    async_ai_client,
    clear_env,
    envelope,
    json_response,
    sse,
)

RECORDED = REFERENCE / "recorded" / "chatlas-openai-compat"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)


def _interactions() -> list[tuple[str, int, dict[str, Any]]]:
    out = []
    for path in sorted(RECORDED.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for i, interaction in enumerate(data["interactions"]):
            out.append((path.stem, i, interaction))
    return out


INTERACTIONS = _interactions()
STREAMED = [
    pytest.param(body["response"]["body"]["string"], id=f"{stem}-{i}")
    for stem, i, body in INTERACTIONS
    if orjson.loads(body["request"]["body"]).get("stream") is True
]
WHOLE = [
    pytest.param(body["response"]["body"]["string"], id=f"{stem}-{i}")
    for stem, i, body in INTERACTIONS
    if orjson.loads(body["request"]["body"]).get("stream") is not True
]


def test_recordings_found() -> None:
    assert len(STREAMED) >= 5
    assert len(WHOLE) >= 3


def expected_from_body(body: str) -> tuple[str, list[dict[str, Any]]]:
    """Independent reading of a recorded SSE body: concatenated deltas and usage objects."""
    text, usages = "", []
    for line in body.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            event = orjson.loads(line[len("data: ") :])
            for choice in event.get("choices", []):
                text += (choice.get("delta") or {}).get("content") or ""
            if event.get("usage"):
                usages.append(event["usage"])
    return text, usages


def decode(lines: list[str], model: str = CHAT_MODEL, **kwargs: Any) -> list[ChatChunk]:
    decoder = StreamDecoder(model, **kwargs)
    chunks = [c for c in (decoder.feed(d) for d in iter_sse(lines)) if c is not None]
    return [*chunks, decoder.finish()]


@pytest.mark.parametrize("body", STREAMED)
def test_recorded_stream_decodes(body: str) -> None:
    expected_text, usages = expected_from_body(body)
    assert expected_text
    chunks = decode(body.splitlines())
    final = chunks[-1]
    assert "".join(c.text for c in chunks) == expected_text
    assert final.finish_reason == "stop"
    assert [c for c in chunks if c.usage is not None] == [final]
    assert final.usage is not None
    last = usages[-1]
    assert final.usage.prompt_tokens == last["prompt_tokens"]
    assert final.usage.completion_tokens == last["completion_tokens"]
    assert final.usage.total_tokens == last["total_tokens"]
    assert final.usage.cost_usd == pytest.approx(
        (last["prompt_tokens"] * 0.29 + last["completion_tokens"] * 2.25) / 1e6
    )
    whole = aggregate(CHAT_MODEL, chunks)
    assert whole.text == expected_text
    assert whole.finish_reason == "stop"
    assert whole.usage == final.usage


@pytest.mark.parametrize("body", STREAMED)
def test_recorded_stream_through_client_split_at_random_points(body: str) -> None:
    raw = body.encode()
    rng = random.Random(len(raw))
    pieces, at = [], 0
    while at < len(raw):
        step = rng.randint(1, 9)
        pieces.append(raw[at : at + step])
        at += step
    rec = Recorder(
        lambda r: httpx.Response(
            200,
            stream=ChunkedStream(pieces),
            headers={"content-type": "text/event-stream", "cf-ray": "rec-ray"},
        )
    )
    stream = ai_client(rec).stream_chat(
        CHAT_MODEL, [{"role": "user", "content": "hi"}], api="openai"
    )
    chunks = list(stream)
    expected_text, usages = expected_from_body(body)
    assert "".join(c.text for c in chunks) == expected_text
    assert [c.usage for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == usages[-1]["total_tokens"]
    assert stream.response is not None
    assert stream.response.text == expected_text
    assert stream.request_id == "rec-ray"
    sent = orjson.loads(rec.requests[0].content)
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert rec.requests[0].url.path.endswith("/ai/v1/chat/completions")


@pytest.mark.parametrize("body", WHOLE)
def test_recorded_json_schema_result_is_parsed(body: str) -> None:
    result = orjson.loads(body)
    content = result["choices"][0]["message"]["content"]
    assert isinstance(content, dict)
    chat = parse_chat_result(result, model=CHAT_MODEL)
    assert chat.parsed == content
    assert orjson.loads(chat.text) == content
    assert chat.finish_reason == "stop"
    assert chat.tool_calls == []


@pytest.mark.parametrize("body", WHOLE)
def test_recorded_json_schema_through_client(body: str) -> None:
    rec = Recorder(lambda r: httpx.Response(200, content=body.encode()))
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    chat = ai_client(rec).chat(
        CHAT_MODEL,
        [{"role": "user", "content": "extract"}],
        api="openai",
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    )
    assert chat.parsed == orjson.loads(body)["choices"][0]["message"]["content"]
    sent = orjson.loads(rec.requests[0].content)
    assert sent["response_format"]["json_schema"]["schema"] == schema


# --- documented native examples (§1.6) ---------------------------------------------------------

CLASSIC = [
    'data: {"response":"New"}',
    "",
    'data: {"response":" York","p":"abdefgh"}',
    "",
    'data: {"response":"","tool_calls":[],"p":"abdefghijklmn"}',
    "",
    'data: {"response":"","usage":{"prompt_tokens":169,"completion_tokens":48,"total_tokens":217}}',
    "",
    "data: [DONE]",
    "",
]


def test_classic_stream_with_padding_and_final_usage() -> None:
    chunks = decode(CLASSIC)
    assert [c.text for c in chunks] == ["New", " York", ""]
    assert all("abdefgh" not in c.text for c in chunks)
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (169, 48)
    assert final.usage.total_tokens == 217
    assert sum(c.usage is not None for c in chunks) == 1
    assert final.usage.cost_usd == pytest.approx((169 * 0.29 + 48 * 2.25) / 1e6)


def test_classic_top_level_finish_reason() -> None:
    chunks = decode(
        sse({"response": "hello"}, {"response": " world", "finish_reason": "length"})
        .decode()
        .splitlines()
    )
    assert "".join(c.text for c in chunks) == "hello world"
    assert chunks[-1].finish_reason == "length"


def test_streamed_tool_call_by_index_with_null_finalisation() -> None:
    events = [
        {
            "tool_calls": [
                {
                    "id": "call123",
                    "type": "function",
                    "index": 0,
                    "function": {"name": "get_weather", "arguments": '{"location": '},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '"London"}'}}]},
        {
            "tool_calls": [
                {
                    "id": None,
                    "type": "function",
                    "index": 0,
                    "function": {"name": None, "arguments": None},
                }
            ]
        },
        {"finish_reason": "tool_calls"},
    ]
    chunks = decode(sse(*events).decode().splitlines())
    deltas = [d for c in chunks for d in c.tool_calls]
    assert len(deltas) == 2  # the null finalisation chunk is dropped
    assert deltas[0].id == "call123"
    assert deltas[0].name == "get_weather"
    assert deltas[1].id is None
    assert deltas[1].name is None
    whole = aggregate("@cf/meta/llama-3.1-8b-instruct", chunks)
    (call,) = whole.tool_calls
    assert (call.id, call.name, call.index) == ("call123", "get_weather", 0)
    assert call.arguments == {"location": "London"}
    assert whole.finish_reason == "tool_calls"
    assert whole.text == ""


def test_two_interleaved_tool_calls_and_object_arguments() -> None:
    events = [
        {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]},
        {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": {"y": 2}}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
    ]
    chunks = decode(sse(*events).decode().splitlines())
    whole = aggregate("m", chunks)
    assert [(c.id, c.name, c.arguments) for c in whole.tool_calls] == [
        ("a", "f", {"x": 1}),
        ("b", "g", {"y": 2}),
    ]
    assert chunks[-1].finish_reason == "tool_calls"  # [DONE] with calls and no reason


def test_classic_whole_tool_call_in_stream_gets_index() -> None:
    events = [{"response": "", "tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]}]
    whole = aggregate("m", decode(sse(*events).decode().splitlines(), id_seed="ray-1"))
    (call,) = whole.tool_calls
    assert call.name == "lookup"
    assert call.arguments == {"q": "x"}
    assert call.id.startswith("call_")


def test_chat_completion_chunks_cumulative_usage_last_counts() -> None:
    def usage(n: int, **extra: Any) -> dict[str, Any]:
        return {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n, **extra}

    events = [
        {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "think"}}],
            "usage": usage(1),
        },
        {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": "Hi"}}],
            "usage": usage(2),
        },
        {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": " there"}, "finish_reason": "stop"}],
            "usage": usage(3),
        },
        {
            "response": "",
            "usage": usage(3, prompt_tokens_details={"cached_tokens": 4}, neurons=12.5),
        },
    ]
    chunks = decode(sse(*events).decode().splitlines(), model="@cf/qwen/qwen3-30b-a3b-fp8")
    final = chunks[-1]
    assert "".join(c.text for c in chunks) == "Hi there"
    assert "".join(c.reasoning for c in chunks) == "think"
    assert [c for c in chunks if c.usage] == [final]
    assert final.usage is not None
    assert final.usage.completion_tokens == 3
    assert final.usage.total_tokens == 13
    assert final.usage.cached_tokens == 4
    assert final.usage.neurons == 12.5
    assert final.usage.cost_usd == pytest.approx((10 * 0.051 + 3 * 0.34) / 1e6)
    whole = aggregate("@cf/qwen/qwen3-30b-a3b-fp8", chunks)
    assert whole.reasoning == "think"
    assert whole.usage == final.usage


def test_final_usage_only_chunk_with_empty_choices() -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}},
    ]
    chunks = decode(sse(*events).decode().splitlines())
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 4


def test_stream_without_done_and_without_finish_reason_is_error() -> None:
    decoder = StreamDecoder(CHAT_MODEL)
    for data in iter_sse(
        sse({"response": "partial"}, {"response": " text"}, done=False).decode().splitlines()
    ):
        decoder.feed(data)
    with pytest.raises(StreamError, match="incomplete"):
        decoder.finish()


def test_stream_with_finish_reason_but_no_done_is_complete() -> None:
    lines = sse({"choices": [{"delta": {"content": "x"}, "finish_reason": "stop"}]}, done=False)
    chunks = decode(lines.decode().splitlines())
    assert chunks[-1].finish_reason == "stop"


def test_error_event_inside_stream_raises() -> None:
    decoder = StreamDecoder(CHAT_MODEL)
    with pytest.raises(APIError, match="Capacity") as info:
        decoder.feed('{"success":false,"errors":[{"code":3040,"message":"Capacity exceeded"}]}')
    assert info.value.code == 3040


def test_undecodable_event_is_stream_error() -> None:
    with pytest.raises(StreamError, match="undecodable"):
        StreamDecoder(CHAT_MODEL).feed('{"response": "unterminated')


# --- SSE framing ------------------------------------------------------------------------------


def test_sse_parser_framing_variants() -> None:
    lines = [
        ": keep-alive comment",
        'data: {"response":"a"}\r',
        "\r",
        'data:{"response":"b"}',  # no space after the colon
        "",
        "event: message",
        'data: {"response":',  # one event over two data lines
        'data: "c"}',
        "",
        'data: {"response":"d"}',  # no blank line before the next event
        'data: {"response":"e"}',
        "",
        "data: [DONE]",
    ]
    events = list(iter_sse(lines))
    assert events[0] == '{"response":"a"}'
    assert events[1] == '{"response":"b"}'
    assert orjson.loads(events[2]) == {"response": "c"}
    assert events[3:] == ['{"response":"d"}', '{"response":"e"}', "[DONE]"]


def test_sse_parser_flush() -> None:
    parser = SSEParser()
    assert parser.feed('data: {"a":1}') is None
    assert parser.flush() == '{"a":1}'
    assert parser.flush() is None


def test_native_stream_split_into_tiny_pieces_with_multibyte_text() -> None:
    body = sse(
        {"response": "héllo "},
        {"response": "wörld 🙂", "p": "xyz"},
        {"response": "", "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}},
    )
    pieces = [body[i : i + 1] for i in range(len(body))]  # every byte on its own
    rec = Recorder(lambda r: httpx.Response(200, stream=ChunkedStream(pieces)))
    stream = ai_client(rec).stream_chat(CHAT_MODEL, prompt="hi")
    chunks = list(stream)
    assert "".join(c.text for c in chunks) == "héllo wörld 🙂"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 5
    assert chunks[-1].finish_reason == "stop"


async def test_async_stream_split_pieces() -> None:
    body = sse({"response": "as"}, {"response": "ync"}, {"response": "", "finish_reason": "stop"})
    pieces = [body[i : i + 3] for i in range(0, len(body), 3)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=AsyncChunkedStream(pieces))

    stream = async_ai_client(handler).stream_chat(CHAT_MODEL, prompt="hi")
    assert await stream.text() == "async"
    assert stream.response is not None
    assert stream.response.finish_reason == "stop"


# --- stop sequences ---------------------------------------------------------------------------


def test_stop_sequence_across_chunk_boundaries() -> None:
    events = [
        {"response": "Hello E"},
        {"response": "N"},
        {"response": "D and more"},
        {"response": "ignored"},
    ]
    decoder = StreamDecoder(CHAT_MODEL, stop=["END"])
    texts = []
    for data in iter_sse(sse(*events).decode().splitlines()):
        chunk = decoder.feed(data)
        if chunk is not None:
            texts.append(chunk.text)
    final = decoder.finish()
    assert "".join(texts) + final.text == "Hello "
    assert decoder.stopped
    assert final.finish_reason == "stop"


def test_stop_sequences_unit() -> None:
    cutter = StopSequences(["###", "\n\n"])
    out = cutter.push("abc#") + cutter.push("#x") + cutter.push("yz")
    out += cutter.flush()
    assert out == "abc##xyz"
    assert not cutter.stopped
    cutter = StopSequences(["###"])
    assert cutter.push("a#") + cutter.push("#") + cutter.push("#tail") + cutter.flush() == "a"
    assert cutter.stopped
    assert cutter.push("more") == ""
    assert StopSequences(None).push("free text") == "free text"
    assert StopSequences(["", ""]).push("x") == "x"


def test_client_applies_stop_to_native_stream_and_closes_early() -> None:
    body = sse({"response": "one two "}, {"response": "STOP three"}, {"response": "four"})
    rec = Recorder(lambda r: httpx.Response(200, content=body))
    stream = ai_client(rec).stream_chat(CHAT_MODEL, prompt="count", stop=["STOP"])
    assert stream.text() == "one two "
    assert stream.response is not None
    assert stream.response.finish_reason == "stop"
    assert "stop" not in orjson.loads(rec.requests[0].content)  # /ai/run has no stop parameter


def test_client_applies_stop_to_native_whole_answer() -> None:
    rec = Recorder(lambda r: json_response(200, envelope({"response": "alpha beta gamma"})))
    chat = ai_client(rec).chat(CHAT_MODEL, prompt="x", stop=["beta"])
    assert chat.text == "alpha "
    assert chat.finish_reason == "stop"


# --- parse_chat_result ------------------------------------------------------------------------


def test_classic_result_tool_arguments_as_object_and_string() -> None:
    result = {
        "response": "",
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_time", "arguments": '{"tz":"UTC"}'},
            {"name": "broken", "arguments": "not json"},
        ],
    }
    chat = parse_chat_result(result, model=CHAT_MODEL, request_id="ray-x")
    assert [(c.name, c.arguments, c.index) for c in chat.tool_calls] == [
        ("get_weather", {"city": "Paris"}, 0),
        ("get_time", {"tz": "UTC"}, 1),
        ("broken", None, 2),
    ]
    assert chat.tool_calls[0].raw_arguments == '{"city":"Paris"}'
    assert chat.tool_calls[1].raw_arguments == '{"tz":"UTC"}'
    assert chat.tool_calls[2].raw_arguments == "not json"
    assert chat.finish_reason == "tool_calls"
    ids = [c.id for c in chat.tool_calls]
    assert len(set(ids)) == 3
    assert all(i.startswith("call_") for i in ids)
    again = parse_chat_result(result, model=CHAT_MODEL, request_id="ray-x")
    assert [c.id for c in again.tool_calls] == ids  # derived from cf-ray: deterministic
    other = parse_chat_result(result, model=CHAT_MODEL, request_id="ray-y")
    assert not set(ids) & {c.id for c in other.tool_calls}


def test_response_null_with_tool_calls() -> None:
    result = {"response": None, "tool_calls": [{"id": "t1", "name": "f", "arguments": {}}]}
    chat = parse_chat_result(result, model=CHAT_MODEL)
    assert chat.text == ""
    assert chat.parsed is None
    assert [(c.id, c.name, c.arguments, c.raw_arguments) for c in chat.tool_calls] == [
        ("t1", "f", {}, "{}")
    ]
    assert chat.finish_reason == "tool_calls"


def test_response_object_in_json_mode() -> None:
    result = {
        "response": {"title": "Apples", "n": 2},
        "usage": {"prompt_tokens": 5, "completion_tokens": 6},
    }
    chat = parse_chat_result(result, model=CHAT_MODEL)
    assert chat.parsed == {"title": "Apples", "n": 2}
    assert orjson.loads(chat.text) == {"title": "Apples", "n": 2}
    assert chat.usage is not None
    assert chat.usage.total_tokens == 11


def test_chat_completion_result_with_reasoning_and_tool_calls() -> None:
    result = {
        "object": "chat.completion",
        "model": "@cf/qwen/qwen3-30b-a3b-fp8",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "I should call it",
                    "tool_calls": [
                        {
                            "id": "chatcmpl-tool-abc",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    chat = parse_chat_result(result, model="@cf/qwen/qwen3-30b-a3b-fp8")
    assert chat.reasoning == "I should call it"
    (call,) = chat.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "chatcmpl-tool-abc",
        "get_weather",
        {"city": "Paris"},
    )
    assert chat.finish_reason == "tool_calls"
    assert chat.raw["object"] == "chat.completion"


def test_text_completion_result() -> None:
    result = {
        "object": "text_completion",
        "choices": [{"index": 0, "text": "plain", "finish_reason": "length"}],
    }
    chat = parse_chat_result(result, model="@cf/qwen/qwen3-30b-a3b-fp8")
    assert (chat.text, chat.finish_reason) == ("plain", "length")


RESPONSES_OUTPUT = {
    "id": "resp_1",
    "object": "response",
    "model": "@cf/openai/gpt-oss-20b",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Hello"},
                {"type": "output_text", "text": " there"},
            ],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
    ],
    "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12},
}


def test_responses_api_output() -> None:
    chat = parse_chat_result(RESPONSES_OUTPUT, model="@cf/openai/gpt-oss-20b")
    assert chat.text == "Hello there"
    (call,) = chat.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    assert chat.finish_reason == "tool_calls"
    assert chat.usage is not None
    assert (chat.usage.prompt_tokens, chat.usage.completion_tokens, chat.usage.total_tokens) == (
        5,
        7,
        12,
    )
    assert chat.usage.cost_usd == pytest.approx((5 * 0.20 + 7 * 0.30) / 1e6)


def test_responses_api_tool_call_id_is_call_id() -> None:
    chat = parse_chat_result(RESPONSES_OUTPUT, model="@cf/openai/gpt-oss-20b")
    assert chat.tool_calls[0].id == "call_1"


def test_classic_finish_reason_length_from_max_tokens() -> None:
    result = {"response": "cut", "usage": {"prompt_tokens": 3, "completion_tokens": 16}}
    assert parse_chat_result(result, model=CHAT_MODEL, max_tokens=16).finish_reason == "length"
    assert parse_chat_result(result, model=CHAT_MODEL, max_tokens=17).finish_reason == "stop"
    assert parse_chat_result(result, model=CHAT_MODEL).finish_reason == "stop"


def test_non_mapping_result() -> None:
    assert parse_chat_result("just text", model="m").text == "just text"


# --- usage and cost ---------------------------------------------------------------------------


def test_usage_with_cached_tokens_and_neurons() -> None:
    usage = parse_usage(
        {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 7},
            "neurons": 3.25,
        },
        CHAT_MODEL,
    )
    assert usage is not None
    assert usage.cached_tokens == 64
    assert usage.reasoning_tokens == 7
    assert usage.neurons == 3.25
    assert usage.cost_usd == pytest.approx((100 * 0.29 + 20 * 2.25) / 1e6)


def test_usage_shapes() -> None:
    assert parse_usage(None) is None
    assert parse_usage({}) is None
    assert parse_usage({"foo": 1}) is None
    partial = parse_usage({"prompt_tokens": 4})
    assert partial is not None
    assert (partial.completion_tokens, partial.total_tokens, partial.cost_usd) == (0, 4, None)
    unknown = parse_usage({"prompt_tokens": 4, "completion_tokens": 1}, "@cf/unknown/model")
    assert unknown is not None
    assert unknown.cost_usd is None


def test_cost_from_model_table_prices() -> None:
    llama = get_model(CHAT_MODEL)
    assert llama is not None
    assert llama.cost(1_000_000, 1_000_000) == pytest.approx(0.29 + 2.25)
    assert llama.cost(1000, 2000) == pytest.approx(0.00479)
    bge = get_model("@cf/baai/bge-base-en-v1.5")
    assert bge is not None
    assert bge.cost(1_000_000) == pytest.approx(0.067)
    gemma = get_model("@cf/google/embeddinggemma-300m")
    assert gemma is not None
    assert gemma.cost(1000) is None


def test_parse_arguments() -> None:
    assert parse_arguments(None) == ({}, "{}")
    assert parse_arguments("  ") == ({}, "{}")
    assert parse_arguments({"a": 1}) == ({"a": 1}, '{"a":1}')
    assert parse_arguments('{"a": 1}') == ({"a": 1}, '{"a": 1}')
    assert parse_arguments("[1]") == (None, "[1]")
    assert parse_arguments("oops") == (None, "oops")
