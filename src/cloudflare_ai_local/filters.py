"""Vectorize metadata filters: validation by Cloudflare's rules and evaluation against the
indexed-metadata snapshot each vector got when it was written.

Only properties that had a metadata index at write time are visible to filters; a vector
lacking a property matches ``$ne`` and ``$nin`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from cloudflare_ai import limits

from .errors import INVALID_FILTER, ApiError

Scalar = str | int | float | bool | None
Predicate = Callable[[Mapping[str, Any]], bool]
_MISSING = object()


def truncate_utf8(text: str, max_bytes: int = limits.MAX_INDEXED_METADATA_BYTES) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character."""
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode(errors="ignore")


def _bad(detail: str) -> ApiError:
    return ApiError(INVALID_FILTER, detail=f"invalid filter: {detail}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | bool | int | float)


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if _is_number(a):
        return _is_number(b)
    return type(a) is type(b)


def _norm(v: Any) -> Any:
    return truncate_utf8(v) if isinstance(v, str) else v


def _equals(stored: Any, wanted: Any) -> bool:
    return stored is not _MISSING and _same_kind(stored, wanted) and stored == _norm(wanted)


def _check_key(key: str) -> None:
    if not key:
        raise _bad("keys must not be empty")
    if len(key) > limits.MAX_FILTER_KEY_CHARS:
        raise _bad(f"key {key[:40]!r}... is longer than {limits.MAX_FILTER_KEY_CHARS} characters")
    if '"' in key or key.startswith("$"):
        raise _bad(f"key {key!r} must not contain '\"' or start with '$'")
    if any(part == "" for part in key.split(".")):
        raise _bad(f"key {key!r} has an empty path segment")


def _op_test(key: str, op: str, value: Any) -> Callable[[Any], bool]:
    if op not in limits.FILTER_OPERATORS:
        raise _bad(f"unsupported operator {op!r} on {key!r}")
    if op in limits.EQUALITY_OPERATORS:
        if not _is_scalar(value):
            raise _bad(f"{op} on {key!r} needs a string, number, boolean or null")
        if op == "$eq":
            return lambda s: _equals(s, value)
        return lambda s: not _equals(s, value)
    if op in limits.SET_OPERATORS:
        if not isinstance(value, list) or not all(_is_scalar(v) for v in value):
            raise _bad(f"{op} on {key!r} needs an array of strings, numbers, booleans or nulls")
        values = list(value)
        if op == "$in":
            return lambda s: any(_equals(s, v) for v in values)
        return lambda s: not any(_equals(s, v) for v in values)
    if not (isinstance(value, str) or _is_number(value)):
        raise _bad(f"{op} on {key!r} needs a string or a number")
    bound = _norm(value)

    def ranged(s: Any) -> bool:
        if s is _MISSING or not _same_kind(s, bound):
            return False
        if op == "$lt":
            return bool(s < bound)
        if op == "$lte":
            return bool(s <= bound)
        if op == "$gt":
            return bool(s > bound)
        return bool(s >= bound)

    return ranged


def _check_combination(key: str, ops: list[str]) -> None:
    if len(ops) <= 1:
        return
    lower = [o for o in ops if o in limits.LOWER_BOUND_OPERATORS]
    upper = [o for o in ops if o in limits.UPPER_BOUND_OPERATORS]
    if len(ops) == 2 and len(lower) == 1 and len(upper) == 1:
        return
    raise _bad(
        f"operators {ops} on {key!r} cannot be combined; only one lower-bound ($gt/$gte) "
        "with one upper-bound ($lt/$lte) operator is allowed"
    )


def compile_filter(raw: Any) -> Predicate:
    """Validate ``raw`` and return a predicate over an indexed-metadata snapshot."""
    if not isinstance(raw, Mapping):
        raise _bad("filter must be a JSON object")
    size = len(orjson.dumps(raw))
    if size >= limits.MAX_FILTER_BYTES:
        raise _bad(f"filter is {size} bytes of JSON; it must be under {limits.MAX_FILTER_BYTES}")
    clauses: list[tuple[str, list[Callable[[Any], bool]]]] = []
    for key, cond in raw.items():
        _check_key(str(key))
        if isinstance(cond, Mapping):
            ops = [str(o) for o in cond]
            if not ops:
                raise _bad(f"no operator given for {key!r}")
            _check_combination(str(key), ops)
            tests = [_op_test(str(key), op, cond[op]) for op in ops]
        elif _is_scalar(cond):
            tests = [_op_test(str(key), "$eq", cond)]
        else:
            raise _bad(f"value for {key!r} must be a scalar or an operator object")
        clauses.append((str(key), tests))

    def predicate(snapshot: Mapping[str, Any]) -> bool:
        for key, tests in clauses:
            stored = snapshot.get(key, _MISSING)
            if not all(test(stored) for test in tests):
                return False
        return True

    return predicate


def lookup_path(metadata: Mapping[str, Any] | None, path: str) -> Any:
    """The value at dotted ``path`` in ``metadata``, or ``_MISSING``."""
    node: Any = metadata
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def indexed_snapshot(
    metadata: Mapping[str, Any] | None, metadata_indexes: Mapping[str, str]
) -> dict[str, Any]:
    """The values of indexed properties, as the index saw them when the vector was written."""
    out: dict[str, Any] = {}
    if not metadata or not metadata_indexes:
        return out
    for prop, kind in metadata_indexes.items():
        value = lookup_path(metadata, prop)
        if kind == "string" and isinstance(value, str):
            out[prop] = truncate_utf8(value)
        elif (kind == "number" and _is_number(value)) or (
            kind == "boolean" and isinstance(value, bool)
        ):
            out[prop] = value
    return out


def nest(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted snapshot keys turned back into nested objects (for ``returnMetadata: indexed``)."""
    out: dict[str, Any] = {}
    for key, value in snapshot.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out
