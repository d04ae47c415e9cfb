"""``/ai/run`` bodies beyond plain JSON, and the byte fields (audio, images) inside them.

Which wire forms a model takes is read from its input schema:

* a JSON object (every model). Bytes inside JSON are an array of 0-255 integers (``audio``,
  ``image``, ``mask`` in the older schemas) or a base64 string (``image_b64``,
  whisper-large-v3-turbo's ``audio``, uform's ``image``; a ``data:`` URL prefix is allowed);
* a raw binary body (``application/octet-stream``, ``audio/*``, ``image/*``, ...) where the
  schema has a root ``{"type": "string", "format": "binary"}`` alternative (whisper,
  resnet-50, detr-resnet-50, llava) or a ``{body, contentType}`` property (nova-3's
  ``audio``: the Workers binding's stream form, sent over REST as the raw body). The bytes
  become that field; for the ``{body, contentType}`` form, query parameters named in the
  schema become fields too (Deepgram's REST style; UNCERTAIN for Workers AI);
* ``multipart/form-data`` where the schema has a ``multipart`` property (the FLUX.2 models,
  as in Cloudflare's curl examples): the form's text fields become top-level fields (the
  numeric ones converted), file parts their bytes.

Inside the emulator a body keeps bytes as ``bytes``; :func:`schema_view` gives the JSON-shaped
stand-in that is validated against the schema.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import errors
from .engine_io import variants
from .errors import ApiError, bad_input

#: Largest media payload accepted. UNCERTAIN: Cloudflare documents no per-model figure here;
#: 25 MB is the common speech-to-text upload limit.
MAX_MEDIA_BYTES = 25 * 1024 * 1024

#: Multipart text fields read as numbers (FLUX.2's documented form fields).
_NUMERIC_FORM_FIELDS = frozenset({"width", "height", "steps", "num_steps", "seed", "guidance"})
_LONG_ARRAY = 4096
_DATA_URL = re.compile(r"^data:[\w/+.-]*(;[\w=-]+)*;base64,", re.IGNORECASE)


def _is_binary_string(node: Any) -> bool:
    return (
        isinstance(node, Mapping)
        and node.get("type") == "string"
        and node.get("format")
        in (
            "binary",
            "byte",
        )
    )


def _is_stream(node: Any) -> bool:
    """A ``{body, contentType}`` object: the binding's stream form."""
    props = node.get("properties") if isinstance(node, Mapping) else None
    return isinstance(props, Mapping) and "body" in props and "contentType" in props


def _is_bytes_like(node: Any) -> bool:
    if not isinstance(node, Mapping):
        return False
    if any(_is_bytes_like(v) for v in variants(node) if v is not node):
        return True
    items = node.get("items")
    if node.get("type") == "array" and isinstance(items, Mapping):
        return items.get("type") in ("number", "integer")
    return _is_binary_string(node) or _is_stream(node)


def _object_properties(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """(name, schema, required?) of every property of every object alternative."""
    for variant in variants(schema):
        props = variant.get("properties")
        if isinstance(props, Mapping):
            required = variant.get("required") or []
            for name, node in props.items():
                if isinstance(node, Mapping):
                    yield name, node, name in required


def binary_field(schema: Mapping[str, Any]) -> str | None:
    """The field a raw binary body fills, or None when the model takes no raw body."""
    root_binary = any(_is_binary_string(v) for v in variants(schema))
    candidates = [
        (name, node, required)
        for name, node, required in _object_properties(schema)
        if name != "multipart"
        and (
            (root_binary and _is_bytes_like(node))
            or any(_is_stream(v) for v in [node, *variants(node)])
        )
    ]
    candidates.sort(key=lambda c: not c[2])  # required fields first
    return candidates[0][0] if candidates else None


def _stream_form(schema: Mapping[str, Any], field: str) -> bool:
    for name, node, _ in _object_properties(schema):
        if name == field and any(_is_stream(v) for v in [node, *variants(node)]):
            return True
    return False


def takes_multipart(schema: Mapping[str, Any]) -> bool:
    return any(name == "multipart" for name, _, _ in _object_properties(schema))


def _coerce(value: str, node: Mapping[str, Any]) -> Any:
    kind = node.get("type")
    try:
        if kind == "boolean":
            return {"true": True, "false": False}.get(value.lower(), value)
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value  # left for the schema to refuse
    return value


def from_binary(
    schema: Mapping[str, Any], data: bytes, content_type: str, query: Mapping[str, str]
) -> dict[str, Any]:
    """The body for a raw binary request (5006 when the model takes JSON only)."""
    field = binary_field(schema)
    if field is None:
        raise bad_input("Error: Type mismatch of '/', 'object' not in types")
    check_size(len(data))
    if not _stream_form(schema, field):
        return {field: data}
    body: dict[str, Any] = {field: {"body": data, "contentType": content_type}}
    props = {name: node for name, node, _ in _object_properties(schema)}
    for key, value in query.items():
        if key in props and key != field:
            body[key] = _coerce(value, props[key])
    return body


def from_form(schema: Mapping[str, Any], fields: Mapping[str, str | bytes]) -> dict[str, Any]:
    """The body for a ``multipart/form-data`` request (5006 unless the schema takes one)."""
    if not takes_multipart(schema):
        raise bad_input("Error: this model takes a JSON body, not multipart/form-data")
    body: dict[str, Any] = {"multipart": {"body": {}, "contentType": "multipart/form-data"}}
    for key, value in fields.items():
        if isinstance(value, bytes):
            check_size(len(value))
            body[key] = value
        elif key in _NUMERIC_FORM_FIELDS:
            body[key] = _coerce(value, {"type": "number" if key == "guidance" else "integer"})
        else:
            body[key] = value
    return body


def _is_byte_list(value: Any) -> bool:
    try:
        bytes(value)
    except (TypeError, ValueError):
        return False
    return not any(isinstance(v, bool) for v in value)


def schema_view(body: Any) -> Any:
    """``body`` with its bytes replaced by schema-shaped stand-ins, for validation.

    A long array of 0-255 integers (audio or an image in JSON) is shortened to its first
    items: they are all numbers, and validating a megabyte item by item takes seconds."""
    if not isinstance(body, dict):
        return body
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, bytes | bytearray):
            out[key] = []
        elif isinstance(value, list) and len(value) > _LONG_ARRAY and _is_byte_list(value):
            out[key] = value[:_LONG_ARRAY]
        elif isinstance(value, dict) and isinstance(value.get("body"), bytes | bytearray):
            out[key] = {**value, "body": {}}
        else:
            out[key] = value
    return out


def check_size(size: int) -> None:
    if size > MAX_MEDIA_BYTES:
        raise ApiError(errors.REQUEST_TOO_LARGE)


def read_bytes(value: Any, where: str) -> bytes:
    """The bytes of a byte field in any accepted form: raw bytes, ``{body, contentType}``,
    an array of 0-255 integers, or a base64 string (5004 when it is not base64)."""
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, Mapping) and "body" in value:
        return read_bytes(value["body"], where + "/body")
    elif isinstance(value, list):
        try:
            data = bytes(value)
        except (TypeError, ValueError):
            data = _int_array(value, where)
    elif isinstance(value, str):
        text = _DATA_URL.sub("", value.strip(), count=1)
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(errors.INVALID_DATA, type=f"{where} is not base64") from exc
    else:
        raise bad_input(f"Error: '{where}' holds no audio or image data")
    check_size(len(data))
    return data


def _int_array(values: list[Any], where: str) -> bytes:
    out = bytearray()
    for i, v in enumerate(values):
        ok = isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer()
        if not ok or not 0 <= v <= 255:
            raise bad_input(f"Error: {v!r} at '{where}/{i}' is not an integer from 0 to 255")
        out.append(int(v))
    return bytes(out)
