"""The Workers AI model table.

Every model Cloudflare publishes, bundled as ``data/workers-ai-models.json`` (made by
``scripts/build_model_table.py`` from the reference data in ``tests/reference/``; see
``data/README.md``), so the client knows each model's task, input and output format, embedding
dimensions, batch limit, context window and prices without a network call, and the local
emulator can validate inputs against the same JSON Schemas Cloudflare publishes.

Most entries are Cloudflare's published per-model catalog files (``source="catalog"``). Models
the Workers runtime knows (``@cloudflare/workers-types``) that have no published file in the
reference data come from their TypeScript types (``source="workers-types"``): name and task
always, and a JSON Schema derived from the TypeScript types where the build script could
convert them (``has_schema`` is False otherwise).

The data file is read and parsed once, on first use; this module imports only the standard
library (the CLI's ``cloudflare-ai models`` must stay quick).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, get_args

from .limits import WORKERS_AI_RATE_LIMIT_EXCEPTIONS, WORKERS_AI_RATE_LIMITS

Task = Literal[
    "text-generation",
    "text-embeddings",
    "text-to-image",
    "automatic-speech-recognition",
    "translation",
    "summarization",
    "text-classification",
    # Cloudflare catalogues @cf/baai/bge-reranker-base as "Text Classification", but its input
    # ({query, contexts}) and answer ({response: [{id, score}]}) have nothing in common with
    # the classifiers' ({text} -> [{label, score}]), so it gets a task of its own here.
    # ``ModelInfo.catalog_task`` keeps Cloudflare's name.
    "reranking",
    "image-classification",
    "object-detection",
    "image-to-text",
    "text-to-speech",
    # @cf/pipecat-ai/smart-turn-v2 (end-of-turn detection on audio). UNCERTAIN: the task name
    # is the one of Cloudflare's catalog file, which is not in the reference data.
    "voice-activity-detection",
]

#: Every task, in the order of :data:`Task`.
TASKS: Final[tuple[Task, ...]] = get_args(Task)

InputKind = Literal["json", "binary"]
OutputStyle = Literal["classic", "chat.completion", "embedding"]
Source = Literal["catalog", "workers-types"]

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

#: Per-minute request limits by task, with per-model exceptions: the table lives in
#: :mod:`cloudflare_ai.limits` (standard library only, like this module).
_RATE_LIMITS: dict[str, int] = WORKERS_AI_RATE_LIMITS
_RATE_LIMIT_EXCEPTIONS: dict[str, int] = WORKERS_AI_RATE_LIMIT_EXCEPTIONS

#: USD per neuron (Workers AI pricing page: $0.011 per 1,000 neurons).
USD_PER_NEURON: Final = 0.011 / 1000

DEFAULT_CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
DEFAULT_EMBEDDING_MODEL = "@cf/baai/bge-base-en-v1.5"

_JSON = "application/json"
_SSE = "text/event-stream"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """One price of a model, as Cloudflare states it."""

    #: Cloudflare's wording, e.g. "per M input tokens", "per M output tokens",
    #: "per M cached input tokens", "per 512 by 512 tile", "per step", "per audio minute",
    #: "per 1k characters", "per inference request".
    unit: str
    price: float
    #: "USD" for the catalog's prices; "neurons" for the rates of an older pricing page
    #: (cloudflare-api.md §1.15), kept for models whose catalog file states no USD price.
    currency: str

    @property
    def usd(self) -> float | None:
        """The price in USD (neurons at $0.011 per 1,000), or None for another currency."""
        if self.currency == "USD":
            return self.price
        if self.currency == "neurons":
            return self.price * USD_PER_NEURON
        return None


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
    #: USD per million input / output tokens (the catalog's "per M input tokens" and
    #: "per M output tokens" prices); None when the catalog states none. See ``prices``.
    price_input_per_m: float | None = None
    price_output_per_m: float | None = None
    #: The catalog says so, or the input schema takes ``tools`` (the shared schema of older
    #: text-generation models does, though the catalog does not call them function-calling).
    function_calling: bool = False
    reasoning: bool = False
    vision: bool = False
    json_mode: bool = False
    #: Text generation: ``"classic"`` models answer ``{response, tool_calls, usage}``;
    #: ``"chat.completion"`` models answer in OpenAI's shape on ``/ai/run``. ``"embedding"``
    #: for embedding models; ``"classic"`` for every other task (meaningless there).
    #: UNCERTAIN for text-generation models without a schema (``has_schema`` False).
    output_style: OutputStyle = "classic"
    requests_per_minute: int | None = None
    input_schema: Mapping[str, Any] = field(default_factory=dict, repr=False)
    output_schema: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: The model's entry as bundled: Cloudflare's per-model file for ``source="catalog"``, a
    #: file of the same layout made from the TypeScript types for ``source="workers-types"``.
    catalog: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Cloudflare's task name ("Text Classification" for the reranker).
    catalog_task: str = ""
    #: How ``POST /ai/run/{model}`` takes its input: ``"json"`` (a JSON body), or
    #: ``"binary"`` (raw bytes, e.g. an audio or image file, or multipart/form-data for the
    #: flux-2 models; some of these also accept a JSON form, see ``input_schema``).
    input_kind: InputKind = "json"
    #: Media type of the answer when it is not JSON (e.g. "image/png", "audio/mpeg"); None
    #: for JSON answers (the ``result`` of the envelope), including models that may answer
    #: either way (melotts: base64 MP3 in JSON, or MP3; UNCERTAIN which one /ai/run sends).
    #: Streams (text/event-stream) do not count.
    output_content_type: str | None = None
    #: Every content type the output schema declares, in its order (JSON and SSE included).
    output_content_types: tuple[str, ...] = ()
    prices: tuple[ModelPrice, ...] = ()
    beta: bool = False
    #: The catalog announces a deprecation: a ``planned_deprecation_date`` property (Cloudflare's
    #: docs show "Planned deprecation" before that date and "Deprecated" after it) or
    #: ``"deprecated": true``. UNCERTAIN: the reference files may be older than the current
    #: catalog, which may announce more deprecations.
    deprecated: bool = False
    deprecation_date: str | None = None
    lora: bool = False
    partner: bool = False
    source: Source = "catalog"
    #: The catalog's properties (property_id -> value, values as published: mostly strings).
    properties: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_embedding(self) -> bool:
        return self.task == "text-embeddings"

    @property
    def has_schema(self) -> bool:
        """Whether the table knows the model's input JSON Schema."""
        return bool(self.input_schema)

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


def _alternatives(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The top-level forms of a schema: its ``oneOf``/``anyOf`` alternatives, or itself."""
    found = [
        alt for key in ("oneOf", "anyOf") for alt in schema.get(key, []) if isinstance(alt, Mapping)
    ]
    return found or [schema]


def _is_binary(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "string" and schema.get("format") == "binary"


def _is_stream_object(schema: Any) -> bool:
    """``{body, contentType}``: how the schemas write a readable stream or multipart body."""
    if not isinstance(schema, Mapping):
        return False
    props = schema.get("properties")
    return isinstance(props, Mapping) and set(props) == {"body", "contentType"}


def _needs_stream(alt: Mapping[str, Any]) -> bool:
    """Whether a form of the input requires a ``{body, contentType}`` stream: one is required,
    or every property is one (flux-2-dev's file puts its ``required`` list inside
    ``properties``, so nothing is formally required there)."""
    props = alt.get("properties")
    if not isinstance(props, Mapping):
        return False
    if any(_is_stream_object(props.get(key)) for key in alt.get("required", [])):
        return True
    schemas = [v for v in props.values() if isinstance(v, Mapping)]
    return bool(schemas) and all(_is_stream_object(v) for v in schemas)


def _input_kind(schema: Mapping[str, Any]) -> InputKind:
    """``"binary"`` when the body may be raw bytes (a top-level binary string, as for whisper
    and resnet-50), or must be: every form requires a ``{body, contentType}`` stream (nova-3's
    ``audio``, flux-2's ``multipart``). ``"json"`` otherwise, and when no schema is known."""
    if not schema:
        return "json"
    alts = _alternatives(schema)
    if any(_is_binary(alt) for alt in alts):
        return "binary"
    if all(_needs_stream(alt) for alt in alts):
        return "binary"
    return "json"


def _output_content(schema: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """(media type of a non-JSON answer or None, every declared content type)."""
    alts = [schema, *(a for a in _alternatives(schema) if a is not schema)]
    declared = tuple(
        dict.fromkeys(str(a["contentType"]) for a in alts if isinstance(a.get("contentType"), str))
    )
    if not schema or not all(_is_binary(a) for a in _alternatives(schema)):  # a JSON form
        return None, declared
    binary = [t for t in declared if t not in (_JSON, _SSE)]
    # UNCERTAIN: no catalog file has a binary answer without a content type.
    return (binary[0] if binary else "application/octet-stream"), declared


def _task(catalog_task: str, input_schema: Mapping[str, Any]) -> Task:
    kebab = catalog_task.strip().lower().replace(" ", "-")
    if kebab == "text-classification":
        props = input_schema.get("properties", {})
        if isinstance(props, Mapping) and {"query", "contexts"} <= set(props):
            return "reranking"
    if kebab not in TASKS:
        raise ValueError(f"model table: unknown task {catalog_task!r}")
    return kebab


def _prices(props: Mapping[str, Any], item: Mapping[str, Any]) -> tuple[ModelPrice, ...]:
    rows = [*(props.get("price") or []), *(item.get("neuron_prices") or [])]
    return tuple(
        ModelPrice(unit=str(r["unit"]), price=float(r["price"]), currency=str(r["currency"]))
        for r in rows
    )


def _flag(props: Mapping[str, Any], key: str) -> bool:
    return str(props.get(key, "")).lower() == "true"


def _build(item: Mapping[str, Any]) -> ModelInfo:
    entry: Mapping[str, Any] = item["model"]
    name: str = entry["name"]
    catalog_task = str(entry.get("task", {}).get("name", ""))
    props = _properties(entry)
    schema = entry.get("schema", {})
    input_schema = schema.get("input", {})
    output_schema = schema.get("output", {})
    task = _task(catalog_task, input_schema)
    prices = _prices(props, item)
    input_text = json.dumps(input_schema)  # searched for keywords below

    def usd_per_m(unit: str) -> float | None:
        return next((p.price for p in prices if p.unit == unit and p.currency == "USD"), None)

    def as_int(key: str) -> int | None:
        value = props.get(key)
        return int(value) if value not in (None, "") else None

    output_style: OutputStyle = "classic"
    dimensions = max_batch = None
    if task == "text-embeddings":
        dimensions = as_int("output_dimensions") or _UNSTATED_DIMENSIONS.get(name)
        max_batch = _find_max_items(input_schema, "text") or DEFAULT_EMBEDDING_BATCH
        output_style = "embedding"
    elif task == "text-generation" and (
        "chat.completion" in json.dumps(output_schema)
        or "choices" in output_schema.get("properties", {})
    ):
        output_style = "chat.completion"

    content_type, content_types = _output_content(output_schema)
    planned = props.get("planned_deprecation_date")
    return ModelInfo(
        name=name,
        task=task,
        description=str(entry.get("description", "")),
        dimensions=dimensions,
        max_batch=max_batch,
        max_input_tokens=as_int("max_input_tokens"),
        context_window=as_int("context_window"),
        price_input_per_m=usd_per_m("per M input tokens"),
        price_output_per_m=usd_per_m("per M output tokens"),
        function_calling=_flag(props, "function_calling") or '"tools"' in input_text,
        reasoning=_flag(props, "reasoning"),
        vision=_flag(props, "vision") or "image_url" in input_text,
        json_mode="response_format" in input_text or "guided_json" in input_text,
        output_style=output_style,
        requests_per_minute=_RATE_LIMIT_EXCEPTIONS.get(name, _RATE_LIMITS.get(task)),
        input_schema=input_schema,
        output_schema=output_schema,
        catalog=entry,
        catalog_task=catalog_task,
        input_kind=_input_kind(input_schema),
        output_content_type=content_type,
        output_content_types=content_types,
        prices=prices,
        beta=_flag(props, "beta"),
        deprecated=entry.get("deprecated") is True or bool(planned),
        deprecation_date=str(planned) if planned else None,
        lora=_flag(props, "lora"),
        partner=_flag(props, "partner"),
        source="workers-types" if item["source"].get("kind") == "workers-types" else "catalog",
        properties=props,
    )


@cache
def _entries() -> dict[str, Any]:
    """The bundled file's ``models``, parsed once."""
    raw = resources.files("cloudflare_ai.data").joinpath("workers-ai-models.json").read_text()
    entries: dict[str, Any] = json.loads(raw)["models"]
    return entries


@cache
def _info(name: str) -> ModelInfo:
    return _build(_entries()[name])


def get_model(name: str) -> ModelInfo | None:
    """The table entry for ``name``, or None for a model the table does not know."""
    return _info(name) if name in _entries() else None


def require_model(name: str) -> ModelInfo:
    """The table entry for ``name``; KeyError naming the known models otherwise."""
    info = get_model(name)
    if info is None:
        known = ", ".join(sorted(_entries()))
        raise KeyError(f"unknown Workers AI model {name!r}; the model table knows: {known}")
    return info


def _check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def _select(task: Task | None, include_deprecated: bool) -> Iterator[ModelInfo]:
    for name in _entries():
        info = _info(name)
        if (task is None or info.task == task) and (include_deprecated or not info.deprecated):
            yield info


def iter_models(
    task: Task | None = None, *, include_deprecated: bool = True
) -> Iterator[ModelInfo]:
    """Every model in the table (sorted by Cloudflare's task name, then model name), optionally
    only those of one task; ValueError for a task that is not in :data:`TASKS`."""
    _check_task(task)
    return _select(task, include_deprecated)


def list_models(task: Task | None = None, *, include_deprecated: bool = True) -> list[ModelInfo]:
    """The models of the table as a list; see :func:`iter_models`."""
    return list(iter_models(task, include_deprecated=include_deprecated))


def embedding_dimensions(name: str) -> int | None:
    info = get_model(name)
    return info.dimensions if info else None
