"""LlamaIndex MetadataFilters → Vectorize filters: each rule, and a property test that the
translated filter, evaluated by the emulator's Vectorize evaluator, selects exactly the rows
LlamaIndex's own evaluator selects."""

from __future__ import annotations

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
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from cloudflare_ai import ValidationError
from cloudflare_ai.llama_index.filters import (
    UnsupportedFilterError,
    matches_filter,
    to_vectorize_filter,
)
from cloudflare_ai_local.filters import compile_filter, indexed_snapshot

Op = FilterOperator


def f(key: str, value: Any, op: FilterOperator = Op.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


def fs(*items: MetadataFilter | MetadataFilters, condition: str = "and") -> MetadataFilters:
    return MetadataFilters(filters=list(items), condition=FilterCondition(condition))


# --- one rule at a time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("a", "x"), {"a": "x"}),
        (f("a", 1, Op.NE), {"a": {"$ne": 1}}),
        (f("a", 1.5, Op.GT), {"a": {"$gt": 1.5}}),
        (f("a", 1, Op.GTE), {"a": {"$gte": 1}}),
        (f("a", "m", Op.LT), {"a": {"$lt": "m"}}),
        (f("a", 9, Op.LTE), {"a": {"$lte": 9}}),
        (f("a", ["x", "y"], Op.IN), {"a": {"$in": ["x", "y"]}}),
        (f("a", [1, 2], Op.NIN), {"a": {"$nin": [1, 2]}}),
        (f("a", None), {"a": None}),
    ],
)
def test_each_operator(flt: MetadataFilter, expected: dict[str, Any]) -> None:
    assert to_vectorize_filter(fs(flt)) == expected


def test_no_filters_is_none() -> None:
    assert to_vectorize_filter(None) is None
    assert to_vectorize_filter(fs()) is None
    assert to_vectorize_filter(fs(f("a", [], Op.NIN))) is None  # NIN [] excludes nothing


def test_and_across_keys_and_nested_and_groups_flatten() -> None:
    nested = fs(f("a", 1), fs(f("b", "x", Op.NE), fs(f("c", 2, Op.GT))))
    assert to_vectorize_filter(nested) == {
        "a": 1,
        "b": {"$ne": "x"},
        "c": {"$gt": 2},
    }


def test_range_bounds_on_one_key_merge_to_the_tightest() -> None:
    assert to_vectorize_filter(fs(f("n", 1, Op.GT), f("n", 9, Op.LTE))) == {
        "n": {"$gt": 1, "$lte": 9}
    }
    assert to_vectorize_filter(fs(f("n", 1, Op.GT), f("n", 3, Op.GTE), f("n", 3, Op.GT))) == {
        "n": {"$gt": 3}
    }
    assert to_vectorize_filter(fs(f("n", 9, Op.LT), f("n", 5, Op.LTE), f("n", 5, Op.LT))) == {
        "n": {"$lt": 5}
    }


def test_equalities_sets_and_exclusions_on_one_key_merge() -> None:
    assert to_vectorize_filter(fs(f("a", 1, Op.NE), f("a", [2, 3], Op.NIN))) == {
        "a": {"$nin": [1, 2, 3]}
    }
    assert to_vectorize_filter(fs(f("a", [1, 2, 3], Op.IN), f("a", [2, 3, 4], Op.IN))) == {
        "a": {"$in": [2, 3]}
    }
    assert to_vectorize_filter(fs(f("a", [1, 2, 3], Op.IN), f("a", 2, Op.NE))) == {
        "a": {"$in": [1, 3]}
    }
    assert to_vectorize_filter(fs(f("a", [1, 5, 9], Op.IN), f("a", 4, Op.GT))) == {
        "a": {"$in": [5, 9]}
    }
    assert to_vectorize_filter(fs(f("a", 5), f("a", 5))) == {"a": 5}


def test_or_of_equalities_on_one_key_becomes_in() -> None:
    group = fs(f("a", "x"), f("a", ["y", "x"], Op.IN), condition="or")
    assert to_vectorize_filter(group) == {"a": {"$in": ["x", "y"]}}
    assert to_vectorize_filter(fs(f("b", 1), group)) == {"b": 1, "a": {"$in": ["x", "y"]}}
    # an OR with one filter is just that filter
    assert to_vectorize_filter(fs(f("a", 3, Op.GT), condition="or")) == {"a": {"$gt": 3}}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (fs(f("a", 1), f("b", 2), condition="or"), "OR across different properties"),
        (fs(f("a", 1), f("a", 2, Op.GT), condition="or"), "no OR"),
        (fs(f("a", 1), condition="not"), "no NOT"),
        (fs(f("a", ["x"], Op.ANY)), "ANY"),
        (fs(f("a", ["x"], Op.ALL)), "ALL"),
        (fs(f("a", "x", Op.CONTAINS)), "CONTAINS"),
        (fs(f("a", "x", Op.TEXT_MATCH)), "TEXT_MATCH"),
        (fs(f("a", "x", Op.TEXT_MATCH_INSENSITIVE)), "TEXT_MATCH_INSENSITIVE"),
        (fs(f("a", None, Op.IS_EMPTY)), "IS_EMPTY"),
        (fs(f("a", 1), f("a", 2)), "contradict"),
        (fs(f("a", [1], Op.IN), f("a", 1, Op.NE)), "contradict"),
        (fs(f("a", 1, Op.NE), f("a", 5, Op.GT)), "combines \\$ne/\\$nin with a range"),
        (fs(f("a", 1, Op.GT), f("a", "x", Op.GT)), "different kinds"),
        (fs(f("a", [], Op.IN)), "matches nothing"),
        (fs(f("a", "x", Op.IN)), "needs a list"),
        (fs(f("a", [1, 2], Op.EQ)), "takes one value"),
        (fs(f("a", None, Op.GT)), "needs a number or a string, got None"),
    ],
)
def test_what_vectorize_cannot_express_is_refused(filters: MetadataFilters, message: str) -> None:
    with pytest.raises(UnsupportedFilterError, match=message) as err:
        to_vectorize_filter(filters)
    assert isinstance(err.value, ValidationError) and isinstance(err.value, ValueError)


def test_core_checks_run_on_the_result() -> None:
    with pytest.raises(ValidationError, match="2048"):
        to_vectorize_filter(fs(f("a", [f"value-{i:04d}" for i in range(300)], Op.IN)))
    with pytest.raises(ValidationError, match="not a valid property path"):
        to_vectorize_filter(fs(f("a..b", 1)))


def test_extra_filters_are_and_ed() -> None:
    extra = [f("ref_doc_id", ["d1", "d2"], Op.IN)]
    assert to_vectorize_filter(fs(f("ref_doc_id", "d2")), extra) == {"ref_doc_id": "d2"}
    assert to_vectorize_filter(None, extra) == {"ref_doc_id": {"$in": ["d1", "d2"]}}


def test_local_evaluation_follows_vectorize_rules() -> None:
    assert matches_filter({"a": {"$ne": 1}}, {})  # missing matches $ne / $nin
    assert matches_filter({"a": {"$nin": [1]}}, {"b": 2})
    assert not matches_filter({"a": {"$eq": 1}}, {"a": "1"})  # type-strict equality
    assert not matches_filter({"a": {"$gt": 1}}, {"a": "5"})  # ranges compare like with like
    assert matches_filter({"a.b": {"$gte": "m"}}, {"a": {"b": "z"}})  # dotted paths
    assert matches_filter({"a": 1}, {"a": 1.0})  # implicit $eq, numbers compare as numbers
    indexes = {"a": "string"}
    long = "x" * 70
    assert matches_filter({"a": {"$eq": long[:64] + "tail"}}, {"a": long}, indexes)
    assert not matches_filter({"b": {"$eq": 1}}, {"b": 1}, indexes)  # b is not indexed
    assert matches_filter({"b": {"$ne": 1}}, {"b": 1}, indexes)  # ... so it is "missing"
    assert not matches_filter({"a": {"$eq": 3}}, {"a": 3}, indexes)  # wrong index type


# --- property: same rows as LlamaIndex's evaluator ---------------------------------------------

KEYS = {"n": "number", "m": "number", "s": "string", "t": "string"}
INTS = st.integers(min_value=-3, max_value=3)
STRS = st.sampled_from(["a", "b", "c", "d"])


def _value(key: str) -> st.SearchStrategy[Any]:
    return INTS if KEYS[key] == "number" else STRS


rows = st.lists(st.fixed_dictionaries({key: _value(key) for key in KEYS}), min_size=1, max_size=12)


@st.composite
def single_filter(draw: st.DrawFn) -> MetadataFilter:
    key = draw(st.sampled_from(sorted(KEYS)))
    op = draw(st.sampled_from([Op.EQ, Op.NE, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.IN, Op.NIN]))
    if op in (Op.IN, Op.NIN):
        value: Any = draw(st.lists(_value(key), min_size=1, max_size=3))
    else:
        value = draw(_value(key))
    return f(key, value, op)


and_filters = st.lists(single_filter(), min_size=1, max_size=4).map(lambda items: fs(*items))


def _llama_selects(filters: MetadataFilters, data: list[dict[str, Any]]) -> set[int]:
    fn = build_metadata_filter_fn(lambda i: data[int(i)], filters)
    return {i for i in range(len(data)) if fn(str(i))}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filters=and_filters, data=rows)
def test_translated_filters_select_what_llama_index_selects(
    filters: MetadataFilters, data: list[dict[str, Any]]
) -> None:
    """Every row has every key (on missing keys Vectorize's $ne/$nin match while LlamaIndex's
    evaluator agrees only for None values; see the module docstring of filters.py)."""
    expected = _llama_selects(filters, data)
    try:
        translated = to_vectorize_filter(filters)
    except UnsupportedFilterError as err:
        refusal = str(err)
        translated = None
    else:
        refusal = ""
    if refusal:
        # refused only when the conditions on one key cannot be merged exactly: a
        # contradiction (then LlamaIndex selects nothing) or NE/NIN beside a range
        assert not expected or "range" in refusal, (filters, refusal)
        return
    vectorize = compile_filter(translated or {})
    selected = {i for i, row in enumerate(data) if vectorize(indexed_snapshot(row, KEYS))}
    assert selected == expected, (filters, translated)
    # the store's local evaluator (get_nodes, node_ids queries) agrees too
    assert {i for i, row in enumerate(data) if matches_filter(translated, row, KEYS)} == expected
