"""Making model tool calls usable: arguments coerced to the tool's schema, ids made unique.

Workers AI models often send numbers and lists as strings (``{"user_id": "123",
"tags": "[\\"a\\"]"}``) and some reuse tool-call ids across turns. Both are fixed here, once,
for every adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from .responses import new_tool_call_id
from .types import ToolCall


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    options = schema.get("anyOf") or schema.get("oneOf") or []
    out: list[str] = []
    for option in options:
        if isinstance(option, Mapping):
            out.extend(_types(option))
    return out


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return node if isinstance(node, Mapping) else schema
    return schema


def _coerce(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    schema = _resolve(schema, root)
    kinds = _types(schema)
    if not kinds:
        return value
    if isinstance(value, str):
        text = value.strip()
        if "integer" in kinds and "string" not in kinds:
            try:
                return int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    return value
                return int(number) if number.is_integer() else value
        if "number" in kinds and "string" not in kinds:
            try:
                number = float(text)
            except ValueError:
                return value
            return int(number) if number.is_integer() and "." not in text else number
        if "boolean" in kinds and "string" not in kinds and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if ("array" in kinds or "object" in kinds) and "string" not in kinds:
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                return value
            if isinstance(parsed, list | dict):
                return _coerce(parsed, schema, root)
            return value
        if "null" in kinds and text.lower() in ("null", "none") and "string" not in kinds:
            return None
        return value
    if isinstance(value, list) and "array" in kinds:
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_coerce(v, items, root) for v in value]
        return value
    if isinstance(value, dict) and "object" in kinds:
        return coerce_arguments(value, schema, root)
    if isinstance(value, float) and "integer" in kinds and value.is_integer():
        return int(value)
    return value


def coerce_arguments(
    arguments: Mapping[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Arguments with values converted to the types the JSON Schema declares, where the
    conversion is lossless (``"3"`` → 3 for an integer, ``"[1, 2]"`` → [1, 2] for an array).
    Values that cannot be converted are left as they are."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return dict(arguments)
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        prop = properties.get(key)
        out[key] = _coerce(value, prop, root) if isinstance(prop, Mapping) else value
    return out


def tool_parameters(tools: Iterable[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    """Parameter schemas by tool name, from tools in OpenAI or flat form."""
    out: dict[str, Mapping[str, Any]] = {}
    for tool in tools or []:
        function = tool.get("function") if tool.get("type") == "function" else tool
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            params = function.get("parameters")
            out[function["name"]] = params if isinstance(params, Mapping) else {}
    return out


def fix_tool_calls(
    calls: list[ToolCall],
    tools: Iterable[Mapping[str, Any]] | None,
    used_ids: Iterable[str] = (),
) -> list[ToolCall]:
    """Tool calls with arguments coerced to their tool's schema and ids that are unique among
    themselves and against ``used_ids`` (ids already present in the conversation)."""
    schemas = tool_parameters(tools)
    seen = set(used_ids)
    fixed = []
    for call in calls:
        arguments = call.arguments
        raw = call.raw_arguments
        schema = schemas.get(call.name)
        if arguments is not None and schema:
            coerced = coerce_arguments(arguments, schema)
            if coerced != arguments:
                arguments, raw = coerced, orjson.dumps(coerced).decode()
        call_id = call.id
        if call_id in seen:
            call_id = new_tool_call_id()
        seen.add(call_id)
        fixed.append(
            call.model_copy(update={"arguments": arguments, "raw_arguments": raw, "id": call_id})
        )
    return fixed
