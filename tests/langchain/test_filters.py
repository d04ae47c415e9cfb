"""LangChain filter dicts → Vectorize filters (no HTTP)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudflare_ai.errors import ValidationError
from cloudflare_ai.langchain.filters import (
    FilterTranslationError,
    filter_properties,
    to_vectorize_filter,
)
from cloudflare_ai_local.filters import compile_filter

# --- translation rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("langchain", "vectorize"),
    [
        ({"genre": "drama"}, {"genre": "drama"}),
        ({"genre": {"$eq": "drama"}}, {"genre": "drama"}),
        ({"n": 3, "ok": True}, {"n": 3, "ok": True}),
        ({"genre": None}, {"genre": None}),
        ({"genre": {"$ne": "drama"}}, {"genre": {"$ne": "drama"}}),
        ({"genre": {"$in": ["a", "b"]}}, {"genre": {"$in": ["a", "b"]}}),
        ({"genre": {"$in": ("a", "b")}}, {"genre": {"$in": ["a", "b"]}}),
        ({"genre": {"$nin": ["a"]}}, {"genre": {"$nin": ["a"]}}),
        ({"year": {"$lt": 2000}}, {"year": {"$lt": 2000}}),
        ({"year": {"$lte": 2000}}, {"year": {"$lte": 2000}}),
        ({"year": {"$gt": 2000}}, {"year": {"$gt": 2000}}),
        ({"year": {"$gte": 2000}}, {"year": {"$gte": 2000}}),
        ({"year": {"$gte": 2000, "$lt": 2010}}, {"year": {"$gte": 2000, "$lt": 2010}}),
        ({"year": {"$between": [2000, 2010]}}, {"year": {"$gte": 2000, "$lte": 2010}}),
        ({"name": {"$gte": "net", "$lt": "neu"}}, {"name": {"$gte": "net", "$lt": "neu"}}),
        ({"pandas.nice": 42}, {"pandas.nice": 42}),
        # $and, merged into one implicit-AND object
        ({"$and": [{"a": 1}, {"b": {"$ne": 2}}]}, {"a": 1, "b": {"$ne": 2}}),
        ({"$and": [{"y": {"$gt": 1}}, {"y": {"$lte": 9}}]}, {"y": {"$gt": 1, "$lte": 9}}),
        ({"$and": [{"a": 1}, {"$and": [{"b": 2}]}]}, {"a": 1, "b": 2}),
        ({"$and": [{"a": 1}, {"a": {"$eq": 1}}]}, {"a": 1}),  # the same condition twice
        ({"a": 1, "$and": [{"b": 2}]}, {"a": 1, "b": 2}),
        # $or of equalities on one key → $in
        ({"$or": [{"g": "a"}, {"g": "b"}]}, {"g": {"$in": ["a", "b"]}}),
        ({"$or": [{"g": {"$eq": "a"}}, {"g": {"$in": ["b", "a", "c"]}}]},
         {"g": {"$in": ["a", "b", "c"]}}),
        ({"$or": [{"g": "a"}, {"g": "a"}]}, {"g": "a"}),
        ({"$or": [{"g": 1}, {"g": True}]}, {"g": {"$in": [1, True]}}),  # True is not 1
        ({"$or": [{"g": "a"}, {"$or": [{"g": "b"}]}]}, {"g": {"$in": ["a", "b"]}}),
        ({"$and": [{"$or": [{"g": "a"}, {"g": "b"}]}, {"n": {"$gte": 2}}]},
         {"g": {"$in": ["a", "b"]}, "n": {"$gte": 2}}),
        # several conditions on one key merge into the one equivalent condition (the core's
        # merge, shared with LlamaIndex)
        ({"$and": [{"a": {"$gt": 1}}, {"a": {"$gt": 2}}]}, {"a": {"$gt": 2}}),
        ({"a": {"$gt": 1, "$gte": 2}}, {"a": {"$gte": 2}}),
        ({"a": {"$gt": 2, "$gte": 2}}, {"a": {"$gt": 2}}),
        ({"a": {"$lt": 1, "$lte": 2}}, {"a": {"$lt": 1}}),
        ({"a": {"$eq": 1, "$ne": 2}}, {"a": 1}),
        ({"$and": [{"a": 1}, {"a": {"$lt": 5}}]}, {"a": 1}),
        ({"a": {"$in": [1], "$gt": 0}}, {"a": 1}),
        ({"$and": [{"k": "a"}, {"k": {"$in": ["a", "b"]}}]}, {"k": "a"}),
        ({"a": {"$between": [1, 2], "$gt": 0}}, {"a": {"$gte": 1, "$lte": 2}}),
        ({"a": {"$ne": 1, "$nin": [2]}}, {"a": {"$nin": [1, 2]}}),
        ({"a": {"$nin": []}}, None),  # excludes nothing
    ],
)  # fmt: skip
def test_translation(langchain: dict[str, Any], vectorize: dict[str, Any]) -> None:
    assert to_vectorize_filter(langchain) == vectorize


@pytest.mark.parametrize("empty", [None, {}])
def test_no_filter(empty: Any) -> None:
    assert to_vectorize_filter(empty) is None
    assert filter_properties(None) == []


def test_input_not_mutated_and_properties_listed() -> None:
    original = {"$and": [{"a": {"$in": ("x",)}}, {"b": {"$between": [1, 2]}}]}
    snapshot = repr(original)
    translated = to_vectorize_filter(original)
    assert repr(original) == snapshot
    assert filter_properties(translated) == ["a", "b"]


@pytest.mark.parametrize(
    ("langchain", "message"),
    [
        ({"$or": [{"a": 1}, {"b": 2}]}, r"OR across different properties \('a' and 'b'\)"),
        ({"$or": [{"a": {"$gt": 1}}, {"a": 0}]}, r"every branch is an equality"),
        ({"$or": [{"a": {"$ne": 1}}]}, r"every branch is an equality"),
        ({"$or": [{"$and": [{"a": 1}, {"b": 2}]}, {"a": 3}]}, r"every branch is an equality"),
        ({"$or": []}, r"\$or needs a non-empty list"),
        ({"$or": {"a": 1}}, r"\$or needs a non-empty list"),
        ({"$and": []}, r"\$and needs a non-empty list"),
        ({"$and": {"a": 1}}, r"\$and needs a non-empty list"),
        ({"$not": {"a": 1}}, r"'\$not' is not supported .*use \$ne / \$nin"),
        ({"$nor": [{"a": 1}]}, r"'\$nor' is not supported"),
        ({"$foo": 1}, r"'\$foo' is not supported \(it is not a property nor \$and / \$or\)"),
        ({"a": {"$like": "x%"}}, r"'\$like' on 'a': Vectorize has no pattern matching"),
        ({"a": {"$ilike": "x%"}}, r"'\$ilike' on 'a'"),
        ({"a": {"$regex": "x"}}, r"'\$regex' on 'a'"),
        ({"a": {"$exists": True}}, r"'\$exists' on 'a': Vectorize cannot test whether"),
        ({"a": {"$contain": "x"}}, r"'\$contain' on 'a'"),
        ({"a": {"$contains": "x"}}, r"'\$contains' on 'a'"),
        ({"a": {"$text": "x"}}, r"'\$text' on 'a'"),
        ({"a": {"$near": 1}}, r"operator '\$near' on 'a' is not supported \(supported: "),
        ({"a": {"$or": [1, 2]}}, r"'\$or' inside the condition of 'a'"),
        ({"a": {"$and": [1]}}, r"'\$and' inside the condition of 'a'"),
        ({"a": {}}, r"'a' has an empty condition"),
        ({"a": [1, 2]}, r"'a' is compared with a list"),
        ({"a": {"$in": "abc"}}, r"'a' \$in needs a list of values"),
        ({"a": {"$between": [1]}}, r"\$between needs \[low, high\]"),
        ({"$and": [{"a": 1}, {"a": 2}]}, r"conditions on 'a' contradict each other"),
        ({"$and": [{"a": 1}, {"a": True}]}, r"conditions on 'a' contradict each other"),
        ({"a": {"$in": []}}, r"'a' \$in \[\] matches nothing"),
        ({"a": {"$ne": 1, "$gt": 0}}, r"'a' combines \$ne/\$nin with a range"),
        ({"a": {"$gt": 1, "$lt": "z"}}, r"range bounds 1 and 'z' of different kinds"),
        ("a == 1", r"a filter must be a dict"),
        ({"$and": ["a"]}, r"a filter must be a dict"),
    ],
)
def test_refused(langchain: Any, message: str) -> None:
    with pytest.raises(FilterTranslationError, match=message) as info:
        to_vectorize_filter(langchain)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("cannot express this filter in Vectorize")


@pytest.mark.parametrize(
    ("langchain", "message"),
    [
        ({"a": {"$gt": True}}, r"'a' \$gt needs a number or a string"),
        ({"a": {"$eq": {"nested": 1}}}, r"not an object; filter nested values with dotted keys"),
        ({"a": {"$in": [[1]]}}, r"must be a string, number or boolean"),
        ({"a": float("nan")}, r"not a finite number"),
        ({"a": "x" * 2100}, r"Vectorize needs it under 2048"),
        ({'bad"key': 1}, r"not a valid property path"),
        ({"a..b": 1}, r"not a valid property path"),
    ],
)
def test_core_check_filter_still_applies(langchain: dict[str, Any], message: str) -> None:
    """What translates but breaks a Vectorize rule is refused by the core's check_filter."""
    with pytest.raises(ValidationError, match=message):
        to_vectorize_filter(langchain)


# --- property: the translation selects exactly the rows the original filter selects -------

_MISSING = object()
_NUMBERS = st.sampled_from([0, 1, 2, 2.5, 3, 4, 5])
_STRINGS = st.sampled_from(["", "a", "ab", "b", "ba", "c"])
_KEYS = {"n": _NUMBERS, "s": _STRINGS, "f": st.booleans()}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _eq(stored: Any, wanted: Any) -> bool:
    return stored is not _MISSING and _kind(stored) == _kind(wanted) and stored == wanted


def _op(stored: Any, op: str, value: Any) -> bool:
    """Plain-Python meaning of one LangChain operator, with Vectorize's conventions: a
    missing property matches only $ne / $nin, and values of different kinds never compare."""
    if op == "$eq":
        return _eq(stored, value)
    if op == "$ne":
        return not _eq(stored, value)
    if op == "$in":
        return any(_eq(stored, v) for v in value)
    if op == "$nin":
        return not any(_eq(stored, v) for v in value)
    if op == "$between":
        return _op(stored, "$gte", value[0]) and _op(stored, "$lte", value[1])
    if stored is _MISSING or _kind(stored) != _kind(value):
        return False
    return {
        "$lt": stored < value,
        "$lte": stored <= value,
        "$gt": stored > value,
        "$gte": stored >= value,
    }[op]


def evaluate(filter: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    for key, condition in filter.items():
        if key == "$and":
            ok = all(evaluate(part, row) for part in condition)
        elif key == "$or":
            ok = any(evaluate(part, row) for part in condition)
        elif isinstance(condition, Mapping):
            stored = row.get(key, _MISSING)
            ok = all(_op(stored, op, value) for op, value in condition.items())
        else:
            ok = _eq(row.get(key, _MISSING), condition)
        if not ok:
            return False
    return True


@st.composite
def key_clauses(draw: st.DrawFn, key: str) -> list[dict[str, Any]]:
    """One property's conditions, as one or more LangChain clauses (all ANDed)."""
    values = _KEYS[key]
    kind = draw(st.sampled_from(["eq", "op", "set", "range", "between", "or"]))
    if kind == "eq":
        return [{key: draw(values)}]
    if kind == "op":
        return [{key: {draw(st.sampled_from(["$eq", "$ne"])): draw(values)}}]
    if kind == "set":
        op = draw(st.sampled_from(["$in", "$nin"]))
        return [{key: {op: draw(st.lists(values, min_size=1, max_size=3))}}]
    if kind == "or":
        branches = [
            {key: draw(values)} if draw(st.booleans()) else {key: {"$in": [draw(values)]}}
            for _ in range(draw(st.integers(1, 3)))
        ]
        return [{"$or": branches}]
    if key == "f":  # booleans have no range
        return [{key: draw(values)}]
    if kind == "between":
        low, high = sorted([draw(values), draw(values)])
        return [{key: {"$between": [low, high]}}]
    bounds = {}
    if draw(st.booleans()):
        bounds[draw(st.sampled_from(["$gt", "$gte"]))] = draw(values)
    if draw(st.booleans()) or not bounds:
        bounds[draw(st.sampled_from(["$lt", "$lte"]))] = draw(values)
    if len(bounds) == 2 and draw(st.booleans()):  # the two bounds in separate $and parts
        return [{key: {op: v}} for op, v in bounds.items()]
    return [{key: bounds}]


@st.composite
def and_filters(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(_KEYS)), min_size=1, max_size=3, unique=True))
    clauses = [clause for key in keys for clause in draw(key_clauses(key))]
    clauses = draw(st.permutations(clauses))
    if len(clauses) == 1 and draw(st.booleans()):
        return dict(clauses[0])
    return {"$and": list(clauses)}


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    return {key: draw(values) for key, values in _KEYS.items() if draw(st.booleans())}


@settings(max_examples=300, deadline=None)
@given(and_filters(), st.lists(rows(), min_size=1, max_size=12))
def test_translation_selects_the_same_rows(
    langchain: dict[str, Any], dataset: list[dict[str, Any]]
) -> None:
    translated = to_vectorize_filter(langchain)
    assert translated is not None
    predicate = compile_filter(translated)  # the emulator's own evaluator of Vectorize filters
    expected = [i for i, row in enumerate(dataset) if evaluate(langchain, row)]
    actual = [i for i, row in enumerate(dataset) if predicate(row)]
    assert actual == expected, (langchain, translated)
