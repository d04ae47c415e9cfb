"""LlamaIndex chat messages to Workers AI messages, and answers back to LlamaIndex."""

from __future__ import annotations

import base64
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

from ..errors import ValidationError
from ..types import ChatResponse as CoreAnswer
from ..types import ToolCall, Usage


def _image_url(block: ImageBlock, position: int) -> str:
    url = str(block.url) if block.url else None
    if url and url.startswith("data:"):
        return url
    if block.image is None and block.path is None:
        raise ValidationError(
            f"message #{position}: Workers AI accepts images only as data (base64), not the URL "
            f"{url!r}; load the image bytes into the ImageBlock",
            position=position,
        )
    resolved = block.resolve_image(as_base64=False).read()
    mime = block.image_mimetype or "image/png"
    return f"data:{mime};base64,{base64.b64encode(resolved).decode()}"


def _tool_call_dict(block: ToolCallBlock) -> dict[str, Any]:
    kwargs = block.tool_kwargs
    arguments = kwargs if isinstance(kwargs, str) else orjson.dumps(kwargs).decode()
    return {
        "id": block.tool_call_id or "",
        "type": "function",
        "function": {"name": block.tool_name, "arguments": arguments},
    }


def to_workers_ai(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages in the OpenAI form both ``/ai/run`` and ``/ai/v1`` accept."""
    out: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        role = message.role.value if isinstance(message.role, MessageRole) else str(message.role)
        if role == "model":
            role = "assistant"
        texts: list[str] = []
        images: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in message.blocks:
            if isinstance(block, TextBlock):
                texts.append(block.text)
            elif isinstance(block, ImageBlock):
                images.append(_image_url(block, position))
            elif isinstance(block, ToolCallBlock):
                calls.append(_tool_call_dict(block))
            # Thinking blocks are the model's own notes: not sent back.
        legacy = message.additional_kwargs.get("tool_calls")
        if not calls and isinstance(legacy, list):
            calls = [c if isinstance(c, dict) else c.model_dump() for c in legacy]
        item: dict[str, Any] = {"role": role}
        text = "\n".join(texts)
        if images:
            item["content"] = [{"type": "text", "text": text}] if text else []
            item["content"] += [{"type": "image_url", "image_url": {"url": u}} for u in images]
        else:
            item["content"] = text
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
    return raw
