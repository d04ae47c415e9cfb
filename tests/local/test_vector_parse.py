"""Edge cases of the simdjson route in ``parse_vectors``, each compared with the reference.

The fast parser reads a line's ``values`` array with simdjson and the rest of the line with
orjson; every line it cannot vouch for goes through the reference checks. These tests aim at
the seams: number spellings where simdjson and orjson could disagree, values that are not
flat arrays of numbers, ``"values"`` tokens in odd places, and parser reuse after a failure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudflare_ai import limits
from cloudflare_ai_local import vector_parse
from cloudflare_ai_local.errors import ApiError
from cloudflare_ai_local.vector_parse import parse_vectors, parse_vectors_reference
from cloudflare_ai_local.vector_store import NewVector


def _outcome(vectors_or_error: list[NewVector] | ApiError) -> Any:
    if isinstance(vectors_or_error, ApiError):
        err = vectors_or_error
        return ("error", err.status, err.code, err.message)
    return [
        (
            v.id,
            np.asarray(
                np.frombuffer(v.values, dtype=np.float32)
                if isinstance(v.values, bytes)
                else v.values,
                dtype=np.float32,
            ).tobytes(),
            v.namespace,
            orjson.dumps(v.metadata) if v.metadata is not None else None,
        )
        for v in vectors_or_error
    ]


def _run(parse: Any, body: bytes, dims: int, discard: bool) -> Any:
    try:
        return _outcome(parse(body, dims, discard))
    except ApiError as err:
        return _outcome(err)


def _same(body: bytes, dims: int) -> Any:
    """Assert both parsers agree (with and without ``discard``); the strict outcome."""
    for discard in (True, False):
        fast = _run(parse_vectors, body, dims, discard)
        assert fast == _run(parse_vectors_reference, body, dims, discard), (body[:200], discard)
    return fast


def _line(values_text: str, vid: str = "a", extra: str = "") -> bytes:
    return f'{{"id":"{vid}","values":{values_text}{extra}}}\n'.encode()


@pytest.mark.parametrize(
    "values_text",
    [
        "[1,2,3]",  # integers
        "[-0,0,-0.0]",  # -0 is the integer 0 (a positive zero), -0.0 a negative zero
        "[1e-45,1.4e-45,7e-46]",  # float32 subnormals and what rounds to zero
        "[1E+2,1e-07,2.5E-3]",
        "[3.4028235e38,3.4028236e38,-3.5e38]",  # float32 max, then beyond: inf -> refused
        "[1e39,0,0]",
        "[1e308,1,1]",
        "[1e400,1,1]",  # orjson refuses the infinity
        "[2.4703282292062328e-324,1e-400,0]",  # double subnormal, double underflow
        "[18446744073709551615,9223372036854775807,-9223372036854775808]",
        "[18446744073709551616,1,1]",  # beyond 64 bits: simdjson refuses, orjson reads a float
        "[-9223372036854775809,1,1]",
        "[9007199254740993,16777217,16777216.5]",  # double and float32 rounding of integers
        "[0.1000000000000000055511151231257827021181583404541015625,1,1]",
        "[" + "1" * 400 + ",1,1]",
        "[0." + "3" * 800 + ",1,1]",
        "[1,2]",
        "[1,2,3,4]",
        "[]",
        "[ ]",
        "[ 1 , 2 , 3 ]",
        "[1,2,3,]",
        "[,1,2]",
        "[1,,2]",
        "[1 2 3]",
        "[01,2,3]",
        "[1.,2,3]",
        "[.5,2,3]",
        "[+1,2,3]",
        "[-,2,3]",
        "[1e,2,3]",
        "[NaN,2,3]",
        "[Infinity,2,3]",
        "[1,true,3]",
        "[1,null,3]",
        '[1,"2",3]',
        '[1,"]",3]',
        "[1,{},3]",
        '[1,{"a":[2]},3]',
        "[[1,2],[3]]",
        "[[1,2,3]]",
        "[1,[2],3]",
        '"123"',
        "null",
        "{}",
        "3",
        "[1,2,3",
    ],
)
def test_values_spellings(values_text: str) -> None:
    _same(_line(values_text), 3)


def test_numbers_read_exactly() -> None:
    """What the fast route gives for the tricky numbers, spelled out."""
    body = _line("[-0,-0.0,1e-45,16777217,3]", extra="") + _line("[7e-46,1,2,3,1E2]", "b")
    vectors = _same(body, 5)
    first = np.frombuffer(vectors[0][1], dtype=np.float32)
    assert first.tobytes() == np.array([0.0, -0.0, 1e-45, 16777216, 3], np.float32).tobytes()
    assert np.signbit(first[1]) and not np.signbit(first[0])
    second = np.frombuffer(vectors[1][1], dtype=np.float32)
    assert second.tolist() == [0.0, 1.0, 2.0, 3.0, 100.0]


def test_beyond_float32_is_refused_like_the_reference() -> None:
    outcome = _same(_line("[1,2,3.5e38]"), 3)
    assert outcome[0] == "error" and "finite" in outcome[3]


@pytest.mark.parametrize(
    "line",
    [
        # the only "values" token is nested: there is no top-level values
        b'{"id":"a","metadata":{"values":[1,2,3]}}',
        # a nested one first, then the real one
        b'{"id":"a","metadata":{"values":[9,9,9]},"values":[1,2,3]}',
        b'{"id":"a","values":[1,2,3],"metadata":{"values":[9,9,9]}}',
        # the token as a string value, and as part of another string
        b'{"id":"values","values":[1,2,3]}',
        b'{"id":"a","values":[1,2,3],"metadata":{"k":"\\"values\\":[4]"}}',
        # escapes anywhere in the line
        b'{"id":"a\\u00e9","values":[1,2,3]}',
        b'{"id":"a","\\u0076alues":[1,2,3]}',
        b'{"id":"a","values":[1,2,3],"metadata":{"k":"\\n"}}',
        # duplicate keys: orjson keeps the last
        b'{"id":"a","values":[1,2,3],"id":"b"}',
        b'{"id":"a","values":[1,2,3],"values":[4,5,6]}',
        # whitespace around the colon, and things after the array
        b'{"id":"a" , "values"\t:\t[1,2,3] }',
        b'{"id":"a","values" :[1,2,3]]}',
        b'{"id":"a","values":[1,2,3] "x"}',
        b'{"id":"a","values":[1,2,3]',
        b'{"id":"a","values":[1,2,3]}}',
        b'{"id":"a","values":[1,2,3]} trailing',
        # the array text is fine but the rest is not
        b'{"id":,"values":[1,2,3]}',
        b'{"id":"a","values":[1,2,3],"namespace":""}',
        b'{"id":"a","values":[1,2,3],"namespace":7}',
        b'{"id":"a","values":[1,2,3],"metadata":[1]}',
        b'{"id":"a","values":[1,2,3],"metadata":{"a.b":1}}',
        b'{"id":"a","values":[1,2,3],"metadata":{"$a":1}}',
        b'{"id":"a","values":[1,2,3],"metadata":{"k":"\xff"}}',
        b'{"id":"' + b"x" * 65 + b'","values":[1,2,3]}',
        b'{"id":5,"values":[1,2,3]}',
        b'{"id":"","values":[1,2,3]}',
        b'{"values":[1,2,3]}',
        # a bad id and bad values: the id is reported, as the reference checks it first
        b'{"id":5,"values":[1,true,3]}',
        b'{"id":5,"values":[1,2]}',
    ],
)
def test_values_token_in_odd_places(line: bytes) -> None:
    _same(line + b"\n", 3)


def test_parser_is_reused_after_failures() -> None:
    """A line whose array simdjson refuses (or cannot convert) leaves no live document
    behind: the next line still parses (a live proxy would make simdjson refuse)."""
    lines = [
        _line("[1,true,3]", "t"),
        _line("[1,2,3]", "ok1"),
        _line("[18446744073709551616,2,3]", "big"),
        _line("[1,2,3]", "ok2"),
        _line("[1,2,3", "cut"),
        _line("[1,2,3]", "ok3"),
        b"not json\n",
        _line("[4,5,6]", "ok4"),
    ]
    body = b"".join(lines)
    _same(body, 3)
    vectors = parse_vectors(body.replace(b"true", b"2").replace(b"not json\n", b""), 3, True)
    assert [v.id for v in vectors] == ["t", "ok1", "big", "ok2", "ok3", "ok4"]


def test_discard_skips_only_unparsable_lines() -> None:
    body = _line("[1,2,3]", "a") + b"{oops\n" + _line("[1,2", "b") + _line("[4,5,6]", "c")
    fast = _same(body, 3)
    assert fast[0] == "error"
    assert [v.id for v in parse_vectors(body, 3, True)] == ["a", "c"]


@pytest.mark.parametrize("count", [limits.MAX_VECTORS_PER_WRITE, limits.MAX_VECTORS_PER_WRITE + 1])
def test_vector_count_limit(count: int) -> None:
    body = b"\n\n".join(_line("[1,2,3]", f"v{i}") for i in range(count))
    outcome = _same(body, 3)
    if count > limits.MAX_VECTORS_PER_WRITE:
        assert outcome[0] == "error"
    else:
        assert len(outcome) == count


def test_blank_and_whitespace_lines() -> None:
    for body in (b"", b"\n", b" \n\t\n", b"\x0b\n\x0c", _line("[1,2,3]") + b"   \n\n"):
        _same(body, 3)


def test_client_lines_use_simdjson(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain lines (integers, exponents, metadata, namespaces) never reach the slow route."""

    def refuse(*args: Any) -> Any:
        raise AssertionError(f"slow route taken: {args[:2]!r}")

    monkeypatch.setattr(vector_parse, "_slow_line", refuse)
    body = (
        _line("[1,2,3]")
        + _line("[-0.0,1e-45,3.4028235E+38]", "b", ',"metadata":{"text":"values, ü [1]"}')
        + _line("[0.5, 1 ,2]", "c", ',"namespace":"n"')
    )
    assert [v.id for v in parse_vectors(body, 3, False)] == ["a", "b", "c"]


# --- property: spellings of numbers ----------------------------------------------------------

number_texts = st.one_of(
    st.from_regex(r"\A-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?\Z"),
    st.from_regex(r"\A[-+]?[0-9.]{0,6}([eE][-+]?[0-9]{0,4})?\Z"),  # mostly not JSON
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(
        lambda f: orjson.dumps(np.float32(f), option=orjson.OPT_SERIALIZE_NUMPY).decode()
    ),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["true", "null", '"1"', "[1]", "{}", "-0", "-0.0", "0e0", "1e-45"]),
)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(number_texts, min_size=1, max_size=4),
    dims=st.integers(1, 4),
    sep=st.sampled_from([",", ", ", " , "]),
)
def test_number_spellings_agree(texts: list[str], dims: int, sep: str) -> None:
    body = _line("[" + sep.join(texts) + "]") + _line("[" + ",".join(["1"] * dims) + "]", "z")
    _same(body, dims)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.lists(st.floats(width=32), min_size=3, max_size=3), max_size=5))
def test_float32_rows_round_trip(rows: list[list[float]]) -> None:
    """Any float32 (non-finite ones too, which both refuse) spelled as the client does."""
    body = b""
    for i, row in enumerate(rows):
        array: npt.NDArray[np.float32] = np.array(row, dtype=np.float32)
        if not np.isfinite(array).all():
            text = "[" + ",".join(repr(float(x)) for x in row).replace("inf", "1e999") + "]"
        else:
            text = orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        body += _line(text, f"r{i}")
    _same(body, 3)


# --- the metadata walk -------------------------------------------------------------------------


def _check_metadata_every_value(vid: str, meta: Any) -> None:
    """The earlier walk (every value stacked), to which ``check_metadata`` must stay equal.
    (The type and size checks before it are unchanged; the trees here stay small.)"""
    import math

    stack: list[Any] = [meta]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not key or "." in key or '"' in key or key.startswith("$"):
                    raise ApiError(
                        vector_parse.errors.INVALID_METADATA,
                        detail=f'vector "{vid}": invalid metadata key {key!r}',
                    )
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ApiError(
                vector_parse.errors.INVALID_METADATA, detail=f'vector "{vid}": non-finite number'
            )


metadata_trees = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "b", "", "$c", "d.e", 'f"', "g"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(meta=st.dictionaries(st.sampled_from(["a", "b", "$x", "k.y", "z"]), metadata_trees))
def test_metadata_walk_finds_the_same_first_problem(meta: dict[str, Any]) -> None:
    """Non-finite floats never come out of JSON, but callers may pass them: with several
    problems in one object, the same one is reported as by the earlier walk."""

    def outcome(check: Any) -> Any:
        try:
            check("v", meta)
        except ApiError as err:
            return err.message
        return None

    assert outcome(vector_parse.check_metadata) == outcome(_check_metadata_every_value)
