"""LangChain messages to Workers AI messages, and Workers AI answers back to LangChain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call, tool_call_chunk

from ..errors import ValidationError
from ..types import ChatChunk, ChatResponse, GatewayInfo, ToolCall, Usage

PROVIDER = "cloudflare"


def _image_part(part: Mapping[str, Any], position: int) -> dict[str, Any]:
    url = part.get("image_url")
    url = url.get("url") if isinstance(url, Mapping) else url
    if isinstance(url, str) and not url.startswith("data:"):
        raise ValidationError(
            f"message #{position}: Workers AI accepts images only as data: URLs (base64), not "
            f"{url[:40]!r}; download the image and pass its bytes as base64",
            position=position,
        )
    return {"type": "image_url", "image_url": {"url": url}}


def to_workers_ai(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Messages in the OpenAI form that both ``/ai/run`` and ``/ai/v1`` accept.

    Text-only content becomes a plain string (older models take nothing else); images stay as
    ``image_url`` parts with ``data:`` URLs, the only form Workers AI vision models accept.
    """
    converted = convert_to_openai_messages(list(messages), text_format="string")
    out: list[dict[str, Any]] = []
    for position, message in enumerate(converted):
        content = message.get("content")
        if isinstance(content, list):
            parts: list[dict[str, Any]] = []
            for part in content:
                if not isinstance(part, Mapping):
                    continue
                kind = part.get("type")
                if kind == "text":
                    parts.append({"type": "text", "text": str(part.get("text", ""))})
                elif kind == "image_url":
                    parts.append(_image_part(part, position))
                # Other blocks (e.g. Anthropic tool_use mirrors of tool_calls) carry nothing
                # Workers AI can use: the tool calls travel in ``tool_calls``.
            if all(p["type"] == "text" for p in parts):
                message["content"] = "\n".join(p["text"] for p in parts)
            else:
                message["content"] = parts
        elif content is None:
            message["content"] = ""
        out.append(message)
    return out


def used_tool_call_ids(messages: Sequence[BaseMessage]) -> set[str]:
    """Tool-call ids already present in a conversation (for keeping new ones unique)."""
    ids: set[str] = set()
    for message in messages:
        if isinstance(message, AIMessage):
            ids.update(str(call["id"]) for call in message.tool_calls if call.get("id"))
    return ids


def usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    result = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )
    if usage.cached_tokens:
        result["input_token_details"] = {"cache_read": usage.cached_tokens}
    if usage.reasoning_tokens:
        result["output_token_details"] = {"reasoning": usage.reasoning_tokens}
    return result


def response_metadata(
    model: str,
    finish_reason: str | None,
    gateway: GatewayInfo | None,
    request_id: str | None,
    usage: Usage | None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "model_name": model,
        "model_provider": PROVIDER,
        "finish_reason": finish_reason,
    }
    if request_id:
        meta["request_id"] = request_id
    if usage is not None and usage.cost_usd is not None:
        meta["cost_usd"] = usage.cost_usd
    if gateway is not None:
        meta["gateway"] = gateway.model_dump(exclude_none=True)
    return meta


def _lc_tool_calls(calls: list[ToolCall]) -> tuple[list[Any], list[Any]]:
    valid, invalid = [], []
    for call in calls:
        if call.arguments is None:
            invalid.append(
                {
                    "type": "invalid_tool_call",
                    "name": call.name,
                    "args": call.raw_arguments,
                    "id": call.id,
                    "error": "arguments are not a JSON object",
                }
            )
        else:
            valid.append(tool_call(name=call.name, args=call.arguments, id=call.id))
    return valid, invalid


def to_ai_message(answer: ChatResponse) -> AIMessage:
    valid, invalid = _lc_tool_calls(answer.tool_calls)
    extra: dict[str, Any] = {}
    if answer.reasoning:
        extra["reasoning_content"] = answer.reasoning
    return AIMessage(
        content=answer.text,
        tool_calls=valid,
        invalid_tool_calls=invalid,
        additional_kwargs=extra,
        usage_metadata=usage_metadata(answer.usage),
        response_metadata=response_metadata(
            answer.model, answer.finish_reason, answer.gateway, answer.request_id, answer.usage
        ),
    )


def to_message_chunk(chunk: ChatChunk) -> AIMessageChunk:
    """A text or reasoning delta as a LangChain chunk (tool calls are sent on completion)."""
    extra = {"reasoning_content": chunk.reasoning} if chunk.reasoning else {}
    return AIMessageChunk(content=chunk.text, additional_kwargs=extra)


def final_chunk(
    model: str,
    last: ChatChunk,
    calls: list[ToolCall],
    gateway: GatewayInfo | None,
    request_id: str | None,
) -> AIMessageChunk:
    """The closing chunk: complete tool calls (as chunks with their index), usage and
    metadata, exactly once."""
    return AIMessageChunk(
        content=last.text,
        tool_call_chunks=[
            tool_call_chunk(name=c.name, args=c.raw_arguments, id=c.id, index=c.index)
            for c in calls
        ],
        usage_metadata=usage_metadata(last.usage),
        response_metadata=response_metadata(
            model, last.finish_reason, gateway, request_id, last.usage
        ),
        chunk_position="last",
    )
