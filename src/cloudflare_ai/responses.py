"""Turning Workers AI results, in any of their shapes, into :mod:`cloudflare_ai.types`.

``/ai/run`` answers classic models with ``{response, tool_calls, usage}`` and newer ones with an
OpenAI ``chat.completion`` (or ``text_completion`` / Responses API) object; the
OpenAI-compatible endpoint answers ``chat.completion``. Tool arguments come as objects or JSON
strings, ``response`` may be an object in JSON mode, ids may be missing. All of that is settled
here, once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from .types import ChatResponse, GatewayInfo, ToolCall, Usage


def new_tool_call_id(seed: str | None = None, index: int = 0) -> str:
    """An id for a tool call the model sent without one.

    Derived from the response's request id (``cf-ray``) when there is one, so the same
    response always yields the same ids (replays stay deterministic) while different
    responses never share one; random otherwise.
    """
    if seed:
        digest = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()
        return f"call_{digest[:24]}"
    return f"call_{uuid.uuid4().hex[:24]}"


def parse_usage(data: Any, model: str | None = None) -> Usage | None:
    """Usage from any of Cloudflare's usage shapes; priced (neurons and USD, by
    :func:`cloudflare_ai.metering.price`) when the model is given."""
    if not isinstance(data, Mapping):
        return None
    prompt = data.get("prompt_tokens", data.get("input_tokens"))
    completion = data.get("completion_tokens", data.get("output_tokens"))
    total = data.get("total_tokens")
    if prompt is None and completion is None and total is None:
        return None
    prompt_i = int(prompt or 0)
    completion_i = int(completion or 0)
    details = data.get("prompt_tokens_details") or data.get("input_tokens_details") or {}
    out_details = data.get("completion_tokens_details") or data.get("output_tokens_details") or {}
    neurons = data.get("neurons")
    usage = Usage(
        prompt_tokens=prompt_i,
        completion_tokens=completion_i,
        total_tokens=int(total) if total is not None else prompt_i + completion_i,
        cached_tokens=details.get("cached_tokens") if isinstance(details, Mapping) else None,
        reasoning_tokens=(
            out_details.get("reasoning_tokens") if isinstance(out_details, Mapping) else None
        ),
        neurons=float(neurons) if isinstance(neurons, int | float) else None,
    )
    if model is None:
        return usage
    from .metering import price, reported_units

    return price(model, reported_units(usage), reported=usage)


def parse_arguments(value: Any) -> tuple[dict[str, Any] | None, str]:
    """Tool arguments as (object or None, JSON text). Accepts objects and JSON strings."""
    if value is None:
        return {}, "{}"
    if isinstance(value, Mapping):
        return dict(value), orjson.dumps(value).decode()
    text = str(value)
    if not text.strip():
        return {}, "{}"
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None, text
    return (parsed if isinstance(parsed, dict) else None), text


def _tool_call(item: Mapping[str, Any], index: int, seed: str | None) -> ToolCall | None:
    function = item.get("function")
    if isinstance(function, Mapping):
        name, args = function.get("name"), function.get("arguments")
    else:
        name, args = item.get("name"), item.get("arguments", item.get("parameters"))
    if not name:
        return None
    parsed, raw = parse_arguments(args)
    # Responses API items carry both: ``call_id`` is what a function_call_output refers to.
    call_id = item.get("call_id") or item.get("id") or new_tool_call_id(seed, index)
    return ToolCall(
        id=str(call_id), name=str(name), arguments=parsed, raw_arguments=raw, index=index
    )


def parse_tool_calls(items: Any, seed: str | None = None) -> list[ToolCall]:
    calls: list[ToolCall] = []
    if isinstance(items, Sequence) and not isinstance(items, str):
        for item in items:
            if isinstance(item, Mapping):
                call = _tool_call(item, len(calls), seed)
                if call is not None:
                    calls.append(call)
    return calls


def _content_text(content: Any) -> tuple[str, Any]:
    """(text, parsed JSON value or None) from a message content of any shape."""
    if content is None:
        return "", None
    if isinstance(content, str):
        return content, None
    if isinstance(content, list):  # content parts
        texts = [
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") in ("text", "output_text")
        ]
        return "".join(texts), None
    # JSON mode: the model's answer is the object itself.
    return orjson.dumps(content).decode(), content


def parse_chat_result(
    result: Any,
    *,
    model: str,
    gateway: GatewayInfo | None = None,
    request_id: str | None = None,
    max_tokens: int | None = None,
) -> ChatResponse:
    """A :class:`ChatResponse` from any text-generation result shape.

    Classic results carry no finish reason; when the answer used the whole ``max_tokens``
    budget it is reported as ``"length"``, otherwise ``"stop"``."""
    if not isinstance(result, Mapping):
        text, parsed = _content_text(result)
        return ChatResponse(model=model, text=text, parsed=parsed, finish_reason="stop")
    raw = dict(result)
    usage = parse_usage(result.get("usage"), model)
    reasoning: str | None = None
    finish: str | None = None
    if isinstance(result.get("choices"), list):  # chat.completion / text_completion
        choice = result["choices"][0] if result["choices"] else {}
        message = choice.get("message") or {}
        if "text" in choice and not message:
            text, parsed = str(choice.get("text") or ""), None
        else:
            text, parsed = _content_text(message.get("content"))
        reasoning = message.get("reasoning_content") or message.get("reasoning") or None
        calls = parse_tool_calls(message.get("tool_calls"), request_id)
        finish = choice.get("finish_reason")
    elif isinstance(result.get("output"), list):  # Responses API
        texts: list[str] = []
        call_items: list[dict[str, Any]] = []
        for item in result["output"]:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "message":
                texts.append(_content_text(item.get("content"))[0])
            elif item.get("type") == "function_call":
                call_items.append(dict(item))
            elif item.get("type") == "reasoning":
                reasoning = _content_text(item.get("content"))[0] or reasoning
        text, parsed = "".join(texts), None
        calls = parse_tool_calls(call_items, request_id)
        finish = "tool_calls" if calls else "stop"
    else:  # classic
        text, parsed = _content_text(result.get("response"))
        calls = parse_tool_calls(result.get("tool_calls"), request_id)
        finish = result.get("finish_reason")
        reasoning = result.get("reasoning_content") or result.get("reasoning") or None
    if (
        finish is None
        and not calls
        and max_tokens is not None
        and usage is not None
        and usage.completion_tokens >= max_tokens
    ):
        finish = "length"
    if calls and finish in (None, "stop"):
        # Several models report "stop" even when they asked for tools.
        finish = "tool_calls"
    return ChatResponse(
        model=str(result.get("model") or model) if isinstance(result.get("model"), str) else model,
        text=text,
        parsed=parsed,
        reasoning=reasoning if isinstance(reasoning, str) else None,
        tool_calls=calls,
        finish_reason=finish or "stop",
        usage=usage,
        gateway=gateway,
        request_id=request_id,
        raw=raw,
    )
