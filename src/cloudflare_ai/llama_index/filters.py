"""LlamaIndex ``MetadataFilters`` translated to Vectorize metadata filters, and evaluated locally.

Vectorize filters are one JSON object whose keys are combined with AND; each key takes
``$eq``/``$ne``/``$in``/``$nin`` or one lower (``$gt``/``$gte``) plus one upper
(``$lt``/``$lte``) range bound. :func:`to_vectorize_filter` maps what fits exactly:

* ``EQ NE GT GTE LT LTE IN NIN`` combined with AND (nested AND groups are flattened);
* several conditions on one key are merged into one equivalent condition when Vectorize can
  express it: range bounds keep the tightest lower and upper bound, ``NE``/``NIN`` become one
  ``$nin``, and ``EQ``/``IN`` become the set of values that satisfy every condition on the key
  (``$eq`` or ``$in``);
* an OR group whose filters are all ``EQ``/``IN`` on one key becomes ``$in``.

Everything else (OR across keys, NOT, ``ANY``, ``ALL``, ``CONTAINS``, ``TEXT_MATCH``,
``TEXT_MATCH_INSENSITIVE``, ``IS_EMPTY``, a contradiction that matches nothing) raises
:class:`UnsupportedFilterError`: a filter is never dropped or loosened, because a retriever
that silently ignores part of its filter returns documents the caller excluded.

Semantics worth knowing (Vectorize's, not LlamaIndex's in-memory evaluator): ``$ne`` and
``$nin`` also match vectors that lack the property; equality is type-strict (``1`` does not
equal ``"1"``); ranges compare numbers with numbers and strings with strings; and only
properties that had a metadata index when the vector was written are visible to the filter.

:func:`matches_filter` evaluates a translated filter against stored metadata with the same
rules, for the store's operations that select vectors client-side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from .. import limits
from ..errors import ValidationError
from ..validation import check_filter

__all__ = ["UnsupportedFilterError", "matches_filter", "to_vectorize_filter"]


class UnsupportedFilterError(ValidationError):
    """A LlamaIndex filter that Vectorize cannot express exactly. Nothing was sent."""


_RANGE = {
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
}
_SUPPORTED = (
    FilterOperator.EQ,
    FilterOperator.NE,
    FilterOperator.IN,
    FilterOperator.NIN,
    *_RANGE,
)
_MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if _is_number(a):
        return _is_number(b)
    return type(a) is type(b)


def _equal(a: Any, b: Any) -> bool:
    """Vectorize equality: same kind of value and equal."""
    return _same_kind(a, b) and bool(a == b)


def _in_range(value: Any, op: str, bound: Any) -> bool:
    """Vectorize range test: numbers with numbers, strings with strings, else no match."""
    if value is _MISSING or not isinstance(value, str | int | float):
        return False
    if not _same_kind(value, bound):
        return False
    if op == "$gt":
        return bool(value > bound)
    if op == "$gte":
        return bool(value >= bound)
    if op == "$lt":
        return bool(value < bound)
    return bool(value <= bound)


def _dedupe(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(_equal(value, seen) for seen in out):
            out.append(value)
    return out


@dataclass
class _KeyConditions:
    """Every AND-ed condition on one key, before merging."""

    key: str
    allowed: list[list[Any]] = field(default_factory=list)  # EQ / IN sets (intersected)
    excluded: list[Any] = field(default_factory=list)  # NE / NIN values (united)
    lower: list[tuple[str, Any]] = field(default_factory=list)
    upper: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, flt: MetadataFilter) -> None:
        op, value, key = flt.operator, flt.value, self.key
        if op in (FilterOperator.IN, FilterOperator.NIN):
            if not isinstance(value, list):
                raise UnsupportedFilterError(
                    f"filter on {key!r}: {op.name} needs a list of values, got {value!r}",
                    item=key,
                )
            if op == FilterOperator.IN:
                if not value:
                    raise UnsupportedFilterError(
                        f"filter on {key!r}: IN [] matches nothing; Vectorize refuses an empty "
                        "$in list",
                        item=key,
                    )
                self.allowed.append(list(value))
            else:
                self.excluded.extend(value)  # NIN [] excludes nothing: no condition
            return
        if isinstance(value, list):
            raise UnsupportedFilterError(
                f"filter on {key!r}: {op.name} takes one value, got the list {value!r}", item=key
            )
        if op == FilterOperator.EQ:
            self.allowed.append([value])
        elif op == FilterOperator.NE:
            self.excluded.append(value)
        else:
            if value is None:
                raise UnsupportedFilterError(
                    f"filter on {key!r}: {op.name} needs a number or a string, not None", item=key
                )
            target = self.lower if op in (FilterOperator.GT, FilterOperator.GTE) else self.upper
            target.append((_RANGE[op], value))

    def _tightest(self, bounds: list[tuple[str, Any]], lower: bool) -> tuple[str, Any]:
        best = bounds[0]
        for op, value in bounds[1:]:
            if not _same_kind(value, best[1]):
                raise UnsupportedFilterError(
                    f"filter on {self.key!r}: range bounds {best[1]!r} and {value!r} compare "
                    "different kinds of value; Vectorize cannot combine them",
                    item=self.key,
                )
            if value == best[1]:
                strict = op in ("$gt", "$lt")
                best = (op, value) if strict else best
            elif (value > best[1]) == lower:
                best = (op, value)
        return best

    def condition(self) -> dict[str, Any] | None:
        """One Vectorize condition equivalent to all of them (None: no constraint)."""
        key = self.key
        lower = self._tightest(self.lower, lower=True) if self.lower else None
        upper = self._tightest(self.upper, lower=False) if self.upper else None
        excluded = _dedupe(self.excluded)
        if self.allowed:
            candidates = _dedupe(self.allowed[0])
            for other in self.allowed[1:]:
                candidates = [v for v in candidates if any(_equal(v, o) for o in other)]
            candidates = [v for v in candidates if not any(_equal(v, e) for e in excluded)]
            for bound in (lower, upper):
                if bound is not None:
                    candidates = [v for v in candidates if _in_range(v, *bound)]
            if not candidates:
                raise UnsupportedFilterError(
                    f"filter on {key!r}: its conditions contradict each other and would match "
                    "nothing",
                    item=key,
                )
            return {"$eq": candidates[0]} if len(candidates) == 1 else {"$in": candidates}
        if excluded and (lower or upper):
            raise UnsupportedFilterError(
                f"filter on {key!r}: Vectorize cannot combine NE/NIN with a range on one key",
                item=key,
            )
        if excluded:
            return {"$ne": excluded[0]} if len(excluded) == 1 else {"$nin": excluded}
        out: dict[str, Any] = {}
        for bound in (lower, upper):
            if bound is not None:
                out[bound[0]] = bound[1]
        return out or None


def _or_as_in(group: MetadataFilters) -> MetadataFilter:
    """An OR of EQ/IN filters on one key, as one IN filter."""
    keys = {f.key for f in group.filters if isinstance(f, MetadataFilter)}
    plain = all(
        isinstance(f, MetadataFilter) and f.operator in (FilterOperator.EQ, FilterOperator.IN)
        for f in group.filters
    )
    if not plain or len(keys) != 1:
        raise UnsupportedFilterError(
            "Vectorize has no OR: an OR group can only be sent when all its filters are EQ/IN "
            f"on one key (got {_describe(group)})"
        )
    values: list[Any] = []
    for flt in group.filters:
        assert isinstance(flt, MetadataFilter)
        if isinstance(flt.value, list):
            values.extend(flt.value)
        else:
            values.append(flt.value)
    (key,) = keys
    return MetadataFilter(key=key, value=_dedupe(values), operator=FilterOperator.IN)


def _describe(group: MetadataFilters) -> str:
    parts = [
        f"{f.key} {f.operator.value} {f.value!r}" if isinstance(f, MetadataFilter) else "(...)"
        for f in group.filters
    ]
    condition = (group.condition or FilterCondition.AND).value.upper()
    return f" {condition} ".join(parts) or "no filters"


def _flatten(group: MetadataFilters, out: list[MetadataFilter]) -> None:
    condition = group.condition or FilterCondition.AND
    if condition == FilterCondition.NOT:
        raise UnsupportedFilterError(
            f"Vectorize has no NOT: cannot send NOT ({_describe(group)}); use NE / NIN filters"
        )
    if condition == FilterCondition.OR and len(group.filters) > 1:
        out.append(_or_as_in(group))
        return
    for item in group.filters:
        if isinstance(item, MetadataFilters):
            _flatten(item, out)
            continue
        if item.operator not in _SUPPORTED:
            raise UnsupportedFilterError(
                f"filter on {item.key!r}: operator {item.operator.name} ({item.operator.value!r})"
                " has no Vectorize equivalent (supported: EQ, NE, GT, GTE, LT, LTE, IN, NIN)",
                item=item.key,
            )
        out.append(item)


def to_vectorize_filter(
    filters: MetadataFilters | None,
    extra: Sequence[MetadataFilter] = (),
) -> dict[str, Any] | None:
    """The Vectorize filter equivalent to ``filters`` AND ``extra``, checked by the core's
    :func:`~cloudflare_ai.validation.check_filter` (operators, range rule, 2 KiB size);
    None when nothing constrains the query. Raises :class:`UnsupportedFilterError` (a
    :class:`~cloudflare_ai.errors.ValidationError`) for anything Vectorize cannot express."""
    flat: list[MetadataFilter] = []
    if filters is not None:
        _flatten(filters, flat)
    flat.extend(extra)
    by_key: dict[str, _KeyConditions] = {}
    for flt in flat:
        if not flt.key:
            raise UnsupportedFilterError("filter keys must be non-empty strings")
        by_key.setdefault(flt.key, _KeyConditions(flt.key)).add(flt)
    out: dict[str, Any] = {}
    for key, conditions in by_key.items():
        condition = conditions.condition()
        if condition is not None:
            out[key] = condition
    if not out:
        return None
    return check_filter(out)


def _lookup(metadata: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = metadata
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _visible(value: Any, index_type: str | None) -> Any:
    """What a metadata index of ``index_type`` holds for ``value`` (strings on their first
    64 bytes); _MISSING when the index would not hold it."""
    if index_type is None:
        return value
    if index_type == "string" and isinstance(value, str):
        raw = value.encode()
        if len(raw) > limits.MAX_INDEXED_METADATA_BYTES:
            return raw[: limits.MAX_INDEXED_METADATA_BYTES].decode(errors="ignore")
        return value
    if (index_type == "number" and _is_number(value)) or (
        index_type == "boolean" and isinstance(value, bool)
    ):
        return value
    return _MISSING


def _normalised(value: Any) -> Any:
    return _visible(value, "string") if isinstance(value, str) else value


def _test(stored: Any, op: str, wanted: Any) -> bool:
    present = stored is not _MISSING
    if op == "$eq":
        return present and _equal(stored, _normalised(wanted))
    if op == "$ne":
        return not (present and _equal(stored, _normalised(wanted)))
    if op == "$in":
        return present and any(_equal(stored, _normalised(v)) for v in wanted)
    if op == "$nin":
        return not (present and any(_equal(stored, _normalised(v)) for v in wanted))
    return _in_range(stored, op, _normalised(wanted))


def matches_filter(
    vectorize_filter: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    metadata_indexes: Mapping[str, str] | None = None,
) -> bool:
    """Whether a vector with ``metadata`` satisfies ``vectorize_filter`` by Vectorize's rules.

    With ``metadata_indexes`` (property → ``string``/``number``/``boolean``), only those
    properties are visible, as in Vectorize, where a filter sees only indexed properties
    (strings on their first 64 bytes); without it every stored property is visible.
    """
    if not vectorize_filter:
        return True
    for key, condition in vectorize_filter.items():
        if metadata_indexes is not None and key not in metadata_indexes:
            stored: Any = _MISSING
        else:
            index_type = metadata_indexes.get(key) if metadata_indexes is not None else None
            stored = _lookup(metadata, key)
            if stored is not _MISSING:
                stored = _visible(stored, index_type)
        ops = condition.items() if isinstance(condition, Mapping) else [("$eq", condition)]
        if not all(_test(stored, op, value) for op, value in ops):
            return False
    return True
