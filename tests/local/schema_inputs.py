"""Minimal schema-valid inputs for any Workers AI model, built from its input JSON Schema,
with real media (a PNG, a WAV) put where the schema takes bytes; and model table entries built
from the reference model descriptions, for models the library's table does not know yet."""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cloudflare_ai.models import ModelInfo, get_model
from cloudflare_ai_local import audio, inputs

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "workers-ai-models"

#: Meaningful values for the text fields the generator fills (required or not).
TEXTS = {
    "prompt": "a red apple on a white table",
    "text": "I love this wonderful library, the examples work great.",
    "input_text": (
        "The Eiffel Tower is in Paris. It was completed in 1889 for the World's Fair. "
        "Paris is the capital of France. Bananas are rich in potassium."
    ),
    "query": "When was the Eiffel Tower completed?",
}
#: Values for fields whose generic filler would be refused by the engine.
VALUES = {"target_lang": "fr", "source_lang": "en"}
CONTEXTS = [
    {"text": "Bananas are rich in potassium."},
    {"text": "The Eiffel Tower was completed in 1889."},
    {"text": "Paris is the capital of France."},
]


def kebab(task_name: str) -> str:
    return "-".join(task_name.lower().split())


def _variant(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The alternative the generator fills: the first object with a ``required`` list."""
    for key in ("oneOf", "anyOf"):
        options = [v for v in schema.get(key, []) if isinstance(v, Mapping)]
        if options:
            objects = [v for v in options if v.get("type") == "object" or "properties" in v]
            with_required = [v for v in objects if v.get("required")]
            return (with_required or objects or options)[0]
    return schema


def minimal(schema: Mapping[str, Any], name: str = "") -> Any:
    """A small instance of ``schema``: required properties, plus the known text fields."""
    schema = _variant(schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = {k: v for k, v in schema.get("properties", {}).items() if isinstance(v, Mapping)}
        keys = list(dict.fromkeys([*schema.get("required", []), *(k for k in props if k in TEXTS)]))
        return {k: minimal(props.get(k, {}), k) for k in keys}
    if kind == "array":
        return [minimal(schema.get("items", {}), name) for _ in range(schema.get("minItems", 1))]
    if kind in ("integer", "number"):
        value = schema.get("default", schema.get("minimum", 1))
        return min(value, schema["maximum"]) if "maximum" in schema else value
    if kind == "boolean":
        return False
    if name in TEXTS or name in VALUES:
        return TEXTS.get(name) or VALUES[name]
    if schema.get("pattern") == "^[0-9]+$":
        return "16000"
    return schema.get("default", "x" * max(int(schema.get("minLength", 1)), 1))


def sample_png(width: int = 96, height: int = 64) -> bytes:
    """White, with a red square right of the centre."""
    img = Image.new("RGB", (width, height), "white")
    img.paste((220, 20, 30), (width // 2, height // 4, width // 2 + height // 2, 3 * height // 4))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def sample_wav(seconds: float = 1.6, text: str | None = None, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = np.rint(8000 * np.sin(2 * math.pi * 220 * t)).astype(np.int16)
    return audio.wav_bytes(tone, rate, text)


def _property(schema: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for key in ("oneOf", "anyOf"):
        for v in schema.get(key, []):
            if isinstance(v, Mapping) and name in v.get("properties", {}):
                return dict(v["properties"][name])
    return dict(schema.get("properties", {}).get(name, {}))


def in_schema_form(data: bytes, node: Mapping[str, Any], content_type: str) -> Any:
    """``data`` as the schema node takes it: 0-255 array, base64 string or ``{body, ...}``."""
    forms = [node, *[v for v in node.get("oneOf", []) if isinstance(v, Mapping)]]
    if any(f.get("type") == "array" for f in forms):
        return list(data)
    if any("body" in f.get("properties", {}) for f in forms):
        return {"body": data, "contentType": content_type}
    return base64.b64encode(data).decode()


def body_for(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A request body for a reference model: schema-valid, with media where it takes bytes."""
    schema = entry["schema"]["input"]
    task = kebab(entry["task"]["name"])
    if inputs.takes_multipart(schema):
        return inputs.from_form(schema, {"prompt": TEXTS["prompt"], "width": "96", "height": "64"})
    body = minimal(schema)
    assert isinstance(body, dict)
    if "contexts" in body:
        body["contexts"] = CONTEXTS
    for key in ("width", "height"):
        if _property(schema, key):
            body[key] = max(int(_property(schema, key).get("minimum", 0)), 64)
    if task in ("image-classification", "object-detection", "image-to-text"):
        body["image"] = in_schema_form(sample_png(), _property(schema, "image"), "image/png")
    if task in ("automatic-speech-recognition", "voice-activity-detection") and _property(
        schema, "audio"
    ):
        body["audio"] = in_schema_form(sample_wav(), _property(schema, "audio"), "audio/wav")
    return body


def reference_entries() -> list[dict[str, Any]]:
    out = []
    for path in sorted(REFERENCE.glob("*.json")):
        if path.name != "catalog.json":
            out.append(json.loads(path.read_text()))
    return out


def reference_model(entry: Mapping[str, Any]) -> ModelInfo:
    """The table's entry when it has one with a task, else one built from the reference."""
    known = get_model(entry["name"])
    task = kebab(entry["task"]["name"])
    if known is not None and known.task == task:
        return known
    return ModelInfo(
        name=entry["name"],
        task=task,  # type: ignore[arg-type]
        description=str(entry.get("description", "")),
        input_schema=entry["schema"]["input"],
        output_schema=entry["schema"]["output"],
        catalog=entry,
    )
