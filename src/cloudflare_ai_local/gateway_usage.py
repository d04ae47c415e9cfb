"""What a gateway request used and cost, for its log entry: tokens read from the answer's
``usage`` (JSON body or the last SSE event carrying one), neurons and USD from the library's
one pricing function, :func:`cloudflare_ai.costs.cost_of`.

Embedding answers of ``/ai/run`` carry no usage, so their input tokens are estimated with the
local engines' token counter over the texts sent. UNCERTAIN: what Cloudflare's logs show for
them; the client-side usage tracker may estimate differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from cloudflare_ai.costs import Units, cost_of
from cloudflare_ai.models import get_model

from .textgen import count_tokens


def _from_usage(usage: Any) -> tuple[int, int] | None:
    if not isinstance(usage, Mapping):
        return None
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens", 0))
    if not isinstance(tokens_in, int | float):
        return None
    return int(tokens_in), int(tokens_out) if isinstance(tokens_out, int | float) else 0


def usage_of_json(body: Any) -> tuple[int, int] | None:
    """(input, output) tokens from a JSON answer: top-level ``usage`` (OpenAI shapes) or
    ``result.usage`` (Workers AI's envelope); None when it reports none."""
    if not isinstance(body, Mapping):
        return None
    found = _from_usage(body.get("usage"))
    if found is None and isinstance(body.get("result"), Mapping):
        found = _from_usage(body["result"].get("usage"))
    return found


def usage_of_bytes(raw: bytes | None) -> tuple[int, int] | None:
    """Like :func:`usage_of_json` for a body not yet parsed (None when it is not JSON)."""
    if not raw:
        return None
    try:
        return usage_of_json(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return usage_of_events([raw])


def usage_of_events(events: Iterable[bytes]) -> tuple[int, int] | None:
    """Tokens from the last SSE event that carries a ``usage`` object."""
    found: tuple[int, int] | None = None
    for event in events:
        for line in event.splitlines():
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if not data or data == b"[DONE]":
                continue
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            found = usage_of_json(parsed) or found
    return found


def _texts(body: Any) -> list[str]:
    if not isinstance(body, Mapping):
        return []
    out: list[str] = []
    for key in ("text", "input", "queries", "documents", "query"):
        value = body.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out += [v for v in value if isinstance(v, str)]
    for context in body.get("contexts") or []:
        if isinstance(context, Mapping) and isinstance(context.get("text"), str):
            out.append(context["text"])
    return out


def estimated_embedding_tokens(model: str | None, request_body: bytes | None) -> int | None:
    """Input tokens of an embedding request whose answer reports none (see module doc)."""
    info = get_model(model) if model else None
    if info is None or not info.is_embedding or not request_body:
        return None
    try:
        body = orjson.loads(request_body)
    except orjson.JSONDecodeError:
        return None
    texts = _texts(body)
    return sum(count_tokens(t) for t in texts) if texts else None


def priced(model: str | None, tokens_in: int, tokens_out: int) -> tuple[float | None, float | None]:
    """(neurons, USD) of one upstream call of ``model``; (None, None) when the model table has
    no price for it."""
    if not model:
        return None, None
    cost = cost_of(model, Units(input_tokens=tokens_in, output_tokens=tokens_out))
    if cost is None:
        return None, None
    return cost.neurons, cost.usd


def model_type(model: str | None) -> str | None:
    """The model's task in the model table ("text-generation", ...), or None."""
    info = get_model(model) if model else None
    return info.task if info is not None else None


__all__ = [
    "estimated_embedding_tokens",
    "model_type",
    "priced",
    "usage_of_bytes",
    "usage_of_events",
    "usage_of_json",
]
