"""What one Workers AI call uses and costs: its units, estimated before sending (for budgets)
and measured from the answer (for :class:`~cloudflare_ai.types.Usage` and the trackers).

Units are the ones each model is priced by (:class:`~cloudflare_ai.costs.Units`), and
:func:`~cloudflare_ai.costs.cost_of` is the one pricing function:

* text generation: the tokens Cloudflare reports; where it reports none, input tokens by
  :func:`~cloudflare_ai.tokens.estimate_tokens` over the messages (and tools) and output
  tokens over the answer, marked ``estimated``;
* embeddings: the tokens reported (``/ai/v1``), else the estimate of the texts sent (``/ai/run``
  reports none);
* images: 512x512 tiles of the image returned (its size read with Pillow), or of the size
  asked for; steps as asked, or the schema's default; input tiles of images given (FLUX.2);
* speech recognition: the audio's seconds (the transcription's duration, else the audio's
  own length, else the last word's end); text to speech: characters of the text (and the
  seconds of WAV or MP3 audio returned, for models priced per audio minute);
* image classification and object detection: one image per request;
* translation, summaries, classification, reranking, image-to-text: estimated tokens of the
  text in and out.

Before sending, output is unknown: a chat counts ``max_tokens`` (or the model's default), an
image the size and steps asked for (or the defaults), a translation as many tokens out as in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from .costs import Cost, Units, cost_of, neurons_to_usd, tiles
from .models import ModelInfo, get_model
from .tasks import Answer, Media
from .tokens import estimate_tokens
from .types import (
    AudioResult,
    BinaryResult,
    ChatResponse,
    GatewayInfo,
    ImageResult,
    RunResult,
    Transcription,
    Usage,
)

#: ``max_tokens`` assumed for a budget estimate when neither the call nor the model's schema
#: sets one: the usual default of the text-generation schemas (cloudflare-api.md §1.3).
DEFAULT_MAX_TOKENS: Final = 256
#: Side of an image assumed when neither the call nor the schema gives a size. UNCERTAIN:
#: Cloudflare documents no default size for most image models; 1024 is what SDXL and FLUX
#: return in practice, and the answer's real size replaces this once it arrives.
DEFAULT_IMAGE_SIDE: Final = 1024
#: Default steps of models whose schema states none. UNCERTAIN: flux-1-schnell's model page
#: says 4 (maximum 8); its schema file in the reference data has no default.
_DEFAULT_STEPS: Final[dict[str, int]] = {"@cf/black-forest-labs/flux-1-schnell": 4}

_TEXT_KEYS: Final = ("text", "input_text", "prompt", "query", "passages", "contexts")


# --- pricing ----------------------------------------------------------------------------------


def price(
    model: str, units: Units, *, estimated: bool = False, reported: Usage | None = None
) -> Usage:
    """The :class:`Usage` of a call of ``model`` that used ``units``, priced by
    :func:`~cloudflare_ai.costs.cost_of`. Neurons Cloudflare ``reported`` are kept (they are
    what it billed); so are its token details."""
    cost = cost_of(model, units)
    neurons = cost.neurons if cost is not None else None
    usd = cost.usd if cost is not None else None
    if reported is not None and reported.neurons is not None:
        # Cloudflare's own count of what it billed wins; USD stays the catalog's price (or,
        # for a model without one, follows from the neurons).
        neurons = reported.neurons
        usd = usd if usd is not None else neurons_to_usd(reported.neurons)
    total = units.input_tokens + units.output_tokens
    if reported is not None and reported.total_tokens:
        total = reported.total_tokens
    return Usage(
        prompt_tokens=units.input_tokens,
        completion_tokens=units.output_tokens,
        total_tokens=total,
        cached_tokens=reported.cached_tokens if reported else None,
        reasoning_tokens=reported.reasoning_tokens if reported else None,
        neurons=neurons,
        cost_usd=usd,
        units=units,
        estimated=estimated,
        complete=cost.complete if cost is not None else True,
    )


def estimate(model: str, units: Units) -> Cost | None:
    """What a call is expected to cost before it is sent (None: the model has no price)."""
    return cost_of(model, units)


def reported_units(usage: Usage) -> Units:
    """The units of a usage Cloudflare reported (its token counts)."""
    return Units(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cached_input_tokens=usage.cached_tokens or 0,
    )


# --- text -------------------------------------------------------------------------------------


def text_tokens(value: Any) -> int:
    """Estimated tokens of text in any of the shapes calls carry: a string, a list of them,
    message content parts, passages ``{"text": ...}``. Images and other media count zero
    (UNCERTAIN: how Workers AI counts image tokens is not published)."""
    if isinstance(value, str):
        return estimate_tokens(value) if value else 0
    if isinstance(value, Mapping):
        if isinstance(value.get("text"), str):
            return text_tokens(value["text"])
        return 0
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return sum(text_tokens(item) for item in value)
    return 0


def messages_tokens(
    messages: Sequence[Mapping[str, Any]] | None,
    prompt: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Estimated input tokens of a chat: every message's text and tool calls, the prompt, and
    the tool definitions (they are part of the model's input)."""
    total = text_tokens(prompt) if prompt else 0
    for message in messages or ():
        total += text_tokens(message.get("content"))
        calls = message.get("tool_calls")
        if calls:
            total += text_tokens(orjson.dumps(calls, default=str).decode())
    if tools:
        total += text_tokens(orjson.dumps(list(tools), default=str).decode())
    return total


def _schema_default(info: ModelInfo | None, *names: str) -> Any:
    """The default of the first of ``names`` any form of the model's input schema gives."""
    if info is None:
        return None
    schema = info.input_schema
    forms = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    for name in names:
        for form in forms:
            props = form.get("properties") if isinstance(form, Mapping) else None
            prop = props.get(name) if isinstance(props, Mapping) else None
            if isinstance(prop, Mapping) and "default" in prop:
                return prop["default"]
    return None


def default_max_tokens(model: str) -> int:
    """The model's default ``max_tokens`` (its schema's), or :data:`DEFAULT_MAX_TOKENS`."""
    value = _schema_default(get_model(model), "max_tokens")
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_MAX_TOKENS


class ChatMeter:
    """The metering of one chat call, from what was asked."""

    def __init__(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None,
        prompt: str | None,
        tools: Sequence[Mapping[str, Any]] | None,
        max_tokens: int | None,
    ) -> None:
        self.model = model
        self.messages = messages
        self.prompt = prompt
        self.tools = tools
        self.max_tokens = max_tokens
        self._input: int | None = None

    @property
    def input_tokens(self) -> int:
        if self._input is None:
            self._input = messages_tokens(self.messages, self.prompt, self.tools)
        return self._input

    def estimate(self) -> Cost | None:
        """The budget estimate: the input, and ``max_tokens`` (or the default) of output."""
        output = self.max_tokens or default_max_tokens(self.model)
        return estimate(self.model, Units(input_tokens=self.input_tokens, output_tokens=output))

    def usage(self, answer: ChatResponse) -> Usage:
        """The answer's usage, priced: Cloudflare's counts, or estimates where it gave none
        (nothing billed when AI Gateway served it from its cache)."""
        if answer.usage is not None:
            usage = price(self.model, reported_units(answer.usage), reported=answer.usage)
            return unbilled_if_cached(usage, answer.gateway)
        output = text_tokens(answer.text) + text_tokens(answer.reasoning or "")
        if answer.tool_calls:
            output += text_tokens(" ".join(c.name + c.raw_arguments for c in answer.tool_calls))
        units = Units(input_tokens=self.input_tokens, output_tokens=output)
        return unbilled_if_cached(price(self.model, units, estimated=True), answer.gateway)


# --- embeddings -------------------------------------------------------------------------------


def embed_estimate(model: str, texts: Sequence[str]) -> Cost | None:
    return estimate(model, Units(input_tokens=sum(estimate_tokens(t) for t in texts)))


def embed_usage(
    model: str, batches: Sequence[Sequence[str]], reported: Sequence[Usage | None]
) -> Usage:
    """The usage of an embedding call of several batches: tokens reported per batch, or the
    estimate of the batch's texts where a batch reported none (``/ai/run`` never does)."""
    tokens = 0
    estimated = False
    for batch, usage in zip(batches, reported, strict=True):
        if usage is not None and usage.prompt_tokens:
            tokens += usage.prompt_tokens
        else:
            tokens += sum(estimate_tokens(t) for t in batch)
            estimated = True
    units = Units(input_tokens=tokens, requests=len(batches))
    return price(model, units, estimated=estimated)


# --- the other tasks (and run) --------------------------------------------------------------


def _data(value: Any) -> bytes | None:
    if isinstance(value, Media):
        return value.data
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return None


def _image_tiles(value: Any) -> int:
    data = _data(value)
    if data is None:
        return 0
    from .media import image_size

    try:
        return tiles(*image_size(data))
    except Exception:  # not an image Pillow can read: the price part stays unknown
        return 0


def _steps(info: ModelInfo | None, model: str, inputs: Mapping[str, Any]) -> int:
    for key in ("num_steps", "steps"):
        if isinstance(inputs.get(key), int):
            return int(inputs[key])
    default = _schema_default(info, "num_steps", "steps")
    if isinstance(default, int):
        return default
    return _DEFAULT_STEPS.get(model, 0)


def _asked_tiles(info: ModelInfo | None, inputs: Mapping[str, Any]) -> int:
    sides = []
    for key in ("width", "height"):
        value = inputs.get(key)
        if not isinstance(value, int):
            value = _schema_default(info, key)
        sides.append(value if isinstance(value, int) and value > 0 else DEFAULT_IMAGE_SIDE)
    return tiles(sides[0], sides[1])


def _input_tiles(inputs: Mapping[str, Any]) -> int:
    keys = [k for k in inputs if k in ("image", "image_b64") or k.startswith("input_image_")]
    return sum(_image_tiles(inputs[k]) for k in keys)


def _audio_seconds(value: Any) -> float:
    data = _data(value)
    if data is None:
        return 0.0
    from .media import audio_seconds

    return audio_seconds(data) or 0.0


def _input_text_tokens(inputs: Mapping[str, Any]) -> int:
    return sum(text_tokens(inputs[key]) for key in _TEXT_KEYS if key in inputs) + (
        messages_tokens(inputs["messages"]) if isinstance(inputs.get("messages"), list) else 0
    )


def _answer_text(answer: Answer | None, parsed: Any) -> str:
    if isinstance(parsed, str):
        return parsed
    if isinstance(answer, RunResult) and isinstance(answer.result, Mapping):
        for key in ("response", "translated_text", "summary", "description", "text"):
            value = answer.result.get(key)
            if isinstance(value, str):
                return value
    return ""


def task_estimate(model: str, inputs: Mapping[str, Any]) -> Cost | None:
    """What a task call (or ``run``) is expected to cost before it is sent."""
    info = get_model(model)
    task = info.task if info is not None else None
    units: Units
    if task == "text-to-image":
        units = Units(
            output_tiles=_asked_tiles(info, inputs),
            input_tiles=_input_tiles(inputs),
            steps=_steps(info, model, inputs),
        )
    elif task == "automatic-speech-recognition":
        units = Units(audio_seconds=_audio_seconds(inputs.get("audio")))
    elif task == "text-to-speech":
        units = Units(characters=len(str(inputs.get("text") or inputs.get("prompt") or "")))
    elif task in ("image-classification", "object-detection"):
        units = Units(images=1)
    else:
        tokens_in = _input_text_tokens(inputs)
        tokens_out = 0
        if task == "translation":
            tokens_out = tokens_in  # UNCERTAIN: a translation about as long as its source
        elif task in ("text-generation", "image-to-text"):
            asked = inputs.get("max_tokens")
            tokens_out = asked if isinstance(asked, int) else default_max_tokens(model)
        elif task == "summarization":
            asked = inputs.get("max_length")
            tokens_out = asked if isinstance(asked, int) else DEFAULT_MAX_TOKENS
        units = Units(input_tokens=tokens_in, output_tokens=tokens_out)
    return estimate(model, units)


def unbilled_if_cached(usage: Usage, gateway: GatewayInfo | None) -> Usage:
    """An answer AI Gateway served from its cache ran no model, so nothing was billed: its
    tokens are kept (what the answer is), its neurons and cost are zero. The gateway's logs
    price cache hits at zero too."""
    if gateway is None or (gateway.cache_status or "").upper() != "HIT":
        return usage
    return usage.model_copy(update={"neurons": 0.0, "cost_usd": 0.0})


def task_usage(
    model: str, inputs: Mapping[str, Any], answer: Answer | None, parsed: Any = None
) -> Usage:
    """The usage of a task call (or ``run``) from its inputs, its answer and what the answer
    was parsed into; nothing billed for an answer from AI Gateway's cache."""
    usage = _task_usage(model, inputs, answer, parsed)
    gateway = answer.gateway if isinstance(answer, RunResult | BinaryResult) else None
    return unbilled_if_cached(usage, gateway)


def _task_usage(model: str, inputs: Mapping[str, Any], answer: Answer | None, parsed: Any) -> Usage:
    info = get_model(model)
    task = info.task if info is not None else None
    reported = answer.usage if isinstance(answer, RunResult | BinaryResult) else None
    if task == "text-to-image":
        image = parsed if isinstance(parsed, ImageResult) else answer
        produced = _image_tiles(image.data) if isinstance(image, ImageResult) else 0
        units = Units(
            output_tiles=produced or _asked_tiles(info, inputs),
            input_tiles=_input_tiles(inputs),
            steps=_steps(info, model, inputs),
        )
        return price(model, units)
    if task == "automatic-speech-recognition":
        seconds = parsed.duration if isinstance(parsed, Transcription) else None
        if not seconds:
            seconds = _audio_seconds(inputs.get("audio"))
        if not seconds and isinstance(parsed, Transcription) and parsed.words:
            seconds = max((w.end or 0.0) for w in parsed.words)
        return price(model, Units(audio_seconds=float(seconds or 0.0)))
    if task == "text-to-speech":
        audio = parsed if isinstance(parsed, AudioResult) else answer
        seconds = _audio_seconds(audio.data) if isinstance(audio, BinaryResult) else 0.0
        text = str(inputs.get("text") or inputs.get("prompt") or "")
        return price(model, Units(characters=len(text), audio_seconds=seconds))
    if task in ("image-classification", "object-detection"):
        return price(model, Units(images=1))
    if reported is not None:
        return price(model, reported_units(reported), reported=reported)
    units = Units(
        input_tokens=_input_text_tokens(inputs),
        output_tokens=text_tokens(_answer_text(answer, parsed)),
    )
    return price(model, units, estimated=True)


def run_inputs(inputs: Any) -> Mapping[str, Any]:
    """The inputs of ``run`` as a mapping (media alone stands for the model's one input)."""
    if isinstance(inputs, Mapping):
        return inputs
    return {"audio": inputs, "image": inputs}


def with_usage(result: Any, usage: Usage) -> Any:
    """``result`` carrying ``usage`` when it is an object that has a place for it (plain
    strings and lists are returned as they are: their usage reaches the trackers only)."""
    if isinstance(result, BinaryResult | Transcription | RunResult):
        return result.model_copy(update={"usage": usage})
    return result


__all__ = [
    "DEFAULT_IMAGE_SIDE",
    "DEFAULT_MAX_TOKENS",
    "ChatMeter",
    "default_max_tokens",
    "embed_estimate",
    "embed_usage",
    "estimate",
    "messages_tokens",
    "price",
    "reported_units",
    "run_inputs",
    "task_estimate",
    "task_usage",
    "text_tokens",
    "with_usage",
]
