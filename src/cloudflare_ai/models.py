"""The Workers AI model table.

Built from Cloudflare's published per-model catalog entries (bundled as
``data/workers-ai-models.json``), so the client knows each model's task, embedding
dimensions, batch limit, context window and price without a network call, and the
local emulator can validate inputs against the same JSON Schemas Cloudflare publishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

Task = Literal["text-generation", "text-embeddings"]

#: Embedding dimensions that Cloudflare's catalog files do not state. Values come from the
#: upstream model cards or third-party live recordings; UNCERTAIN until checked against the API.
_UNSTATED_DIMENSIONS: dict[str, int] = {
    "@cf/baai/bge-m3": 1024,
    "@cf/google/embeddinggemma-300m": 768,
    "@cf/qwen/qwen3-embedding-0.6b": 1024,
    "@cf/pfnet/plamo-embedding-1b": 2048,
}

#: Batch size used when a catalog schema sets no ``maxItems`` on the text array. Cloudflare's
#: limits page states 100 inputs per request for embedding models.
DEFAULT_EMBEDDING_BATCH = 100

#: Per-minute request limits by task (Workers AI limits page), with per-model exceptions.
_RATE_LIMITS: dict[Task, int] = {"text-generation": 300, "text-embeddings": 3000}
_RATE_LIMIT_EXCEPTIONS: dict[str, int] = {"@cf/baai/bge-large-en-v1.5": 1500}

DEFAULT_CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
DEFAULT_EMBEDDING_MODEL = "@cf/baai/bge-base-en-v1.5"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the package knows about one Workers AI model."""

    name: str
    task: Task
    description: str = ""
    dimensions: int | None = None
    max_batch: int | None = None
    max_input_tokens: int | None = None
    context_window: int | None = None
    price_input_per_m: float | None = None
    price_output_per_m: float | None = None
    function_calling: bool = False
    reasoning: bool = False
    vision: bool = False
    json_mode: bool = False
    #: ``"classic"`` models answer ``{response, tool_calls, usage}``; ``"chat.completion"``
    #: models answer in OpenAI's shape on ``/ai/run``.
    output_style: Literal["classic", "chat.completion", "embedding"] = "classic"
    requests_per_minute: int | None = None
    input_schema: Mapping[str, Any] = field(default_factory=dict, repr=False)
    output_schema: Mapping[str, Any] = field(default_factory=dict, repr=False)
    catalog: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_embedding(self) -> bool:
        return self.task == "text-embeddings"

    def cost(self, input_tokens: int, output_tokens: int = 0) -> float | None:
        """Estimated USD cost of a call from its token counts, or None when no price is known."""
        if self.price_input_per_m is None:
            return None
        total = input_tokens * self.price_input_per_m
        if output_tokens and self.price_output_per_m is not None:
            total += output_tokens * self.price_output_per_m
        return total / 1_000_000


def _properties(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {p["property_id"]: p["value"] for p in entry.get("properties", [])}


def _find_max_items(schema: Any, key: str) -> int | None:
    """The smallest ``maxItems`` on an array form of property ``key`` anywhere in ``schema``."""
    found: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict) and key in props:
                target = props[key]
                for variant in [target, *target.get("oneOf", [])]:
                    if (
                        isinstance(variant, dict)
                        and variant.get("type") == "array"
                        and "maxItems" in variant
                    ):
                        found.append(int(variant["maxItems"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return min(found) if found else None


def _mentions(schema: Any, needle: str) -> bool:
    return needle in json.dumps(schema)


def _build(entry: Mapping[str, Any]) -> ModelInfo:
    name: str = entry["name"]
    task_name = entry.get("task", {}).get("name", "")
    task: Task = "text-embeddings" if task_name == "Text Embeddings" else "text-generation"
    props = _properties(entry)
    schema = entry.get("schema", {})
    input_schema = schema.get("input", {})
    output_schema = schema.get("output", {})

    price_in = price_out = None
    for price in props.get("price", []) or []:
        unit = str(price.get("unit", ""))
        if "input" in unit:
            price_in = float(price["price"])
        elif "output" in unit:
            price_out = float(price["price"])

    def as_int(key: str) -> int | None:
        value = props.get(key)
        return int(value) if value not in (None, "") else None

    if task == "text-embeddings":
        dimensions = as_int("output_dimensions") or _UNSTATED_DIMENSIONS.get(name)
        max_batch = _find_max_items(input_schema, "text") or DEFAULT_EMBEDDING_BATCH
        output_style: Literal["classic", "chat.completion", "embedding"] = "embedding"
    else:
        dimensions = None
        max_batch = None
        output_style = (
            "chat.completion" if _mentions(output_schema, "chat.completion") else "classic"
        )

    return ModelInfo(
        name=name,
        task=task,
        description=str(entry.get("description", "")),
        dimensions=dimensions,
        max_batch=max_batch,
        max_input_tokens=as_int("max_input_tokens"),
        context_window=as_int("context_window"),
        price_input_per_m=price_in,
        price_output_per_m=price_out,
        function_calling=str(props.get("function_calling", "")).lower() == "true"
        or _mentions(input_schema, '"tools"'),
        reasoning=str(props.get("reasoning", "")).lower() == "true",
        vision=_mentions(input_schema, "image_url"),
        json_mode=_mentions(input_schema, "response_format")
        or _mentions(input_schema, "guided_json"),
        output_style=output_style,
        requests_per_minute=_RATE_LIMIT_EXCEPTIONS.get(name, _RATE_LIMITS[task]),
        input_schema=input_schema,
        output_schema=output_schema,
        catalog=entry,
    )


@cache
def _table() -> dict[str, ModelInfo]:
    raw = resources.files("cloudflare_ai.data").joinpath("workers-ai-models.json").read_text()
    data = json.loads(raw)
    return {name: _build(item["model"]) for name, item in data["models"].items()}


def get_model(name: str) -> ModelInfo | None:
    """The table entry for ``name``, or None for a model the table does not know."""
    return _table().get(name)


def require_model(name: str) -> ModelInfo:
    """The table entry for ``name``; KeyError naming the known models otherwise."""
    info = get_model(name)
    if info is None:
        known = ", ".join(sorted(_table()))
        raise KeyError(f"unknown Workers AI model {name!r}; the model table knows: {known}")
    return info


def iter_models(task: Task | None = None) -> Iterator[ModelInfo]:
    """Every model in the table, optionally only those of one task."""
    for info in _table().values():
        if task is None or info.task == task:
            yield info


def embedding_dimensions(name: str) -> int | None:
    info = get_model(name)
    return info.dimensions if info else None
