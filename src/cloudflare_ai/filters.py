"""Vectorize metadata filters: one model that every adapter parses into, merged, translated and
evaluated here only.

Vectorize filters are one JSON object whose keys (property paths, dotted for nested values:
``"author.name"``) are combined with AND; each key takes ``$eq``/``$ne``/``$in``/``$nin`` or one
lower (``$gt``/``$gte``) plus one upper (``$lt``/``$lte``) range bound. Framework filters are
richer, so each adapter turns its own syntax into a list of :class:`Condition` (one property,
one Vectorize operator, one value) combined with AND, using :func:`any_of` for an OR of
equalities on one property; :class:`Filter` then does the rest the same way for everyone:

* **merging**: every condition on one key becomes one equivalent Vectorize condition when one
  exists: the tightest lower and upper bound (``x > 3 AND x > 5`` is ``x > 5``), ``$ne``/``$nin``
  united into one ``$nin``, and ``$eq``/``$in`` intersected, minus excluded values and outside
  the bounds (``k == 'a' AND k IN ['a', 'b']`` is ``k == 'a'``);
* **refusal**: what has no exact equivalent (an exclusion together with a range on one key,
  bounds of different kinds, conditions that contradict each other and would match nothing, an
  OR across properties) raises :class:`UnsupportedFilterError`. A filter is never dropped or
  loosened: a retriever that silently ignores part of its filter returns documents the caller
  excluded;
* **translation** to Vectorize's JSON (:meth:`Filter.to_vectorize`), checked by
  :func:`~cloudflare_ai.validation.check_filter` (value types, key rules, 2 KiB);
* **evaluation** of the same filter on stored metadata (:meth:`Filter.matches`), for operations
  that select vectors client-side, with Vectorize's rules: only indexed properties are visible,
  strings are indexed on their first 64 bytes, equality is type-strict (``1`` is not ``"1"``,
  ``True`` is not ``1``), ranges compare numbers with numbers and strings with strings, and
  ``$ne``/``$nin`` also match vectors that lack the property;
* **index check** (:meth:`Filter.unindexed`): the keys that no metadata index covers. Vectorize
  filters only see properties indexed *before* a vector was written, so a filter on an
  unindexed key matches nothing (or everything, for ``$ne``/``$nin``): the core warns with
  :class:`UnindexedFilterWarning` instead of returning ``[]`` silently.

The emulator has its own, independent filter engine, so tests can check one against the other.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from . import limits
from .errors import ValidationError
from .validation import check_filter

__all__ = [
    "Condition",
    "Filter",
    "FilterLike",
    "UnindexedFilterWarning",
    "UnsupportedFilterError",
    "any_of",
    "as_filter",
    "warn_unindexed",
]


class UnsupportedFilterError(ValidationError):
    """A filter Vectorize cannot express exactly (a ``ValueError``). Nothing was sent."""


class UnindexedFilterWarning(UserWarning):
    """A filter names a property without a Vectorize metadata index: it matches nothing (or,
    for ``$ne``/``$nin``, everything), because Vectorize only filters on properties that were
    indexed *before* the vectors were written."""


_MISSING: Final = object()
_OPERATORS: Final = limits.FILTER_OPERATORS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if _is_number(a):
        return _is_number(b)
    return type(a) is type(b)


def _equal(a: Any, b: Any) -> bool:
    """Vectorize equality: the same kind of value, and equal."""
    return _same_kind(a, b) and bool(a == b)


def _in_range(value: Any, op: str, bound: Any) -> bool:
    """Vectorize range test: numbers with numbers, strings with strings, else no match."""
    if value is _MISSING or isinstance(value, bool) or not isinstance(value, str | int | float):
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


def _fail(message: str, key: str | None = None) -> UnsupportedFilterError:
    return UnsupportedFilterError(f"cannot express this filter in Vectorize: {message}", item=key)


@dataclass(frozen=True, slots=True)
class Condition:
    """One test of one property: ``key`` (a property path, dotted for nested values), a
    Vectorize operator (``$eq $ne $in $nin $lt $lte $gt $gte``) and its value (a list for
    ``$in``/``$nin``)."""

    key: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise _fail(f"filter keys must be non-empty strings, got {self.key!r}")
        if self.key.startswith("$"):
            raise _fail(f"{self.key!r} is an operator, not a property", self.key)
        if self.op not in _OPERATORS:
            raise _fail(
                f"operator {self.op!r} on {self.key!r} is not supported (supported: "
                f"{', '.join(sorted(_OPERATORS))})",
                self.key,
            )
        if self.op in limits.SET_OPERATORS:
            if isinstance(self.value, str | bytes | Mapping) or not isinstance(
                self.value, Sequence | set | frozenset
            ):
                raise _fail(f"{self.key!r} {self.op} needs a list of values, got {self.value!r}")
            object.__setattr__(self, "value", list(self.value))
        elif isinstance(self.value, list | tuple | set | frozenset):
            raise _fail(
                f"{self.key!r} {self.op} takes one value, got the list {self.value!r}; use $in "
                "to match any of several values",
                self.key,
            )
        elif isinstance(self.value, Mapping):
            raise _fail(
                f"{self.key!r} {self.op} takes a string, number, boolean or null, not an "
                f"object; filter nested values with dotted keys ('{self.key}.field')",
                self.key,
            )
        if self.op in limits.RANGE_OPERATORS and (
            isinstance(self.value, bool) or not isinstance(self.value, str | int | float)
        ):
            raise _fail(
                f"{self.key!r} {self.op} needs a number or a string, got {self.value!r}", self.key
            )


def any_of(branches: Sequence[Sequence[Condition]]) -> Condition:
    """An OR of filters as one condition: possible only when every branch is a single
    ``$eq``/``$in`` on one and the same property (it becomes ``$in`` over their values)."""
    if not branches:
        raise _fail("an OR needs at least one filter")
    key: str | None = None
    values: list[Any] = []
    for branch in branches:
        if len(branch) != 1 or branch[0].op not in ("$eq", "$in"):
            described = " AND ".join(f"{c.key} {c.op} {c.value!r}" for c in branch) or "nothing"
            raise _fail(
                "Vectorize has no OR; an OR can only be sent when every branch is an equality "
                f"($eq / $in) on one and the same property (got branch: {described})",
                branch[0].key if branch else None,
            )
        (condition,) = branch
        if key is not None and condition.key != key:
            raise _fail(
                f"an OR across different properties ({key!r} and {condition.key!r}); Vectorize "
                "combines conditions only with AND — run one search per branch instead",
                condition.key,
            )
        key = condition.key
        values.extend(condition.value if condition.op == "$in" else [condition.value])
    assert key is not None
    values = _dedupe(values)
    return Condition(key, "$eq", values[0]) if len(values) == 1 else Condition(key, "$in", values)


@dataclass
class _KeyConditions:
    """Every AND-ed condition on one key, merged into one Vectorize condition."""

    key: str
    allowed: list[list[Any]] = field(default_factory=list)  # $eq / $in sets, intersected
    excluded: list[Any] = field(default_factory=list)  # $ne / $nin values, united
    lower: list[tuple[str, Any]] = field(default_factory=list)
    upper: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, condition: Condition) -> None:
        op, value = condition.op, condition.value
        if op == "$eq":
            self.allowed.append([value])
        elif op == "$in":
            if not value:
                raise _fail(f"{self.key!r} $in [] matches nothing", self.key)
            self.allowed.append(list(value))
        elif op == "$ne":
            self.excluded.append(value)
        elif op == "$nin":
            self.excluded.extend(value)  # $nin [] excludes nothing
        elif op in limits.LOWER_BOUND_OPERATORS:
            self.lower.append((op, value))
        else:
            self.upper.append((op, value))

    def _tightest(self, bounds: list[tuple[str, Any]], lower: bool) -> tuple[str, Any]:
        best = bounds[0]
        for op, value in bounds[1:]:
            if not _same_kind(value, best[1]):
                raise _fail(
                    f"{self.key!r} has range bounds {best[1]!r} and {value!r} of different "
                    "kinds; Vectorize compares numbers with numbers and strings with strings",
                    self.key,
                )
            if value == best[1]:
                if op in ("$gt", "$lt"):  # the strict bound is the tighter one
                    best = (op, value)
            elif (value > best[1]) == lower:
                best = (op, value)
        return best

    def merged(self) -> dict[str, Any] | None:
        """One Vectorize condition equivalent to all of them (None: no constraint)."""
        key = self.key
        lower = self._tightest(self.lower, lower=True) if self.lower else None
        upper = self._tightest(self.upper, lower=False) if self.upper else None
        if lower and upper and not _same_kind(lower[1], upper[1]):
            raise _fail(
                f"{key!r} has range bounds {lower[1]!r} and {upper[1]!r} of different kinds", key
            )
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
                raise _fail(
                    f"the conditions on {key!r} contradict each other and would match nothing",
                    key,
                )
            return {"$eq": candidates[0]} if len(candidates) == 1 else {"$in": candidates}
        if excluded and (lower or upper):
            raise _fail(
                f"{key!r} combines $ne/$nin with a range; Vectorize allows one condition per "
                "property, or one lower bound ($gt/$gte) with one upper bound ($lt/$lte)",
                key,
            )
        if excluded:
            return {"$ne": excluded[0]} if len(excluded) == 1 else {"$nin": excluded}
        out: dict[str, Any] = {}
        for bound in (lower, upper):
            if bound is not None:
                out[bound[0]] = bound[1]
        return out or None


def _merge(conditions: Iterable[Condition]) -> dict[str, dict[str, Any]]:
    by_key: dict[str, _KeyConditions] = {}
    single: dict[str, Condition | None] = {}
    for condition in conditions:
        by_key.setdefault(condition.key, _KeyConditions(condition.key)).add(condition)
        single[condition.key] = condition if condition.key not in single else None
    out: dict[str, dict[str, Any]] = {}
    for key, conditions_on_key in by_key.items():
        merged = conditions_on_key.merged()
        only = single[key]
        if merged is not None and only is not None and only.op in ("$ne", "$nin", "$in"):
            merged = {only.op: _dedupe(only.value) if only.op != "$ne" else only.value}
        if merged is not None:
            out[key] = merged
    return out


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
        return _truncated(value)
    if (index_type == "number" and _is_number(value)) or (
        index_type == "boolean" and isinstance(value, bool)
    ):
        return value
    return _MISSING


def _truncated(value: str) -> str:
    raw = value.encode()
    if len(raw) > limits.MAX_INDEXED_METADATA_BYTES:
        return raw[: limits.MAX_INDEXED_METADATA_BYTES].decode(errors="ignore")
    return value


def _normalised(value: Any) -> Any:
    return _truncated(value) if isinstance(value, str) else value


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


@dataclass(frozen=True, slots=True, init=False)
class Filter:
    """Conditions combined with AND (see the module docstring). Build one from conditions
    (``Filter([Condition("year", "$gt", 2020)])``), from Vectorize's own JSON
    (:meth:`from_vectorize`), or combine several (:meth:`all_of`)."""

    conditions: tuple[Condition, ...]
    #: Per key, the one Vectorize condition equivalent to all conditions on it.
    merged: Mapping[str, Mapping[str, Any]] = field(compare=False, repr=False)

    def __init__(self, conditions: Iterable[Condition] = ()) -> None:
        conditions = tuple(conditions)
        for condition in conditions:
            if not isinstance(condition, Condition):
                raise TypeError(f"Filter takes Condition objects, got {condition!r}")
        object.__setattr__(self, "conditions", conditions)
        # Merging refuses what Vectorize cannot express, so a Filter always translates.
        object.__setattr__(self, "merged", _merge(conditions))

    def __bool__(self) -> bool:
        return bool(self.conditions)

    @classmethod
    def from_vectorize(cls, raw: Mapping[str, Any] | None) -> Filter:
        """A filter written in Vectorize's JSON: ``{"k": v}`` or ``{"k": {"$op": v, ...}}``."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise _fail(f"a filter must be a mapping, got {type(raw).__name__}")
        conditions: list[Condition] = []
        for key, condition in raw.items():
            if isinstance(condition, Mapping):
                if not condition:
                    raise _fail(f"{key!r} has an empty condition", str(key))
                conditions.extend(Condition(key, op, value) for op, value in condition.items())
            else:
                conditions.append(Condition(key, "$eq", condition))
        return cls(conditions)

    @classmethod
    def all_of(cls, *parts: FilterLike) -> Filter:
        """Every part must hold: conditions of all parts, merged per key."""
        conditions: list[Condition] = []
        for part in parts:
            conditions.extend(as_filter(part).conditions)
        return cls(conditions)

    @property
    def keys(self) -> list[str]:
        """The properties the filter reads, in first-seen order."""
        return list(dict.fromkeys(c.key for c in self.conditions))

    def to_vectorize(self) -> dict[str, Any] | None:
        """Vectorize's JSON for this filter (None when nothing constrains the query); a lone
        ``$eq`` is written in the implicit form ``{"k": v}``."""
        merged = self.merged
        if not merged:
            return None
        compact = {key: ops["$eq"] if list(ops) == ["$eq"] else ops for key, ops in merged.items()}
        return check_filter(compact)

    def matches(
        self,
        metadata: Mapping[str, Any] | None,
        metadata_indexes: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether a vector with ``metadata`` satisfies the filter by Vectorize's rules.

        With ``metadata_indexes`` (property path → ``string``/``number``/``boolean``) only
        those properties are visible, as in Vectorize; without it every stored property is.
        """
        for key, ops in self.merged.items():
            if metadata_indexes is not None and key not in metadata_indexes:
                stored: Any = _MISSING
            else:
                index_type = metadata_indexes.get(key) if metadata_indexes is not None else None
                stored = _lookup(metadata, key)
                if stored is not _MISSING:
                    stored = _visible(stored, index_type)
            if not all(_test(stored, op, value) for op, value in ops.items()):
                return False
        return True

    def unindexed(self, metadata_indexes: Iterable[str]) -> list[str]:
        """The keys no metadata index covers (each needs one, created before writing)."""
        indexed = set(metadata_indexes)
        return [key for key in self.keys if key not in indexed]


FilterLike = Filter | Condition | Mapping[str, Any] | None


def as_filter(value: FilterLike) -> Filter:
    """A :class:`Filter` from a Filter, a single Condition, Vectorize JSON, or None."""
    if isinstance(value, Filter):
        return value
    if isinstance(value, Condition):
        return Filter([value])
    return Filter.from_vectorize(value)


def warn_unindexed(
    filter: Filter, metadata_indexes: Iterable[str], index: str, *, stacklevel: int = 2
) -> list[str]:
    """Warn (:class:`UnindexedFilterWarning`) when ``filter`` reads properties of ``index``
    that have no metadata index; returns those properties."""
    missing = filter.unindexed(metadata_indexes)
    if missing:
        nested = [key for key in missing if "." in key]
        hint = (
            f" For nested values, index the dotted path itself (e.g. {nested[0]!r})."
            if nested
            else ""
        )
        warnings.warn(
            f"filter on {', '.join(map(repr, missing))}, which has no metadata index in "
            f"Vectorize index {index!r}: Vectorize only filters on properties indexed before "
            "the vectors were written, so this filter matches nothing (or everything, for "
            "$ne/$nin). Create the metadata index first, then (re-)write the vectors." + hint,
            UnindexedFilterWarning,
            stacklevel=stacklevel + 1,
        )
    return missing
