"""What a task engine receives (:class:`TaskCall`: the decoded body and the model's schemas)
and returns (:class:`TaskAnswer`: a JSON result or media bytes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_input

#: Media types put inside JSON answers, by kind. UNCERTAIN: the schemas only say "Base64";
#: Cloudflare's examples decode flux-1-schnell's image as ``data:image/jpeg`` and melotts'
#: audio is described as MP3.
JSON_MEDIA_TYPES = {"image": "image/jpeg", "audio": "audio/mpeg"}


@dataclass(frozen=True, slots=True)
class TaskCall:
    """One request to a task engine."""

    model: str
    body: Mapping[str, Any]
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    output_schema: Mapping[str, Any] = field(default_factory=dict)

    def media_type(self, kind: str) -> str:
        """The media type to produce for ``kind`` ("image" or "audio")."""
        return binary_output_type(self.output_schema) or JSON_MEDIA_TYPES[kind]

    def input_property(self, name: str) -> Mapping[str, Any]:
        for variant in variants(self.input_schema):
            props = variant.get("properties")
            if isinstance(props, Mapping) and isinstance(props.get(name), Mapping):
                return dict(props[name])
        return {}

    def output_has(self, name: str) -> bool:
        return name in properties(self.output_schema)

    def text(self, *names: str) -> str:
        """The first of the string fields ``names`` present in the body (5006 if none)."""
        for name in names:
            value = self.body.get(name)
            if isinstance(value, str):
                return value
        raise bad_input(f"Error: required properties at '/' are '{names[0]}'")


@dataclass(slots=True)
class TaskAnswer:
    engine: str
    result: Any = None
    media: bytes | None = None
    media_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)


Engine = Callable[[TaskCall], TaskAnswer]


def variants(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for key in ("oneOf", "anyOf"):
        if isinstance(schema.get(key), list):
            return [v for v in schema[key] if isinstance(v, Mapping)]
    return [schema]


def properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in variants(schema):
        props = variant.get("properties")
        if isinstance(props, Mapping):
            out.update(props)
    return out


def binary_output_type(schema: Mapping[str, Any]) -> str | None:
    """The content type of a raw binary answer, or None when the model answers JSON.

    Where the schema allows both (melotts), the JSON form is chosen: it is what the REST
    API answers (UNCERTAIN beyond melotts' documented ``{"audio": base64}``)."""
    forms = variants(schema)
    if any(v.get("type") == "object" or "properties" in v for v in forms):
        return None
    for v in forms:
        if v.get("type") == "string" and v.get("format") == "binary":
            return str(v.get("contentType") or "application/octet-stream")
    return None
