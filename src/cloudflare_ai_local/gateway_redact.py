"""Secrets out of stored gateway logs: credential headers (the API token, the gateway token,
provider keys) are replaced before a request's head or body is written, so the logs API never
hands one back. Universal bodies carry each step's headers, so JSON bodies are cleaned key by
key, and any ``Bearer <token>`` left in text is masked as a last resort."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

REDACTED = "[redacted]"
#: Header and JSON key names (lower case) whose values are credentials.
SECRET_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cf-aig-authorization",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    }
)
_BEARER = re.compile(rb"(?i)(bearer\s+)[^\s\"',}]+")


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: REDACTED if str(k).lower() in SECRET_NAMES else _clean(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def redact_body(raw: bytes | None) -> bytes | None:
    """``raw`` with credential fields of a JSON body replaced and bearer tokens masked."""
    if not raw:
        return raw
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        cleaned = raw
    else:
        cleaned = orjson.dumps(_clean(parsed))
    return _BEARER.sub(rb"\1" + REDACTED.encode(), cleaned)


def redact_head(headers: Iterable[tuple[str, str]]) -> str:
    """Headers as ``name: value`` lines, credential values replaced."""
    lines = []
    for name, value in headers:
        shown = REDACTED if name.lower() in SECRET_NAMES else value
        lines.append(f"{name.lower()}: {shown}")
    return "\n".join(lines)


__all__ = ["REDACTED", "SECRET_NAMES", "redact_body", "redact_head"]
