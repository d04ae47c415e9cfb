"""Helpers for the task-method tests: reference model schemas, sample media, a client runner
that drives the sync or the async twin, and a multipart reader independent of the encoder."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import functools
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image

from cloudflare_ai import tasks
from cloudflare_ai.models import ModelInfo, get_model

from ._support import Recorder, ai_client, async_ai_client, envelope, json_response

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "workers-ai-models"

SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
DREAMSHAPER = "@cf/lykon/dreamshaper-8-lcm"
FLUX_SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
FLUX_KLEIN = "@cf/black-forest-labs/flux-2-klein-4b"
PHOENIX = "@cf/leonardo/phoenix-1.0"
WHISPER = "@cf/openai/whisper"
WHISPER_TURBO = "@cf/openai/whisper-large-v3-turbo"
NOVA = "@cf/deepgram/nova-3"
M2M = "@cf/meta/m2m100-1.2b"
INDICTRANS = "@cf/ai4bharat/indictrans2-en-indic-1B"
BART = "@cf/facebook/bart-large-cnn"
DISTILBERT = "@cf/huggingface/distilbert-sst-2-int8"
RESNET = "@cf/microsoft/resnet-50"
DETR = "@cf/facebook/detr-resnet-50"
LLAVA = "@cf/llava-hf/llava-1.5-7b-hf"
RERANKER = "@cf/baai/bge-reranker-base"
AURA = "@cf/deepgram/aura-1"
MELOTTS = "@cf/myshell-ai/melotts"

#: whisper-large-v3-turbo's JSON file is not among the reference copies; this input schema is
#: transcribed from its exact TypeScript type in workers-types-ai.d.ts
#: (Ai_Cf_Openai_Whisper_Large_V3_Turbo_Input: audio is a string or {body, contentType}).
WHISPER_TURBO_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "audio": {
            "anyOf": [
                {"type": "string", "description": "Base64 encoded value of the audio data."},
                {
                    "type": "object",
                    "properties": {"body": {"type": "object"}, "contentType": {"type": "string"}},
                },
            ]
        },
        "task": {"type": "string"},
        "language": {"type": "string"},
        "vad_filter": {"type": "boolean"},
        "initial_prompt": {"type": "string"},
        "prefix": {"type": "string"},
        "beam_size": {"type": "integer"},
    },
    "required": ["audio"],
}


def _info(name: str, task: str, input_schema: Any, output_schema: Any, entry: Any) -> ModelInfo:
    return ModelInfo(
        name=name,
        task=task,  # type: ignore[arg-type]
        input_schema=input_schema,
        output_schema=output_schema,
        catalog=entry,
    )


@functools.cache
def reference_models() -> dict[str, ModelInfo]:
    """Every model of tests/reference/workers-ai-models/ with its published schemas."""
    out: dict[str, ModelInfo] = {}
    for path in sorted(REFERENCE.glob("*.json")):
        if path.name == "catalog.json":
            continue
        entry = json.loads(path.read_text())
        schema = entry.get("schema") or {}
        if "input" not in schema:  # a few text-generation files publish no schema
            continue
        task = tasks.task_slug(entry["task"]["name"])
        out[entry["name"]] = _info(
            entry["name"], task, schema["input"], schema.get("output", {}), entry
        )
    out[WHISPER_TURBO] = _info(
        WHISPER_TURBO, "automatic-speech-recognition", WHISPER_TURBO_INPUT, {}, {}
    )
    return out


def use_reference_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task methods read the reference schemas first (the bundled table is being extended to
    every catalog model elsewhere), the bundled table for the rest."""

    def lookup(name: str) -> ModelInfo | None:
        return reference_models().get(name) or get_model(name)

    monkeypatch.setattr(tasks, "get_model", lookup)


# --- sample media -------------------------------------------------------------------------------


def image_bytes(
    size: tuple[int, int] = (8, 6), color: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


PNG = image_bytes()
JPEG = image_bytes(fmt="JPEG")
BLACK_PNG = image_bytes(color=(0, 0, 0))
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(64)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- answers ------------------------------------------------------------------------------------


def binary(data: bytes, content_type: str, **headers: str) -> Callable[[httpx.Request], Any]:
    return lambda r: httpx.Response(
        200, content=data, headers={"content-type": content_type, **headers}
    )


def ok(result: Any, **headers: str) -> Callable[[httpx.Request], Any]:
    return lambda r: json_response(200, envelope(result), headers or None)


# --- running either twin ------------------------------------------------------------------------


class Api:
    """One mock-backed client, sync or async, recording what it sends."""

    def __init__(self, mode: str, respond: Callable[[httpx.Request], Any], **kwargs: Any) -> None:
        self.mode = mode
        self.rec = Recorder(respond)
        self.kwargs = kwargs

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":
            with ai_client(self.rec, **self.kwargs) as client:
                return getattr(client, method)(*args, **kwargs)

        async def go() -> Any:
            async with async_ai_client(self.rec, **self.kwargs) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(go())

    @property
    def requests(self) -> list[httpx.Request]:
        return self.rec.requests

    @property
    def request(self) -> httpx.Request:
        [only] = self.rec.requests
        return only

    def body(self) -> Any:
        return orjson.loads(self.request.content)


def form_parts(request: httpx.Request) -> dict[str, tuple[bytes, str | None, str]]:
    """name -> (content, filename, content type) of a multipart/form-data request, read with
    the standard library's MIME parser (independent of the package's encoder)."""
    content_type = request.headers["content-type"]
    assert re.match(r"multipart/form-data; boundary=\S+$", content_type), content_type
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content,
        policy=email.policy.HTTP,
    )
    assert message.is_multipart() and not message.defects
    parts = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        parts[name] = (part.get_payload(decode=True), part.get_filename(), part.get_content_type())
    return parts
