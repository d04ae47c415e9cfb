"""Checks run before anything is sent to Vectorize.

Each failure is a :class:`~cloudflare_ai.errors.ValidationError` that names the offending item
(vector id, metadata key, filter key) and its position in the input, so a bad document in a
batch of thousands is found at once and nothing is half-written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from . import limits
from .errors import ValidationError

_INDEX_NAME = re.compile(limits.INDEX_NAME_PATTERN)


def _where(item: str | None, position: int | None) -> str:
    parts = []
    if item is not None:
        parts.append(f"vector {item!r}")
    if position is not None:
        parts.append(f"at position {position}")
    return " ".join(parts)


def check_index_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValidationError("index name must be a non-empty string", item=str(name))
    if len(name.encode()) > limits.MAX_INDEX_NAME_BYTES:
        raise ValidationError(
            f"index name {name!r} is longer than {limits.MAX_INDEX_NAME_BYTES} bytes", item=name
        )
    if not _INDEX_NAME.match(name):
        raise ValidationError(
            f"index name {name!r} must start with a lower-case letter and contain only "
            "lower-case letters, digits, '-' and '_' (ending in a letter or digit)",
            item=name,
        )
    return name


def check_dimensions(dimensions: int) -> int:
    if not isinstance(dimensions, int) or isinstance(dimensions, bool):
        raise ValidationError(f"dimensions must be an integer, got {dimensions!r}")
    if not limits.MIN_DIMENSIONS <= dimensions <= limits.MAX_DIMENSIONS:
        raise ValidationError(
            f"dimensions={dimensions} is outside Vectorize's range "
            f"{limits.MIN_DIMENSIONS}..{limits.MAX_DIMENSIONS}"
        )
    return dimensions


def check_id(vector_id: Any, position: int | None = None) -> str:
    if not isinstance(vector_id, str) or not vector_id:
        raise ValidationError(
            f"vector id {vector_id!r} {_where(None, position)} must be a non-empty string".replace(
                "  ", " "
            ),
            item=str(vector_id),
            position=position,
        )
    size = len(vector_id.encode())
    if size > limits.MAX_ID_BYTES:
        raise ValidationError(
            f"{_where(vector_id, position)}: id is {size} bytes; Vectorize allows "
            f"{limits.MAX_ID_BYTES}",
            item=vector_id,
            position=position,
            field="id",
        )
    return vector_id


def check_namespace(namespace: Any, item: str | None = None, position: int | None = None) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise ValidationError(
            f"namespace {namespace!r} must be a non-empty string"
            + (f" ({_where(item, position)})" if item is not None else ""),
            item=item,
            position=position,
            field="namespace",
        )
    size = len(namespace.encode())
    if size > limits.MAX_NAMESPACE_BYTES:
        raise ValidationError(
            f"namespace {namespace[:20]!r}... is {size} bytes; Vectorize allows "
            f"{limits.MAX_NAMESPACE_BYTES}" + (f" ({_where(item, position)})" if item else ""),
            item=item,
            position=position,
            field="namespace",
        )
    return namespace


_INT_RANGE = (-(2**63), 2**64 - 1)  # what JSON encoders (and Vectorize) carry as integers


def _check_metadata_value(value: Any, path: str, item: str | None, position: int | None) -> None:
    if value is None or isinstance(value, str | bool):
        return
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ValidationError(
                f"{_where(item, position)}: metadata {path!r} is an integer outside 64 bits",
                item=item,
                position=position,
                field=path,
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(
                f"{_where(item, position)}: metadata {path!r} is {value}, which JSON cannot carry",
                item=item,
                position=position,
                field=path,
            )
        return
    if isinstance(value, Mapping):
        _check_metadata_keys(value, f"{path}.", item, position)
        return
    if isinstance(value, list | tuple):
        for i, element in enumerate(value):
            if isinstance(element, Mapping | list | tuple):
                raise ValidationError(
                    f"{_where(item, position)}: metadata {path!r}[{i}] is a nested "
                    "container; lists may hold only strings, numbers and booleans",
                    item=item,
                    position=position,
                    field=path,
                )
            _check_metadata_value(element, f"{path}[{i}]", item, position)
        return
    raise ValidationError(
        f"{_where(item, position)}: metadata {path!r} has type {type(value).__name__}; "
        "Vectorize stores strings, numbers, booleans, lists of those and nested objects",
        item=item,
        position=position,
        field=path,
    )


def _check_metadata_keys(
    metadata: Mapping[Any, Any], prefix: str, item: str | None, position: int | None
) -> None:
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(
                f"{_where(item, position)}: metadata keys must be non-empty strings, got {key!r}",
                item=item,
                position=position,
            )
        if "." in key or '"' in key or key.startswith("$"):
            raise ValidationError(
                f"{_where(item, position)}: metadata key {prefix + key!r} may not contain '.' "
                "or '\"' nor start with '$'",
                item=item,
                position=position,
                field=prefix + key,
            )
        _check_metadata_value(value, prefix + key, item, position)


def check_metadata(metadata: Any, item: str | None = None, position: int | None = None) -> bytes:
    """Checks keys, value types and the 10 KiB limit; returns the compact JSON."""
    if not isinstance(metadata, Mapping):
        raise ValidationError(
            f"{_where(item, position)}: metadata must be a mapping, got {type(metadata).__name__}",
            item=item,
            position=position,
        )
    _check_metadata_keys(metadata, "", item, position)
    encoded = orjson.dumps(metadata)
    if len(encoded) > limits.MAX_METADATA_BYTES:
        raise ValidationError(
            f"{_where(item, position)}: metadata is {len(encoded)} bytes of JSON; Vectorize "
            f"allows {limits.MAX_METADATA_BYTES} bytes per vector",
            item=item,
            position=position,
            field="metadata",
        )
    return encoded


def check_values(
    values: Any, dimensions: int | None, item: str | None = None, position: int | None = None
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The vector as float32, checked for shape, length and finiteness."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(
            f"{_where(item, position)}: values must be a sequence of numbers",
            item=item,
            position=position,
            field="values",
        ) from None
    if array.ndim != 1 or array.size == 0:
        raise ValidationError(
            f"{_where(item, position)}: values must be a non-empty flat list of numbers",
            item=item,
            position=position,
            field="values",
        )
    if dimensions is not None and array.size != dimensions:
        raise ValidationError(
            f"{_where(item, position)}: has {array.size} values but the index has "
            f"{dimensions} dimensions",
            item=item,
            position=position,
            field="values",
        )
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise ValidationError(
            f"{_where(item, position)}: value [{bad}] is {array[bad]}; vectors must be finite",
            item=item,
            position=position,
            field="values",
        )
    with np.errstate(over="ignore"):
        single = array.astype(np.float32)
    if not np.isfinite(single).all():
        bad = int(np.argmin(np.isfinite(single)))
        raise ValidationError(
            f"{_where(item, position)}: value [{bad}] = {array[bad]} overflows float32",
            item=item,
            position=position,
            field="values",
        )
    return single


def check_top_k(top_k: int, return_values: bool, return_metadata: str) -> int:
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ValidationError(f"top_k must be a positive integer, got {top_k!r}")
    heavy = return_values or return_metadata == "all"
    cap = limits.MAX_TOP_K_WITH_VALUES_OR_METADATA if heavy else limits.MAX_TOP_K
    if top_k > cap:
        why = "with return_values or return_metadata='all'" if heavy else "per query"
        raise ValidationError(f"top_k={top_k} exceeds Vectorize's cap of {cap} {why}")
    if return_metadata not in ("none", "indexed", "all"):
        raise ValidationError(
            f"return_metadata must be 'none', 'indexed' or 'all', got {return_metadata!r}"
        )
    return top_k


_SCALAR = (str, int, float, bool)


def _check_filter_scalar(key: str, op: str, value: Any, *, allow_null: bool) -> None:
    if value is None and allow_null:
        return
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not _INT_RANGE[0] <= value <= _INT_RANGE[1]
    ):
        raise ValidationError(
            f"filter {key!r} {op}: {value} is an integer outside 64 bits", item=key
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"filter {key!r} {op}: {value} is not a finite number", item=key)
    if not isinstance(value, _SCALAR):
        raise ValidationError(
            f"filter {key!r} {op}: value {value!r} must be a string, number or boolean"
            + (" or null" if allow_null else ""),
            item=key,
        )


def check_filter(filter: Mapping[str, Any]) -> dict[str, Any]:
    """Checks a Vectorize metadata filter: operators, value types, the range rule, key rules
    and the 2048-byte size limit."""
    if not isinstance(filter, Mapping):
        raise ValidationError(f"filter must be a mapping, got {type(filter).__name__}")
    out: dict[str, Any] = {}
    for key, condition in filter.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"filter keys must be non-empty strings, got {key!r}")
        if key.startswith("$"):
            raise ValidationError(
                f"filter key {key!r}: Vectorize has no logical operators ($and/$or); "
                "keys at the top level are properties, combined with AND",
                item=key,
            )
        if (
            '"' in key
            or len(key) > limits.MAX_FILTER_KEY_CHARS
            or any(not part for part in key.split("."))
        ):
            raise ValidationError(
                f"filter key {key!r} is not a valid property path (no '\"', no empty segments, "
                f"at most {limits.MAX_FILTER_KEY_CHARS} characters)",
                item=key,
            )
        if isinstance(condition, Mapping):
            if not condition:
                raise ValidationError(f"filter {key!r} has an empty condition", item=key)
            lower = upper = 0
            for op, value in condition.items():
                if op not in limits.FILTER_OPERATORS:
                    raise ValidationError(
                        f"filter {key!r}: operator {op!r} is not supported by Vectorize "
                        f"(supported: {', '.join(sorted(limits.FILTER_OPERATORS))})",
                        item=key,
                    )
                if op in limits.SET_OPERATORS:
                    if not isinstance(value, list | tuple) or not value:
                        raise ValidationError(
                            f"filter {key!r} {op}: needs a non-empty list", item=key
                        )
                    for element in value:
                        _check_filter_scalar(key, op, element, allow_null=True)
                elif op in limits.RANGE_OPERATORS:
                    if isinstance(value, bool) or not isinstance(value, str | int | float):
                        raise ValidationError(
                            f"filter {key!r} {op}: range operators take a string or number, "
                            f"got {value!r}",
                            item=key,
                        )
                    _check_filter_scalar(key, op, value, allow_null=False)
                    lower += op in limits.LOWER_BOUND_OPERATORS
                    upper += op in limits.UPPER_BOUND_OPERATORS
                else:
                    _check_filter_scalar(key, op, value, allow_null=True)
            ranges = lower + upper
            if ranges and (lower > 1 or upper > 1 or ranges != len(condition)):
                raise ValidationError(
                    f"filter {key!r}: range operators may only combine one lower bound "
                    f"($gt/$gte) with one upper bound ($lt/$lte), got {sorted(condition)}",
                    item=key,
                )
            if not ranges and len(condition) > 1:
                raise ValidationError(
                    f"filter {key!r}: only a lower and an upper range bound may share a key, "
                    f"got {sorted(condition)}",
                    item=key,
                )
            out[key] = dict(condition)
        else:
            _check_filter_scalar(key, "$eq", condition, allow_null=True)
            out[key] = condition
    size = len(orjson.dumps(out))
    if size >= limits.MAX_FILTER_BYTES:
        raise ValidationError(
            f"filter is {size} bytes of JSON; Vectorize needs it under {limits.MAX_FILTER_BYTES}"
        )
    return out


def check_unique_ids(ids: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for position, vector_id in enumerate(ids):
        if vector_id in seen:
            raise ValidationError(
                f"vector id {vector_id!r} appears twice in one write (positions "
                f"{seen[vector_id]} and {position}); which one Vectorize keeps would be "
                "undefined",
                item=vector_id,
                position=position,
            )
        seen[vector_id] = position
