"""Every check in validation.py, with valid and invalid inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloudflare_ai import ValidationError
from cloudflare_ai.validation import (
    check_dimensions,
    check_filter,
    check_id,
    check_index_name,
    check_metadata,
    check_namespace,
    check_top_k,
    check_unique_ids,
    check_values,
)

# --- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vector_id", ["a", "x" * 64, "é" * 32, "日本" * 10 + "abcd", "id with spaces"]
)
def test_id_valid(vector_id: str) -> None:
    assert check_id(vector_id, 0) == vector_id


def test_id_65_ascii_bytes_refused() -> None:
    with pytest.raises(ValidationError) as info:
        check_id("x" * 65, 7)
    exc = info.value
    assert exc.item == "x" * 65
    assert exc.position == 7
    assert "position 7" in str(exc)
    assert "65 bytes" in str(exc)


def test_id_counts_utf8_bytes_not_characters() -> None:
    vector_id = "é" * 33  # 33 characters, 66 bytes
    assert len(vector_id) < 64
    with pytest.raises(ValidationError, match="66 bytes") as info:
        check_id(vector_id, 2)
    assert info.value.item == vector_id
    assert info.value.position == 2
    assert info.value.field == "id"
    emoji = "🙂" * 16 + "a"  # 17 characters, 65 bytes
    with pytest.raises(ValidationError, match="65 bytes"):
        check_id(emoji)


@pytest.mark.parametrize("vector_id", ["", None, 42, b"bytes"])
def test_id_empty_or_not_string(vector_id: object) -> None:
    with pytest.raises(ValidationError, match="non-empty string") as info:
        check_id(vector_id, 4)
    assert info.value.position == 4
    assert "position 4" in str(info.value)


# --- namespaces -------------------------------------------------------------------------------


def test_namespace_valid() -> None:
    assert check_namespace("n" * 64) == "n" * 64
    assert check_namespace("ü" * 32) == "ü" * 32


def test_namespace_too_long_names_vector_and_position() -> None:
    with pytest.raises(ValidationError, match="65 bytes") as info:
        check_namespace("n" * 65, "vec-9", 9)
    exc = info.value
    assert (exc.item, exc.position, exc.field) == ("vec-9", 9, "namespace")
    assert "vec-9" in str(exc)
    assert "position 9" in str(exc)
    with pytest.raises(ValidationError, match="66 bytes"):
        check_namespace("ü" * 33)


@pytest.mark.parametrize("namespace", ["", None, 5])
def test_namespace_empty_or_not_string(namespace: object) -> None:
    with pytest.raises(ValidationError, match="non-empty string"):
        check_namespace(namespace, "v", 1)


# --- metadata ---------------------------------------------------------------------------------


def test_metadata_valid_types_return_compact_json() -> None:
    metadata = {
        "s": "x",
        "i": 1,
        "f": 1.5,
        "b": True,
        "n": None,
        "tags": ["a", "b", 3, False],
        "nested": {"deep": {"k": "v"}},
    }
    encoded = check_metadata(metadata, "v", 0)
    assert encoded.startswith(b'{"s":"x","i":1')
    assert b" " not in encoded


def test_metadata_exactly_10_kib_allowed_one_more_refused() -> None:
    overhead = len(b'{"k":""}')
    ok = {"k": "x" * (10 * 1024 - overhead)}
    assert len(check_metadata(ok)) == 10 * 1024
    too_big = {"k": "x" * (10 * 1024 - overhead + 1)}
    with pytest.raises(ValidationError, match="10241 bytes") as info:
        check_metadata(too_big, "big-one", 11)
    assert (info.value.item, info.value.position, info.value.field) == ("big-one", 11, "metadata")
    assert "big-one" in str(info.value)
    assert "position 11" in str(info.value)


def test_metadata_size_counts_utf8_bytes() -> None:
    # 3500 three-byte characters: 3500 characters but 10500 bytes
    with pytest.raises(ValidationError, match="bytes of JSON"):
        check_metadata({"k": "€" * 3500})


@pytest.mark.parametrize(
    ("metadata", "path"),
    [
        ({"a.b": 1}, "a.b"),
        ({'say"hi': 1}, 'say"hi'),
        ({"$lt": 1}, "$lt"),
        ({"outer": {"in.ner": 1}}, "outer.in.ner"),
        ({"outer": {"$x": 1}}, "outer.$x"),
    ],
)
def test_metadata_bad_keys(metadata: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_metadata(metadata, "doc-3", 3)
    exc = info.value
    assert exc.field == path
    assert (exc.item, exc.position) == ("doc-3", 3)
    assert repr(path) in str(exc)
    assert "doc-3" in str(exc)


def test_metadata_key_with_dollar_inside_is_fine() -> None:
    check_metadata({"price$": 1, "a$b": 2})


@pytest.mark.parametrize("key", ["", 1, None])
def test_metadata_key_must_be_non_empty_string(key: object) -> None:
    with pytest.raises(ValidationError, match="non-empty strings"):
        check_metadata({key: 1})


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({1, 2}, "set"),
        (b"raw", "bytes"),
        (object(), "object"),
        (np.float32(1.0), "float32"),
        (1 + 2j, "complex"),
    ],
)
def test_metadata_unsupported_value_types(value: object, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        check_metadata({"bad": value}, "v", 5)
    assert info.value.field == "bad"
    assert info.value.position == 5


def test_metadata_nested_containers_in_lists_refused() -> None:
    with pytest.raises(ValidationError, match="nested") as info:
        check_metadata({"tags": ["a", ["b"]]}, "v", 0)
    assert info.value.field == "tags"
    with pytest.raises(ValidationError, match="nested"):
        check_metadata({"tags": [{"a": 1}]})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_metadata_non_finite_numbers(value: float) -> None:
    with pytest.raises(ValidationError, match="JSON cannot carry") as info:
        check_metadata({"score": value}, "v", 1)
    assert info.value.field == "score"
    with pytest.raises(ValidationError) as nested:
        check_metadata({"a": {"b": [1.0, value]}}, "v", 1)
    assert nested.value.field == "a.b[1]"


def test_metadata_must_be_mapping() -> None:
    with pytest.raises(ValidationError, match="mapping"):
        check_metadata(["not", "a", "dict"], "v", 0)


@pytest.mark.parametrize("value", [2**64 - 1, -(2**63), 0])
def test_metadata_64_bit_integers_allowed(value: int) -> None:
    assert str(value).encode() in check_metadata({"n": value})


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 2**70])
def test_metadata_int_beyond_64_bits_is_validation_error(value: int) -> None:
    with pytest.raises(ValidationError, match="64 bits") as info:
        check_metadata({"outer": {"big": value}}, "v9", 9)
    assert (info.value.item, info.value.position, info.value.field) == ("v9", 9, "outer.big")


@pytest.mark.parametrize("flt", [{"n": 2**70}, {"n": {"$in": [2**70]}}, {"n": {"$gt": 2**70}}])
def test_filter_int_beyond_64_bits_is_validation_error(flt: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        check_filter(flt)


def test_values_int_too_large_for_float_is_validation_error() -> None:
    with pytest.raises(ValidationError):
        check_values([10**400, 1.0], 2, "v", 0)


# --- values -----------------------------------------------------------------------------------


def test_values_valid_become_float32() -> None:
    out = check_values([1, 2.5, -3], 3, "v", 0)
    assert out.dtype == np.float32
    assert out.tolist() == [1.0, 2.5, -3.0]
    assert check_values(np.arange(4, dtype=np.float64), None).shape == (4,)


def test_values_wrong_length_vs_dimensions() -> None:
    with pytest.raises(ValidationError, match="has 3 values but the index has 4") as info:
        check_values([1, 2, 3], 4, "short", 12)
    exc = info.value
    assert (exc.item, exc.position, exc.field) == ("short", 12, "values")
    assert "'short'" in str(exc)
    assert "position 12" in str(exc)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_values_non_finite(bad: float) -> None:
    with pytest.raises(ValidationError, match=r"value \[2\]") as info:
        check_values([0.0, 1.0, bad, 3.0], 4, "v", 6)
    assert info.value.position == 6


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_values_float32_overflow() -> None:
    assert check_values([3.0e38], 1)[0] == np.float32(3.0e38)
    with pytest.raises(ValidationError, match=r"value \[1\].*overflows float32") as info:
        check_values([0.0, 1e39], 2, "huge", 0)
    assert info.value.item == "huge"
    with pytest.raises(ValidationError, match="overflows float32"):
        check_values([0.0, -4e38], 2)


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], "abc", [1, "x"], None, [None, 1.0]])
def test_values_shape_and_type(bad: object) -> None:
    with pytest.raises(ValidationError):
        check_values(bad, None, "v", 0)


@pytest.mark.parametrize("dimensions", [1, 768, 1536])
def test_dimensions_valid(dimensions: int) -> None:
    assert check_dimensions(dimensions) == dimensions


@pytest.mark.parametrize("dimensions", [0, 1537, -1, True, 2.0, "3"])
def test_dimensions_invalid(dimensions: object) -> None:
    with pytest.raises(ValidationError):
        check_dimensions(dimensions)  # type: ignore[arg-type]


# --- topK -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top_k", "values", "metadata"),
    [
        (1, False, "none"),
        (100, False, "none"),
        (100, False, "indexed"),
        (50, True, "none"),
        (50, False, "all"),
        (50, True, "all"),
    ],
)
def test_top_k_within_caps(top_k: int, values: bool, metadata: str) -> None:
    assert check_top_k(top_k, values, metadata) == top_k


@pytest.mark.parametrize(
    ("top_k", "values", "metadata", "cap"),
    [
        (101, False, "none", 100),
        (101, False, "indexed", 100),
        (51, True, "none", 50),
        (51, False, "all", 50),
        (100, True, "indexed", 50),
    ],
)
def test_top_k_over_caps(top_k: int, values: bool, metadata: str, cap: int) -> None:
    with pytest.raises(ValidationError, match=f"cap of {cap}"):
        check_top_k(top_k, values, metadata)


@pytest.mark.parametrize("top_k", [0, -5, True, 1.5, "5"])
def test_top_k_not_positive_integer(top_k: object) -> None:
    with pytest.raises(ValidationError, match="positive integer"):
        check_top_k(top_k, False, "none")  # type: ignore[arg-type]


def test_return_metadata_value_checked() -> None:
    with pytest.raises(ValidationError, match="return_metadata"):
        check_top_k(5, False, "everything")


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flt",
    [
        {"genre": "drama"},
        {"genre": None},
        {"year": {"$gte": 2000, "$lt": 2010}},
        {"year": {"$gt": 2000, "$lte": 2010}},
        {"name": {"$gte": "net", "$lt": "neu"}},
        {"year": {"$gt": 1999}},
        {"genre": {"$in": ["drama", "comedy", None]}},
        {"genre": {"$nin": [1, 2]}},
        {"genre": {"$ne": "horror"}, "year": {"$lte": 2020}},
        {"pandas.nice": 42},
        {"flag": {"$eq": True}},
    ],
)
def test_filter_valid(flt: dict[str, object]) -> None:
    assert check_filter(flt) == flt


@pytest.mark.parametrize(
    ("flt", "item", "fragment"),
    [
        ({"genre": {"$regex": "dr.*"}}, "genre", "not supported"),
        ({"$or": [{"a": 1}, {"b": 2}]}, "$or", "logical"),
        ({"$and": [{"a": 1}]}, "$and", "logical"),
        ({"genre": {"$in": []}}, "genre", "non-empty list"),
        ({"genre": {"$nin": "drama"}}, "genre", "non-empty list"),
        ({"genre": {"$in": [["nested"]]}}, "genre", "string, number or boolean"),
        ({"year": {"$gt": 1, "$gte": 2}}, "year", "range operators"),
        ({"year": {"$lt": 1, "$lte": 2}}, "year", "range operators"),
        ({"year": {"$eq": 1, "$gt": 0}}, "year", "range operators"),
        ({"year": {"$eq": 1, "$ne": 2}}, "year", "lower and an upper"),
        ({"year": {"$gt": True}}, "year", "range operators take"),
        ({"year": {"$lt": None}}, "year", "range operators take"),
        ({"year": {"$gt": math.nan}}, "year", "finite"),
        ({"year": math.inf}, "year", "finite"),
        ({"tags": ["a", "b"]}, "tags", "string, number or boolean"),
        ({"genre": {}}, "genre", "empty condition"),
        ({'bad"key': 1}, 'bad"key', "property path"),
        ({"a..b": 1}, "a..b", "property path"),
        ({"k" * 513: 1}, "k" * 513, "property path"),
    ],
)
def test_filter_invalid(flt: dict[str, object], item: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        check_filter(flt)
    assert info.value.item == item


def test_filter_key_of_512_characters_allowed() -> None:
    assert check_filter({"k" * 512: 1})


def test_filter_size_limit_is_strictly_below_2048_bytes() -> None:
    overhead = len(b'{"k":""}')
    ok = {"k": "x" * (2047 - overhead)}
    assert check_filter(ok) == ok
    with pytest.raises(ValidationError, match="2048 bytes"):
        check_filter({"k": "x" * (2048 - overhead)})


def test_filter_must_be_mapping() -> None:
    with pytest.raises(ValidationError, match="mapping"):
        check_filter([("a", 1)])  # type: ignore[arg-type]


# --- index names and duplicate ids ------------------------------------------------------------


@pytest.mark.parametrize("name", ["docs", "my-index_2", "ab", "a" * 64, "a1"])
def test_index_name_valid(name: str) -> None:
    assert check_index_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Docs", "1docs", "docs-", "docs_", "my index", "a" * 65, "dócs", "-docs"]
)
def test_index_name_invalid(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_index_name(name)
    assert info.value.item == name


def test_duplicate_ids_named_with_both_positions() -> None:
    check_unique_ids(["a", "b", "c"])
    with pytest.raises(ValidationError) as info:
        check_unique_ids(["a", "b", "c", "b"])
    exc = info.value
    assert exc.item == "b"
    assert exc.position == 3
    assert "positions 1 and 3" in str(exc)
