"""The local engine's tool choice, tool arguments and JSON output, through the HTTP routes.

Tool choice weighs a tool's name (and operation synonyms such as "times" for ``multiply``),
its description and whether the request can fill its parameters; ``tool_choice`` that forces
a call holds in every turn; JSON mode fills the fields the request's schema, or failing that
its prompt, asks for.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from cloudflare_ai_local import structured

from .conftest import API, LLAMA


def tool(name: str, description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    # Workers AI's input schema wants a description on every parameter.
    properties = {k: {"description": k, **v} for k, v in properties.items()}
    params = {"type": "object", "properties": properties, "required": list(properties), **extra}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": params},
    }


INTS = {"a": {"type": "integer"}, "b": {"type": "integer"}}
MULTIPLY = tool("multiply", "Multiply two integers.", INTS)
ADD = tool("add", "Add two integers.", INTS)
LANGS = ["en", "fr", "de", "es"]
TRANSLATE = tool(
    "translate",
    "Translate text into another language.",
    {"text": {"type": "string"}, "target_lang": {"type": "string", "enum": LANGS}},
)


async def run(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(f"{API}/ai/run/{LLAMA}", json=body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


async def chat(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(f"{API}/ai/v1/chat/completions", json={"model": LLAMA, **body})
    assert r.status_code == 200, r.text
    message: dict[str, Any] = r.json()["choices"][0]["message"]
    return message


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("question", "name", "args"),
    [
        ("What is 6 times 7?", "multiply", {"a": 6, "b": 7}),
        ("Multiply 6 and 7", "multiply", {"a": 6, "b": 7}),
        ("What is 6 x 7?", "multiply", {"a": 6, "b": 7}),
        ("What is the sum of 12 and 30?", "add", {"a": 12, "b": 30}),
        ("What is 2 plus 40?", "add", {"a": 2, "b": 40}),
    ],
)
async def test_operation_synonyms_pick_the_tool_and_numbers_fill_it_in_order(
    client: httpx.AsyncClient, question: str, name: str, args: dict[str, int]
) -> None:
    result = await run(client, {"messages": user(question), "tools": [ADD, MULTIPLY]})
    assert result["tool_calls"] == [{"name": name, "arguments": args}]


@pytest.mark.parametrize(
    "question", ["How many times have you been to Paris?", "Tell me a joke", "Hello there"]
)
async def test_no_tool_call_without_evidence(client: httpx.AsyncClient, question: str) -> None:
    result = await run(client, {"messages": user(question), "tools": [MULTIPLY, TRANSLATE]})
    assert "tool_calls" not in result


async def test_translate_fills_text_and_enum_language(client: httpx.AsyncClient) -> None:
    question = "Translate 'good morning' into French"
    result = await run(client, {"messages": user(question), "tools": [MULTIPLY, TRANSLATE]})
    assert result["tool_calls"] == [
        {"name": "translate", "arguments": {"text": "good morning", "target_lang": "fr"}}
    ]


@pytest.mark.parametrize(
    ("description", "expected"),
    [("Target language", "French"), ("ISO 639-1 code of the target language", "fr")],
)
async def test_translate_free_string_language(
    client: httpx.AsyncClient, description: str, expected: str
) -> None:
    free = tool(
        "translate",
        "Translate text into another language.",
        {"text": {"type": "string"}, "target_lang": {"type": "string", "description": description}},
    )
    message = await chat(
        client, {"messages": user('Translate "good morning" into French'), "tools": [free]}
    )
    args = json.loads(message["tool_calls"][0]["function"]["arguments"])
    assert args == {"text": "good morning", "target_lang": expected}


ANSWER = tool(
    "FinalAnswer",
    "The final answer.",
    {"result": {"type": "integer"}, "explanation": {"type": "string"}},
)
AFTER_MULTIPLY = [
    *user("What is 6 times 7?"),
    {
        "role": "assistant",
        "content": "",  # Workers AI rejects None here
        "tool_calls": [
            {
                "id": "call12345",
                "type": "function",
                "function": {"name": "multiply", "arguments": '{"a": 6, "b": 7}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call12345", "content": "42"},
]


@pytest.mark.parametrize("choice", ["required", "any"])
async def test_required_holds_after_tool_results_and_prefers_an_uncalled_tool(
    client: httpx.AsyncClient, choice: str
) -> None:
    first = await chat(
        client, {"messages": user("What is 6 times 7?"), "tools": [MULTIPLY, ANSWER]}
    )
    assert first["tool_calls"][0]["function"]["name"] == "multiply"
    message = await chat(
        client, {"messages": AFTER_MULTIPLY, "tools": [MULTIPLY, ANSWER], "tool_choice": choice}
    )
    call = message["tool_calls"][0]["function"]
    assert call["name"] == "FinalAnswer"
    assert json.loads(call["arguments"])["result"] == 42  # the tool's result, not the 6


async def test_named_tool_choice_holds_after_tool_results(client: httpx.AsyncClient) -> None:
    named = {"type": "function", "function": {"name": "multiply"}}
    result = await run(
        client, {"messages": AFTER_MULTIPLY, "tools": [MULTIPLY, ANSWER], "tool_choice": named}
    )
    assert [c["name"] for c in result["tool_calls"]] == ["multiply"]


async def test_auto_after_tool_results_answers_from_them(client: httpx.AsyncClient) -> None:
    message = await chat(client, {"messages": AFTER_MULTIPLY, "tools": [MULTIPLY, ANSWER]})
    assert "tool_calls" not in message and message["content"] == "42"


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "mood": {"type": "string", "enum": ["neutral", "happy", "sad"]},
        "hobbies": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}},
            "required": ["city", "zip"],
        },
    },
    "required": ["name", "age", "mood", "hobbies", "address"],
}
ALICE = "Alice Smith is 31 years old, happy, and likes chess and hiking. She lives in zip 75001."
EXPECTED = {
    "name": "Alice Smith",
    "age": 31,
    "mood": "happy",
    "hobbies": ["chess", "hiking"],
}


def assert_person(value: Any) -> None:
    jsonschema.validate(value, PERSON)
    assert {k: value[k] for k in EXPECTED} == EXPECTED
    assert value["address"]["zip"] == 75001  # the next number, not the age again


async def test_native_json_schema_fills_fields(client: httpx.AsyncClient) -> None:
    fmt = {"type": "json_schema", "json_schema": PERSON}
    result = await run(client, {"messages": user(ALICE), "response_format": fmt})
    assert_person(result["response"])


async def test_openai_json_schema_wrapper_fills_fields(client: httpx.AsyncClient) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    message = await chat(client, {"messages": user(ALICE), "response_format": fmt})
    content = message["content"]
    assert_person(json.loads(content) if isinstance(content, str) else content)


async def test_json_mode_follows_a_schema_written_in_the_prompt(
    client: httpx.AsyncClient,
) -> None:
    system = f"Reply in JSON that follows this JSON schema:\n```\n{json.dumps(PERSON)}\n```"
    messages = [{"role": "system", "content": system}, *user(ALICE)]
    result = await run(client, {"messages": messages, "response_format": {"type": "json_object"}})
    assert_person(result["response"])


async def test_json_mode_follows_an_example_or_a_key_list(client: httpx.AsyncClient) -> None:
    example = 'Answer in JSON like {"name": "...", "age": 0, "hobbies": ["..."]}'
    messages = [{"role": "system", "content": example}, *user(ALICE)]
    fmt = {"type": "json_object"}
    by_example = (await run(client, {"messages": messages, "response_format": fmt}))["response"]
    assert by_example == {"name": "Alice Smith", "age": 31, "hobbies": ["chess", "hiking"]}
    keyed = f"{ALICE} Return a JSON object with keys `name`, `age` and `hobbies`."
    by_keys = (await run(client, {"messages": user(keyed), "response_format": fmt}))["response"]
    assert by_keys == by_example


async def test_json_mode_takes_no_shape_from_tool_results(client: httpx.AsyncClient) -> None:
    messages = [
        *user("What is the weather in Paris?"),
        {"role": "assistant", "content": ""},
        {"role": "tool", "content": '{"city": "Paris", "sky": "sunny"}'},
    ]
    fmt = {"type": "json_object"}
    result = await run(client, {"messages": messages, "response_format": fmt})
    assert list(result["response"]) == ["answer"]


async def test_json_mode_without_any_shape_answers_under_one_key(
    client: httpx.AsyncClient,
) -> None:
    result = await run(
        client,
        {"messages": user("What is 2 + 3?"), "response_format": {"type": "json_object"}},
    )
    assert set(result["response"]) == {"answer"} and "5" in result["response"]["answer"]


def test_list_splitting_and_enum_mentions() -> None:
    assert structured._split_list("and likes chess, go and hiking") == ["chess", "go", "hiking"]
    assert structured._split_list("likes red wine and blue cheese") == ["red wine", "blue cheese"]
    assert structured._split_list("likes chess", conjunction=True) == []
    # "French" contains "en": only whole words and language names count
    assert structured.mentioned_option(["en", "fr"], "into French") == "fr"
    assert structured.mentioned_option(["English", "German"], "auf Deutsch, German") == "German"
    assert structured.mentioned_option(["x", "y"], "nothing named") == "x"
