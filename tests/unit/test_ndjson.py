"""NDJSON encoding at float32 precision, chunking, and reading back."""

from __future__ import annotations

import json
import math

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudflare_ai.ndjson import Chunk, chunk_lines, encode_vector, read_ndjson
from cloudflare_ai.validation import check_values


def unit_vectors(n: int, dims: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((n, dims)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def test_float32_shortest_encoding_round_trips_exactly() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [
            rng.standard_normal(2000).astype(np.float32),
            (rng.standard_normal(500) * 1e-30).astype(np.float32),
            (rng.standard_normal(500) * 1e30).astype(np.float32),
            np.array(
                [0.0, -0.0, 1.0, 0.1, 1 / 3, np.finfo(np.float32).max, np.finfo(np.float32).tiny],
                dtype=np.float32,
            ),
            np.array([np.nextafter(np.float32(1), np.float32(2))], dtype=np.float32),
        ]
    )
    line = encode_vector("v", values)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    back = np.asarray(orjson.loads(line)["values"], dtype=np.float32)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, values)
    # shortest: 0.1f is written as 0.1, not 0.10000000149011612
    assert b"0.10000000149" not in line
    assert b",0.1," in line


def test_bytes_per_768d_vector_at_most_60_percent_of_json_dumps() -> None:
    for i, vector in enumerate(unit_vectors(20, 768, seed=2)):
        line = encode_vector(f"doc-{i}", vector)
        python = json.dumps(vector.astype(np.float64).tolist()).encode()
        assert len(line) <= 0.6 * len(python), (len(line), len(python))


def test_record_fields() -> None:
    values = np.array([1.5, -2.0], dtype=np.float32)
    assert orjson.loads(encode_vector("a", values)) == {"id": "a", "values": [1.5, -2.0]}
    full = orjson.loads(encode_vector("b", values, {"k": "v", "n": 1}, "tenant"))
    assert full == {
        "id": "b",
        "values": [1.5, -2.0],
        "namespace": "tenant",
        "metadata": {"k": "v", "n": 1},
    }
    # empty metadata is omitted rather than sent as {}
    assert "metadata" not in orjson.loads(encode_vector("c", values, {}))


def test_non_ascii_kept_as_utf8() -> None:
    line = encode_vector("日本", np.array([1.0], dtype=np.float32), {"t": "é"})
    assert "日本".encode() in line
    assert list(read_ndjson(line))[0]["metadata"] == {"t": "é"}


# --- chunking -----------------------------------------------------------------------------------


def items(n: int, size: int = 10) -> list[tuple[str, bytes]]:
    return [(f"v{i}", b"x" * (size - 1) + b"\n") for i in range(n)]


@pytest.mark.parametrize(
    ("n", "sizes"),
    [
        (1, [1]),
        (4999, [4999]),
        (5000, [5000]),
        (5001, [5000, 1]),
        (10000, [5000, 5000]),
        (12001, [5000, 5000, 2001]),
    ],
)
def test_chunk_lines_vector_boundaries(n: int, sizes: list[int]) -> None:
    chunks = list(chunk_lines(items(n)))
    assert [len(c.ids) for c in chunks] == sizes
    assert [i for c in chunks for i in c.ids] == [f"v{i}" for i in range(n)]


def test_chunk_lines_nothing_in_nothing_out() -> None:
    assert list(chunk_lines([])) == []


def test_chunk_lines_byte_boundary() -> None:
    # 10-byte lines, 30-byte budget: exactly three fit, the fourth opens a new chunk
    chunks = list(chunk_lines(items(7), max_bytes=30))
    assert [len(c.ids) for c in chunks] == [3, 3, 1]
    assert [c.size for c in chunks] == [30, 30, 10]
    assert all(len(c.body) == c.size for c in chunks)
    chunks = list(chunk_lines(items(7), max_bytes=29))
    assert [len(c.ids) for c in chunks] == [2, 2, 2, 1]


def test_chunk_lines_mixed_sizes_never_exceed_budget() -> None:
    pairs = [(f"v{i}", b"y" * (1 + (i * 7) % 23) + b"\n") for i in range(200)]
    chunks = list(chunk_lines(pairs, max_bytes=64, max_vectors=5))
    assert all(c.size <= 64 and len(c.ids) <= 5 for c in chunks)
    assert b"".join(c.body for c in chunks) == b"".join(line for _, line in pairs)


def test_line_exactly_max_bytes_allowed() -> None:
    (chunk,) = chunk_lines([("a", b"x" * 99 + b"\n")], max_bytes=100)
    assert chunk.ids == ["a"]


def test_single_oversized_line_errors() -> None:
    with pytest.raises(ValueError, match="'big'"):
        list(chunk_lines([("ok", b"x\n"), ("big", b"x" * 100 + b"\n")], max_bytes=100))


def test_chunk_lines_both_limits() -> None:
    chunks = list(chunk_lines(items(10), max_vectors=4, max_bytes=25))
    assert [len(c.ids) for c in chunks] == [2, 2, 2, 2, 2]
    chunks = list(chunk_lines(items(10), max_vectors=4, max_bytes=1000))
    assert [len(c.ids) for c in chunks] == [4, 4, 2]


def test_chunk_body() -> None:
    chunk = Chunk(ids=["a", "b"], lines=[b'{"id":"a"}\n', b'{"id":"b"}\n'], size=22)
    assert [r["id"] for r in read_ndjson(chunk.body)] == ["a", "b"]


# --- reading ----------------------------------------------------------------------------------


def test_read_ndjson_round_trip_and_blank_lines() -> None:
    vectors = unit_vectors(3, 8, seed=3)
    body = b"".join(
        encode_vector(f"id{i}", v, {"i": i}, "ns" if i % 2 else None) for i, v in enumerate(vectors)
    )
    body = body.replace(b"\n", b"\n\n", 1) + b"   \n"
    records = list(read_ndjson(body))
    assert [r["id"] for r in records] == ["id0", "id1", "id2"]
    assert [r.get("namespace") for r in records] == [None, "ns", None]
    for record, vector in zip(records, vectors, strict=True):
        np.testing.assert_array_equal(np.asarray(record["values"], dtype=np.float32), vector)


def test_read_ndjson_refuses_non_objects() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        list(read_ndjson(b'{"id":"a"}\n[1,2]\n'))


def test_read_ndjson_handles_crlf() -> None:
    assert [r["id"] for r in read_ndjson(b'{"id":"a"}\r\n{"id":"b"}\r\n')] == ["a", "b"]


# --- property test ----------------------------------------------------------------------------

ids = st.text(min_size=1, max_size=16).filter(lambda s: len(s.encode()) <= 64)
keys = st.text(min_size=1, max_size=8).filter(
    lambda k: "." not in k and '"' not in k and not k.startswith("$")
)
scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
metadata = st.dictionaries(
    keys, st.one_of(scalars, st.lists(st.text(max_size=5), max_size=3)), max_size=4
)
float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(
        st.tuples(ids, st.lists(float32s, min_size=1, max_size=12), metadata, st.none() | ids),
        min_size=1,
        max_size=8,
        unique_by=lambda r: r[0],
    )
)
def test_ndjson_round_trip_property(
    records: list[tuple[str, list[float], dict, str | None]],
) -> None:
    lines = []
    for vector_id, values, meta, namespace in records:
        array = check_values(values, len(values))
        lines.append((vector_id, encode_vector(vector_id, array, meta, namespace)))
    body = b"".join(c.body for c in chunk_lines(lines, max_vectors=3))
    back = list(read_ndjson(body))
    assert len(back) == len(records)
    for record, (vector_id, values, meta, namespace) in zip(back, records, strict=True):
        assert record["id"] == vector_id
        got = np.asarray(record["values"], dtype=np.float32)
        np.testing.assert_array_equal(got, np.asarray(values, dtype=np.float32))
        assert record.get("namespace") == namespace
        assert record.get("metadata", {}) == meta
        for key, value in meta.items():
            if isinstance(value, float):
                assert math.isfinite(record["metadata"][key])


def test_chunk_buffer_closes_chunks_by_count_and_by_bytes() -> None:
    from cloudflare_ai.ndjson import ChunkBuffer

    lines = [(f"v{i}", b'{"id":"v%d"}\n' % i) for i in range(7)]
    buffer = ChunkBuffer(max_vectors=3, max_bytes=1000)
    closed = [c for vid, line in lines if (c := buffer.add(vid, line)) is not None]
    assert [c.ids for c in closed] == [["v0", "v1", "v2"], ["v3", "v4", "v5"]]
    assert closed[0].body == b"".join(line for _, line in lines[:3])
    assert closed[0].size == len(closed[0].body)
    assert len(buffer) == 1 and buffer.ids == ["v6"]
    rest = buffer.take()
    assert rest.ids == ["v6"] and rest.body == lines[6][1] and len(buffer) == 0

    small = ChunkBuffer(max_vectors=100, max_bytes=25)
    sizes = [small.add(f"v{i}", b"x" * 10) for i in range(5)]
    full = [c for c in sizes if c is not None]
    assert [c.ids for c in full] == [["v0", "v1"], ["v2", "v3"]]  # a third line would pass 25
    assert all(c.size <= 25 for c in full)
    with pytest.raises(ValueError, match="v9"):
        small.add("v9", b"x" * 26)
