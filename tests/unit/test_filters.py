"""The core filter model, and the promise built on it: an equivalent filter written for
LangChain or for LlamaIndex becomes the same Vectorize filter (or the same refusal), and
selects the same vectors."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from cloudflare_ai.filters import (
    Condition,
    Filter,
    UnindexedFilterWarning,
    UnsupportedFilterError,
    any_of,
    warn_unindexed,
)
from cloudflare_ai.langchain.filters import FilterTranslationError
from cloudflare_ai.langchain.filters import to_filter as langchain_filter
from cloudflare_ai.llama_index.filters import to_filter as llama_filter
from cloudflare_ai_local.filters import compile_filter, indexed_snapshot

_LLAMA_OPS = {
    "$eq": FilterOperator.EQ,
    "$ne": FilterOperator.NE,
    "$in": FilterOperator.IN,
    "$nin": FilterOperator.NIN,
    "$gt": FilterOperator.GT,
    "$gte": FilterOperator.GTE,
    "$lt": FilterOperator.LT,
    "$lte": FilterOperator.LTE,
}


def as_langchain(conditions: list[tuple[str, str, Any]]) -> dict[str, Any]:
    return {"$and": [{key: {op: value}} for key, op, value in conditions]}


def as_llama(conditions: list[tuple[str, str, Any]]) -> MetadataFilters:
    return MetadataFilters(
        filters=[
            MetadataFilter(key=key, value=value, operator=_LLAMA_OPS[op])
            for key, op, value in conditions
        ]
    )


def translate(build: Any, conditions: list[tuple[str, str, Any]]) -> Any:
    """The Vectorize JSON, or the refusal's message."""
    try:
        return build(conditions).to_vectorize()
    except UnsupportedFilterError as exc:
        return ("refused", str(exc))


def both(conditions: list[tuple[str, str, Any]]) -> tuple[Any, Any]:
    return (
        translate(lambda c: langchain_filter(as_langchain(c)), conditions),
        translate(lambda c: llama_filter(as_llama(c)), conditions),
    )


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([("x", "$gt", 3), ("x", "$gt", 5)], {"x": {"$gt": 5}}),
        ([("k", "$eq", "a"), ("k", "$in", ["a", "b"])], {"k": "a"}),
        ([("x", "$gte", 3), ("x", "$lt", 9), ("x", "$lte", 7)], {"x": {"$gte": 3, "$lte": 7}}),
        ([("k", "$ne", "a"), ("k", "$nin", ["b", "a"])], {"k": {"$nin": ["a", "b"]}}),
        ([("k", "$in", ["a", "b", "c"]), ("k", "$ne", "b")], {"k": {"$in": ["a", "c"]}}),
        ([("author.name", "$eq", "Ada")], {"author.name": "Ada"}),
        ([("n", "$in", [1, 2]), ("n", "$ne", 2)], {"n": 1}),
    ],
)
def test_equivalent_filters_translate_identically(
    conditions: list[tuple[str, str, Any]], expected: dict[str, Any]
) -> None:
    lc, li = both(conditions)
    assert lc == li == expected


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([("k", "$eq", "a"), ("k", "$eq", "b")], "contradict each other"),
        ([("k", "$ne", 1), ("k", "$gt", 0)], r"combines \$ne/\$nin with a range"),
        ([("k", "$gt", 1), ("k", "$lt", "z")], "of different kinds"),
        ([("k", "$in", [])], "matches nothing"),
    ],
)
def test_equivalent_filters_are_refused_identically(
    conditions: list[tuple[str, str, Any]], message: str
) -> None:
    lc, li = both(conditions)
    assert lc == li
    assert lc[0] == "refused"
    assert re.search(message, lc[1])


def test_one_error_class_for_every_framework() -> None:
    assert FilterTranslationError is UnsupportedFilterError
    with pytest.raises(ValueError, match="OR across different properties"):
        any_of([[Condition("a", "$eq", 1)], [Condition("b", "$eq", 2)]])


def test_or_of_equalities_on_one_key_is_in_in_both_frameworks() -> None:
    lc = langchain_filter({"$or": [{"g": "a"}, {"g": {"$in": ["b", "a"]}}]})
    li = llama_filter(
        MetadataFilters(
            filters=[
                MetadataFilter(key="g", value="a"),
                MetadataFilter(key="g", value=["b", "a"], operator=FilterOperator.IN),
            ],
            condition=FilterCondition.OR,
        )
    )
    assert lc.to_vectorize() == li.to_vectorize() == {"g": {"$in": ["a", "b"]}}


def test_all_of_merges_filters_of_any_origin() -> None:
    merged = Filter.all_of({"year": {"$gt": 2000}}, Condition("year", "$gt", 2010), None)
    assert merged.to_vectorize() == {"year": {"$gt": 2010}}
    assert merged.keys == ["year"]
    assert not Filter() and Filter().to_vectorize() is None


def test_nested_values_are_reached_with_dotted_keys() -> None:
    flt = Filter.from_vectorize({"author.name": "Ada"})
    metadata = {"author": {"name": "Ada", "born": 1815}}
    assert flt.matches(metadata)
    assert flt.matches(metadata, {"author.name": "string"})
    # Only the dotted path's own metadata index makes it visible, as in Vectorize.
    assert not flt.matches(metadata, {"author": "string"})
    with pytest.raises(UnsupportedFilterError, match="not an object; filter nested values"):
        Condition("author", "$eq", {"name": "Ada"})


def test_unindexed_keys_warn_and_nested_ones_say_how_to_index() -> None:
    flt = Filter.from_vectorize({"author.name": "Ada", "topic": "x"})
    with pytest.warns(UnindexedFilterWarning, match=r"'author\.name'.*index the dotted path"):
        missing = warn_unindexed(flt, ["topic"], "docs")
    assert missing == ["author.name"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_unindexed(flt, ["topic", "author.name"], "docs") == []


# --- property: same translation in both frameworks, and the same selection as the emulator ---

KEYS = ["a", "b", "n.x"]
# LlamaIndex's MetadataFilter takes no booleans, so the shared vocabulary has none.
scalars = st.one_of(st.integers(-3, 3), st.sampled_from(["p", "q", "r"]), st.none())
orderables = st.one_of(st.integers(-3, 3), st.sampled_from(["p", "q", "r"]))


@st.composite
def conditions(draw: st.DrawFn) -> tuple[str, str, Any]:
    key = draw(st.sampled_from(KEYS))
    op = draw(st.sampled_from(sorted(_LLAMA_OPS)))
    if op in ("$in", "$nin"):
        # LlamaIndex takes lists of one type only
        value: Any = draw(
            st.one_of(
                st.lists(st.integers(-3, 3), min_size=1, max_size=3),
                st.lists(st.sampled_from(["p", "q", "r"]), min_size=1, max_size=3),
            )
        )
    elif op in ("$eq", "$ne"):
        value = draw(scalars)
    else:
        value = draw(orderables)
    return key, op, value


metadata_values = st.one_of(scalars, st.just("missing"))


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("a", "b"):
        value = draw(metadata_values)
        if value != "missing":
            out[key] = value
    nested = draw(metadata_values)
    if nested != "missing":
        out["n"] = {"x": nested}
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conditions(), min_size=1, max_size=4), st.lists(records(), max_size=6))
def test_both_frameworks_agree_and_select_what_vectorize_selects(
    conds: list[tuple[str, str, Any]], rows: list[dict[str, Any]]
) -> None:
    lc, li = both(conds)
    assert lc == li
    if isinstance(lc, tuple):
        return  # refused by both, with the same message
    indexes = {"a": "string", "b": "number", "n.x": "string"}
    flt = Filter.from_vectorize(lc)
    if lc is None:
        assert all(flt.matches(row, indexes) for row in rows)
        return
    predicate = compile_filter(lc)
    separate = [compile_filter({key: {op: value}}) for key, op, value in conds]
    for row in rows:
        snapshot = indexed_snapshot(row, indexes)
        selected = predicate(snapshot)
        # merging changed nothing: the same rows as every condition applied on its own
        assert selected == all(p(snapshot) for p in separate), row
        # and the core's evaluator agrees with the emulator's
        assert flt.matches(row, indexes) == selected, row
