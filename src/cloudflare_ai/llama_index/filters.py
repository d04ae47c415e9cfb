"""LlamaIndex ``MetadataFilters`` parsed into the core's filter model.

This module only parses LlamaIndex's filter types into
:class:`~cloudflare_ai.filters.Condition` objects; merging, translation to Vectorize, refusal
of what Vectorize cannot express and evaluation happen once, in :mod:`cloudflare_ai.filters`,
so an equivalent LangChain filter selects exactly the same vectors. Parsed here:

* ``EQ NE GT GTE LT LTE IN NIN`` combined with AND (nested AND groups are flattened); dotted
  keys (``"author.name"``) reach nested values;
* an OR group → :func:`~cloudflare_ai.filters.any_of` (possible when every filter of the
  group is an equality, ``EQ``/``IN``, on one and the same key).

Everything else (OR across keys, NOT, ``ANY``, ``ALL``, ``CONTAINS``, ``TEXT_MATCH``,
``TEXT_MATCH_INSENSITIVE``, ``IS_EMPTY``) raises :class:`UnsupportedFilterError` (the core's):
a filter is never dropped or loosened, because a retriever that silently ignores part of its
filter returns documents the caller excluded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from ..filters import Condition, Filter, UnsupportedFilterError, any_of

__all__ = ["UnsupportedFilterError", "matches_filter", "to_filter", "to_vectorize_filter"]

_OPERATORS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
}


def _describe(group: MetadataFilters) -> str:
    parts = [
        f"{f.key} {f.operator.value} {f.value!r}" if isinstance(f, MetadataFilter) else "(...)"
        for f in group.filters
    ]
    condition = (group.condition or FilterCondition.AND).value.upper()
    return f" {condition} ".join(parts) or "no filters"


def _condition(flt: MetadataFilter) -> Condition:
    op = _OPERATORS.get(flt.operator)
    if op is None:
        raise UnsupportedFilterError(
            f"filter on {flt.key!r}: operator {flt.operator.name} ({flt.operator.value!r}) has "
            "no Vectorize equivalent (supported: EQ, NE, GT, GTE, LT, LTE, IN, NIN)",
            item=flt.key,
        )
    return Condition(flt.key, op, flt.value)


def _conditions(group: MetadataFilters) -> list[Condition]:
    condition = group.condition or FilterCondition.AND
    if condition == FilterCondition.NOT:
        raise UnsupportedFilterError(
            f"Vectorize has no NOT: cannot send NOT ({_describe(group)}); use NE / NIN filters"
        )
    branches = [
        _conditions(item) if isinstance(item, MetadataFilters) else [_condition(item)]
        for item in group.filters
    ]
    if condition == FilterCondition.OR and len(branches) > 1:
        return [any_of(branches)]
    return [c for branch in branches for c in branch]


def to_filter(filters: MetadataFilters | None, extra: Sequence[MetadataFilter] = ()) -> Filter:
    """The core :class:`~cloudflare_ai.filters.Filter` for ``filters`` AND ``extra``.
    Raises :class:`UnsupportedFilterError` for anything Vectorize cannot express."""
    conditions = _conditions(filters) if filters is not None else []
    conditions.extend(_condition(flt) for flt in extra)
    return Filter(conditions)


def to_vectorize_filter(
    filters: MetadataFilters | None, extra: Sequence[MetadataFilter] = ()
) -> dict[str, Any] | None:
    """The Vectorize filter JSON for ``filters`` AND ``extra`` (None: no constraint)."""
    return to_filter(filters, extra).to_vectorize()


def matches_filter(
    vectorize_filter: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    metadata_indexes: Mapping[str, str] | None = None,
) -> bool:
    """Whether ``metadata`` satisfies a (translated) Vectorize filter by Vectorize's rules
    (see :meth:`cloudflare_ai.filters.Filter.matches`)."""
    return Filter.from_vectorize(vectorize_filter).matches(metadata, metadata_indexes)
