"""LangChain metadata filters parsed into the core's filter model.

LangChain stores take MongoDB-style filter dicts. This module only parses that syntax into
:class:`~cloudflare_ai.filters.Condition` objects; merging, translation to Vectorize, refusal
of what Vectorize cannot express and evaluation happen once, in :mod:`cloudflare_ai.filters`,
so an equivalent LlamaIndex filter selects exactly the same vectors. Parsed here:

* ``{"k": v}`` and ``{"k": {"$eq": v}}``, ``$ne``, ``$in``, ``$nin``, ``$gt``, ``$gte``, ``$lt``,
  ``$lte``; dotted keys (``"author.name"``) reach nested values;
* ``{"k": {"$between": [lo, hi]}}`` → ``$gte lo`` and ``$lte hi``;
* ``{"$and": [f1, f2, ...]}`` and several keys in one dict → AND;
* ``{"$or": [...]}`` → :func:`~cloudflare_ai.filters.any_of` (possible when every branch is an
  equality on one and the same property).

Anything else (``$not``, ``$nor``, ``$like``, ``$exists``, ``$contain``, ...) raises
:class:`FilterTranslationError` (the core's ``UnsupportedFilterError``) naming why: a filter
is never dropped or loosened silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import limits
from ..filters import (
    Condition,
    Filter,
    UnindexedFilterWarning,
    UnsupportedFilterError,
    any_of,
)

__all__ = [
    "FilterTranslationError",
    "UnindexedFilterWarning",
    "filter_properties",
    "to_filter",
    "to_vectorize_filter",
]

#: The core's error for a filter Vectorize cannot express (the same class in every adapter).
FilterTranslationError = UnsupportedFilterError

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


def _fail(message: str, key: str | None = None) -> FilterTranslationError:
    return FilterTranslationError(f"cannot express this filter in Vectorize: {message}", item=key)


def _scalar_list(key: str, op: str, value: Any) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _fail(f"{key!r} {op} needs a list of values, got {value!r}", key)
    return list(value)  # the core decides: $in [] matches nothing, $nin [] excludes nothing


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
        return [Condition(key, "$eq", condition)]
    if not condition:
        raise _fail(f"{key!r} has an empty condition", key)
    out: list[Condition] = []
    for op, value in condition.items():
        if op == "$between":
            bounds = _scalar_list(key, op, value)
            if len(bounds) != 2:
                raise _fail(f"{key!r} $between needs [low, high], got {value!r}", key)
            out += [Condition(key, "$gte", bounds[0]), Condition(key, "$lte", bounds[1])]
        elif op in limits.SET_OPERATORS:
            out.append(Condition(key, op, _scalar_list(key, op, value)))
        elif op in limits.FILTER_OPERATORS:
            out.append(Condition(key, op, value))
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
    return any_of([_conditions(branch) for branch in branches])


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


def to_filter(filter: Mapping[str, Any] | None) -> Filter:
    """The core :class:`~cloudflare_ai.filters.Filter` equivalent to a LangChain filter dict
    (an empty Filter for None). Raises :class:`FilterTranslationError` when Vectorize cannot
    express it exactly."""
    if filter is None or (isinstance(filter, Mapping) and not filter):
        return Filter()
    return Filter(_conditions(filter))


def to_vectorize_filter(filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Vectorize filter JSON equivalent to a LangChain filter dict (None for no filter)."""
    return to_filter(filter).to_vectorize()


def filter_properties(filter: Mapping[str, Any] | None) -> list[str]:
    """The properties a LangChain filter reads."""
    return to_filter(filter).keys
