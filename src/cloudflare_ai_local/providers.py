"""Local stand-ins for the other providers AI Gateway reaches: OpenAI and Anthropic.

Each answers deterministically with the local text engine's words, in its provider's own wire
format: OpenAI ``chat.completion`` (and ``chat.completion.chunk`` SSE ending with
``[DONE]``), Anthropic ``message`` (and its named SSE events ``message_start`` …
``message_stop``). AI Gateway's unified ``/compat/chat/completions`` answers OpenAI's format
for every provider, Workers AI included.

Keys are only checked for presence (no real key can be verified here), except that the
Cloudflare API token is refused as a provider key: a client that sends it towards another
provider has leaked it. Scripted model faults (:meth:`FaultController.fail_model`) are keyed
by the Workers AI model name (``@cf/...``) or by ``provider/model`` (``openai/gpt-4o-mini``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from . import textgen
from .errors import json_response
from .workers_ai import AiOutcome, _chat_completion, _chunk_events, generate

OPENAI = "openai"
ANTHROPIC = "anthropic"
WORKERS_AI = "workers-ai"
PROVIDERS = (WORKERS_AI, OPENAI, ANTHROPIC)
ENGINE = textgen.ENGINE_NAME


class ProviderError(Exception):
    """A provider's own error answer (its status and body in its own format)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status}: {body}")

    def response(self) -> Response:
        return json_response(self.body, self.status)


def openai_error(status: int, message: str, kind: str, code: str | None = None) -> ProviderError:
    return ProviderError(
        status, {"error": {"message": message, "type": kind, "param": None, "code": code}}
    )


def anthropic_error(status: int, message: str, kind: str) -> ProviderError:
    return ProviderError(status, {"type": "error", "error": {"type": kind, "message": message}})


def split(name: str) -> tuple[str, str]:
    """(provider, model) of a ``provider/model`` name."""
    provider, sep, model = name.partition("/")
    if not sep or provider not in PROVIDERS or not model:
        raise openai_error(
            400,
            f"model {name!r} must be 'provider/model' with a provider among {list(PROVIDERS)}",
            "invalid_request_error",
        )
    return provider, model


def _bearer(value: str | None) -> str | None:
    if value and value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


def check_key(provider: str, headers: Mapping[str, str], api_token: str) -> None:
    """Refuse a call to ``provider`` without its key, or with the Cloudflare API token as
    one. UNCERTAIN: the bodies follow each provider's documented error shape; what AI
    Gateway itself answers when no key is given (and none is stored) is not documented."""
    key = _bearer(headers.get("authorization"))
    if provider == ANTHROPIC:
        key = headers.get("x-api-key") or key
    if key is None or key == api_token:
        what = "no API key" if key is None else "a Cloudflare API token instead of its key"
        message = f"the {provider} call carries {what}"
        if provider == ANTHROPIC:
            raise anthropic_error(401, message, "authentication_error")
        raise openai_error(401, message, "invalid_request_error", "invalid_api_key")


# --- OpenAI ------------------------------------------------------------------------------


def _check_chat(body: Any, error: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise error(400, "the body must be a JSON object with a 'model'", "invalid_request_error")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise error(400, "'messages' must be a non-empty array", "invalid_request_error")
    return body


def openai_chat(body: Any, model: str | None = None) -> AiOutcome:
    """An OpenAI chat completion (streamed when ``stream`` is true), answered by the local
    text engine; ``model`` names the answer (default: the body's)."""
    body = _check_chat(body, openai_error)
    name = model or str(body["model"])
    gen = generate(body, stop=list(textgen.stop_sequences(body.get("stop"))), allow_model=False)
    if body.get("stream") is True:
        return AiOutcome(ENGINE, events=_chunk_events(name, gen, True))
    answer = _chat_completion(name, gen, openai_route=True)
    answer["id"] = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    return AiOutcome(ENGINE, answer)


# --- Anthropic ---------------------------------------------------------------------------

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                out.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                out.append(_block_text(block.get("content")))
        return "\n".join(out)
    return ""


def _as_openai(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic request as the OpenAI-shaped body the local text engine reads."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _block_text(system)})
    for message in body["messages"]:
        if isinstance(message, dict):
            role = "assistant" if message.get("role") == "assistant" else "user"
            messages.append({"role": role, "content": _block_text(message.get("content"))})
    out: dict[str, Any] = {"model": body["model"], "messages": messages}
    for key in ("max_tokens", "temperature", "top_p"):
        if key in body:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.get("name"),
                    "description": t.get("description", ""),
                    "parameters": t.get("input_schema", {"type": "object"}),
                },
            }
            for t in tools
            if isinstance(t, dict)
        ]
    return out


def _sse(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\n".encode() + b"data: " + orjson.dumps(payload) + b"\n\n"


def anthropic_messages(body: Any) -> AiOutcome:
    """An Anthropic messages answer (streamed as its named events when ``stream`` is true)."""
    body = _check_chat(body, anthropic_error)
    if not isinstance(body.get("max_tokens"), int):
        raise anthropic_error(400, "max_tokens: Field required", "invalid_request_error")
    gen = generate(_as_openai(body), stop=list(body.get("stop_sequences") or []), allow_model=False)
    model = str(body["model"])
    usage = {"input_tokens": gen.completion.prompt_tokens, "output_tokens": 0}
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    stop_reason = _STOP.get(gen.completion.finish_reason, "end_turn")
    if gen.tool_call is not None:
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:20]}",
                "name": gen.tool_call.name,
                "input": gen.tool_call.arguments,
            }
        ]
        stop_reason = "tool_use"
    else:
        content = [{"type": "text", "text": gen.completion.text}]
    output_tokens = gen.completion.completion_tokens
    if body.get("stream") is not True:
        return AiOutcome(
            ENGINE,
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": output_tokens},
            },
        )
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    events = [_sse("message_start", {"type": "message_start", "message": start})]
    # UNCERTAIN: tool calls are streamed as one input_json_delta (Anthropic may split them).
    first: dict[str, Any] = (
        {**content[0], "input": {}} if gen.tool_call is not None else {"type": "text", "text": ""}
    )
    events.append(
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": first},
        )
    )
    if gen.tool_call is not None:
        deltas = [
            {"type": "input_json_delta", "partial_json": orjson.dumps(content[0]["input"]).decode()}
        ]
    else:
        deltas = [{"type": "text_delta", "text": piece} for piece in gen.completion.pieces]
    for delta in deltas:
        events.append(
            _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return AiOutcome(ENGINE, events=events)
