"""LangChain messages to Workers AI messages, and Workers AI answers back to LangChain."""

from __future__ import annotations

import base64
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

from ..chat_images import image_part, is_remote, part_url
from ..errors import ValidationError
from ..media import check_image
from ..types import ChatChunk, ChatResponse, FallbackAttempt, GatewayInfo, ToolCall, Usage

PROVIDER = "cloudflare"


def _block_image(block: Mapping[str, Any], position: int) -> Mapping[str, Any]:
    """An image block LangChain's converter can read: raw bytes become base64 with the type
    recognised from them (LangChain itself asks for a ``mime_type`` beside base64 data), an
    Anthropic URL source becomes a URL block; images by file id are refused (Workers AI
    stores no files)."""
    field = f"message #{position}"
    source = block.get("source")
    if isinstance(source, Mapping) and source.get("type") == "url" and source.get("url"):
        return {"type": "image", "url": source["url"]}
    if (
        block.get("file_id")
        or block.get("source_type") == "id"
        or (isinstance(source, Mapping) and source.get("type") == "file")
    ):
        raise ValidationError(
            f"{field}: Workers AI cannot read images by file id; pass the image as base64, "
            "bytes or a URL",
            position=position,
        )
    for key in ("base64", "data"):
        value = block.get(key)
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            fixed = dict(block)
            fixed[key] = base64.b64encode(data).decode("ascii")
            fixed["mime_type"] = check_image(data, field=field)
            return fixed
    return block


def _prepared(message: BaseMessage, position: int) -> BaseMessage:
    content = message.content
    if not isinstance(content, list) or not any(
        isinstance(b, Mapping) and b.get("type") == "image" for b in content
    ):
        return message
    blocks = [
        _block_image(b, position) if isinstance(b, Mapping) and b.get("type") == "image" else b
        for b in content
    ]
    return message.model_copy(update={"content": blocks})


def _image_part(part: Mapping[str, Any], position: int) -> dict[str, Any]:
    url = part_url(part)
    if not isinstance(url, str) or not (url.lower().startswith("data:") or is_remote(url)):
        shown = url[:40] if isinstance(url, str) else type(url).__name__
        raise ValidationError(
            f"message #{position}: an image must be base64 data, bytes, a data: URL or an "
            f"http(s) URL, not {shown!r}",
            position=position,
        )
    return image_part(url)


def to_workers_ai(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Messages in the OpenAI form that both ``/ai/run`` and ``/ai/v1`` accept.

    Text-only content becomes a plain string (older models take nothing else). Images, in
    any form LangChain users write them (OpenAI ``image_url`` parts, standard ``image``
    blocks with ``base64``, raw bytes or ``url``, Anthropic ``source`` blocks), become
    ``image_url`` parts with a ``data:`` URL or a remote URL; remote ones are downloaded by
    :func:`~cloudflare_ai.chat_images.resolve_remote_images` before sending, and the core
    sends the images in the form the model takes.
    """
    prepared = [_prepared(m, i) for i, m in enumerate(messages)]
    try:
        converted = convert_to_openai_messages(prepared, text_format="string")
    except ValidationError:
        raise
    except ValueError as exc:  # LangChain's converter refusing a block it cannot read
        raise ValidationError(f"a message cannot be sent to Workers AI: {exc}") from None
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
    fallbacks: list[FallbackAttempt] | None = None,
) -> dict[str, Any]:
    """LangChain's ``response_metadata``: ``model_name`` is the model that answered;
    ``fallbacks`` (when any failed first) the models tried before it and why."""
    meta: dict[str, Any] = {
        "model_name": model,
        "model_provider": PROVIDER,
        "finish_reason": finish_reason,
    }
    if fallbacks:
        meta["fallbacks"] = [f.model_dump(exclude_none=True) for f in fallbacks]
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
            answer.model,
            answer.finish_reason,
            answer.gateway,
            answer.request_id,
            answer.usage,
            answer.fallbacks,
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
    fallbacks: list[FallbackAttempt] | None = None,
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
            model, last.finish_reason, gateway, request_id, last.usage, fallbacks
        ),
        chunk_position="last",
    )
