"""Images in chat messages, sent in the form each Workers AI vision model takes.

Callers (the core chat methods, and through them the LangChain and LlamaIndex adapters) put
images in messages as OpenAI-style parts, ``{"type": "image_url", "image_url": {"url": ...}}``
with a ``data:`` URL. :func:`prepare_messages` checks them before anything is sent (the
model takes images; each is a readable image of acceptable size) and shapes the request body
for the model, as its input schema says:

* **parts** (llama-4-scout, mistral-small-3.1, gemma-3 and the other models whose schema has
  ``image_url``): the parts stay inside ``messages``, each a ``data:<type>;base64,...`` URL
  ("HTTP URL will not be accepted", says the schema);
* **field** (llama-3.2-11b-vision-instruct): one image per request, as a top-level ``image``
  array of 0-255 integers beside ``messages`` whose contents are plain strings.

On ``/ai/v1/chat/completions`` (``api="openai"``) the parts form is used for every model.

Workers AI fetches nothing itself, so remote ``http(s)`` images are downloaded here first by
:func:`resolve_remote_images` / :func:`aresolve_remote_images` (the adapters call them; the
core client refuses remote URLs).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import unquote_to_bytes, urlsplit

import httpx

from .errors import ValidationError
from .media import MAX_IMAGE_BYTES, check_image
from .models import get_model

ImageForm = Literal["parts", "field"]

#: The vision chat model named in error messages.
DEFAULT_VISION_MODEL: Final = "@cf/meta/llama-4-scout-17b-16e-instruct"

#: Vision models that take the image as a top-level ``image`` field (0-255 integers or a
#: binary string) beside ``messages`` with string contents, as their catalog file's schema
#: says. The model table's ``vision`` flag is False for llama-3.2-11b-vision-instruct (its
#: catalog file declares no ``image_url`` and no ``vision`` property), and the same ``image``
#: field appears in the shared schema of text-only models (llama-3.1-70b-instruct,
#: llama-2-13b-chat-awq, ...), so the field form is known by name. UNCERTAIN: the newer
#: TypeScript types (workers-types 5.20261117.1) also allow ``image_url`` parts in this
#: model's messages; the top-level field is the form both descriptions accept.
IMAGE_FIELD_MODELS: Final = frozenset({"@cf/meta/llama-3.2-11b-vision-instruct"})

#: Seconds allowed for downloading one remote image.
DOWNLOAD_TIMEOUT: Final = 30.0

_REMOTE_SCHEMES = ("http", "https")


def image_form(model: str) -> ImageForm | None:
    """How ``model`` takes images in a chat request, or None when it takes none.

    A model the table does not know gets the parts form: Cloudflare decides."""
    if model in IMAGE_FIELD_MODELS:
        return "field"
    info = get_model(model)
    if info is None:
        return "parts"
    if info.task == "text-generation" and info.vision:
        return "parts"
    return None


def accepts_images(model: str) -> bool:
    """Whether ``model`` is a chat model that takes images (or one the table does not know)."""
    return image_form(model) is not None


def _no_images(model: str) -> ValidationError:
    info = get_model(model)
    if info is not None and info.task == "image-to-text":
        return ValidationError(
            f"{model} is an image-to-text model, not a chat model: describe images with "
            f"WorkersAIClient.describe_image(), or chat about them with a vision model such "
            f"as {DEFAULT_VISION_MODEL}",
            item=model,
        )
    return ValidationError(
        f"{model} does not take images (it is not a vision model); use a vision chat model "
        f"such as {DEFAULT_VISION_MODEL} or @cf/google/gemma-3-12b-it (ModelInfo.vision in "
        "list_models() marks the others)",
        item=model,
    )


# --- data: URLs -----------------------------------------------------------------------------


def data_url(data: bytes, *, field: str) -> str:
    """``data:<type>;base64,...`` for image bytes, after checking they are a readable image."""
    mime = check_image(data, field=field)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_url(url: str, *, field: str) -> bytes:
    """The bytes of a ``data:`` URL (base64 or percent-encoded)."""
    head, sep, payload = url.partition(",")
    if not sep or not head.lower().startswith("data:"):
        raise ValidationError(f"{field} is not a data: URL ({url[:40]!r})", field=field)
    if head.lower().endswith(";base64"):
        try:
            return base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(
                f"{field} is a data: URL whose payload is not valid base64", field=field
            ) from None
    return unquote_to_bytes(payload)


def is_remote(url: str) -> bool:
    return urlsplit(url).scheme.lower() in _REMOTE_SCHEMES


def part_url(part: Mapping[str, Any]) -> Any:
    """The URL of an ``image_url`` part (``{"url": ...}`` or, leniently, a bare string)."""
    value = part.get("image_url")
    return value.get("url") if isinstance(value, Mapping) else value


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _is_image_part(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "image_url"


def _parts(content: Any) -> list[Any] | None:
    if isinstance(content, list):
        return content
    if isinstance(content, Mapping):  # the schemas also allow one part on its own
        return [content]
    return None


def _has_images(messages: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        _is_image_part(part)
        for message in messages
        for part in _parts(message.get("content")) or []
    )


# --- downloading remote images -------------------------------------------------------------


def _download_error(url: str, field: str, reason: str) -> ValidationError:
    return ValidationError(
        f"{field}: could not download the image {url[:80]!r}: {reason}; pass the image "
        "bytes (base64) instead",
        field=field,
    )


def _check_response(response: httpx.Response, url: str, field: str, max_bytes: int) -> None:
    if response.status_code >= 400:
        raise _download_error(url, field, f"HTTP {response.status_code}")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _download_error(url, field, f"{int(declared):,} bytes (at most {max_bytes:,})")


def _add(body: bytearray, chunk: bytes, url: str, field: str, max_bytes: int) -> None:
    body += chunk
    if len(body) > max_bytes:
        raise _download_error(url, field, f"larger than {max_bytes:,} bytes")


def fetch_image(
    url: str, *, field: str, timeout: float = DOWNLOAD_TIMEOUT, max_bytes: int = MAX_IMAGE_BYTES
) -> bytes:
    """Download a remote image (http or https), at most ``max_bytes``."""
    body = bytearray()
    try:
        with (
            httpx.Client(follow_redirects=True, timeout=timeout) as client,
            client.stream("GET", url, headers={"accept": "image/*"}) as response,
        ):
            _check_response(response, url, field, max_bytes)
            for chunk in response.iter_bytes():
                _add(body, chunk, url, field, max_bytes)
    except httpx.HTTPError as exc:
        raise _download_error(url, field, f"{type(exc).__name__}: {exc}") from None
    return bytes(body)


async def afetch_image(
    url: str, *, field: str, timeout: float = DOWNLOAD_TIMEOUT, max_bytes: int = MAX_IMAGE_BYTES
) -> bytes:
    """See :func:`fetch_image`."""
    body = bytearray()
    try:
        async with (
            httpx.AsyncClient(follow_redirects=True, timeout=timeout) as client,
            client.stream("GET", url, headers={"accept": "image/*"}) as response,
        ):
            _check_response(response, url, field, max_bytes)
            async for chunk in response.aiter_bytes():
                _add(body, chunk, url, field, max_bytes)
    except httpx.HTTPError as exc:
        raise _download_error(url, field, f"{type(exc).__name__}: {exc}") from None
    return bytes(body)


def _remote_parts(messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, str]]:
    """(message index, part index, url) of every remote image part."""
    found = []
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            url = part_url(part) if _is_image_part(part) else None
            if isinstance(url, str) and is_remote(url):
                found.append((i, j, url))
    return found


def _replaced(
    messages: Sequence[Mapping[str, Any]], urls: Mapping[tuple[int, int], str]
) -> list[dict[str, Any]]:
    out = []
    for i, message in enumerate(messages):
        item = dict(message)
        content = item.get("content")
        if isinstance(content, list) and any((i, j) in urls for j in range(len(content))):
            item["content"] = [
                image_part(urls[(i, j)]) if (i, j) in urls else part
                for j, part in enumerate(content)
            ]
        out.append(item)
    return out


def _where(i: int, j: int) -> str:
    return f"message #{i} part #{j}"


def _check_model(model: str | None, messages: Sequence[Mapping[str, Any]]) -> None:
    if model is not None and not accepts_images(model) and _has_images(messages):
        raise _no_images(model)


def resolve_remote_images(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
) -> list[dict[str, Any]]:
    """``messages`` with every remote image part downloaded into a ``data:`` URL. With
    ``model``, images for a model that takes none are refused first, before any download."""
    _check_model(model, messages)
    urls = {
        (i, j): data_url(fetch_image(url, field=_where(i, j), timeout=timeout), field=_where(i, j))
        for i, j, url in _remote_parts(messages)
    }
    return _replaced(messages, urls) if urls else [dict(m) for m in messages]


async def aresolve_remote_images(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
) -> list[dict[str, Any]]:
    """See :func:`resolve_remote_images`."""
    _check_model(model, messages)
    urls = {}
    for i, j, url in _remote_parts(messages):
        data = await afetch_image(url, field=_where(i, j), timeout=timeout)
        urls[(i, j)] = data_url(data, field=_where(i, j))
    return _replaced(messages, urls) if urls else [dict(m) for m in messages]


# --- shaping the request ----------------------------------------------------------------------


def _image_bytes(part: Mapping[str, Any], field: str) -> bytes:
    url = part_url(part)
    if not isinstance(url, str) or not url:
        raise ValidationError(f"{field} is an image_url part without a URL", field=field)
    if is_remote(url):
        raise ValidationError(
            f"{field}: Workers AI takes images only as data: URLs (base64), not "
            f"{url[:60]!r}; download the image and pass its bytes (the LangChain and "
            "LlamaIndex adapters download http(s) images themselves)",
            field=field,
        )
    if not url.lower().startswith("data:"):
        raise ValidationError(
            f"{field}: an image URL must be a data: URL (base64) or http(s), not {url[:40]!r}",
            field=field,
        )
    return decode_data_url(url, field=field)


def _text(content: Any) -> str:
    parts = _parts(content)
    if parts is None:
        return "" if content is None else str(content)
    return "\n".join(
        str(p.get("text", "")) for p in parts if isinstance(p, Mapping) and p.get("type") == "text"
    )


def prepare_messages(
    model: str, messages: Sequence[Mapping[str, Any]], *, api: str = "native"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(messages, extra top-level body fields) for ``model``, with its images checked.

    Without image parts the messages are returned as they are. With images: a
    :class:`ValidationError` when the model takes none, or an image is remote, unreadable
    or too large; otherwise the parts form or the field form (see the module docstring)."""
    if not _has_images(messages):
        return [dict(m) for m in messages], {}
    form = image_form(model)
    if form is None:
        raise _no_images(model)
    images: list[bytes] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        item = dict(message)
        parts = _parts(item.get("content"))
        if parts is not None and any(_is_image_part(p) for p in parts):
            shaped = []
            for j, part in enumerate(parts):
                if _is_image_part(part):
                    data = _image_bytes(part, _where(i, j))
                    shaped.append(image_part(data_url(data, field=_where(i, j))))
                    images.append(data)
                else:
                    shaped.append(part)
            item["content"] = shaped
        out.append(item)
    if form == "parts" or api == "openai":
        # UNCERTAIN: /ai/v1/chat/completions is assumed to take OpenAI's parts for every
        # vision model, llama-3.2-11b-vision-instruct included.
        return out, {}
    if len(images) > 1:
        raise ValidationError(
            f"{model} takes one image per request, got {len(images)}; send one, or use a "
            f"model that takes several such as {DEFAULT_VISION_MODEL}",
            item=model,
        )
    for item in out:
        if _parts(item.get("content")) is not None:
            item["content"] = _text(item["content"])
    # The schema's first form: an array of 0-255 integers (Cloudflare's examples send
    # ``[...new Uint8Array(buffer)]``); its other form, a "binary string", is UNCERTAIN over
    # REST.
    return out, {"image": list(images[0])}
