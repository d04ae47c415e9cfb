"""Tool-call repair in the core: argument coercion, unique ids, tool schemas Workers AI takes."""

from __future__ import annotations

from typing import Any

import pytest

from cloudflare_ai.errors import ValidationError
from cloudflare_ai.tools import coerce_arguments, fix_tool_calls, tool_parameters
from cloudflare_ai.types import ToolCall
from cloudflare_ai.workers_ai import normalize_tool_choice, normalize_tools

SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "integer"}},
        "inner": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "name": {"type": "string"},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "ref": {"$ref": "#/$defs/Point"},
    },
    "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"count": "3"}, {"count": 3}),
        ({"count": "3.0"}, {"count": 3}),
        ({"count": 4.0}, {"count": 4}),
        ({"count": "three"}, {"count": "three"}),  # not convertible: left alone
        ({"ratio": "0.5"}, {"ratio": 0.5}),
        ({"flag": "true"}, {"flag": True}),
        ({"flag": "False"}, {"flag": False}),
        ({"tags": '["1", 2]'}, {"tags": [1, 2]}),
        ({"tags": ["7"]}, {"tags": [7]}),
        ({"inner": '{"n": "9"}'}, {"inner": {"n": 9}}),
        ({"name": "123"}, {"name": "123"}),  # strings stay strings
        ({"maybe": "5"}, {"maybe": 5}),
        ({"ref": '{"x": "1.5"}'}, {"ref": {"x": 1.5}}),
        ({"unknown": "1"}, {"unknown": "1"}),
    ],
)
def test_coerce_arguments(args: dict[str, Any], expected: dict[str, Any]) -> None:
    assert coerce_arguments(args, SCHEMA) == expected


def test_fix_tool_calls_coerces_and_makes_ids_unique() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}]
    calls = [
        ToolCall(id="dup", name="f", arguments={"count": "2"}, raw_arguments='{"count":"2"}'),
        ToolCall(id="dup", name="f", arguments={"count": 1}, raw_arguments='{"count":1}', index=1),
        ToolCall(id="old", name="g", arguments={"x": "1"}, raw_arguments='{"x":"1"}', index=2),
    ]
    fixed = fix_tool_calls(calls, tools, used_ids={"old"})
    assert fixed[0].arguments == {"count": 2}
    assert fixed[0].raw_arguments == '{"count":2}'
    assert len({c.id for c in fixed}) == 3
    assert fixed[0].id == "dup"
    assert "old" not in {c.id for c in fixed}
    assert fixed[2].arguments == {"x": "1"}  # tool without a schema: untouched


def test_tool_parameters_reads_both_shapes() -> None:
    flat = {"name": "a", "parameters": {"type": "object", "properties": {}}}
    wrapped = {"type": "function", "function": {"name": "b", "parameters": SCHEMA}}
    assert set(tool_parameters([flat, wrapped])) == {"a", "b"}


def test_normalize_tools_folds_properties_to_one_type() -> None:
    params = {
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "A"},
            "b": {"type": ["integer", "null"]},
            "c": {"enum": ["x", "y"]},
            "d": {"$ref": "#/$defs/Point"},
        },
        "$defs": {"Point": {"type": "object", "properties": {}}},
    }
    [tool] = (
        normalize_tools([{"type": "function", "function": {"name": "t", "parameters": params}}])
        or []
    )
    props = tool["function"]["parameters"]["properties"]
    assert props["a"]["type"] == "string" and props["a"]["description"] == "A"
    assert props["b"]["type"] == "integer"
    assert props["c"]["type"] == "string"
    assert props["d"]["type"] == "object"
    assert all("description" in p for p in props.values())
    assert tool["function"]["description"] == "t"


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ({"function": {"name": ""}}, "no name"),
        ({"name": "x", "parameters": {"type": "array"}}, "type 'object'"),
        ({"name": "x", "parameters": {"type": "object", "properties": []}}, "must be an object"),
        ({"name": "x", "parameters": {"type": "object", "properties": {"p": {}}}}, "has no type"),
        ({"name": "x", "parameters": {"type": "object", "properties": {"p": 3}}}, "JSON Schema"),
        ("not a tool", "must be a mapping"),
    ],
)
def test_malformed_tools_are_refused(tool: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        normalize_tools([tool])


def test_tool_choice_forms() -> None:
    one = normalize_tools([{"name": "only", "parameters": {"type": "object", "properties": {}}}])
    two = normalize_tools(
        [
            {"name": "a", "parameters": {"type": "object", "properties": {}}},
            {"name": "b", "parameters": {"type": "object", "properties": {}}},
        ]
    )
    forced = {"type": "function", "function": {"name": "only"}}
    assert normalize_tool_choice("required", one) == forced  # "required" is advisory upstream
    assert normalize_tool_choice("any", one) == forced
    assert normalize_tool_choice("any", two) == "required"
    assert normalize_tool_choice("auto", two) == "auto"
    assert normalize_tool_choice("b", two) == {"type": "function", "function": {"name": "b"}}
    with pytest.raises(ValidationError, match="names no offered tool"):
        normalize_tool_choice("c", two)
