"""Requests and results of the Workers AI tasks beyond chat and embeddings, driven by each
model's published input JSON Schema (``get_model(name).input_schema``).

Nothing here does I/O: the functions build a :class:`Payload` (the body in the form the model's
schema asks for) and a parser for the answer, and both clients send it their own way.

How media goes on the wire is read from the schema, never from the model's name:

* a property of type ``array`` (of 0-255 numbers): the bytes as a JSON array of integers
  (whisper ``audio``; resnet, detr, llava and the Stable Diffusion img2img ``image``);
* a property of type ``string`` (``image_b64``, newer whisper's ``audio``): base64 text;
* a property that is an object ``{body, contentType}`` (the Workers binding's stream form, e.g.
  nova-3 ``audio``): over REST the bytes are the raw request body, with their content type;
* an object with a ``multipart`` property (the FLUX.2 models): a ``multipart/form-data`` body
  even for a prompt alone.

Task methods check their inputs against the schema with ``jsonschema`` before sending, so a bad
value is a :class:`~cloudflare_ai.errors.ValidationError` naming the argument, not an HTTP 400.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import orjson

from . import media
from .errors import APIError, ValidationError
from .models import ModelInfo, get_model
from .types import (
    AudioResult,
    BinaryResult,
    Box,
    Detection,
    GatewayInfo,
    ImageResult,
    Label,
    Ranked,
    RunResult,
    Transcription,
    Word,
)

T = TypeVar("T")

#: What ``/ai/run`` answered: JSON (``RunResult``) or media (``BinaryResult``).
Answer = RunResult | BinaryResult

# Defaults: the models Cloudflare's guides use for each task.
DEFAULT_IMAGE_MODEL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
DEFAULT_TRANSCRIPTION_MODEL = "@cf/openai/whisper"
DEFAULT_TRANSLATION_MODEL = "@cf/meta/m2m100-1.2b"
DEFAULT_SUMMARIZATION_MODEL = "@cf/facebook/bart-large-cnn"
DEFAULT_TEXT_CLASSIFICATION_MODEL = "@cf/huggingface/distilbert-sst-2-int8"
DEFAULT_IMAGE_CLASSIFICATION_MODEL = "@cf/microsoft/resnet-50"
DEFAULT_OBJECT_DETECTION_MODEL = "@cf/facebook/detr-resnet-50"
DEFAULT_IMAGE_TO_TEXT_MODEL = "@cf/llava-hf/llava-1.5-7b-hf"
DEFAULT_RERANK_MODEL = "@cf/baai/bge-reranker-base"
DEFAULT_SPEECH_MODEL = "@cf/deepgram/aura-1"
DEFAULT_DESCRIBE_PROMPT = "Describe this image."

#: Cloudflare's task names (``task.name`` in the catalog and the model search API).
TASK_NAMES = (
    "Text Generation",
    "Text Embeddings",
    "Text Classification",
    "Text-to-Image",
    "Text-to-Speech",
    "Automatic Speech Recognition",
    "Translation",
    "Summarization",
    "Image Classification",
    "Object Detection",
    "Image-to-Text",
)

#: Form fields of the models whose schema is ``{multipart: {body, contentType}}`` (FLUX.2): the
#: schema names no field, so these come from Cloudflare's FLUX.2 [dev] launch notes (changelog
#: 2025-11-25: prompt, input_image_0..3, steps, guidance, width and height 256-1920, seed).
#: UNCERTAIN for multipart models other than the FLUX.2 family.
MULTIPART_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "steps": {"type": "integer", "minimum": 1},
        "guidance": {"type": "number"},
        "width": {"type": "integer", "minimum": 256, "maximum": 1920},
        "height": {"type": "integer", "minimum": 256, "maximum": 1920},
        "seed": {"type": "integer"},
        **{f"input_image_{i}": {} for i in range(4)},
    },
    "required": ["prompt"],
}


def task_slug(name: str) -> str:
    """``automatic-speech-recognition`` from ``Automatic Speech Recognition`` (either form in)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


#: The model table's own tasks that Cloudflare files under another name: the reranker is
#: catalogued as "Text Classification" but takes a query and passages.
_SEARCHED_AS = {"reranking": "Text Classification"}


def task_name(task: str) -> str:
    """Cloudflare's name of a task given in either form, for the model search API (unknown
    tasks are returned as given)."""
    slug = task_slug(task)
    if slug in _SEARCHED_AS:
        return _SEARCHED_AS[slug]
    return next((name for name in TASK_NAMES if task_slug(name) == slug), task)


# --- the payload --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Media:
    """Bytes of an image or audio file read from what the caller passed, and their type."""

    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Payload:
    """One request body: JSON, or raw bytes (media or multipart) with their content type."""

    json: dict[str, Any] | None = None
    content: bytes | None = None
    content_type: str | None = None
    #: Query parameters: the other inputs of a model whose body is the raw media.
    params: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class TaskCall(Generic[T]):
    """What a task method sends and how it reads the answer."""

    model: str
    payload: Payload
    parse: Callable[[Answer], T]
    #: The call's inputs by argument name (media as :class:`Media`), for pricing it
    #: (:mod:`cloudflare_ai.metering`): prompt, text, steps, size, images, audio.
    inputs: Mapping[str, Any] = field(default_factory=dict)


def image_input(value: Any, field: str) -> Media:
    data = media.read_media(value, field=field)
    return Media(data, media.check_image(data, field=field))


def audio_input(value: Any, field: str, content_type: str | None = None) -> Media:
    data = media.read_media(value, field=field)
    return Media(data, media.check_audio(data, field=field, content_type=content_type))


def file_input(value: Any, field: str) -> Media:
    """Media of unknown purpose (in ``run`` inputs and ``options``): type sniffed."""
    data = media.read_media(value, field=field)
    kind = media.sniff_image(data) or media.sniff_audio(data) or "application/octet-stream"
    return Media(data, kind)


def model_info(model: str) -> ModelInfo:
    """The table entry of ``model`` with an input schema, or a ValidationError."""
    if not isinstance(model, str) or not model.strip():
        raise ValidationError(f"model must be a model name, got {model!r}", field="model")
    info = get_model(model)
    if info is None or not info.input_schema:
        raise ValidationError(
            f"unknown model {model!r}: the model table has no input schema for it, so its "
            "input can be neither built nor checked; call run() with the model's raw input",
            item=model,
            field="model",
        )
    return info


def check_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string, got {type(value).__name__}", field=field)
    if not value.strip():
        raise ValidationError(f"{field} must not be empty", field=field)
    return value


# --- reading the schema -------------------------------------------------------------------------


def _alternatives(schema: Any) -> list[Mapping[str, Any]]:
    if not isinstance(schema, Mapping):
        return []
    out = [schema]
    for key in ("oneOf", "anyOf"):
        out += [a for a in schema.get(key) or [] if isinstance(a, Mapping)]
    return out


def object_form(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON-object form of an input schema (the object alternative of a ``oneOf``)."""
    for alt in _alternatives(schema):
        if alt.get("type") == "object" or isinstance(alt.get("properties"), Mapping):
            return alt
    return None


def _is_binary_string(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "string" and schema.get("format") == "binary"


def is_multipart(form: Mapping[str, Any] | None) -> bool:
    props = (form or {}).get("properties")
    return isinstance(props, Mapping) and "multipart" in props


MediaForm = Literal["array", "base64", "raw"]


def media_form(prop: Any) -> MediaForm:
    """How bytes go into a property: an integer array, base64 text, or the raw body."""
    alts = _alternatives(prop)
    if any(a.get("type") == "array" for a in alts):
        return "array"
    if any(a.get("type") == "string" for a in alts):
        return "base64"
    for alt in alts:
        props = alt.get("properties")
        if isinstance(props, Mapping) and "contentType" in props and "body" in props:
            return "raw"
    # UNCERTAIN: a property of undeclared shape gets the classic Workers AI form.
    return "array"


def accepts(model: str, candidates: Sequence[str]) -> bool:
    """Whether ``model``'s input schema has one of the ``candidates`` properties."""
    form = object_form(model_info(model).input_schema)
    props = (form or {}).get("properties")
    return isinstance(props, Mapping) and any(c in props for c in candidates)


# --- building bodies ----------------------------------------------------------------------------


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def encode_multipart(fields: Sequence[tuple[str, Any]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body (encoded once, so retries resend the same bytes) and its
    content type. Media become file parts; everything else text parts."""
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields:
        if re.search(r'["\r\n]', name):
            raise ValidationError(f"form field name {name!r} is not allowed", field=name)
        if isinstance(value, Media):
            ext = media.extension_for(value.content_type) or ""
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}{ext}"\r\nContent-Type: {value.content_type}\r\n\r\n'
            )
            parts += [head.encode(), value.data, b"\r\n"]
        else:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            parts += [head.encode(), _form_text(value).encode(), b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _encode_media(value: Media, form: MediaForm) -> Any:
    if form == "array":
        import numpy as np

        # A view on the bytes, serialised by orjson (OPT_SERIALIZE_NUMPY) straight into the
        # JSON array: no list of a million Python ints in between.
        return np.frombuffer(value.data, dtype=np.uint8)
    return base64.b64encode(value.data).decode("ascii")


def _placeholder(value: Media, form: MediaForm) -> Any:
    """A small stand-in of the same JSON shape, so the schema check does not walk the bytes."""
    if form == "array":
        return [0]
    if form == "raw":
        return {"body": {}, "contentType": value.content_type}
    return "AA=="


def _raw_payload(raw: Media, rest: Mapping[str, Any]) -> Payload:
    # UNCERTAIN: the other inputs of a model whose REST body is the raw media go in the query
    # string, as Cloudflare's own AI SDK provider sends options (cloudflare-api.md §1.2).
    params = {k: _form_text(v) for k, v in rest.items()}
    return Payload(content=raw.data, content_type=raw.content_type, params=params or None)


def run_payload(model: str, inputs: Any) -> Payload:
    """The body of ``run(model, inputs)``: JSON as given, with media values put in the form the
    model's schema asks for; media alone as the raw body. Nothing is validated here."""
    if media.is_media_value(inputs) or isinstance(inputs, str):
        # A str alone is a file path (inside a mapping, a str is always text).
        return _raw_payload(file_input(inputs, "inputs"), {})
    if not isinstance(inputs, Mapping):
        raise ValidationError(
            "inputs must be a mapping (the model's input object) or media (bytes, a path, a "
            f"binary file), got {type(inputs).__name__}",
            field="inputs",
        )
    info = get_model(model)
    form = object_form(info.input_schema) if info else None
    if is_multipart(form) and "multipart" not in inputs:
        fields = [
            (str(k), file_input(v, str(k)) if media.is_media_value(v) else v)
            for k, v in inputs.items()
            if v is not None
        ]
        content, content_type = encode_multipart(fields)
        return Payload(content=content, content_type=content_type)
    if not any(media.is_media_value(v) for v in inputs.values()):
        return Payload(json=dict(inputs))
    props = (form or {}).get("properties") or {}
    body: dict[str, Any] = {}
    raw: Media | None = None
    for key, value in inputs.items():
        if not media.is_media_value(value):
            body[key] = value
            continue
        item = file_input(value, str(key))
        kind = media_form(props.get(key))
        if kind == "raw":
            raw = item
        else:
            body[key] = _encode_media(item, kind)
    return _raw_payload(raw, body) if raw is not None else Payload(json=body)


def task_payload(
    model: str,
    values: Mapping[str, Any],
    *,
    names: Mapping[str, Sequence[str]] | None = None,
    options: Mapping[str, Any] | None = None,
    form_names: Mapping[str, str] | None = None,
) -> Payload:
    """The checked body of a task call.

    ``values`` maps the method's argument names to values (None = not sent); ``names`` lists,
    per argument, the schema properties that can carry it, first match wins (``num_steps`` ->
    ``num_steps`` or ``steps``); ``options`` are more inputs under their schema names;
    ``form_names`` maps arguments to form fields for multipart models. A value the model takes
    no property for, or one its schema refuses, is a ValidationError naming the argument.
    """
    names = names or {}
    info = model_info(model)
    items: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    for key, value in (options or {}).items():
        if key in items:
            raise ValidationError(
                f"{key!r} is given both as an argument and in options", field=str(key)
            )
        if value is not None:
            items[str(key)] = file_input(value, str(key)) if media.is_media_value(value) else value
    form = object_form(info.input_schema)
    if form is None:
        return _binary_only_payload(model, info.input_schema, items)
    if is_multipart(form):
        return _multipart_payload(model, items, form_names or {})
    props = form.get("properties")
    body: dict[str, Any] = {}
    check: dict[str, Any] = {}
    field_of: dict[str, str] = {}
    raw: Media | None = None
    for argument, value in items.items():
        candidates = names.get(argument, (argument,))
        if not isinstance(props, Mapping):
            name: str | None = candidates[0]
        else:
            name = next((c for c in candidates if c in props), None)
        if name is None:
            known = ", ".join(sorted(props)) if isinstance(props, Mapping) else "none listed"
            raise ValidationError(
                f"{model} takes no {argument!r} input (its inputs: {known})", field=argument
            )
        if name in field_of:
            raise ValidationError(
                f"{field_of[name]!r} and {argument!r} both set {model}'s {name!r} input",
                field=argument,
            )
        field_of[name] = argument
        if isinstance(value, Media):
            kind = media_form(props.get(name) if isinstance(props, Mapping) else None)
            check[name] = _placeholder(value, kind)
            if kind == "raw":
                raw = value
            else:
                body[name] = _encode_media(value, kind)
        else:
            body[name] = check[name] = value
    validate(model, form, check, field_of)
    if raw is not None:
        return _raw_payload(raw, body)
    return Payload(json=body)


def _binary_only_payload(
    model: str, schema: Mapping[str, Any], items: Mapping[str, Any]
) -> Payload:
    media_items = [v for v in items.values() if isinstance(v, Media)]
    if any(_is_binary_string(a) for a in _alternatives(schema)) and len(media_items) == 1:
        rest = {k: v for k, v in items.items() if not isinstance(v, Media)}
        return _raw_payload(media_items[0], rest)
    raise ValidationError(
        f"{model}'s input schema has no form these arguments fit; call run() with its raw input",
        field="model",
    )


def _multipart_payload(
    model: str, items: Mapping[str, Any], form_names: Mapping[str, str]
) -> Payload:
    props: Mapping[str, Any] = MULTIPART_FORM["properties"]
    fields: list[tuple[str, Any]] = []
    check: dict[str, Any] = {}
    field_of: dict[str, str] = {}
    for argument, value in items.items():
        name = form_names.get(argument, argument)
        if name not in props:
            raise ValidationError(
                f"{model} takes no {argument!r} input (its form fields: {', '.join(props)})",
                field=argument,
            )
        wants_image = name.startswith("input_image_")
        if wants_image and not isinstance(value, Media):
            raise ValidationError(
                f"{argument} must be an image (bytes, a path or a binary file)", field=argument
            )
        if not wants_image and isinstance(value, Media):
            raise ValidationError(f"{argument} must be text or a number, not media", field=argument)
        if name in field_of:
            raise ValidationError(
                f"{field_of[name]!r} and {argument!r} both set {model}'s {name!r} field",
                field=argument,
            )
        field_of[name] = argument
        fields.append((name, value))
        if not wants_image:
            check[name] = value
    validate(model, MULTIPART_FORM, check, field_of)
    content, content_type = encode_multipart(fields)
    return Payload(content=content, content_type=content_type)


# --- checking against the schema ----------------------------------------------------------------


def validate(
    model: str, schema: Mapping[str, Any], instance: Mapping[str, Any], field_of: Mapping[str, str]
) -> None:
    """Raise a ValidationError naming the argument at fault when ``instance`` breaks ``schema``."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(schema).iter_errors(instance))
    if error is None:
        return
    path = list(error.absolute_path)
    name = str(path[0]) if path else _missing_property(error.message)
    argument = field_of.get(name, name)
    label = repr(argument) if argument == name else f"{argument!r} (sent as {name!r})"
    position = next((p for p in path[1:] if isinstance(p, int)), None)
    at = f" at position {position}" if position is not None else ""
    raise ValidationError(
        f"{model}: {label}{at} {_explain(error)}",
        field=argument or None,
        position=position,
    )


def _missing_property(message: str) -> str:
    found = re.match(r"'(.+?)' is a required property", message)
    return found.group(1) if found else ""


_ARTICLES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "array": "an array",
    "object": "an object",
    "boolean": "a boolean",
}


def _explain(error: Any) -> str:
    kind, limit, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        return "is required"
    if kind == "minLength":
        return "must not be empty" if limit == 1 else f"must be at least {limit} characters long"
    if kind == "maxLength":
        return f"must be at most {limit} characters long (got {len(value)})"
    if kind == "enum":
        shown = ", ".join(repr(v) for v in list(limit)[:40])
        more = ", ..." if len(limit) > 40 else ""
        return f"must be one of {shown}{more}; got {value!r}"
    if kind == "type":
        kinds = [limit] if isinstance(limit, str) else list(limit)
        wanted = " or ".join(_ARTICLES.get(k, k) for k in kinds)
        return f"must be {wanted}, got {type(value).__name__} {value!r}"[:300]
    if kind in ("minimum", "exclusiveMinimum"):
        return f"must be {'at least' if kind == 'minimum' else 'more than'} {limit}, got {value!r}"
    if kind in ("maximum", "exclusiveMaximum"):
        return f"must be {'at most' if kind == 'maximum' else 'less than'} {limit}, got {value!r}"
    if kind in ("minItems", "maxItems"):
        bound = "at least" if kind == "minItems" else "at most"
        return f"must have {bound} {limit} items, got {len(value)}"
    return str(error.message)[:300]


# --- reading answers ----------------------------------------------------------------------------


def binary_answer(
    model: str,
    data: bytes,
    content_type: str,
    *,
    gateway: GatewayInfo | None,
    request_id: str | None,
    headers: dict[str, str],
) -> BinaryResult:
    """A media answer: :class:`ImageResult` for images, :class:`AudioResult` for audio."""
    kind = media.media_type(content_type)
    cls: type[BinaryResult] = BinaryResult
    if kind.startswith("image/"):
        cls = ImageResult
    elif kind.startswith("audio/"):
        cls = AudioResult
    return cls(
        model=model,
        data=data,
        content_type=kind,
        gateway=gateway,
        request_id=request_id,
        headers=headers,
    )


def _json_result(answer: Answer, what: str) -> Any:
    if isinstance(answer, BinaryResult):
        raise APIError(
            f"{answer.model} answered {answer.content_type} where {what} (JSON) was expected",
            request_id=answer.request_id,
        )
    return answer.result


def _brief(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode() if value is not None else "nothing"
    return text if len(text) <= 200 else text[:200] + "..."


def _unexpected(answer: Answer, what: str, result: Any) -> APIError:
    return APIError(
        f"{answer.model} answered without {what}: {_brief(result)}", request_id=answer.request_id
    )


def _base64(answer: Answer, text: str, what: str) -> bytes:
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise APIError(
            f"{answer.model} answered {what} that is not valid base64", request_id=answer.request_id
        ) from None


def _decoded_media(
    answer: Answer,
    key: str,
    cls: type[BinaryResult],
    prefix: str,
    sniff: Callable[[bytes], str | None],
    fallback: str,
) -> BinaryResult:
    if isinstance(answer, BinaryResult):
        if not answer.content_type.startswith(prefix):
            raise APIError(
                f"{answer.model} answered {answer.content_type} where {prefix}* was expected",
                request_id=answer.request_id,
            )
        if isinstance(answer, cls):
            return answer
        return cls(**{name: getattr(answer, name) for name in BinaryResult.model_fields})
    result = answer.result
    encoded = result.get(key) if isinstance(result, Mapping) else None
    if not isinstance(encoded, str) or not encoded:
        raise _unexpected(answer, f"{key!r} (base64)", result)
    data = _base64(answer, encoded, key)
    return cls(
        model=answer.model,
        data=data,
        content_type=sniff(data) or fallback,
        gateway=answer.gateway,
        request_id=answer.request_id,
        usage=answer.usage,
        headers=answer.headers,
    )


def image_result(answer: Answer) -> ImageResult:
    """An image answer, binary or ``{"image": base64}`` (flux-1-schnell, lucid-origin, FLUX.2)."""
    image = _decoded_media(
        answer, "image", ImageResult, "image/", media.sniff_image, "application/octet-stream"
    )
    assert isinstance(image, ImageResult)
    return image


def audio_result(answer: Answer, fallback: str = "application/octet-stream") -> AudioResult:
    """A speech answer, binary or ``{"audio": base64}`` (melotts)."""
    audio = _decoded_media(answer, "audio", AudioResult, "audio/", media.sniff_audio, fallback)
    assert isinstance(audio, AudioResult)
    return audio


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _words(items: Any) -> list[Word]:
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("word"), str):
            out.append(Word(item["word"], _number(item.get("start")), _number(item.get("end"))))
    return out


def transcription(answer: Answer) -> Transcription:
    """Whisper's ``{text, words, vtt}``, whisper-large-v3-turbo's ``{text, segments,
    transcription_info}`` or Deepgram's ``{results: {channels: [{alternatives}]}}``."""
    result = _json_result(answer, "a transcription")
    if not isinstance(result, Mapping):
        raise _unexpected(answer, "a transcription", result)
    common = {"model": answer.model, "gateway": answer.gateway, "request_id": answer.request_id}
    raw = dict(result)
    if isinstance(result.get("results"), Mapping):  # Deepgram (nova-3)
        channels = result["results"].get("channels") or [{}]
        channel = channels[0] if isinstance(channels[0], Mapping) else {}
        alternatives = channel.get("alternatives") or [{}]
        best = alternatives[0] if isinstance(alternatives[0], Mapping) else {}
        text = best.get("transcript")
        if not isinstance(text, str):
            raise _unexpected(answer, "a transcript", result)
        # UNCERTAIN: detected_language and metadata.duration are in Deepgram's own answers but
        # not in Cloudflare's output schema for nova-3; they are read when present.
        metadata = result.get("metadata") if isinstance(result.get("metadata"), Mapping) else {}
        words = _words(best.get("words"))
        return Transcription(
            text=text,
            language=channel.get("detected_language") or None,
            words=words,
            duration=_number((metadata or {}).get("duration")),
            word_count=len(words) if words else None,
            raw=raw,
            **common,
        )
    text = result.get("text")
    if not isinstance(text, str):
        raise _unexpected(answer, "'text'", result)
    words = _words(result.get("words"))
    if not words:
        for segment in result.get("segments") or []:
            if isinstance(segment, Mapping):
                words += _words(segment.get("words"))
    info = result.get("transcription_info")
    info = info if isinstance(info, Mapping) else {}
    count = result.get("word_count")
    return Transcription(
        text=text,
        language=info.get("language") or None,
        words=words,
        vtt=result.get("vtt") if isinstance(result.get("vtt"), str) else None,
        duration=_number(info.get("duration")),
        word_count=int(count) if isinstance(count, int | float) else None,
        raw=raw,
        **common,
    )


def text_field(answer: Answer, *keys: str) -> str:
    """The first string among ``keys`` of a JSON answer (or the first of a list under it)."""
    result = _json_result(answer, "text")
    if isinstance(result, Mapping):
        for key in keys:
            value = result.get(key)
            if isinstance(value, list) and value and isinstance(value[0], str):
                value = value[0]
            if isinstance(value, str):
                return value
    raise _unexpected(answer, " or ".join(repr(k) for k in keys), result)


def labels(answer: Answer) -> list[Label]:
    """``[{label, score}]`` as :class:`Label` s, best first."""
    result = _json_result(answer, "labels")
    if not isinstance(result, list):
        raise _unexpected(answer, "a list of labels", result)
    out = [
        Label(str(item.get("label")), float(item.get("score") or 0.0))
        for item in result
        if isinstance(item, Mapping) and item.get("label") is not None
    ]
    return sorted(out, key=lambda item: item.score, reverse=True)


def detections(answer: Answer) -> list[Detection]:
    """``[{label, score, box}]`` as :class:`Detection` s, best first."""
    result = _json_result(answer, "detections")
    if not isinstance(result, list):
        raise _unexpected(answer, "a list of detections", result)
    out = []
    for item in result:
        if not isinstance(item, Mapping) or item.get("label") is None:
            continue
        box = item.get("box")
        coords = (
            [_number(box.get(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
            if isinstance(box, Mapping)
            else []
        )
        out.append(
            Detection(
                str(item["label"]),
                float(item.get("score") or 0.0),
                Box(*coords) if coords and None not in coords else None,  # type: ignore[arg-type]
            )
        )
    return sorted(out, key=lambda item: item.score, reverse=True)


def ranking(answer: Answer, passages: Sequence[str], top_k: int | None) -> list[Ranked]:
    """``{response: [{id, score}]}`` as :class:`Ranked` passages, best first."""
    result = _json_result(answer, "a ranking")
    items = result.get("response") if isinstance(result, Mapping) else None
    if not isinstance(items, list):
        raise _unexpected(answer, "'response' (a ranking)", result)
    out = []
    for item in items:
        index = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(index, int) and 0 <= index < len(passages):
            out.append(Ranked(index, float(item.get("score") or 0.0), passages[index]))
    out.sort(key=lambda item: item.score, reverse=True)
    return out[:top_k] if top_k is not None else out


# --- the task calls -----------------------------------------------------------------------------

_IMAGE_NAMES = ("image", "image_b64")


def image_call(
    model: str,
    prompt: str,
    *,
    negative_prompt: str | None,
    num_steps: int | None,
    guidance: float | None,
    seed: int | None,
    width: int | None,
    height: int | None,
    image: Any,
    mask: Any,
    strength: float | None,
    options: Mapping[str, Any] | None,
) -> TaskCall[ImageResult]:
    model_info(model)
    values = {
        "prompt": check_text(prompt, "prompt"),
        "negative_prompt": negative_prompt,
        "num_steps": num_steps,
        "guidance": guidance,
        "seed": seed,
        "width": width,
        "height": height,
        "image": None if image is None else image_input(image, "image"),
        "mask": None if mask is None else image_input(mask, "mask"),
        "strength": strength,
    }
    payload = task_payload(
        model,
        values,
        names={
            "num_steps": ("num_steps", "steps"),
            "image": _IMAGE_NAMES,
            "mask": ("mask", "mask_b64"),
        },
        options=options,
        form_names={"num_steps": "steps", "image": "input_image_0"},
    )
    return TaskCall(model, payload, image_result, {**(options or {}), **values})


def transcribe_call(
    model: str,
    audio: Any,
    *,
    language: str | None,
    prompt: str | None,
    content_type: str | None,
    options: Mapping[str, Any] | None,
) -> TaskCall[Transcription]:
    model_info(model)
    values = {
        "audio": audio_input(audio, "audio", content_type),
        "language": language,
        "prompt": prompt,
    }
    payload = task_payload(
        model, values, names={"prompt": ("initial_prompt", "prompt")}, options=options
    )
    return TaskCall(model, payload, transcription, values)


_SOURCE_NAMES = ("source_lang", "source_language")


def translate_call(
    model: str,
    text: str,
    *,
    target_lang: str,
    source_lang: str | None,
    options: Mapping[str, Any] | None,
) -> TaskCall[str]:
    model_info(model)
    check_text(text, "text")
    check_text(target_lang, "target_lang")
    if source_lang is not None:
        check_text(source_lang, "source_lang")
        # A model without a source language (indictrans2 translates from English) is fine
        # with the default "en"; any other source would be silently ignored, so it is refused.
        if source_lang == "en" and not accepts(model, _SOURCE_NAMES):
            source_lang = None
    payload = task_payload(
        model,
        {"text": text, "target_lang": target_lang, "source_lang": source_lang},
        names={"target_lang": ("target_lang", "target_language"), "source_lang": _SOURCE_NAMES},
        options=options,
    )
    return TaskCall(
        model,
        payload,
        lambda a: text_field(a, "translated_text", "translations"),
        {"text": text},
    )


def summarize_call(
    model: str, text: str, *, max_length: int | None, options: Mapping[str, Any] | None
) -> TaskCall[str]:
    model_info(model)
    payload = task_payload(
        model,
        {"text": check_text(text, "text"), "max_length": max_length},
        names={"text": ("input_text", "text")},
        options=options,
    )
    return TaskCall(
        model, payload, lambda a: text_field(a, "summary"), {"text": text, "max_length": max_length}
    )


def classify_text_call(
    model: str, text: str, *, options: Mapping[str, Any] | None
) -> TaskCall[list[Label]]:
    model_info(model)
    payload = task_payload(model, {"text": check_text(text, "text")}, options=options)
    return TaskCall(model, payload, labels, {"text": text})


def classify_image_call(
    model: str, image: Any, *, options: Mapping[str, Any] | None
) -> TaskCall[list[Label]]:
    model_info(model)
    picture = image_input(image, "image")
    payload = task_payload(
        model, {"image": picture}, names={"image": _IMAGE_NAMES}, options=options
    )
    return TaskCall(model, payload, labels, {"image": picture})


def detect_objects_call(
    model: str, image: Any, *, options: Mapping[str, Any] | None
) -> TaskCall[list[Detection]]:
    model_info(model)
    picture = image_input(image, "image")
    payload = task_payload(
        model, {"image": picture}, names={"image": _IMAGE_NAMES}, options=options
    )
    return TaskCall(model, payload, detections, {"image": picture})


def describe_image_call(
    model: str,
    image: Any,
    *,
    prompt: str,
    max_tokens: int | None,
    options: Mapping[str, Any] | None,
) -> TaskCall[str]:
    model_info(model)
    values = {
        "image": image_input(image, "image"),
        "prompt": check_text(prompt, "prompt"),
        "max_tokens": max_tokens,
    }
    payload = task_payload(model, values, names={"image": _IMAGE_NAMES}, options=options)
    return TaskCall(model, payload, lambda a: text_field(a, "description", "response"), values)


def rerank_call(
    model: str,
    query: str,
    passages: Sequence[str],
    *,
    top_k: int | None,
    options: Mapping[str, Any] | None,
) -> TaskCall[list[Ranked]]:
    model_info(model)
    check_text(query, "query")
    if isinstance(passages, str | bytes) or not isinstance(passages, Sequence):
        raise ValidationError(
            f"passages must be a list of strings, got {type(passages).__name__}",
            field="passages",
        )
    if not passages:
        raise ValidationError("passages must not be empty", field="passages")
    items = list(passages)
    for position, passage in enumerate(items):
        if not isinstance(passage, str) or not passage.strip():
            what = "empty" if isinstance(passage, str) else f"a {type(passage).__name__}"
            raise ValidationError(
                f"passage #{position} is {what}; every passage must be non-empty text",
                position=position,
                field="passages",
            )
    payload = task_payload(
        model,
        {"query": query, "passages": [{"text": p} for p in items], "top_k": top_k},
        names={"passages": ("contexts",)},
        options=options,
    )
    return TaskCall(
        model, payload, lambda a: ranking(a, items, top_k), {"query": query, "passages": items}
    )


def _output_audio_type(model: str) -> str:
    """The audio content type a model's output schema declares, for base64 answers."""
    for alt in _alternatives(model_info(model).output_schema):
        kind = alt.get("contentType")
        if isinstance(kind, str) and kind.startswith("audio/"):
            return kind
    return "application/octet-stream"


def speak_call(
    model: str,
    text: str,
    *,
    voice: str | None,
    language: str | None,
    options: Mapping[str, Any] | None,
) -> TaskCall[AudioResult]:
    model_info(model)
    payload = task_payload(
        model,
        {"text": check_text(text, "text"), "voice": voice, "language": language},
        names={
            "text": ("text", "prompt"),
            "voice": ("speaker", "voice"),
            "language": ("lang", "language"),
        },
        options=options,
    )
    fallback = _output_audio_type(model)
    return TaskCall(model, payload, lambda a: audio_result(a, fallback), {"text": text})
