"""Workers AI endpoints: ``/ai/run/{model}``, the OpenAI-compatible ``/ai/v1/*`` routes and
model discovery, answering with the local engines in Cloudflare's response shapes.

``/ai/run`` looks the model up in the library's table (5007 when unknown), reads the body in
the forms its schema takes (``inputs``), validates it against the input schema (5006), and
answers text generation and embeddings here, every other task with the engine of its task
(``tasks.ENGINES``)."""

from __future__ import annotations

import dataclasses
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import numpy as np
import orjson
from jsonschema.exceptions import best_match
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cloudflare_ai.models import ModelInfo, get_model, iter_models
from cloudflare_ai.tokens import estimate_tokens

from . import (
    chat_vision,
    embeddings,
    engines,
    errors,
    evaluators,
    inputs,
    react,
    sse,
    structured,
    tasks,
    textgen,
)
from .engine_io import TaskCall
from .errors import ApiError, bad_input, envelope, json_response

try:
    from importlib.metadata import version as _version

    PACKAGE_VERSION = _version("cloudflare-ai")
except Exception:  # pragma: no cover - source checkout without metadata
    PACKAGE_VERSION = "0.0.0"

LOCAL_ENGINE = f"cloudflare-ai-local/{PACKAGE_VERSION}"
DEFAULT_MAX_TOKENS = 256
#: The tasks answered in this module; every other task by ``tasks.ENGINES``.
TEXT_TASKS = ("text-generation", "text-embeddings")
_QUEUE: dict[str, dict[str, Any]] = {}
_QUEUE_ENGINE: dict[str, str] = {}  # request id -> the engine that answered


def engine_header(engine: str) -> str:
    return f"{engine} ({LOCAL_ENGINE})"


@dataclass(slots=True)
class AiOutcome:
    """A Workers AI answer before it becomes an HTTP response: a JSON body, an SSE stream or
    raw media (an image or audio body with its content type)."""

    engine: str
    body: Any = None
    #: SSE events: a list, or an iterator that blocks while a local model generates (read
    #: in a worker thread; see ``sse.stream_events``).
    events: Iterable[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    media: bytes | None = None
    media_type: str = "application/octet-stream"

    def response(self) -> Response:
        headers = {"x-local-engine": engine_header(self.engine), **self.headers}
        if self.media is not None:
            return Response(self.media, media_type=self.media_type, headers=headers)
        if self.events is not None:
            return StreamingResponse(
                sse.stream_events(self.events), media_type="text/event-stream", headers=headers
            )
        return json_response(self.body, headers=headers)

    def iter_events(self) -> Iterator[bytes]:
        return iter(self.events or [])

    def materialized(self) -> AiOutcome:
        """This outcome with its events read to the end (the gateway logs and caches whole
        bodies, so it cannot pass a live stream through)."""
        if self.events is not None and not isinstance(self.events, list):
            self.events = list(self.events)
        return self


def stream_body(outcome: AiOutcome) -> AsyncIterator[bytes]:
    return sse.stream_events(outcome.events or [])


# --- validation ------------------------------------------------------------------------------


def _any_of(node: Any) -> Any:
    """Copy of a schema with every ``oneOf`` read as ``anyOf``.

    The catalog's "Async Batch" variants have no ``required`` list, so every object matches
    them and a strict ``oneOf`` would reject all valid bodies. UNCERTAIN: how Cloudflare's own
    validator treats this; accepting the first matching variant is what the service does.
    """
    if isinstance(node, Mapping):
        out = {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in node.items()}
        props = out.get("properties")
        if isinstance(props, Mapping) and "requests" in props and "required" not in out:
            out["required"] = ["requests"]  # the batch variant needs its one field
        return out
    if isinstance(node, list):
        return [_any_of(v) for v in node]
    return node


_VALIDATORS: dict[tuple[str, int], tuple[Mapping[str, Any], Any]] = {}


def _validator(info: ModelInfo) -> Any:
    """The input validator of a model, kept per (name, schema object)."""
    key = (info.name, id(info.input_schema))
    cached = _VALIDATORS.get(key)
    if cached is None or cached[0] is not info.input_schema:
        schema = _any_of(info.input_schema)
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        cached = _VALIDATORS[key] = (info.input_schema, cls(schema))
    return cached[1]


def require_model(model: str) -> ModelInfo:
    info = get_model(model)
    if info is None:
        raise ApiError(errors.NO_SUCH_MODEL, model=model)
    return info


def validate_input(info: ModelInfo, body: Any) -> None:
    if not isinstance(body, dict):
        raise bad_input("Error: Type mismatch of '/', 'object' not in types")
    found = list(_validator(info).iter_errors(body))
    root = [e for e in found if e.validator == "anyOf" and not e.absolute_path]
    err = root[0] if root else best_match(found)
    if err is not None:
        raise bad_input(f"Error: {_describe(err)}")


def _where(err: jsonschema.ValidationError) -> str:
    return "/" + "/".join(str(p) for p in err.absolute_path)


def _describe(err: jsonschema.ValidationError) -> str:
    """A message in the style of Cloudflare's validator (``required properties at '/' ...``)."""
    if err.validator == "anyOf" and err.context:
        parts = [_describe(sub) for sub in err.context if sub.validator != "anyOf"]
        return f"oneOf at '{_where(err)}' not met, 0 matches: " + ", ".join(dict.fromkeys(parts))
    if err.validator == "required":
        return f"required properties at '{_where(err)}' are {err.message.split(' is ')[0]}"
    if err.validator == "type":
        return f"Type mismatch of '{_where(err)}', {err.validator_value!r} not in types"
    return f"{err.message} at '{_where(err)}'"


# --- embeddings ------------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def embed_texts(info: ModelInfo, texts: list[str], pooling: str = "mean") -> np.ndarray[Any, Any]:
    """Embed ``texts``, refusing the whole request (5006) when one is longer than the model's
    ``max_input_tokens`` as Cloudflare does. Tokens are counted with the library's
    conservative estimate, so the emulator is at least as strict as the real tokenizer on
    ordinary text and accepts exactly what the client's truncation produces. UNCERTAIN:
    Cloudflare's exact error text for an over-long input."""
    limit = info.max_input_tokens
    if limit:
        for i, text in enumerate(texts):
            tokens = estimate_tokens(text)
            if tokens > limit:
                raise bad_input(
                    f"input {i} is longer than the maximum of {limit} tokens ({tokens} tokens)"
                )
    dims = info.dimensions or 768
    if engines.using_models():
        from .models import embedder

        return embedder.model().embed(texts, dims, pooling)
    return embeddings.embedder_for(info.name, dims, pooling).embed(texts)


def embedding_engine() -> str:
    """The name of the engine that embeds this request's texts."""
    if engines.using_models():
        from .models import embedder

        return embedder.ENGINE_NAME
    return embeddings.ENGINE_NAME


def _embedding_result(info: ModelInfo, body: Mapping[str, Any]) -> dict[str, Any]:
    if "queries" in body or "documents" in body:
        # UNCERTAIN: how qwen3-embedding combines both; queries come first here.
        texts = _as_list(body.get("queries")) + _as_list(body.get("documents"))
        texts += _as_list(body.get("text"))
    elif "contexts" in body:
        contexts = [str(c.get("text", "")) for c in body["contexts"] if isinstance(c, dict)]
        ctx = embed_texts(info, contexts)
        if isinstance(body.get("query"), str):
            q = embed_texts(info, [body["query"]])[0]
            scores = ctx @ q
            order = np.argsort(-scores, kind="stable")
            return {"response": [{"id": int(i), "score": float(scores[i])} for i in order]}
        return {"response": ctx, "shape": list(ctx.shape)}
    else:
        texts = _as_list(body.get("text"))
    if not texts:
        raise bad_input("Error: required properties at '/' are 'text'")
    pooling = str(body.get("pooling", "mean"))
    matrix = embed_texts(info, texts, pooling)
    result: dict[str, Any] = {"shape": list(matrix.shape), "data": matrix}
    if "pooling" in json.dumps(dict(info.input_schema)):
        result["pooling"] = pooling
    return result


# --- text generation -------------------------------------------------------------------------


def _json_schema_of(body: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | None]:
    """(json mode requested?, schema or None) from response_format / guided_json."""
    guided = body.get("guided_json")
    if isinstance(guided, Mapping):
        return True, guided
    fmt = body.get("response_format")
    if not isinstance(fmt, Mapping) or fmt.get("type") not in ("json_object", "json_schema"):
        return False, None
    schema = fmt.get("json_schema")
    if isinstance(schema, Mapping):
        inner = schema.get("schema")
        if isinstance(inner, Mapping) and set(schema) <= {
            "name",
            "schema",
            "strict",
            "description",
        }:
            schema = inner  # an OpenAI wrapper: accepted leniently
        return True, schema
    return True, None


def _max_tokens(body: Mapping[str, Any]) -> int:
    value = body.get("max_tokens", body.get("max_completion_tokens"))
    return value if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_MAX_TOKENS


def check_context_window(info: ModelInfo, body: Mapping[str, Any]) -> None:
    """Refuse a text-generation request whose prompt tokens plus requested output tokens
    (``max_tokens``, 256 when absent) exceed the model's ``context_window`` from the catalog,
    as Cloudflare's inference servers do before generating anything. Prompt tokens are
    :func:`textgen.count_tokens` of every message's text, the count the deterministic
    engine's usage reports (on engine="models" usage is the local model's own count, chat
    template included); chat-template and tool-schema tokens are not counted here. A model
    the catalog gives no context window is not checked.

    UNCERTAIN: Cloudflare's documents are silent on this error. Third-party reports
    (cloudflare-docs issue 29731) show HTTP 400 with vLLM's "This model's maximum context
    length is N tokens" and the prompt and output counts after ``AiError:``; the code is not
    shown, so 5006 (bad input, also used for over-long embedding inputs) is our choice. Also
    UNCERTAIN: whether an absent ``max_tokens`` counts as 256 or as the model's own default."""
    window = info.context_window
    if not window:
        return
    prompt = textgen.conversation_from(body).prompt_tokens
    requested = max(_max_tokens(body), 0)
    if prompt + requested > window:
        raise bad_input(
            f"This model's maximum context length is {window} tokens: the prompt has {prompt} "
            f"tokens and max_tokens asks for {requested} more ({prompt + requested} in all). "
            f"Shorten the prompt or lower max_tokens."
        )


@dataclass(slots=True)
class Generation:
    """What the text engine produced for one request."""

    completion: textgen.Completion
    json_value: Any = None
    json_mode: bool = False
    tool_call: structured.ToolCall | None = None
    question: str = ""
    engine: str = textgen.ENGINE_NAME
    #: A local model's answer still being generated (streamed requests on engine="models");
    #: ``completion`` is then filled in when the stream ends.
    live: Any = None


def _reasoning(model: str, gen: Generation) -> str | None:
    """A short, deterministic stand-in for the thinking of reasoning models (qwen3, gpt-oss),
    which send it as ``reasoning_content`` before the answer."""
    info = get_model(model)
    if info is None or not info.reasoning or gen.tool_call is not None:
        return None
    topic = gen.question.strip() or "the request"
    if gen.engine != textgen.ENGINE_NAME:
        return f"The user asks: {topic} I will answer it."
    return f"The user asks: {topic} I will answer from the sentences that share its words."


def generate(
    body: Mapping[str, Any],
    stop: list[str] | None = None,
    seen: chat_vision.Seen | None = None,
    *,
    stream: bool = False,
    allow_model: bool = True,
) -> Generation:
    """The answer to a text-generation request; ``seen`` describes its images (vision
    models): the question's images are described in the answer, earlier ones are context.

    On engine="models" a plain text answer comes from the local model (live, when
    ``stream``); tool calls, JSON, ReAct steps and image descriptions stay deterministic, as
    does every answer when ``allow_model`` is False (other providers' stand-ins)."""
    conv = textgen.conversation_from(body)
    if seen:
        context = "\n".join(text for text in (seen.context(), conv.context) if text)
        conv = dataclasses.replace(conv, context=context)
    if react.is_react(body):
        text = react.reply(body)
        comp = textgen.complete(text, conv.prompt_tokens, _max_tokens(body), stop or [])
        return Generation(comp, question=conv.question)
    tools = structured.parse_tools(body.get("tools"))
    called = structured.called_tools(body.get("messages"))
    call = structured.choose_tool_call(tools, body.get("tool_choice"), conv, called)
    json_mode, schema = _json_schema_of(body)
    if call is not None:
        args_text = orjson.dumps(call.arguments).decode()
        comp = textgen.Completion(textgen.pieces(args_text), "tool_calls", conv.prompt_tokens)
        return Generation(comp, tool_call=call, question=conv.question)
    if json_mode:
        if schema is None:  # json_object: the prompt may describe the shape it wants
            schema, conv = structured.prompt_shape(conv, body.get("messages"))
        if schema is not None:
            value = structured.instance_for(schema, conv)
        else:  # nothing to go by: the answer under one key
            value = {"answer": textgen.answer(conv)}
        text = orjson.dumps(value).decode()
        comp = textgen.Completion(textgen.pieces(text), "stop", conv.prompt_tokens)
        return Generation(comp, json_value=value, json_mode=True, question=conv.question)
    if seen is not None and seen.current:
        text = seen.reply()
    elif allow_model and engines.using_models():
        earlier = seen.context() if seen else ""
        return _model_generation(body, conv, stop or [], stream, earlier)
    else:
        text = textgen.answer(conv)
    comp = textgen.complete(text, conv.prompt_tokens, _max_tokens(body), stop or [])
    return Generation(comp, question=conv.question)


def _tool_names(messages: list[Any]) -> dict[str, str]:
    """Tool-call id -> function name, from the assistant's earlier calls."""
    names: dict[str, str] = {}
    for msg in messages:
        calls = msg.get("tool_calls") if isinstance(msg, Mapping) else None
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, Mapping):
                function = call.get("function")
                name = function.get("name") if isinstance(function, Mapping) else call.get("name")
                if isinstance(call.get("id"), str) and isinstance(name, str):
                    names[call["id"]] = name
    return names


def _model_messages(body: Mapping[str, Any], earlier_images: str = "") -> list[dict[str, str]]:
    """The request's conversation as the plain role/content turns SmolLM2's chat template
    takes: text parts only; tool results and the assistant's calls become text, and the
    descriptions of images from earlier turns (vision models) a system message."""
    messages = body.get("messages")
    out: list[dict[str, str]] = []
    if earlier_images:
        out.append({"role": "system", "content": f"Images shown earlier: {earlier_images}"})
    if not isinstance(messages, list):
        return [*out, {"role": "user", "content": str(body.get("prompt", ""))}]
    names = _tool_names(messages)
    for msg in messages:
        if not isinstance(msg, Mapping):
            continue
        role = str(msg.get("role", "user"))
        text = textgen.message_text(msg.get("content"))
        if role == "tool":
            name = msg.get("name") or names.get(str(msg.get("tool_call_id"))) or "the tool"
            out.append({"role": "user", "content": f"Result of {name}: {text}"})
        elif role == "assistant" and msg.get("tool_calls"):
            calls = orjson.dumps(msg["tool_calls"]).decode()
            out.append({"role": "assistant", "content": text or f"(called {calls})"})
        elif role in ("system", "developer"):
            out.append({"role": "system", "content": text})
        else:
            out.append({"role": "assistant" if role == "assistant" else "user", "content": text})
    return out or [{"role": "user", "content": ""}]


def _model_generation(
    body: Mapping[str, Any],
    conv: textgen.Conversation,
    stop: list[str],
    stream: bool,
    earlier_images: str = "",
) -> Generation:
    """The answer of the real local text model (engine="models"); a streamed one is returned
    while it is being generated (``Generation.live``)."""
    from .models import chat

    if _max_tokens(body) <= 0:  # nothing to generate: the prompt is still counted
        empty = textgen.Completion([], "length", conv.prompt_tokens)
        return Generation(empty, question=conv.question, engine=chat.ENGINE_NAME)
    model = chat.model()
    messages = _model_messages(body, earlier_images)
    try:
        if stream:
            live = chat.PieceStream(
                model, messages, max_tokens=_max_tokens(body), stop=stop, options=body
            )
            pending = textgen.Completion([], "stop", 0)
            return Generation(pending, question=conv.question, engine=chat.ENGINE_NAME, live=live)
        answer = model.chat(messages, max_tokens=_max_tokens(body), stop=stop, options=body)
    except chat.ContextTooLongError as exc:
        raise bad_input(
            f"The local text model (SmolLM2-135M, engine='models') holds at most "
            f"{chat.CONTEXT_TOKENS} tokens and this request does not fit ({exc}). Shorten the "
            "prompt or lower max_tokens, or use the deterministic engine for long contexts."
        ) from exc
    comp = textgen.Completion(
        answer.pieces, answer.finish_reason, answer.prompt_tokens, answer.completion_tokens
    )
    return Generation(comp, question=conv.question, engine=chat.ENGINE_NAME)


def _chat_id() -> str:
    return f"id-{int(time.time() * 1000)}"


def _declares(model: str, field: str) -> bool:
    """Whether the model's published output schema names ``field`` (newer chat models require
    ``refusal`` in every message)."""
    info = get_model(model)
    return info is not None and f'"{field}"' in json.dumps(info.output_schema)


def _chat_completion(model: str, gen: Generation, openai_route: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    if gen.tool_call is not None:
        message["content"] = None
        message["tool_calls"] = [_openai_tool_call(gen.tool_call)]
    else:
        # The recording shows json_schema content as the object itself, not a string.
        message["content"] = gen.json_value if gen.json_mode else gen.completion.text
    reasoning = _reasoning(model, gen)
    if reasoning:
        message["reasoning_content"] = reasoning
    if openai_route or _declares(model, "refusal"):
        message["refusal"] = None
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": gen.completion.finish_reason,
    }
    if not openai_route:
        choice["stop_reason"] = None
    body: dict[str, Any] = {
        "id": _chat_id() if openai_route else f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    # UNCERTAIN: the JSON-mode recording has no usage; plain answers get one (OpenAI clients
    # expect it).
    if not (openai_route and gen.json_mode):
        body["usage"] = gen.completion.usage()
    return body


def _openai_tool_call(call: structured.ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()},
    }


def _finish_live(gen: Generation) -> None:
    """Fill ``gen.completion`` from its live stream once the stream has ended."""
    answer = gen.live.answer
    if answer is not None:
        gen.completion = textgen.Completion(
            answer.pieces, answer.finish_reason, answer.prompt_tokens, answer.completion_tokens
        )


def _live_classic_events(gen: Generation) -> Iterator[bytes]:
    rng = random.Random()
    for piece in gen.live:
        yield sse.event({"response": piece, "p": sse.padding(rng)})
    _finish_live(gen)
    if gen.completion.finish_reason != "stop":
        yield sse.event({"response": "", "finish_reason": gen.completion.finish_reason})
    yield sse.event({"response": "", "usage": gen.completion.usage()})
    yield sse.DONE


def _classic_events(gen: Generation) -> Iterable[bytes]:
    if gen.live is not None:
        return _live_classic_events(gen)
    rng = random.Random()
    out: list[bytes] = []
    if gen.tool_call is not None:
        call = _openai_tool_call(gen.tool_call)
        out.append(sse.event({"tool_calls": [{**call, "index": 0}]}))
        out.append(sse.event({"finish_reason": "tool_calls"}))
    else:
        for piece in gen.completion.pieces:
            out.append(sse.event({"response": piece, "p": sse.padding(rng)}))
        if gen.completion.finish_reason != "stop":
            out.append(sse.event({"response": "", "finish_reason": gen.completion.finish_reason}))
    out.append(sse.event({"response": "", "usage": gen.completion.usage()}))
    out.append(sse.DONE)
    return out


def _chunk_events(model: str, gen: Generation, openai_route: bool) -> Iterable[bytes]:
    events = _iter_chunk_events(model, gen, openai_route)
    return events if gen.live is not None else list(events)


def _iter_chunk_events(model: str, gen: Generation, openai_route: bool) -> Iterator[bytes]:
    chat_id = _chat_id() if openai_route else f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict[str, Any]) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if not openai_route:
            choice.update(logprobs=None, finish_reason=None)
        return sse.event(
            {
                "id": chat_id,
                "created": created,
                "model": model,
                "object": "chat.completion.chunk",
                "choices": [choice],
            }
        )

    if gen.tool_call is not None:
        call = {"index": 0, **_openai_tool_call(gen.tool_call)}
        yield chunk({"role": "assistant", "content": None, "tool_calls": [call]})
    else:
        reasoning = _reasoning(model, gen)
        if reasoning:
            for piece in textgen.pieces(reasoning):
                yield chunk({"reasoning_content": piece})
        for piece in gen.live if gen.live is not None else gen.completion.pieces:
            yield chunk({"content": piece})
        if gen.live is not None:
            _finish_live(gen)
    final: dict[str, Any] = {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": gen.completion.finish_reason}],
        "usage": gen.completion.usage(),
    }
    yield sse.event(final)
    if not openai_route:
        yield sse.event({"response": "", "usage": gen.completion.usage()})
    yield sse.DONE


# --- /ai/run ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunBody:
    """A ``/ai/run`` request body as received: bytes, content type, and multipart fields."""

    raw: bytes
    content_type: str = "application/json"
    form: dict[str, str | bytes] | None = None


async def read_run_body(request: Request) -> RunBody:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return RunBody(raw, content_type)
    fields: dict[str, str | bytes] = {}
    try:
        async with request.form() as form:
            for key, value in form.multi_items():
                fields[key] = await value.read() if isinstance(value, UploadFile) else value
    except HTTPException as exc:
        raise bad_input(f"Error: the multipart body could not be read ({exc.detail})") from exc
    return RunBody(raw, content_type, fields)


def wants_stream(request: RunBody) -> bool:
    """Whether a ``/ai/run`` body asks for an SSE stream (``"stream": true`` in JSON)."""
    if b'"stream"' not in request.raw or request.form is not None:
        return False
    try:
        body = orjson.loads(request.raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


def run_http(model: str, request: RunBody, query: Mapping[str, str]) -> AiOutcome:
    """Answer ``POST /ai/run/{model}`` from the body as sent: JSON, raw binary (audio or an
    image, for models whose schema takes one) or ``multipart/form-data`` (see ``inputs``)."""
    info = require_model(model)
    kind = request.content_type.split(";")[0].strip().lower()
    body: Any
    if kind == "multipart/form-data":
        body = inputs.from_form(info.input_schema, request.form or {})
    elif kind in ("", "application/json", "text/plain") or kind.endswith("+json"):
        try:
            body = orjson.loads(request.raw)
        except orjson.JSONDecodeError as exc:
            if kind == "" and inputs.binary_field(info.input_schema):
                body = inputs.from_binary(info.input_schema, request.raw, kind, query)
            else:
                raise bad_input("Error: request body is not valid JSON") from exc
    else:
        body = inputs.from_binary(info.input_schema, request.raw, kind, query)
    return run_model(model, body, query)


def run_model(model: str, body: Any, query: Mapping[str, str] | None = None) -> AiOutcome:
    """Answer ``POST /ai/run/{model}`` for a decoded body (also used by the AI Gateway)."""
    info = require_model(model)
    query = query or {}
    if isinstance(body, dict) and query.get("queueRequest") in ("true", "1"):
        return _queued(info, body)
    validate_input(info, inputs.schema_view(body))
    assert isinstance(body, dict)
    if "requests" in body and isinstance(body["requests"], list):
        # Answers in a batch are whole: a stream asked for inside one is not kept open.
        done = [run_model(model, _unstreamed(req)) for req in body["requests"]]
        engine = done[0].engine if done else textgen.ENGINE_NAME
        return AiOutcome(engine, envelope({"responses": [_json_result(o) for o in done]}))
    if evaluators.is_evaluator(info.input_schema, info.output_schema):
        return AiOutcome(evaluators.ENGINE_NAME, envelope(evaluators.evaluate(info.name, body)))
    if info.task in tasks.ENGINES:
        call = TaskCall(info.name, body, info.input_schema, info.output_schema)
        answer = tasks.run_task(info.task, call)
        if answer.media is not None:
            return AiOutcome(
                answer.engine,
                headers=answer.headers,
                media=answer.media,
                media_type=answer.media_type,
            )
        return AiOutcome(answer.engine, envelope(answer.result), headers=answer.headers)
    if info.task not in TEXT_TASKS:
        raise ApiError(errors.NO_SUCH_MODEL, model=model)  # a task without a local engine
    if info.is_embedding:
        return AiOutcome(embedding_engine(), envelope(_embedding_result(info, body)))
    stream = body.get("stream") is True
    json_mode, _ = _json_schema_of(body)
    if stream and json_mode:
        raise ApiError(errors.JSON_STREAM)
    check_context_window(info, body)
    gen = generate(body, seen=chat_vision.images_seen(info, body), stream=stream)
    engine = gen.engine
    if info.output_style == "chat.completion":
        if stream:
            return AiOutcome(engine, events=_chunk_events(model, gen, openai_route=False))
        return AiOutcome(engine, envelope(_chat_completion(model, gen, openai_route=False)))
    if stream:
        return AiOutcome(engine, events=_classic_events(gen))
    result: dict[str, Any] = {"response": gen.json_value if gen.json_mode else gen.completion.text}
    if gen.tool_call is not None:
        result["response"] = ""
        result["tool_calls"] = [{"name": gen.tool_call.name, "arguments": gen.tool_call.arguments}]
    result["usage"] = gen.completion.usage()
    return AiOutcome(engine, envelope(result))


def _unstreamed(request: Any) -> Any:
    if isinstance(request, dict) and "stream" in request:
        return {k: v for k, v in request.items() if k != "stream"}
    return request


def _json_result(outcome: AiOutcome) -> Any:
    if outcome.media is not None:
        # UNCERTAIN: how Cloudflare returns binary answers inside a batch.
        raise bad_input("Error: models that answer with binary data cannot be batched locally")
    return outcome.body["result"]


def _queued(info: ModelInfo, body: dict[str, Any]) -> AiOutcome:
    """Async batch: results are computed at once and kept until polled."""
    if isinstance(body.get("request_id"), str):
        stored = _QUEUE.get(body["request_id"])
        if stored is None:
            raise bad_input(f"unknown request_id {body['request_id']}")
        return AiOutcome(_QUEUE_ENGINE[body["request_id"]], envelope(stored))
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise bad_input("Error: required properties at '/' are 'requests'")
    responses = []
    engine = textgen.ENGINE_NAME
    for i, req in enumerate(requests):
        if not isinstance(req, dict):
            raise bad_input(f"Error: Type mismatch of '/requests/{i}', 'object' not in types")
        ref = req.get("external_reference")
        clean = _unstreamed({k: v for k, v in req.items() if k != "external_reference"})
        outcome = run_model(info.name, clean)
        engine = outcome.engine
        result = _json_result(outcome)
        responses.append({"id": i, "result": result, "success": True, "external_reference": ref})
    request_id = str(uuid.uuid4())
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for r in responses:
        for k in usage:
            found = r["result"].get("usage", {}) if isinstance(r["result"], dict) else {}
            usage[k] += int(found.get(k, 0))
    _QUEUE[request_id] = {"responses": responses, "usage": usage}
    _QUEUE_ENGINE[request_id] = engine
    return AiOutcome(
        engine,
        envelope({"status": "queued", "request_id": request_id, "model": info.name}),
    )


# --- OpenAI compatible -----------------------------------------------------------------------


def _check_chat_body(body: Any) -> ModelInfo:
    if not isinstance(body, dict):
        raise bad_input("Error: Type mismatch of '/', 'object' not in types")
    model = body.get("model")
    if not isinstance(model, str):
        raise bad_input("Error: required properties at '/' are 'model'")
    info = require_model(model)
    if info.task != "text-generation":
        raise ApiError(errors.NO_SUCH_MODEL, model=model)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_input(
            "Error: oneOf at '/' not met, 0 matches: required properties at '/' are 'messages'"
        )
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise bad_input(f"Error: required properties at '/messages/{i}' are 'role'")
        content = msg.get("content")
        if not isinstance(content, str | list):
            raise bad_input(
                f"Error: oneOf at '/' not met, 0 matches: Type mismatch of "
                f"'/messages/{i}/content', 'string' not in types"
            )
    for key in ("max_tokens", "max_completion_tokens", "n"):
        if key in body and (not isinstance(body[key], int) or isinstance(body[key], bool)):
            raise bad_input(f"Error: Type mismatch of '/{key}', 'integer' not in types")
    if "tools" in body and not isinstance(body["tools"], list):
        raise bad_input("Error: Type mismatch of '/tools', 'array' not in types")
    return info


def chat_completions(body: Any) -> AiOutcome:
    """Answer ``POST /ai/v1/chat/completions`` (no envelope, OpenAI shapes)."""
    info = _check_chat_body(body)
    assert isinstance(body, dict)
    json_mode, _ = _json_schema_of(body)
    stream = body.get("stream") is True
    if stream and json_mode:
        raise ApiError(errors.JSON_STREAM)  # UNCERTAIN on /ai/v1
    check_context_window(info, body)
    seen = chat_vision.images_seen(info, body, openai_route=True)
    stop = list(textgen.stop_sequences(body.get("stop")))
    gen = generate(body, stop=stop, seen=seen, stream=stream)
    if stream:
        return AiOutcome(gen.engine, events=_chunk_events(info.name, gen, True))
    return AiOutcome(gen.engine, _chat_completion(info.name, gen, openai_route=True))


def openai_embeddings(body: Any) -> AiOutcome:
    """Answer ``POST /ai/v1/embeddings``. UNCERTAIN: OpenAI's standard shape is assumed."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise bad_input("Error: required properties at '/' are 'model', 'input'")
    info = require_model(body["model"])
    if not info.is_embedding:
        raise ApiError(errors.NO_SUCH_MODEL, model=info.name)
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, str) and t for t in raw):
        texts = list(raw)
    else:
        raise bad_input("Error: Type mismatch of '/input', 'string' or 'array' of strings")
    if not texts[0]:
        raise bad_input("Error: String is too short at '/input'")
    if info.max_batch and len(texts) > info.max_batch:
        raise bad_input(f"Error: Array is too long ({len(texts)}), maximum {info.max_batch}")
    matrix = embed_texts(info, texts)
    tokens = sum(textgen.count_tokens(t) for t in texts)
    return AiOutcome(
        embedding_engine(),
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": row}
                for i, row in enumerate(matrix)
            ],
            "model": info.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


# --- model discovery -------------------------------------------------------------------------


def _int_param(params: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(errors.BAD_REQUEST, detail=f"{key} must be an integer") from exc
    if not lo <= value <= hi:
        raise ApiError(errors.BAD_REQUEST, detail=f"{key} must be between {lo} and {hi}")
    return value


def _kebab(name: str) -> str:
    return "-".join(name.lower().split())


def search_models(params: Mapping[str, str]) -> dict[str, Any]:
    """``GET /ai/models/search``: every model of the table; ``task`` matches the catalog's
    task name ("Text-to-Image") or its kebab-case form ("text-to-image")."""
    task = _kebab(params.get("task") or "")
    needle = (params.get("search") or "").lower()
    author = (params.get("author") or "").lower()
    page = _int_param(params, "page", 1, 1, 10_000)
    per_page = _int_param(params, "per_page", 20, 1, 1000)
    found = []
    for info in iter_models():
        entry = {k: v for k, v in info.catalog.items() if k != "schema"}
        task_name = _kebab(str(entry.get("task", {}).get("name", "")))
        if task and task not in (task_name, info.task):
            continue
        if needle and needle not in info.name.lower() and needle not in info.description.lower():
            continue
        if author and f"/{author}/" not in info.name.lower():
            continue
        found.append(entry)
    chunk = found[(page - 1) * per_page : page * per_page]
    return envelope(
        chunk,
        result_info={
            "count": len(chunk),
            "page": page,
            "per_page": per_page,
            "total_count": len(found),
        },
    )


def model_schema(params: Mapping[str, str]) -> dict[str, Any]:
    name = params.get("model")
    if not name:
        raise ApiError(errors.BAD_REQUEST, detail="query parameter 'model' is required")
    info = require_model(name)
    return envelope({"input": info.input_schema, "output": info.output_schema})
