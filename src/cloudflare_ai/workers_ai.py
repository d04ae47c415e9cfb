"""Workers AI clients: run any model, chat (streaming or not), embed in concurrent batches.

``WorkersAIClient`` and ``AsyncWorkersAIClient`` share every request builder and response
parser in :class:`_WorkersAIBase`; they differ only in how bytes move. Calls go to
``/ai/run/{model}`` by default, to the OpenAI-compatible ``/ai/v1`` endpoints with
``api="openai"``, and through an AI Gateway when one is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self, TypedDict, TypeVar, Unpack, cast

import httpx
import numpy as np
import orjson

from . import chat_images, fallback, metering, providers, tasks, universal
from .config import ClientSettings, GatewaySettings
from .embedding_json import native_embeddings, openai_embeddings
from .errors import APIError, ConfigurationError, StreamError, ValidationError
from .fallback import FallbackVia
from .media import MediaInput, is_binary_content_type
from .models import (
    DEFAULT_EMBEDDING_BATCH,
    DEFAULT_EMBEDDING_MODEL,
    TASKS,
    ModelInfo,
    get_model,
    iter_models,
)
from .responses import parse_chat_result, parse_usage
from .streaming import StopSequences, StreamDecoder, aggregate, aiter_sse, iter_sse
from .tasks import (
    DEFAULT_DESCRIBE_PROMPT,
    DEFAULT_IMAGE_CLASSIFICATION_MODEL,
    DEFAULT_IMAGE_MODEL,
    DEFAULT_IMAGE_TO_TEXT_MODEL,
    DEFAULT_OBJECT_DETECTION_MODEL,
    DEFAULT_RERANK_MODEL,
    DEFAULT_SPEECH_MODEL,
    DEFAULT_SUMMARIZATION_MODEL,
    DEFAULT_TEXT_CLASSIFICATION_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_TRANSLATION_MODEL,
    TaskCall,
)
from .tokens import (
    InputTruncatedWarning,
    LongInputs,
    chunk_advice,
    estimate_tokens,
    input_token_limit,
    truncate_to_tokens,
)
from .transport import (
    AsyncTransport,
    Request,
    RetryPolicy,
    SyncTransport,
    decode_json,
    envelope_page,
    envelope_result,
    response_headers,
)
from .types import (
    AudioResult,
    BinaryResult,
    ChatChunk,
    ChatResponse,
    Detection,
    EmbeddingResponse,
    FallbackAttempt,
    GatewayInfo,
    ImageResult,
    Label,
    Ranked,
    RunResult,
    ToolCallDelta,
    Transcription,
    Usage,
)
from .usage import MeteredCall

#: Pages fetched at most by ``list_models(online=True)`` (a guard against a server that
#: ignores ``page``).
MAX_MODEL_PAGES = 50

#: ``native``: ``/ai/run``; ``openai``: Workers AI's ``/ai/v1``; ``compat``: AI Gateway's
#: unified ``/compat/chat/completions`` with ``provider/model`` names (needs a gateway).
Api = Literal["native", "openai", "compat"]
ToolChoice = Literal["auto", "none", "required", "any"] | str | Mapping[str, Any]


T = TypeVar("T")  # what a task call parses its answer into

#: A matrix of embeddings, one float32 row per text.
Float32Matrix = np.ndarray[Any, np.dtype[np.float32]]
#: The precision ``embed_array`` decodes into: float32 (what Vectorize stores; half the
#: memory) or float64 (exactly the values Workers AI sent, as ``embed`` returns them).
Precision = Literal["float32", "float64"]


@dataclass(frozen=True)
class EmbeddingArray:
    """Embeddings as one matrix (``array[i]`` is text ``i``'s vector; float32 unless
    ``precision="float64"`` was asked for): the answer of
    :meth:`WorkersAIClient.embed_array`, for bulk work that never needs Python floats.

    Vectorize stores float32, so nothing is lost; a ``(n, d)`` matrix costs ``4 * n * d``
    bytes instead of the ~32 bytes per value of a list of Python floats. ``usage`` is worked
    out when first read (``/ai/run`` reports no tokens, and estimating them is a pass over
    every text): bulk ingestion outside any usage tracker never pays for it."""

    model: str
    array: Float32Matrix
    requests: int
    batches: Sequence[Sequence[str]] = field(default=(), repr=False)
    reported: Sequence[Usage | None] = field(default=(), repr=False)

    @functools.cached_property
    def usage(self) -> Usage | None:
        """Tokens as reported per batch, or estimated from its texts; priced."""
        if not self.batches:
            return None
        return metering.embed_usage(self.model, self.batches, self.reported)

    @property
    def dimensions(self) -> int:
        return int(self.array.shape[1]) if self.array.ndim == 2 else 0


class ChatOptions(TypedDict, total=False):
    """Options of a text-generation call, shared by every chat method."""

    prompt: str
    api: Api
    tools: Sequence[Mapping[str, Any]]
    tool_choice: ToolChoice
    response_format: Mapping[str, Any]
    stop: Sequence[str]
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int
    repetition_penalty: float
    frequency_penalty: float
    presence_penalty: float
    raw: bool
    lora: str
    reasoning_effort: str
    gateway: GatewaySettings | str
    extra_body: Mapping[str, Any]
    headers: Mapping[str, str]
    fallback_models: Sequence[str]
    fallback_via: FallbackVia
    step_config: universal.StepConfigs


#: Sampling and generation parameters passed through to the model as given.
SAMPLING_KEYS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
)


def normalize_tools(tools: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Tools in OpenAI form, checked against what Workers AI accepts.

    Workers AI requires ``parameters.type`` and ``parameters.properties``, and a ``type`` and
    ``description`` on every property; a missing description is filled with the property
    name rather than letting the request fail.
    """
    if tools is None:
        return None
    out: list[dict[str, Any]] = []
    for position, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise ValidationError(
                f"tool #{position} must be a mapping, got {type(tool).__name__}",
                position=position,
            )
        function = tool.get("function") if tool.get("type") == "function" else tool
        if not isinstance(function, Mapping):
            raise ValidationError(f"tool #{position} has no 'function' object", position=position)
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise ValidationError(f"tool #{position} has no name", position=position)
        params = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(params, Mapping) or params.get("type", "object") != "object":
            raise ValidationError(
                f"tool {name!r} (#{position}): parameters must be a JSON Schema of type 'object'",
                item=name,
                position=position,
            )
        properties = params.get("properties", {})
        if properties is None:
            properties = {}
        if not isinstance(properties, Mapping):
            raise ValidationError(
                f"tool {name!r} (#{position}): parameters.properties must be an object",
                item=name,
                position=position,
            )
        fixed: dict[str, Any] = {}
        for prop, schema in properties.items():
            if not isinstance(schema, Mapping):
                raise ValidationError(
                    f"tool {name!r} (#{position}): property {prop!r} must be a JSON Schema",
                    item=name,
                    position=position,
                )
            entry = _single_type(schema, params)
            if not isinstance(entry.get("type"), str):
                raise ValidationError(
                    f"tool {name!r} (#{position}): property {prop!r} has no type",
                    item=name,
                    position=position,
                )
            entry.setdefault("description", str(entry.get("title") or prop))
            fixed[str(prop)] = entry
        parameters = {**params, "type": "object", "properties": fixed}
        spec: dict[str, Any] = {"name": name, "parameters": parameters}
        if function.get("description"):
            spec["description"] = str(function["description"])
        else:
            spec["description"] = name
        out.append({"type": "function", "function": spec})
    return out


def _single_type(schema: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A property schema with one ``type`` string, as Workers AI's tool schema requires.

    Optional fields (``anyOf: [X, null]``), type lists and ``$ref`` s to ``$defs`` are
    folded into a plain schema; optionality is carried by ``required`` anyway.
    """
    entry = dict(schema)
    ref = entry.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = (params.get("$defs") or {}).get(ref.rsplit("/", 1)[-1])
        if isinstance(target, Mapping):
            entry = {**target, **{k: v for k, v in entry.items() if k != "$ref"}}
    kind = entry.get("type")
    if isinstance(kind, list):
        choices = [k for k in kind if k != "null"] or ["string"]
        entry["type"] = choices[0]
    elif kind is None:
        for key in ("anyOf", "oneOf"):
            options = entry.get(key)
            if isinstance(options, list):
                real = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
                if real:
                    chosen = _single_type(real[0], params)
                    entry.pop(key)
                    entry = {**chosen, **entry}
                break
        if "type" not in entry and "enum" in entry:
            numeric = all(isinstance(v, int | float) for v in entry["enum"])
            entry["type"] = "number" if numeric else "string"
    return entry


def normalize_tool_choice(choice: ToolChoice | None, tools: list[dict[str, Any]] | None) -> Any:
    """``auto`` / ``none`` / ``required`` / a forced function, in Workers AI's form."""
    if choice is None:
        return None
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice in ("required", "any") and tools is not None and len(tools) == 1:
        # Workers AI treats "required" as advisory; naming the only tool is enforced.
        return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
    if choice in ("auto", "none", "required"):
        return choice
    if choice == "any":
        return "required"
    names = [t["function"]["name"] for t in tools or []]
    if choice not in names:
        raise ValidationError(
            f"tool_choice {choice!r} names no offered tool (offered: {', '.join(names) or 'none'})",
            item=str(choice),
        )
    return {"type": "function", "function": {"name": choice}}


def _json_schema_of(response_format: Mapping[str, Any]) -> tuple[str | None, Any]:
    """(type, bare schema) from either Workers AI's or OpenAI's response_format form."""
    kind = response_format.get("type")
    schema = response_format.get("json_schema")
    if isinstance(schema, Mapping) and "schema" in schema and kind == "json_schema":
        schema = schema["schema"]  # OpenAI wrapper {name, schema, strict}
    return (str(kind) if kind else None), schema


def clean_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages as Workers AI accepts them: ``content: null`` (sent back alongside tool calls)
    is refused by its validator, so it becomes an empty string."""
    out = []
    for position, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise ValidationError(
                f"message #{position} must be a mapping with a 'role'", position=position
            )
        item = dict(message)
        if item.get("content") is None:
            item["content"] = ""
        out.append(item)
    return out


class _WorkersAIBase:
    """Request building and response parsing shared by the sync and async clients."""

    settings: ClientSettings

    # --- URLs -------------------------------------------------------------------------------
    def _gateway(self, override: GatewaySettings | str | None) -> GatewaySettings | None:
        """The gateway of one call. A bare id keeps the client's other gateway options (token,
        cache settings) and changes only the gateway; full settings replace them."""
        if override is None:
            return self.settings.gateway
        if isinstance(override, str) and self.settings.gateway is not None:
            return self.settings.gateway.merged(id=override)
        return GatewaySettings.coerce(override)

    def _url(self, suffix: str, gateway: GatewaySettings | None) -> tuple[str, str, dict[str, str]]:
        """(url, label for errors, extra headers) for a Workers AI path suffix such as
        ``run/@cf/...`` or ``v1/chat/completions``."""
        if gateway is not None:
            tail = suffix[len("run/") :] if suffix.startswith("run/") else suffix
            url = f"{gateway.base_url}/{self.settings.account_id}/{gateway.id}/workers-ai/{tail}"
            return url, f"gateway {gateway.id}: workers-ai/{tail}", gateway.headers()
        return f"{self.settings.account_url}/ai/{suffix}", f"/ai/{suffix}", {}

    def _request(
        self,
        method: str,
        suffix: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        model: str | None = None,
    ) -> Request:
        gw = self._gateway(gateway) if method == "POST" else None
        url, label, extra = self._url(suffix, gw)
        typed = {"content-type": content_type} if content_type else {}
        return Request(
            method,
            url,
            json=json,
            content=content,
            params=params,
            headers={**extra, **typed, **(headers or {})},
            label=label,
            model=model,
        )

    # --- run and the task methods ---------------------------------------------------------------
    def _payload_request(
        self,
        model: str,
        payload: tasks.Payload,
        *,
        gateway: GatewaySettings | str | None,
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        return self._request(
            "POST",
            f"run/{model}",
            json=payload.json,
            content=payload.content,
            content_type=payload.content_type,
            params=payload.params,
            gateway=gateway,
            headers=headers,
            model=model,
        )

    def _run_request(
        self,
        model: str,
        inputs: Mapping[str, Any] | MediaInput,
        gateway: GatewaySettings | str | None,
        headers: Mapping[str, str] | None,
    ) -> Request:
        payload = tasks.run_payload(model, inputs)
        return self._payload_request(model, payload, gateway=gateway, headers=headers)

    def _task_request(self, call: TaskCall[Any], gateway: GatewaySettings | str | None) -> Request:
        return self._payload_request(call.model, call.payload, gateway=gateway)

    @staticmethod
    def _answer(model: str, response: httpx.Response, request: Request) -> RunResult | BinaryResult:
        """A ``/ai/run`` answer: media (by its content type) as they came, JSON unwrapped from
        the envelope."""
        headers = response_headers(response)
        gateway = GatewayInfo.from_headers(headers)
        content_type = response.headers.get("content-type")
        if is_binary_content_type(content_type):
            return tasks.binary_answer(
                model,
                response.content,
                content_type or "application/octet-stream",
                gateway=gateway,
                request_id=headers.get("cf-ray"),
                headers=headers,
            )
        result = envelope_result(response, request)
        usage = result.get("usage") if isinstance(result, dict) else None
        return RunResult(
            model=model,
            result=result,
            gateway=gateway,
            request_id=headers.get("cf-ray"),
            usage=parse_usage(usage, model),
            headers=headers,
        )

    # --- chat -------------------------------------------------------------------------------
    def _chat_request(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None,
        options: ChatOptions,
        *,
        stream: bool,
    ) -> Request:
        unknown = set(options) - set(ChatOptions.__annotations__)
        if unknown:
            raise TypeError(f"unexpected chat options: {', '.join(sorted(unknown))}")
        prompt = options.get("prompt")
        api = options.get("api", "native")
        tools, tool_choice = options.get("tools"), options.get("tool_choice")
        response_format, stop = options.get("response_format"), options.get("stop")
        gateway, headers = options.get("gateway"), options.get("headers")
        extra_body = options.get("extra_body")
        raw, lora = options.get("raw"), options.get("lora")
        reasoning_effort = options.get("reasoning_effort")
        params: Mapping[str, Any] = options
        if (messages is None) == (prompt is None):
            raise ValidationError("pass exactly one of messages=... or prompt=...")
        if prompt is not None and not prompt:
            raise ValidationError("prompt must not be empty", field="prompt")
        if messages is not None and not messages:
            raise ValidationError("messages must not be empty", field="messages")
        body: dict[str, Any] = {}
        if messages is not None:
            image_model = providers.split_model(model)[1] if api == "compat" else model
            body["messages"], image_fields = chat_images.prepare_messages(
                image_model, clean_messages(messages), api="openai" if api == "compat" else api
            )
            body.update(image_fields)
        else:
            body["prompt"] = prompt
        for key in SAMPLING_KEYS:
            if params.get(key) is not None:
                body[key] = params[key]
        norm_tools = normalize_tools(tools)
        if norm_tools:
            body["tools"] = norm_tools
            choice = normalize_tool_choice(tool_choice, norm_tools)
            if choice is not None:
                body["tool_choice"] = choice
        if reasoning_effort is not None:
            body["reasoning_effort"] = reasoning_effort
        if raw is not None:
            body["raw"] = raw
        if lora is not None:
            body["lora"] = lora
        if stream:
            body["stream"] = True
        if api in ("openai", "compat"):
            if prompt is not None:
                body["messages"] = [{"role": "user", "content": body.pop("prompt")}]
            body["model"] = providers.compat_name(model) if api == "compat" else model
            if stop:
                body["stop"] = list(stop)
            if stream:
                body["stream_options"] = {"include_usage": True}
            if response_format is not None:
                kind, schema = _json_schema_of(response_format)
                if kind == "json_schema":
                    wrapper = response_format.get("json_schema")
                    if isinstance(wrapper, Mapping) and "schema" in wrapper:
                        body["response_format"] = dict(response_format)
                    else:
                        body["response_format"] = {
                            "type": "json_schema",
                            "json_schema": {"name": "response", "schema": schema},
                        }
                else:
                    body["response_format"] = dict(response_format)
            body.update(extra_body or {})
            if api == "compat":
                return self._compat_request(model, body, gateway, headers)
            return self._request(
                "POST",
                "v1/chat/completions",
                json=body,
                gateway=gateway,
                headers=headers,
                model=model,
            )
        if response_format is not None:
            kind, schema = _json_schema_of(response_format)
            info = get_model(model)
            uses_guided = (
                info is not None
                and "guided_json" in orjson.dumps(info.input_schema).decode()
                and "response_format" not in orjson.dumps(info.input_schema).decode()
            )
            if kind == "json_schema" and uses_guided:
                body["guided_json"] = schema
            elif kind == "json_schema":
                body["response_format"] = {"type": "json_schema", "json_schema": schema}
            else:
                body["response_format"] = {"type": kind or "json_object"}
        body.update(extra_body or {})
        return self._request(
            "POST", f"run/{model}", json=body, gateway=gateway, headers=headers, model=model
        )

    def _required_gateway(
        self, override: GatewaySettings | str | None, why: str
    ) -> GatewaySettings:
        gateway = self._gateway(override)
        if gateway is None:
            raise ConfigurationError(
                f"{why} goes through AI Gateway, and none is configured: pass gateway=... (an id "
                "or GatewaySettings) or set CLOUDFLARE_AI_GATEWAY_ID"
            )
        return gateway

    def _provider_auth(
        self, provider: str, gateway: GatewaySettings
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        """(headers, default headers to leave out) authenticating a call to ``provider``
        through the gateway: the API token for Workers AI (the transport's default), the
        provider's key for the others, and without a key no ``authorization`` at all, so the
        Cloudflare token never travels towards another provider (the gateway's stored key,
        BYOK, is used then)."""
        if provider == providers.WORKERS_AI:
            return {}, ()
        key = gateway.provider_key(provider)
        if key is None:
            return {}, ("authorization",)
        # UNCERTAIN: the unified endpoint takes every provider's key as a bearer token (its
        # examples show only ``Authorization``); the gateway speaks each provider's own auth.
        return {"authorization": f"Bearer {key}"}, ()

    def _compat_request(
        self,
        model: str,
        body: dict[str, Any],
        gateway: GatewaySettings | str | None,
        headers: Mapping[str, str] | None,
    ) -> Request:
        """A chat call to AI Gateway's unified OpenAI-compatible endpoint."""
        gw = self._required_gateway(gateway, 'api="compat"')
        auth, omit = self._provider_auth(providers.split_model(model)[0], gw)
        url = f"{gw.base_url}/{self.settings.account_id}/{gw.id}/compat/chat/completions"
        return Request(
            "POST",
            url,
            json=body,
            headers={**gw.headers(), **auth, **(headers or {})},
            label=f"gateway {gw.id}: compat/chat/completions",
            omit=omit,
        )

    def _universal_request(
        self,
        models: Sequence[str],
        messages: Sequence[Mapping[str, Any]] | None,
        options: ChatOptions,
        *,
        stream: bool,
    ) -> Request:
        """One Universal endpoint request trying ``models`` in order, each a step in its
        provider's native format (Workers AI: ``/ai/run`` or, with ``api="openai"``, its
        ``v1/chat/completions``; OpenAI: ``chat/completions``; Anthropic: ``v1/messages``)."""
        gw = self._required_gateway(options.get("gateway"), 'fallback_via="gateway"')
        per_call = {"gateway", "headers", "fallback_models", "fallback_via", "step_config"}
        base = cast(ChatOptions, {k: v for k, v in options.items() if k not in per_call})
        configs = options.get("step_config")
        token = self.settings.api_token.get_secret_value()
        steps: list[dict[str, Any]] = []
        for name in models:
            provider, bare = providers.split_model(name)
            if provider == providers.WORKERS_AI:
                api: Api = "openai" if base.get("api") == "openai" else "native"
                body = self._chat_request(bare, messages, {**base, "api": api}, stream=stream).json
                endpoint = "v1/chat/completions" if api == "openai" else bare
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            else:
                if stream and provider == providers.ANTHROPIC:
                    raise ValidationError(
                        f"{name}: streaming through the Universal endpoint is supported for "
                        "workers-ai and openai steps only; stream with api='compat' instead",
                        item=name,
                        field="fallback_models",
                    )
                body = self._chat_request(
                    bare, messages, {**base, "api": "openai"}, stream=stream
                ).json
                if provider == providers.ANTHROPIC:
                    body = providers.anthropic_body(body)
                endpoint = providers.CHAT_ENDPOINTS[provider]
                headers = providers.step_headers(provider, gw.provider_key(provider))
            step: dict[str, Any] = {
                "provider": provider,
                "endpoint": endpoint,
                "headers": headers,
                "query": body,
            }
            config = universal.config_for(configs, name)
            if config:
                step["config"] = config
            steps.append(step)
        return Request(
            "POST",
            f"{gw.base_url}/{self.settings.account_id}/{gw.id}",
            json=steps,
            headers={**gw.headers(), **(options.get("headers") or {})},
            label=f"gateway {gw.id}: universal",
        )

    def _universal_answer(
        self,
        models: Sequence[str],
        response: httpx.Response,
        request: Request,
        options: ChatOptions,
    ) -> ChatResponse:
        """The answer of the step that succeeded, named after its model, with the steps
        before it reported as fallbacks."""
        headers = response_headers(response)
        gateway = GatewayInfo.from_headers(headers)
        step = universal.answering_step(gateway, len(models))
        served = models[step]
        provider = providers.split_model(served)[0]
        data = decode_json(response)
        if provider == providers.ANTHROPIC and isinstance(data, dict):
            data = providers.anthropic_to_openai(data)
        elif isinstance(data, dict) and "success" in data:
            data = envelope_result(response, request)
        chat = parse_chat_result(
            data,
            model=served,
            gateway=gateway,
            request_id=headers.get("cf-ray"),
            max_tokens=options.get("max_tokens"),
        )
        stop = options.get("stop")
        if stop and not (isinstance(data, dict) and "choices" in data):
            chat = self._cut_at_stop(chat, stop)
        return chat.model_copy(
            update={"model": served, "fallbacks": universal.skipped(models, step)}
        )

    @staticmethod
    def _cut_at_stop(chat: ChatResponse, stop: Sequence[str]) -> ChatResponse:
        """``/ai/run`` has no stop parameter: apply the sequences to the answer here."""
        cutter = StopSequences(stop)
        text = cutter.push(chat.text)
        text += cutter.flush()
        if cutter.stopped:
            chat = chat.model_copy(update={"text": text, "finish_reason": "stop"})
        return chat

    def _chat_requests(
        self,
        models: Sequence[str],
        messages: Sequence[Mapping[str, Any]] | None,
        options: ChatOptions,
        *,
        stream: bool,
    ) -> list[tuple[str, Request]]:
        """One request per model, all built (and so checked) before anything is sent."""
        return [(m, self._chat_request(m, messages, options, stream=stream)) for m in models]

    def _whole_answer(self, stream: _StreamState, response: httpx.Response) -> ChatResponse:
        """A stream request answered with one JSON document (JSON-schema output, or a model
        that does not stream)."""
        if stream._universal is not None:
            options: ChatOptions = {"stop": stream._stop} if stream._stop else {}
            return self._universal_answer(stream._universal, response, stream._request, options)
        return self._chat_response(stream.model, response, stream._request, stream._stop)

    def _stream_plan(
        self, model: str, messages: Sequence[Mapping[str, Any]] | None, options: ChatOptions
    ) -> tuple[list[tuple[str, Request]], Sequence[str] | None, bool, list[str] | None, bool]:
        """(requests by model, stop, fetched whole?, Universal models, named?) of a stream."""
        single = self._wants_json_schema(options.get("response_format"))
        models = fallback.models_of(model, options.get("fallback_models"))
        stop = options.get("stop")
        named = len(models) > 1 or options.get("api") == "compat"
        if options.get("fallback_via", "client") == "gateway":
            request = self._universal_request(models, messages, options, stream=not single)
            return [(models[0], request)], stop, single, models, True
        candidates = self._chat_requests(models, messages, options, stream=not single)
        return candidates, stop, single, None, named

    def _metered_universal(
        self,
        answer: ChatResponse,
        call: MeteredCall,
        messages: Sequence[Mapping[str, Any]] | None,
        options: ChatOptions,
    ) -> ChatResponse:
        """A Universal endpoint answer priced as the model that served it, and recorded under
        that model's name (the estimate held was the first step's)."""
        meter = self._chat_meter(answer.model, messages, options)
        answer = answer.model_copy(update={"usage": meter.usage(answer)})
        call.model = meter.model
        call.finish(answer.usage)
        return answer

    @staticmethod
    def _served(
        answer: ChatResponse, served: str, attempts: list[FallbackAttempt], named: bool
    ) -> ChatResponse:
        """The answer named after the model that served it (when several could have, or the
        name carries a provider) with the models that failed before it."""
        if not named and not attempts:
            return answer
        return answer.model_copy(update={"model": served, "fallbacks": attempts})

    def _chat_response(
        self,
        model: str,
        response: httpx.Response,
        request: Request,
        stop: Sequence[str] | None,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        headers = response_headers(response)
        gateway = GatewayInfo.from_headers(headers)
        if request.label.endswith("chat/completions"):
            result = decode_json(response)
            if (
                isinstance(result, dict)
                and "choices" not in result
                and ("result" in result or "success" in result)
            ):
                result = envelope_result(response, request)
        else:
            result = envelope_result(response, request)
        chat = parse_chat_result(
            result,
            model=model,
            gateway=gateway,
            request_id=headers.get("cf-ray"),
            max_tokens=max_tokens,
        )
        if stop and not request.label.endswith("chat/completions"):
            chat = self._cut_at_stop(chat, stop)
        return chat

    @staticmethod
    def _wants_json_schema(response_format: Mapping[str, Any] | None) -> bool:
        return bool(response_format) and _json_schema_of(response_format or {})[0] == "json_schema"

    # --- embeddings ---------------------------------------------------------------------------
    @staticmethod
    def _check_texts(texts: Sequence[str] | str) -> list[str]:
        items = [texts] if isinstance(texts, str) else list(texts)
        for position, text in enumerate(items):
            if not isinstance(text, str):
                raise ValidationError(
                    f"text #{position} must be a string, got {type(text).__name__}",
                    position=position,
                )
            if not text.strip():
                raise ValidationError(
                    f"text #{position} is empty; Workers AI embeds only non-empty text",
                    position=position,
                )
        return items

    @staticmethod
    def _fit_inputs(model: str, items: list[str], long_inputs: LongInputs) -> list[str]:
        """Texts within the model's input limit (``max_input_tokens``, by the conservative
        estimate of :mod:`cloudflare_ai.tokens`): longer ones are cut to fit with an
        :class:`InputTruncatedWarning`, or refused, before anything is sent."""
        if long_inputs not in ("truncate", "error"):
            raise ValidationError(
                f"long_inputs must be 'truncate' or 'error', got {long_inputs!r}",
                field="long_inputs",
            )
        limit = input_token_limit(model)
        if limit is None:
            return items
        # A text cannot be estimated at more tokens than it has characters (plus two).
        over = [
            (i, n)
            for i, text in enumerate(items)
            if len(text) + 2 > limit and (n := estimate_tokens(text)) > limit
        ]
        if not over:
            return items
        position, longest = max(over, key=lambda item: item[1])
        count = f"{len(over)} of {len(items)} texts are" if len(items) > 1 else "the text is"
        what = (
            f"{count} longer than {model}'s limit of {limit} tokens per input (text "
            f"#{position}: about {longest} tokens by this package's conservative estimate)"
        )
        if long_inputs == "error":
            raise ValidationError(
                f"{what}; {chunk_advice(limit)}. Or pass long_inputs='truncate' to embed only "
                "the beginning of each.",
                position=position,
                field="text",
            )
        warnings.warn(
            f"{what}: cut to fit, only the beginning of each is embedded. To embed all of "
            f"it, {chunk_advice(limit)}. long_inputs='error' refuses such texts instead.",
            InputTruncatedWarning,
            stacklevel=4,
        )
        fitted = list(items)
        for i, _ in over:
            fitted[i] = truncate_to_tokens(items[i], limit)
        return fitted

    @staticmethod
    def _batch_size(model: str, batch_size: int | None) -> int:
        info = get_model(model)
        limit = (info.max_batch if info else None) or DEFAULT_EMBEDDING_BATCH
        if batch_size is not None:
            if batch_size < 1:
                raise ValidationError(f"batch_size must be at least 1, got {batch_size}")
            if batch_size > limit:
                raise ValidationError(
                    f"batch_size {batch_size} exceeds {model}'s limit of {limit} texts per request"
                )
            return batch_size
        return limit

    def _embed_request(
        self,
        model: str,
        batch: list[str],
        *,
        api: Api,
        pooling: str | None,
        gateway: GatewaySettings | str | None,
    ) -> Request:
        if api == "openai":
            return self._request(
                "POST",
                "v1/embeddings",
                json={"model": model, "input": batch},
                gateway=gateway,
                model=model,
            )
        body: dict[str, Any] = {"text": batch}
        if pooling is not None:
            body["pooling"] = pooling
        return self._request("POST", f"run/{model}", json=body, gateway=gateway, model=model)

    @staticmethod
    def _embed_parse(
        response: httpx.Response,
        request: Request,
        expected: int,
        model: str,
        *,
        array: bool = False,
    ) -> tuple[Any, Usage | None]:
        """The vectors of one embedding answer and its usage. A successful answer is read
        straight into a float64 matrix (:mod:`cloudflare_ai.embedding_json`), returned as is
        with ``array=True`` and as lists otherwise; any other body goes through the general
        decoder, which raises the typed errors."""
        openai = request.label.endswith("v1/embeddings")
        fast = (openai_embeddings if openai else native_embeddings)(response.content)
        if fast is not None and fast[0].shape[0] == expected:
            matrix, raw_usage = fast
            usage = parse_usage(raw_usage, model) if isinstance(raw_usage, dict) else None
            return (matrix if array else matrix.tolist()), usage
        if openai:
            data = decode_json(response)
            if isinstance(data, dict) and "result" in data and "data" not in data:
                data = envelope_result(response, request)
            items = sorted(data.get("data", []), key=lambda d: d.get("index", 0))
            vectors: Any = [item["embedding"] for item in items]
            usage = parse_usage(data.get("usage"), model)
        else:
            result = envelope_result(response, request)
            vectors = result.get("data") if isinstance(result, dict) else None
            usage = parse_usage(result.get("usage"), model) if isinstance(result, dict) else None
        if not isinstance(vectors, list) or len(vectors) != expected:
            got = len(vectors) if isinstance(vectors, list) else "no"
            raise APIError(
                f"expected {expected} embeddings from {model}, got {got}", path=request.label
            )
        return vectors, usage

    @staticmethod
    def _as_matrix(
        vectors: Any, model: str, label: str, precision: Precision = "float32"
    ) -> Float32Matrix:
        """One batch's decoded vectors (a float64 matrix from the fast decoder, or lists) as
        a matrix of ``precision``."""
        if isinstance(vectors, np.ndarray):
            return vectors.astype(precision)
        try:
            matrix = np.array(vectors, dtype=precision)
        except (ValueError, TypeError):
            raise APIError(f"{model} returned vectors of differing lengths", path=label) from None
        if matrix.ndim != 2:
            raise APIError(f"{model} returned malformed embeddings", path=label)
        return matrix

    @staticmethod
    def _embedding_array(
        model: str,
        matrices: list[Float32Matrix],
        batches: list[list[str]],
        usages: list[Usage | None],
    ) -> EmbeddingArray:
        """Like :meth:`_embedding_response`, as one matrix."""
        dims = {int(m.shape[1]) for m in matrices if m.shape[0]}
        if len(dims) > 1:
            raise APIError(f"{model} returned vectors of differing lengths: {sorted(dims)}")
        array = (
            matrices[0]
            if len(matrices) == 1
            else np.concatenate(matrices)
            if matrices
            else np.zeros((0, 0), dtype=np.float32)
        )
        return EmbeddingArray(
            model=model, array=array, requests=len(batches), batches=batches, reported=usages
        )

    @staticmethod
    def _embedding_response(
        model: str,
        vectors: list[list[float]],
        batches: list[list[str]],
        usages: list[Usage | None],
    ) -> EmbeddingResponse:
        """The whole answer, with the usage of every batch added up (tokens as reported, or
        estimated from the texts where Cloudflare reports none) and priced."""
        dims = {len(v) for v in vectors}
        if len(dims) > 1:
            raise APIError(f"{model} returned vectors of differing lengths: {sorted(dims)}")
        return EmbeddingResponse(
            model=model,
            vectors=vectors,
            dimensions=dims.pop() if dims else 0,
            usage=metering.embed_usage(model, batches, usages),
            requests=len(batches),
        )

    @staticmethod
    def _chat_meter(
        model: str, messages: Sequence[Mapping[str, Any]] | None, options: ChatOptions
    ) -> metering.ChatMeter:
        return metering.ChatMeter(
            providers.billed_name(model),
            messages,
            options.get("prompt"),
            options.get("tools"),
            options.get("max_tokens"),
        )

    # --- the model catalog ----------------------------------------------------------------------
    @staticmethod
    def _models_offline(task: str | None, search: str | None) -> list[ModelInfo]:
        wanted = tasks.task_slug(task) if task else None
        needle = (search or "").lower()
        return [
            info
            for info in iter_models()
            if (wanted is None or tasks.task_slug(info.task) == wanted)
            and (needle in info.name.lower() or needle in info.description.lower())
        ]

    @staticmethod
    def _of_task(found: Iterable[ModelInfo], task: str | None) -> list[ModelInfo]:
        """The searched models of the task as the table names it, so online and offline
        listings agree (Cloudflare files the reranker under "Text Classification")."""
        if not task:
            return list(found)
        wanted = tasks.task_slug(task)
        if wanted not in {tasks.task_slug(t) for t in (*TASKS, *tasks.TASK_NAMES)}:
            return list(found)
        # Models the table knows are kept by the table's task; the others as the search
        # returned them (Cloudflare already filtered them by its task name).
        return [m for m in found if get_model(m.name) is None or tasks.task_slug(m.task) == wanted]

    def _models_request(
        self, task: str | None, search: str | None, per_page: int, page: int = 1
    ) -> Request:
        if per_page < 1:
            raise ValidationError(f"per_page must be at least 1, got {per_page}", field="per_page")
        params: dict[str, Any] = {"per_page": per_page}
        if page > 1:
            params["page"] = page
        if task:
            params["task"] = tasks.task_name(task)
        if search:
            params["search"] = search
        return self._request("GET", "models/search", params=params)

    @staticmethod
    def _models_page(
        response: httpx.Response, request: Request, per_page: int, seen: dict[str, ModelInfo]
    ) -> bool:
        """Add one page of the model search to ``seen``; whether another page may follow."""
        result, info = envelope_page(response, request)
        entries = [
            e for e in result or [] if isinstance(e, dict) and isinstance(e.get("name"), str)
        ]
        new = 0
        for entry in entries:
            if entry["name"] not in seen:
                seen[entry["name"]] = _catalog_model(entry)
                new += 1
        total = info.get("total_count") if isinstance(info, dict) else None
        if isinstance(total, int) and len(seen) >= total:
            return False
        return new > 0 and len(entries) >= per_page


class QueryCache:
    """A small thread-safe LRU of query embeddings keyed by (model, pooling, text): repeated
    questions skip the embedding round trip."""

    def __init__(self, size: int) -> None:
        import threading
        from collections import OrderedDict

        self.size = size
        self._items: OrderedDict[tuple[str, str | None, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str | None, str]) -> list[float] | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple[str, str | None, str], value: list[float]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _catalog_model(entry: dict[str, Any]) -> ModelInfo:
    """The table's entry for a model the search API lists, or a minimal one built from the
    listing (which carries no schemas) for a model the table does not know."""
    known = get_model(entry["name"])
    if known is not None:
        return known
    task = entry.get("task")
    name = task.get("name") if isinstance(task, dict) else None
    return ModelInfo(
        name=entry["name"],
        # Cloudflare's task name as a slug ("text-to-image"), the table's spelling of tasks.
        task=cast(Any, tasks.task_slug(str(name or ""))),
        description=str(entry.get("description") or ""),
        catalog=entry,
    )


def _batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class _StreamState:
    """What sync and async streams share: decoding, bookkeeping, fallback and the answer.

    A stream holds one request per model (``fallback_models``), or one Universal endpoint
    request naming its models (``universal``). Before the first chunk reaches the caller, a
    failure that :func:`~cloudflare_ai.fallback.should_fall_back` accepts moves on to the
    next model; once a chunk was delivered, errors surface as they are."""

    def __init__(
        self,
        candidates: Sequence[tuple[str, Request]],
        stop: Sequence[str] | None,
        *,
        single: bool,
        universal: Sequence[str] | None = None,
        named: bool = False,
        meter: Callable[[str], metering.ChatMeter] | None = None,
    ) -> None:
        if not candidates:
            raise ValidationError("no model to stream from", field="model")
        self._candidates = list(candidates)
        self._stop = stop
        self._single = single
        self._universal = list(universal) if universal is not None else None
        self._named = named or len(self._candidates) > 1 or self._universal is not None
        self._meter_for = meter
        #: Models tried before the one streaming now, and why they did not answer.
        self.fallbacks: list[FallbackAttempt] = []
        self._begin(*self._candidates[0])

    def _begin(self, model: str, request: Request) -> None:
        self.model = model
        self._request = request
        # The trackers active where the stream was made record it, wherever it is read;
        # a budget that cannot fit it refuses it here, before anything is sent.
        self._meter = (
            self._meter_for(model)
            if self._meter_for is not None
            else metering.ChatMeter(model, None, None, None, None)
        )
        self._call = MeteredCall(self._meter.model, self._meter.estimate)
        self._call.check()
        openai = request.label.endswith("chat/completions")
        self._decoder = StreamDecoder(model, stop=None if openai else self._stop)
        self._chunks: list[ChatChunk] = []
        self.gateway: GatewayInfo | None = None
        self.request_id: str | None = None
        self.response: ChatResponse | None = None

    def _opened(self, response: httpx.Response) -> None:
        headers = response_headers(response)
        self.gateway = GatewayInfo.from_headers(headers)
        self.request_id = headers.get("cf-ray")
        if self._universal is not None:
            step = universal.answering_step(self.gateway, len(self._universal))
            self.model = self._universal[step]
            self.fallbacks = universal.skipped(self._universal, step)
            # Priced and recorded as the model that answered, not the first step's.
            if self._meter_for is not None:
                self._meter = self._meter_for(self.model)
            self._call.model = self._meter.model if self._meter_for else self.model
            self._decoder = StreamDecoder(self.model, stop=self._stop)
        self._decoder.id_seed = self.request_id

    def _failed(self, position: int, exc: APIError) -> None:
        """Record a model that failed before delivering anything, or raise ``exc`` when no
        other model may be tried."""
        last = position == len(self._candidates) - 1
        if last or not fallback.should_fall_back(exc, delivered=bool(self._chunks)):
            raise fallback.exhausted(exc, self.fallbacks)
        self.fallbacks.append(fallback.attempt_of(self.model, exc))

    @staticmethod
    def _is_json(response: httpx.Response) -> bool:
        """Some models (gpt-oss on ``/ai/run``) answer a stream request with one JSON
        document, and failures can arrive as a JSON envelope with status 200."""
        return "json" in response.headers.get("content-type", "")

    def _feed(self, data: str) -> ChatChunk | None:
        chunk = self._decoder.feed(data)
        if chunk is not None:
            self._chunks.append(chunk)
        return chunk

    @property
    def _ended(self) -> bool:
        return self._decoder.stopped or self._decoder.done

    def _cut(self, exc: Exception) -> StreamError:
        error = StreamError(
            f"the stream was cut after {len(self._chunks)} chunks ({type(exc).__name__}); "
            "the answer is incomplete",
            path=self._request.label,
            method=self._request.method,
        )
        error.partial_text = "".join(c.text for c in self._chunks)
        self._record_partial()
        return error

    def _record_partial(self) -> None:
        """A stream cut after some of its answer arrived: the model ran and generated those
        tokens, so their (estimated) usage is recorded and held against budgets. UNCERTAIN:
        Cloudflare does not document what it bills for a broken stream; counting what was
        delivered keeps trackers from under-counting. Cut before any chunk: nothing."""
        if self._chunks:
            self._call.finish(self._meter.usage(aggregate(self.model, self._chunks)))

    def _report(self) -> dict[str, Any]:
        """What the final answer says about the call beyond the chunks."""
        update: dict[str, Any] = {"gateway": self.gateway, "request_id": self.request_id}
        if self._named:
            update.update(model=self.model, fallbacks=list(self.fallbacks))
        return update

    def _final(self) -> ChatChunk:
        try:
            final = self._decoder.finish()
        except StreamError as exc:
            exc.partial_text = "".join(c.text for c in self._chunks)
            exc.path, exc.method = self._request.label, self._request.method
            self._record_partial()
            raise
        whole = aggregate(self.model, [*self._chunks, final])
        usage = self._meter.usage(whole)
        final = final.model_copy(update={"usage": usage})
        self._chunks.append(final)
        self.response = whole.model_copy(update={"usage": usage, **self._report()})
        self._call.finish(usage)
        return final

    def _whole(self, chat: ChatResponse) -> list[ChatChunk]:
        """A whole answer presented as a stream (for JSON-schema output)."""
        chat = chat.model_copy(update={"usage": self._meter.usage(chat)})
        self._call.finish(chat.usage)
        self.gateway, self.request_id = chat.gateway, chat.request_id
        self.response = chat.model_copy(update=self._report())
        first = ChatChunk(
            text=chat.text,
            reasoning=chat.reasoning or "",
            tool_calls=[
                ToolCallDelta(index=c.index, id=c.id, name=c.name, arguments=c.raw_arguments)
                for c in chat.tool_calls
            ],
        )
        return [first, ChatChunk(finish_reason=chat.finish_reason, usage=chat.usage)]


class ChatStream(_StreamState):
    """A streamed answer: iterate for :class:`ChatChunk` s; the last one carries usage and the
    finish reason. ``response``, ``gateway``, ``request_id``, ``model`` (the one answering)
    and ``fallbacks`` are set as it is consumed.

    A stream that ends without Cloudflare's end marker raises :class:`StreamError` rather than
    passing a truncated answer off as complete."""

    def __init__(
        self,
        client: WorkersAIClient,
        candidates: Sequence[tuple[str, Request]],
        stop: Sequence[str] | None,
        *,
        single: bool = False,
        universal: Sequence[str] | None = None,
        named: bool = False,
        meter: Callable[[str], metering.ChatMeter] | None = None,
    ) -> None:
        super().__init__(
            candidates, stop, single=single, universal=universal, named=named, meter=meter
        )
        self._client = client

    def __iter__(self) -> Iterator[ChatChunk]:
        for position, (model, request) in enumerate(self._candidates):
            if position:
                self._begin(model, request)
            self._call.hold()
            try:
                yield from self._attempt()
                return
            except APIError as exc:
                self._failed(position, exc)
            finally:
                self._call.cancel()  # a no-op once finished; gives the estimate back otherwise

    def _attempt(self) -> Iterator[ChatChunk]:
        transport = self._client._transport
        if self._single:
            response = transport.send(self._request)
            self._opened(response)
            yield from self._whole(self._client._whole_answer(self, response))
            return
        with transport.stream(self._request) as response:
            self._opened(response)
            if self._is_json(response):
                response.read()
                yield from self._whole(self._client._whole_answer(self, response))
                return
            try:
                for data in iter_sse(response.iter_lines()):
                    chunk = self._feed(data)
                    if chunk is not None:
                        yield chunk
                    if self._ended:
                        break
            except httpx.TransportError as exc:
                raise self._cut(exc) from exc
        yield self._final()

    def text(self) -> str:
        """Consume the stream and return the whole text."""
        return "".join(chunk.text for chunk in self)


class AsyncChatStream(_StreamState):
    """The asyncio twin of :class:`ChatStream`."""

    def __init__(
        self,
        client: AsyncWorkersAIClient,
        candidates: Sequence[tuple[str, Request]],
        stop: Sequence[str] | None,
        *,
        single: bool = False,
        universal: Sequence[str] | None = None,
        named: bool = False,
        meter: Callable[[str], metering.ChatMeter] | None = None,
    ) -> None:
        super().__init__(
            candidates, stop, single=single, universal=universal, named=named, meter=meter
        )
        self._client = client

    async def __aiter__(self) -> AsyncIterator[ChatChunk]:
        for position, (model, request) in enumerate(self._candidates):
            if position:
                self._begin(model, request)
            self._call.hold()
            try:
                async with contextlib.aclosing(self._attempt()) as attempt:
                    async for chunk in attempt:
                        yield chunk
                return
            except APIError as exc:
                self._failed(position, exc)
            finally:
                self._call.cancel()  # a no-op once finished; gives the estimate back otherwise

    async def _attempt(self) -> AsyncGenerator[ChatChunk, None]:
        transport = self._client._transport
        if self._single:
            response = await transport.send(self._request)
            self._opened(response)
            for whole in self._whole(self._client._whole_answer(self, response)):
                yield whole
            return
        async with transport.stream(self._request) as response:
            self._opened(response)
            if self._is_json(response):
                await response.aread()
                for whole in self._whole(self._client._whole_answer(self, response)):
                    yield whole
                return
            try:
                async for data in aiter_sse(response.aiter_lines()):
                    chunk = self._feed(data)
                    if chunk is not None:
                        yield chunk
                    if self._ended:
                        break
            except httpx.TransportError as exc:
                raise self._cut(exc) from exc
        yield self._final()

    async def text(self) -> str:
        return "".join([chunk.text async for chunk in self])


class WorkersAIClient(_WorkersAIBase):
    """Synchronous Workers AI client over one pooled HTTP connection pool.

    Credentials come from the arguments or ``CLOUDFLARE_ACCOUNT_ID`` /
    ``CLOUDFLARE_API_TOKEN``; ``gateway`` routes calls through an AI Gateway.

    Every answer carries ``usage`` (tokens or the task's units, neurons and USD), and every
    call records into the active usage trackers (:mod:`cloudflare_ai.usage`), whose budgets
    may refuse it before it is sent. ``rate_limits`` holds requests under Workers AI's
    per-minute limits, shared by every client of the account (:mod:`cloudflare_ai.ratelimit`):
    by default on for Cloudflare's own hosts and off for other base URLs such as the local
    emulator; ``True`` or ``{model: rpm}`` turns them on anywhere, ``False`` off.
    """

    def __init__(
        self,
        *,
        account_id: str | None = None,
        api_token: str | None = None,
        base_url: str | None = None,
        gateway: GatewaySettings | str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        settings: ClientSettings | None = None,
        query_cache_size: int = 0,
        rate_limits: bool | Mapping[str, int] | None = None,
    ) -> None:
        if settings is not None and gateway is not None:
            # An explicit gateway applies on top of ready-made settings.
            settings = settings.model_copy(update={"gateway": GatewaySettings.coerce(gateway)})
        if settings is not None and rate_limits is not None:
            limits = dict(rate_limits) if isinstance(rate_limits, Mapping) else rate_limits
            settings = settings.model_copy(update={"rate_limits": limits})
        self.settings = settings or ClientSettings.resolve(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            gateway=gateway,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            default_headers=default_headers,
            rate_limits=rate_limits,
        )
        self._transport = SyncTransport(self.settings, retry=retry, http_client=http_client)
        self.query_cache = QueryCache(query_cache_size)

    def __repr__(self) -> str:
        return f"WorkersAIClient({self.settings!r})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run(
        self,
        model: str,
        inputs: Mapping[str, Any] | MediaInput,
        *,
        gateway: GatewaySettings | str | None = None,
        headers: Mapping[str, str] | None = None,
        fallback_models: Sequence[str] | None = None,
    ) -> RunResult | BinaryResult:
        """Run any model with its raw input object (or, for a model whose input is a file, the
        media alone: bytes, a path or a binary file object).

        ``fallback_models``: models of the same task tried in order when this one fails in a
        way another model may not (capacity, timeouts; see :mod:`cloudflare_ai.fallback`);
        the result's ``model`` is the one that answered, ``fallbacks`` the ones that did not.

        Media values in ``inputs`` (bytes, :class:`pathlib.Path` s, binary file objects; a
        ``str`` there is always text) are sent in the form the
        model's schema asks for: an integer array, base64 text, the raw body, or multipart
        form data. A binary answer (``image/*``, ``audio/*``) comes back as a
        :class:`BinaryResult` (an :class:`ImageResult` or :class:`AudioResult`) holding the
        response body as it came; a JSON answer as a :class:`RunResult` with its ``result``.
        The input is not checked here: use the task methods for that. The answer carries
        ``usage`` (tokens or the task's own units, neurons and USD)."""
        models = fallback.models_of(model, fallback_models)
        requests = {m: self._run_request(m, inputs, gateway, headers) for m in models}
        values = metering.run_inputs(inputs)

        def one(name: str) -> RunResult | BinaryResult:
            with MeteredCall(name, lambda: metering.task_estimate(name, values)) as call:
                answer = self._answer(name, self._transport.send(requests[name]), requests[name])
                usage = metering.task_usage(name, values, answer)
                call.finish(usage)
            metered: RunResult | BinaryResult = metering.with_usage(answer, usage)
            return metered

        result, _, attempts = fallback.run(models, one)
        return result.model_copy(update={"fallbacks": attempts}) if attempts else result

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatResponse:
        """Generate a whole answer from ``messages`` or ``prompt=...``.

        Images go in messages as ``{"type": "image_url", "image_url": {"url": "data:..."}}``
        parts, for vision models only; they are checked and sent in the form the model takes
        (see :mod:`cloudflare_ai.chat_images`).

        Options: ``api`` ("native" for ``/ai/run``, "openai" for ``/ai/v1``), ``tools``,
        ``tool_choice``, ``response_format``, ``stop``, every sampling parameter
        (``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``seed``,
        ``repetition_penalty``, ``frequency_penalty``, ``presence_penalty``), ``raw``,
        ``lora``, ``reasoning_effort``, a per-call ``gateway``, ``extra_body``, ``headers``.

        ``api="compat"`` sends the call to AI Gateway's unified endpoint, where ``model`` is
        ``provider/model`` (``openai/gpt-4o-mini``, ``anthropic/...``, ``workers-ai/@cf/...``;
        keys from ``GatewaySettings.provider_keys`` or the providers' environment variables).

        ``fallback_models``: models tried in order when ``model`` fails in a way another model
        may not (capacity, timeouts, dropped connections, after the retries), never on
        validation, authentication or quota errors. ``fallback_via="client"`` (default) sends
        one request per model; ``"gateway"`` sends one request to AI Gateway's Universal
        endpoint with a step per model (``step_config``: each step's timeout and retries).
        The answer's ``model`` is the one that answered and ``fallbacks`` lists the others.
        """
        models = fallback.models_of(model, options.get("fallback_models"))
        if options.get("fallback_via", "client") == "gateway":
            request = self._universal_request(models, messages, options, stream=False)
            first = self._chat_meter(models[0], messages, options)
            with MeteredCall(first.model, first.estimate) as call:
                response = self._transport.send(request)
                answer = self._universal_answer(models, response, request, options)
                return self._metered_universal(answer, call, messages, options)
        requests = dict(self._chat_requests(models, messages, options, stream=False))

        def one(name: str) -> ChatResponse:
            meter = self._chat_meter(name, messages, options)
            with MeteredCall(meter.model, meter.estimate) as call:
                response = self._transport.send(requests[name])
                chat = self._chat_response(
                    name, response, requests[name], options.get("stop"), options.get("max_tokens")
                )
                chat = chat.model_copy(update={"usage": meter.usage(chat)})
                call.finish(chat.usage)
            return chat

        answer, served, attempts = fallback.run(models, one)
        named = len(models) > 1 or options.get("api") == "compat"
        return self._served(answer, served, attempts, named)

    def stream_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatStream:
        """Stream an answer; iterate the returned :class:`ChatStream` for chunks.

        JSON-schema output, which Cloudflare refuses to stream, is fetched whole and delivered
        as one chunk instead of failing.

        With ``fallback_models`` the next model is tried only while nothing was delivered: a
        failure before the first chunk falls back (as :meth:`chat` does), one after it is
        raised. ``fallback_via="gateway"`` streams through the Universal endpoint
        (workers-ai and openai steps). The stream's ``model`` and ``fallbacks`` say which
        model answered and which did not.
        """
        candidates, stop, single, models, named = self._stream_plan(model, messages, options)
        return ChatStream(
            self,
            candidates,
            stop,
            single=single,
            universal=models,
            named=named,
            meter=lambda name: self._chat_meter(name, messages, options),
        )

    def embed(
        self,
        texts: Sequence[str] | str,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        pooling: Literal["mean", "cls"] | None = None,
        batch_size: int | None = None,
        api: Api = "native",
        gateway: GatewaySettings | str | None = None,
        long_inputs: LongInputs = "truncate",
    ) -> EmbeddingResponse:
        """Embed texts in batches at the model's limit, sent concurrently within
        ``max_concurrency``; vectors come back in input order.

        A text longer than the model's input limit (512 tokens for the BGE models), which
        Cloudflare would refuse with error 5006, is cut to fit with an
        :class:`~cloudflare_ai.tokens.InputTruncatedWarning` naming the chunk size to use
        (``long_inputs="truncate"``), or refused before sending with a
        :class:`~cloudflare_ai.errors.ValidationError` (``long_inputs="error"``).
        """
        items = self._fit_inputs(model, self._check_texts(texts), long_inputs)
        batches = _batches(items, self._batch_size(model, batch_size))
        requests = [
            self._embed_request(model, b, api=api, pooling=pooling, gateway=gateway)
            for b in batches
        ]

        def one(i: int) -> tuple[list[list[float]], Usage | None]:
            response = self._transport.send(requests[i])
            return self._embed_parse(response, requests[i], len(batches[i]), model)

        # Metered here, in the caller's context, not in the worker threads.
        with MeteredCall(model, lambda: metering.embed_estimate(model, items)) as call:
            if len(batches) <= 1:
                results = [one(i) for i in range(len(batches))]
            else:
                workers = min(self.settings.max_concurrency, len(batches))
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cf-embed") as pool:
                    results = list(pool.map(one, range(len(batches))))
            vectors = [v for chunk, _ in results for v in chunk]
            answer = self._embedding_response(model, vectors, batches, [u for _, u in results])
            call.finish(answer.usage)
        return answer

    def embed_query(
        self,
        text: str,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        pooling: Literal["mean", "cls"] | None = None,
        long_inputs: LongInputs = "truncate",
    ) -> list[float]:
        """One query's embedding, served from the query cache when enabled
        (``query_cache_size``)."""
        key = (model, pooling, text)
        cached = self.query_cache.get(key)
        if cached is not None:
            return cached
        [vector] = self.embed([text], model=model, pooling=pooling, long_inputs=long_inputs).vectors
        self.query_cache.put(key, vector)
        return vector

    def embed_array(
        self,
        texts: Sequence[str] | str,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        pooling: Literal["mean", "cls"] | None = None,
        batch_size: int | None = None,
        api: Api = "native",
        gateway: GatewaySettings | str | None = None,
        long_inputs: LongInputs = "truncate",
        precision: Precision = "float32",
    ) -> EmbeddingArray:
        """:meth:`embed`, answered as one float32 matrix (rows in input order) instead of
        lists of Python floats: what bulk ingestion uses. Same batching, limits, validation
        and usage metering. ``precision="float64"`` keeps exactly the values sent (what
        ``embed`` returns), for callers that hand them on as lists."""
        items = self._fit_inputs(model, self._check_texts(texts), long_inputs)
        batches = _batches(items, self._batch_size(model, batch_size))
        requests = [
            self._embed_request(model, b, api=api, pooling=pooling, gateway=gateway)
            for b in batches
        ]

        def one(i: int) -> tuple[Float32Matrix, Usage | None]:
            response = self._transport.send(requests[i])
            vectors, usage = self._embed_parse(
                response, requests[i], len(batches[i]), model, array=True
            )
            return self._as_matrix(vectors, model, requests[i].label, precision), usage

        with MeteredCall(model, lambda: metering.embed_estimate(model, items)) as call:
            if len(batches) <= 1:
                results = [one(i) for i in range(len(batches))]
            else:
                workers = min(self.settings.max_concurrency, len(batches))
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cf-embed") as pool:
                    results = list(pool.map(one, range(len(batches))))
            answer = self._embedding_array(
                model, [m for m, _ in results], batches, [u for _, u in results]
            )
            call.finish(answer.usage if call.trackers else None)
        return answer

    def _task(self, call: TaskCall[T], gateway: GatewaySettings | str | None) -> T:
        """Send one task call, parse its answer and meter it (every typed task method)."""
        request = self._task_request(call, gateway)
        estimate = lambda: metering.task_estimate(call.model, call.inputs)  # noqa: E731
        with MeteredCall(call.model, estimate) as metered:
            answer = self._answer(call.model, self._transport.send(request), request)
            parsed = call.parse(answer)
            usage = metering.task_usage(call.model, call.inputs, answer, parsed)
            metered.finish(usage)
        result: T = metering.with_usage(parsed, usage)
        return result

    def generate_image(
        self,
        prompt: str,
        *,
        model: str = DEFAULT_IMAGE_MODEL,
        negative_prompt: str | None = None,
        num_steps: int | None = None,
        guidance: float | None = None,
        seed: int | None = None,
        width: int | None = None,
        height: int | None = None,
        image: MediaInput | None = None,
        mask: MediaInput | None = None,
        strength: float | None = None,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> ImageResult:
        """Generate an image from ``prompt`` (text-to-image; with ``image`` and ``strength``,
        image-to-image; with ``mask``, inpainting, where the model supports it).

        Arguments map to the model's own inputs (``num_steps`` is ``steps`` on FLUX models);
        one the model does not take, or a value its schema refuses, is a ValidationError
        before anything is sent. ``options`` passes other inputs under their schema names.
        Binary answers and ``{"image": base64}`` answers both become an :class:`ImageResult`;
        check ``.is_blank``: a prompt the safety filter refuses comes back all black.
        """
        call = tasks.image_call(
            model,
            prompt,
            negative_prompt=negative_prompt,
            num_steps=num_steps,
            guidance=guidance,
            seed=seed,
            width=width,
            height=height,
            image=image,
            mask=mask,
            strength=strength,
            options=options,
        )
        return self._task(call, gateway)

    def transcribe(
        self,
        audio: MediaInput,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        prompt: str | None = None,
        content_type: str | None = None,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> Transcription:
        """Transcribe speech (automatic speech recognition).

        ``audio`` is bytes, a path or a binary file object in a common format (recognised from
        its first bytes; ``content_type`` names any other). ``language`` and ``prompt`` (the
        ``initial_prompt`` of whisper-large-v3-turbo) go to models that take them. Returns the
        text with, where the model gives them, the language, timed words, WebVTT subtitles and
        the duration.
        """
        call = tasks.transcribe_call(
            model,
            audio,
            language=language,
            prompt=prompt,
            content_type=content_type,
            options=options,
        )
        return self._task(call, gateway)

    def translate(
        self,
        text: str,
        *,
        target_lang: str,
        source_lang: str = "en",
        model: str = DEFAULT_TRANSLATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> str:
        """Translate ``text`` into ``target_lang`` (a language code such as ``"fr"``; checked
        against the model's list where its schema has one)."""
        call = tasks.translate_call(
            model, text, target_lang=target_lang, source_lang=source_lang, options=options
        )
        return self._task(call, gateway)

    def summarize(
        self,
        text: str,
        *,
        max_length: int | None = None,
        model: str = DEFAULT_SUMMARIZATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> str:
        """Summarise ``text`` (``max_length``: the summary's length limit in tokens)."""
        call = tasks.summarize_call(model, text, max_length=max_length, options=options)
        return self._task(call, gateway)

    def classify_text(
        self,
        text: str,
        *,
        model: str = DEFAULT_TEXT_CLASSIFICATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Label]:
        """Classify ``text`` (sentiment with the default model): labels with scores, best first."""
        call = tasks.classify_text_call(model, text, options=options)
        return self._task(call, gateway)

    def classify_image(
        self,
        image: MediaInput,
        *,
        model: str = DEFAULT_IMAGE_CLASSIFICATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Label]:
        """Classify an image: labels with scores, best first."""
        call = tasks.classify_image_call(model, image, options=options)
        return self._task(call, gateway)

    def detect_objects(
        self,
        image: MediaInput,
        *,
        model: str = DEFAULT_OBJECT_DETECTION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Detection]:
        """Find objects in an image: label, score and bounding box of each, best first."""
        call = tasks.detect_objects_call(model, image, options=options)
        return self._task(call, gateway)

    def describe_image(
        self,
        image: MediaInput,
        *,
        prompt: str = DEFAULT_DESCRIBE_PROMPT,
        max_tokens: int | None = None,
        model: str = DEFAULT_IMAGE_TO_TEXT_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> str:
        """Describe an image in words, or answer ``prompt`` about it (image-to-text)."""
        call = tasks.describe_image_call(
            model, image, prompt=prompt, max_tokens=max_tokens, options=options
        )
        return self._task(call, gateway)

    def rerank(
        self,
        query: str,
        passages: Sequence[str],
        *,
        top_k: int | None = None,
        model: str = DEFAULT_RERANK_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Ranked]:
        """Order ``passages`` by relevance to ``query``: ``(index, score, passage)`` best first,
        the ``top_k`` best when given."""
        call = tasks.rerank_call(model, query, passages, top_k=top_k, options=options)
        return self._task(call, gateway)

    def speak(
        self,
        text: str,
        *,
        model: str = DEFAULT_SPEECH_MODEL,
        voice: str | None = None,
        language: str | None = None,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> AudioResult:
        """Text to speech: the audio and its content type (``voice`` is the model's speaker;
        base64 answers such as melotts's are decoded)."""
        call = tasks.speak_call(model, text, voice=voice, language=language, options=options)
        return self._task(call, gateway)

    def list_models(
        self,
        task: str | None = None,
        *,
        online: bool = False,
        search: str | None = None,
        per_page: int = 100,
    ) -> list[ModelInfo]:
        """Models of one task (``"Text-to-Image"`` or ``"text-to-image"``; all when None),
        optionally only those whose name or description contains ``search``.

        Offline (the default) from the bundled model table; with ``online=True`` from
        Cloudflare's model search (every page), the table's entries standing for the models
        it knows and minimal ones (no schemas) for the others."""
        if not online:
            return self._models_offline(task, search)
        seen: dict[str, ModelInfo] = {}
        for page in range(1, MAX_MODEL_PAGES + 1):
            request = self._models_request(task, search, per_page, page)
            if not self._models_page(self._transport.send(request), request, per_page, seen):
                break
        return self._of_task(seen.values(), task)


class AsyncWorkersAIClient(_WorkersAIBase):
    """Asynchronous Workers AI client over one pooled :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        *,
        account_id: str | None = None,
        api_token: str | None = None,
        base_url: str | None = None,
        gateway: GatewaySettings | str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        settings: ClientSettings | None = None,
        query_cache_size: int = 0,
        rate_limits: bool | Mapping[str, int] | None = None,
    ) -> None:
        if settings is not None and gateway is not None:
            # An explicit gateway applies on top of ready-made settings.
            settings = settings.model_copy(update={"gateway": GatewaySettings.coerce(gateway)})
        if settings is not None and rate_limits is not None:
            limits = dict(rate_limits) if isinstance(rate_limits, Mapping) else rate_limits
            settings = settings.model_copy(update={"rate_limits": limits})
        self.settings = settings or ClientSettings.resolve(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            gateway=gateway,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            default_headers=default_headers,
            rate_limits=rate_limits,
        )
        self._transport = AsyncTransport(self.settings, retry=retry, http_client=http_client)
        self.query_cache = QueryCache(query_cache_size)

    def __repr__(self) -> str:
        return f"AsyncWorkersAIClient({self.settings!r})"

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def run(
        self,
        model: str,
        inputs: Mapping[str, Any] | MediaInput,
        *,
        gateway: GatewaySettings | str | None = None,
        headers: Mapping[str, str] | None = None,
        fallback_models: Sequence[str] | None = None,
    ) -> RunResult | BinaryResult:
        """Run any model with its raw input; see :meth:`WorkersAIClient.run`."""
        models = fallback.models_of(model, fallback_models)
        requests = {m: self._run_request(m, inputs, gateway, headers) for m in models}
        values = metering.run_inputs(inputs)

        async def one(name: str) -> RunResult | BinaryResult:
            with MeteredCall(name, lambda: metering.task_estimate(name, values)) as call:
                response = await self._transport.send(requests[name])
                answer = self._answer(name, response, requests[name])
                usage = metering.task_usage(name, values, answer)
                call.finish(usage)
            metered: RunResult | BinaryResult = metering.with_usage(answer, usage)
            return metered

        result, _, attempts = await fallback.arun(models, one)
        return result.model_copy(update={"fallbacks": attempts}) if attempts else result

    async def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatResponse:
        """Generate a whole answer; see :meth:`WorkersAIClient.chat` for the options."""
        models = fallback.models_of(model, options.get("fallback_models"))
        if options.get("fallback_via", "client") == "gateway":
            request = self._universal_request(models, messages, options, stream=False)
            first = self._chat_meter(models[0], messages, options)
            with MeteredCall(first.model, first.estimate) as call:
                response = await self._transport.send(request)
                answer = self._universal_answer(models, response, request, options)
                return self._metered_universal(answer, call, messages, options)
        requests = dict(self._chat_requests(models, messages, options, stream=False))

        async def one(name: str) -> ChatResponse:
            meter = self._chat_meter(name, messages, options)
            with MeteredCall(meter.model, meter.estimate) as call:
                response = await self._transport.send(requests[name])
                chat = self._chat_response(
                    name, response, requests[name], options.get("stop"), options.get("max_tokens")
                )
                chat = chat.model_copy(update={"usage": meter.usage(chat)})
                call.finish(chat.usage)
            return chat

        answer, served, attempts = await fallback.arun(models, one)
        named = len(models) > 1 or options.get("api") == "compat"
        return self._served(answer, served, attempts, named)

    def stream_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[ChatOptions],
    ) -> AsyncChatStream:
        """Stream an answer; ``async for`` over the returned :class:`AsyncChatStream`. See
        :meth:`WorkersAIClient.stream_chat` for fallback."""
        candidates, stop, single, models, named = self._stream_plan(model, messages, options)
        return AsyncChatStream(
            self,
            candidates,
            stop,
            single=single,
            universal=models,
            named=named,
            meter=lambda name: self._chat_meter(name, messages, options),
        )

    async def embed(
        self,
        texts: Sequence[str] | str,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        pooling: Literal["mean", "cls"] | None = None,
        batch_size: int | None = None,
        api: Api = "native",
        gateway: GatewaySettings | str | None = None,
        long_inputs: LongInputs = "truncate",
    ) -> EmbeddingResponse:
        """Embed texts; see :meth:`WorkersAIClient.embed`."""
        items = self._fit_inputs(model, self._check_texts(texts), long_inputs)
        batches = _batches(items, self._batch_size(model, batch_size))
        limit = asyncio.Semaphore(self.settings.max_concurrency)

        async def one(batch: list[str]) -> tuple[list[list[float]], Usage | None]:
            request = self._embed_request(model, batch, api=api, pooling=pooling, gateway=gateway)
            async with limit:
                response = await self._transport.send(request)
            return self._embed_parse(response, request, len(batch), model)

        with MeteredCall(model, lambda: metering.embed_estimate(model, items)) as call:
            results = await asyncio.gather(*(one(b) for b in batches))
            vectors = [v for chunk, _ in results for v in chunk]
            answer = self._embedding_response(model, vectors, batches, [u for _, u in results])
            call.finish(answer.usage)
        return answer

    async def embed_query(
        self,
        text: str,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        pooling: Literal["mean", "cls"] | None = None,
        long_inputs: LongInputs = "truncate",
    ) -> list[float]:
        key = (model, pooling, text)
        cached = self.query_cache.get(key)
        if cached is not None:
            return cached
        response = await self.embed([text], model=model, pooling=pooling, long_inputs=long_inputs)
        [vector] = response.vectors
        self.query_cache.put(key, vector)
        return vector

    async def embed_array(
        self,
        texts: Sequence[str] | str,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        pooling: Literal["mean", "cls"] | None = None,
        batch_size: int | None = None,
        api: Api = "native",
        gateway: GatewaySettings | str | None = None,
        long_inputs: LongInputs = "truncate",
        precision: Precision = "float32",
    ) -> EmbeddingArray:
        """Embed texts as one float32 matrix; see :meth:`WorkersAIClient.embed_array`."""
        items = self._fit_inputs(model, self._check_texts(texts), long_inputs)
        batches = _batches(items, self._batch_size(model, batch_size))
        limit = asyncio.Semaphore(self.settings.max_concurrency)

        async def one(batch: list[str]) -> tuple[Float32Matrix, Usage | None]:
            request = self._embed_request(model, batch, api=api, pooling=pooling, gateway=gateway)
            async with limit:
                response = await self._transport.send(request)
            vectors, usage = self._embed_parse(response, request, len(batch), model, array=True)
            return self._as_matrix(vectors, model, request.label, precision), usage

        with MeteredCall(model, lambda: metering.embed_estimate(model, items)) as call:
            results = await asyncio.gather(*(one(b) for b in batches))
            answer = self._embedding_array(
                model, [m for m, _ in results], batches, [u for _, u in results]
            )
            call.finish(answer.usage if call.trackers else None)
        return answer

    async def _task(self, call: TaskCall[T], gateway: GatewaySettings | str | None) -> T:
        """Send one task call, parse its answer and meter it (every typed task method)."""
        request = self._task_request(call, gateway)
        estimate = lambda: metering.task_estimate(call.model, call.inputs)  # noqa: E731
        with MeteredCall(call.model, estimate) as metered:
            answer = self._answer(call.model, await self._transport.send(request), request)
            parsed = call.parse(answer)
            usage = metering.task_usage(call.model, call.inputs, answer, parsed)
            metered.finish(usage)
        result: T = metering.with_usage(parsed, usage)
        return result

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str = DEFAULT_IMAGE_MODEL,
        negative_prompt: str | None = None,
        num_steps: int | None = None,
        guidance: float | None = None,
        seed: int | None = None,
        width: int | None = None,
        height: int | None = None,
        image: MediaInput | None = None,
        mask: MediaInput | None = None,
        strength: float | None = None,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> ImageResult:
        """See :meth:`WorkersAIClient.generate_image`."""
        call = tasks.image_call(
            model,
            prompt,
            negative_prompt=negative_prompt,
            num_steps=num_steps,
            guidance=guidance,
            seed=seed,
            width=width,
            height=height,
            image=image,
            mask=mask,
            strength=strength,
            options=options,
        )
        return await self._task(call, gateway)

    async def transcribe(
        self,
        audio: MediaInput,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        prompt: str | None = None,
        content_type: str | None = None,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> Transcription:
        """See :meth:`WorkersAIClient.transcribe`."""
        call = tasks.transcribe_call(
            model,
            audio,
            language=language,
            prompt=prompt,
            content_type=content_type,
            options=options,
        )
        return await self._task(call, gateway)

    async def translate(
        self,
        text: str,
        *,
        target_lang: str,
        source_lang: str = "en",
        model: str = DEFAULT_TRANSLATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> str:
        """See :meth:`WorkersAIClient.translate`."""
        call = tasks.translate_call(
            model, text, target_lang=target_lang, source_lang=source_lang, options=options
        )
        return await self._task(call, gateway)

    async def summarize(
        self,
        text: str,
        *,
        max_length: int | None = None,
        model: str = DEFAULT_SUMMARIZATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> str:
        """See :meth:`WorkersAIClient.summarize`."""
        call = tasks.summarize_call(model, text, max_length=max_length, options=options)
        return await self._task(call, gateway)

    async def classify_text(
        self,
        text: str,
        *,
        model: str = DEFAULT_TEXT_CLASSIFICATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Label]:
        """See :meth:`WorkersAIClient.classify_text`."""
        call = tasks.classify_text_call(model, text, options=options)
        return await self._task(call, gateway)

    async def classify_image(
        self,
        image: MediaInput,
        *,
        model: str = DEFAULT_IMAGE_CLASSIFICATION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Label]:
        """See :meth:`WorkersAIClient.classify_image`."""
        call = tasks.classify_image_call(model, image, options=options)
        return await self._task(call, gateway)

    async def detect_objects(
        self,
        image: MediaInput,
        *,
        model: str = DEFAULT_OBJECT_DETECTION_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Detection]:
        """See :meth:`WorkersAIClient.detect_objects`."""
        call = tasks.detect_objects_call(model, image, options=options)
        return await self._task(call, gateway)

    async def describe_image(
        self,
        image: MediaInput,
        *,
        prompt: str = DEFAULT_DESCRIBE_PROMPT,
        max_tokens: int | None = None,
        model: str = DEFAULT_IMAGE_TO_TEXT_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> str:
        """See :meth:`WorkersAIClient.describe_image`."""
        call = tasks.describe_image_call(
            model, image, prompt=prompt, max_tokens=max_tokens, options=options
        )
        return await self._task(call, gateway)

    async def rerank(
        self,
        query: str,
        passages: Sequence[str],
        *,
        top_k: int | None = None,
        model: str = DEFAULT_RERANK_MODEL,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> list[Ranked]:
        """See :meth:`WorkersAIClient.rerank`."""
        call = tasks.rerank_call(model, query, passages, top_k=top_k, options=options)
        return await self._task(call, gateway)

    async def speak(
        self,
        text: str,
        *,
        model: str = DEFAULT_SPEECH_MODEL,
        voice: str | None = None,
        language: str | None = None,
        options: Mapping[str, Any] | None = None,
        gateway: GatewaySettings | str | None = None,
    ) -> AudioResult:
        """See :meth:`WorkersAIClient.speak`."""
        call = tasks.speak_call(model, text, voice=voice, language=language, options=options)
        return await self._task(call, gateway)

    async def list_models(
        self,
        task: str | None = None,
        *,
        online: bool = False,
        search: str | None = None,
        per_page: int = 100,
    ) -> list[ModelInfo]:
        """Models of the catalog; see :meth:`WorkersAIClient.list_models`."""
        if not online:
            return self._models_offline(task, search)
        seen: dict[str, ModelInfo] = {}
        for page in range(1, MAX_MODEL_PAGES + 1):
            request = self._models_request(task, search, per_page, page)
            if not self._models_page(await self._transport.send(request), request, per_page, seen):
                break
        return self._of_task(seen.values(), task)
