"""Other providers behind AI Gateway: model names, auth headers and wire formats.

AI Gateway reaches OpenAI and Anthropic as well as Workers AI. A model is named
``provider/model`` (``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``,
``workers-ai/@cf/meta/llama-3.1-8b-instruct``); a bare ``@cf/...`` or ``@hf/...`` name is
Workers AI. This module turns those names into the provider, the endpoint of its native API
(for Universal endpoint steps), the step's auth headers, and translates Anthropic's messages
format to and from the OpenAI shape the rest of the core speaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .errors import ValidationError

WORKERS_AI = "workers-ai"
OPENAI = "openai"
ANTHROPIC = "anthropic"
PROVIDERS = (WORKERS_AI, OPENAI, ANTHROPIC)

#: The provider-native endpoint of a chat step on the Universal endpoint (the path after
#: ``{gateway}/{provider}/``).
CHAT_ENDPOINTS = {OPENAI: "chat/completions", ANTHROPIC: "v1/messages"}

#: The ``anthropic-version`` header sent to Anthropic (its only documented stable version).
ANTHROPIC_VERSION = "2023-06-01"
#: Anthropic requires ``max_tokens``; used when the call sets none.
ANTHROPIC_DEFAULT_MAX_TOKENS = 1024


def split_model(name: str) -> tuple[str, str]:
    """(provider, the provider's own model name) of ``provider/model`` or a Workers AI name."""
    if name.startswith("@"):
        return WORKERS_AI, name
    provider, sep, model = name.partition("/")
    if sep and provider in PROVIDERS and model:
        return provider, model
    raise ValidationError(
        f"model {name!r} names no provider: write 'provider/model' with a provider among "
        f"{', '.join(PROVIDERS)} (e.g. 'openai/gpt-4o-mini'), or a Workers AI '@cf/...' name",
        item=name,
        field="model",
    )


def billed_name(name: str) -> str:
    """The name a call is priced and tracked under: the Workers AI model itself for
    ``workers-ai/@cf/...`` (the same model, the same prices, reached through ``/compat``), any
    other name as given."""
    provider, _, model = name.partition("/")
    return model if provider == WORKERS_AI and model.startswith("@") else name


def compat_name(name: str) -> str:
    """The ``provider/model`` name the unified ``/compat`` endpoint takes."""
    provider, model = split_model(name)
    return f"{provider}/{model}"


def step_headers(provider: str, key: str | None) -> dict[str, str]:
    """The headers of a Universal step for ``provider``, with its key when there is one
    (without one the gateway must hold it: BYOK)."""
    headers = {"Content-Type": "application/json"}
    if provider == ANTHROPIC:
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if key is not None:
            headers["x-api-key"] = key
    elif key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return headers


# --- Anthropic's messages format ------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return "" if content is None else str(content)


def _anthropic_message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role == "tool":
        block = {
            "type": "tool_result",
            "tool_use_id": str(message.get("tool_call_id", "")),
            "content": _text_of(message.get("content")),
        }
        return {"role": "user", "content": [block]}
    blocks: list[dict[str, Any]] = []
    text = _text_of(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        arguments = function.get("arguments") or "{}"
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": parsed,
            }
        )
    return {"role": "assistant" if role == "assistant" else "user", "content": blocks or text}


def anthropic_body(openai_body: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic messages request equivalent to an OpenAI chat body (system messages
    become ``system``; tools, stop sequences and sampling carried over)."""
    messages = openai_body.get("messages") or []
    system = "\n".join(_text_of(m.get("content")) for m in messages if m.get("role") == "system")
    body: dict[str, Any] = {
        "model": openai_body.get("model"),
        "messages": [_anthropic_message(m) for m in messages if m.get("role") != "system"],
        "max_tokens": openai_body.get("max_tokens") or ANTHROPIC_DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = system
    for key in ("temperature", "top_p", "top_k", "stream"):
        if openai_body.get(key) is not None:
            body[key] = openai_body[key]
    if openai_body.get("stop"):
        body["stop_sequences"] = list(openai_body["stop"])
    tools = openai_body.get("tools")
    if tools:
        body["tools"] = [
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters", {"type": "object"}),
            }
            for t in tools
        ]
    return body


_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def anthropic_to_openai(result: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic ``message`` answer as an OpenAI ``chat.completion``."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in result.get("content") or []:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if calls:
        message["tool_calls"] = calls
    usage = result.get("usage") or {}
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    return {
        "id": result.get("id"),
        "object": "chat.completion",
        "model": result.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _STOP_REASONS.get(str(result.get("stop_reason")), "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
