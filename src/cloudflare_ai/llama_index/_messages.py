"""LlamaIndex chat messages to Workers AI messages, and answers back to LlamaIndex."""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from typing import Any

import orjson
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from ..chat_images import data_url, image_part, is_remote
from ..errors import ValidationError
from ..media import read_media
from ..types import ChatResponse as CoreAnswer
from ..types import ToolCall, Usage


def _image_url(block: ImageBlock, position: int) -> str:
    """A ``data:`` URL for the block's image (bytes, a file object or a path), or its remote
    http(s) URL (downloaded before sending by ``resolve_remote_images``)."""
    field = f"message #{position}"
    url = str(block.url) if block.url else None
    if block.image is None and block.path is None:
        if url and (url.lower().startswith("data:") or is_remote(url)):
            return url
        raise ValidationError(
            f"{field}: an ImageBlock needs image bytes, a path, a data: URL or an http(s) URL, "
            f"not {url!r}",
            position=position,
        )
    if block.image is not None:
        try:
            data = block.resolve_image(as_base64=False).read()
        except (ValueError, binascii.Error) as exc:
            raise ValidationError(
                f"{field}: the ImageBlock's image cannot be read: {exc}", position=position
            ) from None
    else:
        data = read_media(block.path, field=field)
    return data_url(data, field=field)


def _tool_call_dict(block: ToolCallBlock) -> dict[str, Any]:
    kwargs = block.tool_kwargs
    arguments = kwargs if isinstance(kwargs, str) else orjson.dumps(kwargs).decode()
    return {
        "id": block.tool_call_id or "",
        "type": "function",
        "function": {"name": block.tool_name, "arguments": arguments},
    }


def to_workers_ai(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages in the OpenAI form both ``/ai/run`` and ``/ai/v1`` accept: text-only content
    as a string; with images (``ImageBlock`` s), ``text`` and ``image_url`` parts in block
    order, which the core sends in the form the model takes."""
    out: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        role = message.role.value if isinstance(message.role, MessageRole) else str(message.role)
        if role == "model":
            role = "assistant"
        parts: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        for block in message.blocks:
            if isinstance(block, TextBlock):
                parts.append({"type": "text", "text": block.text})
            elif isinstance(block, ImageBlock):
                parts.append(image_part(_image_url(block, position)))
            elif isinstance(block, ToolCallBlock):
                calls.append(_tool_call_dict(block))
            # Thinking blocks are the model's own notes: not sent back.
        legacy = message.additional_kwargs.get("tool_calls")
        if not calls and isinstance(legacy, list):
            calls = [c if isinstance(c, dict) else c.model_dump() for c in legacy]
        item: dict[str, Any] = {"role": role}
        if any(p["type"] == "image_url" for p in parts):
            item["content"] = [p for p in parts if p["type"] != "text" or p["text"]]
        else:
            item["content"] = "\n".join(p["text"] for p in parts)
        if calls:
            item["tool_calls"] = calls
        if role == "tool":
            call_id = message.additional_kwargs.get("tool_call_id")
            if call_id:
                item["tool_call_id"] = str(call_id)
            name = message.additional_kwargs.get("name")
            if name:
                item["name"] = str(name)
        out.append(item)
    return out


def used_tool_call_ids(messages: Sequence[ChatMessage]) -> set[str]:
    ids: set[str] = set()
    for message in messages:
        for block in message.blocks:
            if isinstance(block, ToolCallBlock) and block.tool_call_id:
                ids.add(block.tool_call_id)
    return ids


def usage_dict(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {}
    return usage.model_dump(exclude_none=True)


def assistant_message(text: str, reasoning: str | None, calls: Sequence[ToolCall]) -> ChatMessage:
    blocks: list[Any] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning))
    if text or not calls:
        blocks.append(TextBlock(text=text))
    for call in calls:
        blocks.append(
            ToolCallBlock(
                tool_call_id=call.id,
                tool_name=call.name,
                tool_kwargs=call.arguments if call.arguments is not None else call.raw_arguments,
            )
        )
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)


def raw_of(answer: CoreAnswer) -> dict[str, Any]:
    """The raw answer, with the normalised usage and metadata under stable keys."""
    raw = dict(answer.raw)
    raw["usage"] = usage_dict(answer.usage)
    raw["model"] = answer.model
    raw["finish_reason"] = answer.finish_reason
    if answer.gateway is not None:
        raw["gateway"] = answer.gateway.model_dump(exclude_none=True)
    if answer.request_id:
        raw["request_id"] = answer.request_id
    if answer.fallbacks:
        raw["fallbacks"] = [f.model_dump(exclude_none=True) for f in answer.fallbacks]
    return raw


def answer_kwargs(answer: CoreAnswer) -> dict[str, Any]:
    """``additional_kwargs`` of an answer: its usage and, when fallback models were tried,
    the model that answered and the ones that failed before it."""
    out = usage_dict(answer.usage)
    if answer.fallbacks:
        out["model"] = answer.model
        out["fallbacks"] = [f.model_dump(exclude_none=True) for f in answer.fallbacks]
    return out
