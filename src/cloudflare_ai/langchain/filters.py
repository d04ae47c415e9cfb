"""LangChain metadata filters translated to Vectorize filters.

LangChain stores take MongoDB-style filter dicts. Vectorize understands a smaller language:
one flat object whose keys (property paths) are combined with AND, each with an implicit
``$eq`` value or an object of ``$eq``/``$ne``/``$in``/``$nin``/``$lt``/``$lte``/``$gt``/``$gte``,
where only one lower and one upper range bound may share a key.

:func:`to_vectorize_filter` rewrites what has an exact Vectorize equivalent:

* ``{"k": v}`` and ``{"k": {"$eq": v}}`` → ``{"k": v}``;
* ``{"k": {"$between": [lo, hi]}}`` → ``{"k": {"$gte": lo, "$lte": hi}}``;
* ``{"$and": [f1, f2, ...]}`` (and several keys in one dict) → one merged object, as long as
  each property ends up with one condition or with one lower plus one upper bound
  (identical repeated conditions are merged);
* ``{"$or": [...]}`` whose branches are all ``$eq``/``$in`` on the same property →
  ``{"k": {"$in": [...]}}``.

Anything else (``$or`` across properties, ``$not``, ``$nor``, ``$like``, ``$ilike``,
``$exists``, ``$contain``, two different ``$eq`` on one key, ``$gt`` twice ...) raises
:class:`FilterTranslationError`: a filter is never dropped or loosened silently. The result
then goes through the core's :func:`~cloudflare_ai.validation.check_filter` (value types,
range rule, 2048-byte size).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import limits
from ..errors import ValidationError
from ..validation import check_filter

__all__ = [
    "FilterTranslationError",
    "UnindexedFilterWarning",
    "filter_properties",
    "to_vectorize_filter",
]

_SUPPORTED = ", ".join(sorted(limits.FILTER_OPERATORS | {"$between"}))
_LOGICAL = {"$and", "$or"}
_KNOWN_UNSUPPORTED = {
    "$not": "Vectorize has no negation of a sub-filter; use $ne / $nin on a property",
    "$nor": "Vectorize has no negation of a sub-filter; use $ne / $nin on a property",
    "$like": "Vectorize has no pattern matching; a prefix can be written as a range "
    '({"$gte": "abc", "$lt": "abd"})',
    "$ilike": "Vectorize has no pattern matching",
    "$regex": "Vectorize has no pattern matching",
    "$exists": "Vectorize cannot test whether a property exists",
    "$contain": "Vectorize cannot test list membership of a stored list",
    "$contains": "Vectorize cannot test list membership of a stored list",
    "$text": "Vectorize has no full-text search",
}


class FilterTranslationError(ValidationError):
    """A LangChain filter that Vectorize cannot express exactly (a ``ValueError``)."""


class UnindexedFilterWarning(UserWarning):
    """A filter names a property without a Vectorize metadata index: it matches nothing (or,
    for ``$ne``/``$nin``, everything), because Vectorize only filters on properties that were
    indexed *before* the vectors were written."""


Condition = tuple[str, str, Any]  # (property path, operator, value)


def _fail(message: str, key: str | None = None) -> FilterTranslationError:
    return FilterTranslationError(f"cannot translate filter to Vectorize: {message}", item=key)


def _scalar_list(key: str, op: str, value: Any) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _fail(f"{key!r} {op} needs a list of values, got {value!r}", key)
    if not value:
        raise _fail(f"{key!r} {op} needs a non-empty list", key)
    return list(value)


def _key_conditions(key: str, condition: Any) -> list[Condition]:
    if key.startswith("$"):
        reason = _KNOWN_UNSUPPORTED.get(key, "it is not a property nor $and / $or")
        raise _fail(f"operator {key!r} is not supported ({reason})", key)
    if not isinstance(condition, Mapping):
        if isinstance(condition, list | tuple | set | frozenset):
            raise _fail(
                f"{key!r} is compared with a list; write {{{key!r}: {{'$in': [...]}}}} to "
                "match any of several values",
                key,
            )
        return [(key, "$eq", condition)]
    if not condition:
        raise _fail(f"{key!r} has an empty condition", key)
    out: list[Condition] = []
    for op, value in condition.items():
        if op == "$between":
            bounds = _scalar_list(key, op, value)
            if len(bounds) != 2:
                raise _fail(f"{key!r} $between needs [low, high], got {value!r}", key)
            out += [(key, "$gte", bounds[0]), (key, "$lte", bounds[1])]
        elif op in limits.SET_OPERATORS:
            out.append((key, op, _scalar_list(key, op, value)))
        elif op in limits.FILTER_OPERATORS:
            out.append((key, op, value))
        elif op in _KNOWN_UNSUPPORTED:
            raise _fail(f"operator {op!r} on {key!r}: {_KNOWN_UNSUPPORTED[op]}", key)
        elif op in _LOGICAL:
            raise _fail(f"{op!r} inside the condition of {key!r}; put it at the top level", key)
        else:
            raise _fail(f"operator {op!r} on {key!r} is not supported (supported: {_SUPPORTED})")
    return out


def _or_condition(branches: Any) -> Condition:
    if not isinstance(branches, list | tuple) or not branches:
        raise _fail("$or needs a non-empty list of filters")
    key: str | None = None
    values: list[Any] = []
    for branch in branches:
        conditions = _conditions(branch)
        if len(conditions) != 1 or conditions[0][1] not in ("$eq", "$in"):
            raise _fail(
                "$or can only be translated when every branch is an equality ($eq / $in) on "
                f"one and the same property; got branch {branch!r}"
            )
        branch_key, op, value = conditions[0]
        if key is not None and branch_key != key:
            raise _fail(
                f"$or across different properties ({key!r} and {branch_key!r}); Vectorize "
                "combines conditions only with AND — run one search per branch instead",
                branch_key,
            )
        key = branch_key
        for v in value if op == "$in" else [value]:
            if not any(_same(v, seen) for seen in values):
                values.append(v)
    assert key is not None
    return (key, "$eq", values[0]) if len(values) == 1 else (key, "$in", values)


def _conditions(filter: Any) -> list[Condition]:
    if not isinstance(filter, Mapping):
        raise _fail(f"a filter must be a dict, got {type(filter).__name__}")
    out: list[Condition] = []
    for key, condition in filter.items():
        if not isinstance(key, str) or not key:
            raise _fail(f"filter keys must be non-empty strings, got {key!r}")
        if key == "$and":
            if not isinstance(condition, list | tuple) or not condition:
                raise _fail("$and needs a non-empty list of filters")
            for part in condition:
                out += _conditions(part)
        elif key == "$or":
            out.append(_or_condition(condition))
        else:
            out += _key_conditions(key, condition)
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (True is not 1 for Vectorize)."""
    return type(a) is type(b) and a == b


def _identical(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return _same(a, b)


def _merge(conditions: Iterable[Condition]) -> dict[str, Any]:
    by_key: dict[str, dict[str, Any]] = {}
    for key, op, value in conditions:
        ops = by_key.setdefault(key, {})
        if op in ops:
            if _identical(ops[op], value):
                continue  # the same condition twice
            raise _fail(
                f"{key!r} has two {op} conditions ({ops[op]!r} and {value!r}); Vectorize allows "
                "one condition per property (or one lower plus one upper bound)",
                key,
            )
        ops[op] = value
    out: dict[str, Any] = {}
    for key, ops in by_key.items():
        ranges = [op for op in ops if op in limits.RANGE_OPERATORS]
        lower = [op for op in ranges if op in limits.LOWER_BOUND_OPERATORS]
        upper = [op for op in ranges if op in limits.UPPER_BOUND_OPERATORS]
        if len(ops) > 1 and (len(ranges) != len(ops) or len(lower) > 1 or len(upper) > 1):
            raise _fail(
                f"{key!r} combines {sorted(ops)}; Vectorize allows one condition per property, "
                "or one lower bound ($gt/$gte) with one upper bound ($lt/$lte)",
                key,
            )
        if list(ops) == ["$eq"] and not isinstance(ops["$eq"], Mapping):
            out[key] = ops["$eq"]
        else:
            out[key] = dict(ops)
    return out


def to_vectorize_filter(filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Vectorize filter equivalent to a LangChain filter dict (None for no filter).

    Raises :class:`FilterTranslationError` when no exact equivalent exists, and the core's
    :class:`~cloudflare_ai.errors.ValidationError` when the result breaks a Vectorize rule
    (value types, size).
    """
    if filter is None or (isinstance(filter, Mapping) and not filter):
        return None
    return check_filter(_merge(_conditions(filter)))


def filter_properties(vectorize_filter: Mapping[str, Any] | None) -> list[str]:
    """The properties a (translated) Vectorize filter reads."""
    return list(vectorize_filter or {})
