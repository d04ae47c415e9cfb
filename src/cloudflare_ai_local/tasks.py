"""The local engines of every non-text-generation task, keyed by task name, and the shape of
their answers, read from each model's output schema.

An engine takes a :class:`TaskCall` (the decoded body plus the model's schemas) and returns a
:class:`TaskAnswer`: a JSON result or media bytes. :func:`run_task` then fits the answer to
the output schema:

* a binary output (``{"type": "string", "format": "binary", "contentType": ...}``) is sent as
  the raw body with that content type (SDXL's PNG, phoenix's JPEG, aura's MP3);
* media for a JSON output goes base64-encoded into the schema's ``image``/``audio`` property
  (flux-1-schnell, lucid-origin, FLUX.2, melotts);
* a JSON object result keeps only the properties the output schema declares, so one engine
  serves model variants with different output fields.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from . import images, speech, text_tasks, vision
from .engine_io import (
    Engine,
    TaskAnswer,
    TaskCall,
    binary_output_type,
    properties,
)


def _fit(result: Any, schema: Mapping[str, Any]) -> Any:
    props = properties(schema)
    if isinstance(result, dict) and props:
        return {k: v for k, v in result.items() if k in props}
    return result


def run_task(task: str, call: TaskCall) -> TaskAnswer:
    answer = ENGINES[task](call)
    if answer.media is not None and binary_output_type(call.output_schema) is None:
        props = properties(call.output_schema)
        key = next((k for k in ("image", "audio") if k in props), None) or (
            "audio" if answer.media_type.startswith("audio/") else "image"
        )
        answer.result = {key: base64.b64encode(answer.media).decode()}
        answer.media = None
    elif answer.media is None:
        answer.result = _fit(answer.result, call.output_schema)
    return answer


ENGINES: dict[str, Engine] = {
    "text-to-image": images.text_to_image,
    "automatic-speech-recognition": speech.transcribe,
    "text-to-speech": speech.speak,
    "voice-activity-detection": speech.detect_turn,
    "translation": text_tasks.translate,
    "summarization": text_tasks.summarize,
    "text-classification": text_tasks.classify,
    # bge-reranker-base: catalogued as Text Classification, told apart by the model table
    "reranking": text_tasks.classify,
    "image-classification": vision.classify_image,
    "object-detection": vision.detect_objects,
    "image-to-text": vision.describe_image,
}
