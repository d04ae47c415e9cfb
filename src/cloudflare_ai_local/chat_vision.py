"""Images in text-generation requests: what the local vision chat models "see".

A vision model's request carries images as ``image_url`` parts with ``data:`` URLs inside
``messages`` (llama-4-scout, mistral-small-3.1, gemma-3, ...), or as a top-level ``image``
(0-255 integers or base64) beside them (llama-3.2-11b-vision-instruct); which models are
vision models, and which form they take, is the library's rule
(``cloudflare_ai.chat_images``). Each image is decoded (5004 when the base64 is broken, 5006
when the bytes are not an image, as the image tasks do) and described by the local vision
engine (``vision.describe``: size, main colours, shapes), so answers depend on the image.

The text engine then answers with the descriptions of the images in the last user message
(or of the top-level image) when there are any: "The image shows: A 64x64 square image,
mostly red." Images of earlier messages are context for later questions. Text-only models
never see images: on ``/ai/run`` their schema refuses the parts (5006) or, for the shared
schema whose ``image`` field they ignore, the image goes unread; on ``/ai/v1`` they are
refused with 5006 (UNCERTAIN: Cloudflare's wording there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudflare_ai.chat_images import image_form
from cloudflare_ai.models import ModelInfo

from .engine_io import variants
from .errors import bad_input
from .images import open_image
from .inputs import read_bytes
from .vision import describe


@dataclass(frozen=True, slots=True)
class Seen:
    """Descriptions of a request's images: those of the question (the last user message or
    the top-level image) and those of earlier messages."""

    current: list[str] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.current or self.earlier)

    def context(self) -> str:
        return "\n".join(self.earlier + self.current)

    def reply(self) -> str:
        if len(self.current) == 1:
            return f"The image shows: {self.current[0]}"
        return " ".join(f"Image {n}: {text}" for n, text in enumerate(self.current, start=1))


def _declares_image(info: ModelInfo) -> bool:
    return any(
        isinstance(v.get("properties"), Mapping) and "image" in v["properties"]
        for v in variants(info.input_schema)
    )


def _parts(content: Any) -> list[Any]:
    if isinstance(content, list):
        return content
    return [content] if isinstance(content, Mapping) else []


def _describe_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith("data:"):
        # The schemas' pattern; their description adds "HTTP URL will not be accepted".
        raise bad_input(f"Error: String does not match pattern ^data:* at '{where}'")
    return describe(open_image(read_bytes(url, where), where))


def images_seen(info: ModelInfo, body: Mapping[str, Any], *, openai_route: bool = False) -> Seen:
    """Describe the images of a (schema-valid) text-generation request."""
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    with_images = [
        (i, j, part)
        for i, message in enumerate(messages)
        if isinstance(message, Mapping)
        for j, part in enumerate(_parts(message.get("content")))
        if isinstance(part, Mapping) and part.get("type") == "image_url"
    ]
    top = body.get("image") if not openai_route else None
    form = image_form(info.name)
    if form is None:
        if with_images and openai_route:
            raise bad_input(f"Error: {info.name} does not accept image input")
        return Seen()  # a text model: a schema-valid image is not read
    users = [
        i for i, m in enumerate(messages) if isinstance(m, Mapping) and m.get("role") == "user"
    ]
    last_user = users[-1] if users else -1
    seen = Seen()
    for i, j, part in with_images:
        value = part.get("image_url")
        url = value.get("url") if isinstance(value, Mapping) else value
        text = _describe_url(url, f"/messages/{i}/content/{j}/image_url/url")
        (seen.current if i == last_user else seen.earlier).append(text)
    if top is not None and _declares_image(info):
        seen.current.append(describe(open_image(read_bytes(top, "/image"), "/image")))
    return seen
