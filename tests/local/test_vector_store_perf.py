"""Behaviour of the emulator's performance work (no timing assertions).

* The incrementally maintained float32 matrix (``Rows``) stays consistent with what the store
  returns through ``get_ids`` after interleaved upserts, inserts, deletes, namespaces and
  metadata-index changes: query results equal a brute-force numpy computation.
* Reopening the same data directory gives the same results.
* The fast NDJSON parser (``parse_vectors``) and the reference parser agree, on values and on
  errors, for hypothesis-generated bodies and for hand-picked malformed input.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudflare_ai.ndjson import encode_vector
from cloudflare_ai_local.errors import ApiError
from cloudflare_ai_local.filters import Predicate, compile_filter
from cloudflare_ai_local.vector_parse import parse_vectors, parse_vectors_reference
from cloudflare_ai_local.vector_store import NewVector, VectorStore

DIMS = 6
NAMESPACES = [None, "a", "b", "ü-ns"]
FILTERS: list[dict[str, Any] | None] = [
    None,
    {"color": "red"},
    {"color": {"$ne": "red"}},
    {"size": {"$gte": 2, "$lt": 5}},
    {"flag": True},
    {"color": {"$in": ["red", "blue"]}, "size": {"$gt": 0}},
]

# --- incremental matrix vs brute force ---------------------------------------------------------


def _brute_force(
    store: VectorStore,
    index: str,
    query: npt.NDArray[np.float32],
    namespace: str | None,
    predicate: Predicate | None,
) -> dict[str, float]:
    """Scores of every vector that passes the filters, from ``get_ids`` values only."""
    ids, total, _ = store.list_ids(index, 10_000, None)
    assert len(ids) == total
    state = store.indexes[index]
    out: dict[str, float] = {}
    for record, values in store.get_ids(index, ids):
        if namespace is not None and record.namespace != namespace:
            continue
        if predicate is not None and not predicate(record.indexed):
            continue
        v = values.astype(np.float64)
        q = query.astype(np.float64)
        if state.metric == "cosine":
            denom = np.linalg.norm(v) * np.linalg.norm(q)
            out[record.id] = float(v @ q / denom) if denom else float(v @ q)
        elif state.metric == "euclidean":
            out[record.id] = float(np.linalg.norm(v - q))
        else:
            out[record.id] = float(-(v @ q))
    return out


def _check_query(
    store: VectorStore,
    index: str,
    rng: np.random.Generator,
    namespace: str | None,
    flt: dict[str, Any] | None,
    top_k: int = 7,
) -> None:
    query = rng.standard_normal(DIMS).astype(np.float32)
    predicate = compile_filter(flt) if flt is not None else None
    expected = _brute_force(store, index, query, namespace, predicate)
    matches = store.query(index, query, top_k, namespace, predicate)
    higher_is_better = store.indexes[index].metric == "cosine"
    ranked = sorted(expected.values(), reverse=higher_is_better)
    assert len(matches) == min(top_k, len(expected))
    for position, match in enumerate(matches):
        # the right vector, with the right score and values, in the right place (ties aside)
        assert match.record.id in expected
        assert match.score == pytest.approx(expected[match.record.id], rel=1e-4, abs=1e-4)
        assert match.score == pytest.approx(ranked[position], rel=1e-4, abs=1e-4)
        [(_, values)] = store.get_ids(index, [match.record.id])
        assert np.array_equal(match.values, values)


def _check_rows(store: VectorStore, index: str, model: Mapping[str, bytes]) -> None:
    """The matrix, norms and row bookkeeping match the expected contents exactly."""
    state = store.indexes[index]
    rows = state.rows
    assert rows.n == len(state.vectors) == len(model)
    assert len(rows.records) == rows.n
    for row, record in enumerate(rows.records):
        assert record.row == row
        assert state.vectors[record.id] is record
        assert rows.matrix[row].tobytes() == model[record.id]
    expected_norms = np.linalg.norm(rows.matrix[: rows.n].astype(np.float64), axis=1)
    np.testing.assert_allclose(rows.norms[: rows.n], expected_norms, rtol=1e-5, atol=1e-6)


def _random_ops(
    store: VectorStore, index: str, seed: int, steps: int, check: Callable[[int], None]
) -> dict[str, bytes]:
    """Apply ``steps`` random mutations; returns the expected id -> float32 bytes."""
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    model: dict[str, bytes] = {}
    for step in range(steps):
        op = rnd.random()
        if op < 0.55:
            count = rnd.randint(1, 40)
            replace = rnd.random() < 0.7
            batch = []
            for _ in range(count):
                vid = f"id-{rnd.randint(0, 120)}-é"
                values = rng.standard_normal(DIMS).astype(np.float32)
                if rnd.random() < 0.05:
                    values[:] = 0  # zero vectors: cosine must not divide by zero
                meta = {
                    "color": rnd.choice(["red", "blue", "green"]),
                    "size": rnd.choice([1, 2, 3.5, 4, 7]),
                    "flag": rnd.choice([True, False, 1]),
                }
                batch.append(NewVector(vid, values.tobytes(), rnd.choice(NAMESPACES), meta))
            store.write(index, batch, replace=replace)
            seen: set[str] = set()
            for vec in batch:
                assert isinstance(vec.values, bytes)
                if replace:
                    model[vec.id] = vec.values
                elif vec.id not in model and vec.id not in seen:
                    model[vec.id] = vec.values
                    seen.add(vec.id)
        elif op < 0.85:
            doomed = rnd.sample(sorted(model), min(len(model), rnd.randint(1, 30))) if model else []
            doomed.append("never-written")
            store.delete_ids(index, doomed)
            for vid in doomed:
                model.pop(vid, None)
        elif op < 0.93:
            prop, kind = rnd.choice([("color", "string"), ("size", "number"), ("flag", "boolean")])
            if prop in store.metadata_indexes(index):
                store.delete_metadata_index(index, prop)
            else:
                store.create_metadata_index(index, prop, kind)
        else:
            store.delete_ids(index, list(model))  # empty the index entirely
            model.clear()
        check(step)
    return model


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot-product"])
@pytest.mark.parametrize("persistent", [False, True])
def test_incremental_matrix_matches_brute_force(
    tmp_path: Path, metric: str, persistent: bool
) -> None:
    store = VectorStore(tmp_path if persistent else None)
    store.create_index("docs", DIMS, metric, "")
    rng = np.random.default_rng(1)
    model: dict[str, bytes] = {}

    def check(step: int) -> None:
        if step % 5 == 0:
            for namespace in [*NAMESPACES, "unknown"]:
                for flt in FILTERS:
                    _check_query(store, "docs", rng, namespace, flt)

    model = _random_ops(store, "docs", seed=7, steps=120, check=check)
    _check_rows(store, "docs", model)
    for namespace in NAMESPACES:
        for flt in FILTERS:
            _check_query(store, "docs", rng, namespace, flt, top_k=100)
    store.close()


def test_matrix_grows_and_shrinks(tmp_path: Path) -> None:
    """Many appends then deletes of most rows: rows stay right through growth and shrinking."""
    store = VectorStore(tmp_path)
    store.create_index("docs", DIMS, "cosine", "")
    rng = np.random.default_rng(3)
    model: dict[str, bytes] = {}
    for start in range(0, 3000, 500):
        batch = [
            NewVector(f"v{i}", rng.standard_normal(DIMS).astype(np.float32).tobytes(), None, None)
            for i in range(start, start + 500)
        ]
        store.write("docs", batch, replace=True)
        model.update((v.id, bytes(v.values)) for v in batch)
    _check_rows(store, "docs", model)
    doomed = [f"v{i}" for i in range(0, 3000) if i % 10]
    store.delete_ids("docs", doomed)
    for vid in doomed:
        del model[vid]
    _check_rows(store, "docs", model)
    assert len(store.indexes["docs"].rows.norms) < 3000  # capacity was given back
    _check_query(store, "docs", rng, None, None, top_k=50)
    store.close()


def test_restart_gives_the_same_results(tmp_path: Path) -> None:
    store = VectorStore(tmp_path)
    store.create_index("docs", DIMS, "euclidean", "")
    store.create_metadata_index("docs", "color", "string")
    model = _random_ops(store, "docs", seed=11, steps=60, check=lambda step: None)
    queries = np.random.default_rng(5).standard_normal((8, DIMS)).astype(np.float32)
    cases = [(q, ns, flt) for q in queries for ns in NAMESPACES for flt in FILTERS]

    def answers(s: VectorStore) -> list[list[tuple[str, float, bytes, Any, Any]]]:
        out = []
        for q, ns, flt in cases:
            predicate = compile_filter(flt) if flt is not None else None
            out.append(
                [
                    (m.record.id, m.score, m.values.tobytes(), m.record.metadata, m.record.indexed)
                    for m in s.query("docs", q, 20, ns, predicate)
                ]
            )
        return out

    before = answers(store)
    info = store.indexes["docs"].processed_mutation
    store.close()
    reopened = VectorStore(tmp_path)
    _check_rows(reopened, "docs", model)
    assert reopened.indexes["docs"].processed_mutation == info
    after = answers(reopened)
    for old, new in zip(before, after, strict=True):
        # Rows are in another order after a reload, so scores may differ in the last bit and
        # equal scores (zero vectors) may be cut differently at the top-k boundary.
        assert [m[1] for m in new] == pytest.approx([m[1] for m in old], rel=1e-6, abs=1e-6)
        if old:
            boundary = old[-1][1] - 1e-5  # euclidean: lower is closer
            assert {m[0]: m[2:] for m in old if m[1] < boundary} == {
                m[0]: m[2:] for m in new if m[1] < boundary
            }
    reopened.close()


@pytest.mark.parametrize("persistent", [False, True])
def test_failed_mutation_leaves_the_matrix_as_it_was(tmp_path: Path, persistent: bool) -> None:
    """A write that fails (unserialisable metadata) changes nothing, in memory (where no
    reload can repair anything) as in a file-backed store (which reloads)."""
    store = VectorStore(tmp_path if persistent else None)
    store.create_index("docs", 2, "cosine", "")
    good = [
        NewVector(f"g{i}", np.array([i, 1], dtype=np.float32).tobytes(), None, None)
        for i in range(5)
    ]
    store.write("docs", good, replace=True)
    model = {v.id: bytes(v.values) for v in good}
    bad = [NewVector("g1", np.array([9, 9], dtype=np.float32).tobytes(), None, None)]
    bad.append(NewVector("x", np.array([1, 1], dtype=np.float32).tobytes(), None, {"o": object()}))
    with pytest.raises(TypeError):
        store.write("docs", bad, replace=True)
    _check_rows(store, "docs", model)
    store.close()


def test_in_memory_store_keeps_no_vector_rows_in_sqlite() -> None:
    """Without a data directory the values live once, in the matrix; the vectors table
    (which only a restart would read) stays empty, while index definitions are kept."""
    store = VectorStore(None)
    store.create_index("docs", 2, "cosine", "")
    store.create_metadata_index("docs", "color", "string")
    batch = [
        NewVector(f"v{i}", np.array([i, 1], dtype=np.float32), None, {"color": "red"})
        for i in range(3)
    ]
    store.write("docs", batch, replace=True)
    store.delete_ids("docs", ["v0"])
    store.delete_metadata_index("docs", "color")
    db = store._db
    assert db.execute("SELECT COUNT(*) FROM vectors").fetchone() == (0,)
    assert db.execute("SELECT name FROM indexes").fetchall() == [("docs",)]
    assert [r.id for r, _ in store.get_ids("docs", ["v0", "v1", "v2"])] == ["v1", "v2"]
    assert all(not r.indexed for r, _ in store.get_ids("docs", ["v1", "v2"]))
    store.close()


# --- fast NDJSON parser vs reference -----------------------------------------------------------


def _outcome(
    parse: Callable[[bytes, int, bool], list[NewVector]], body: bytes, dims: int, discard: bool
) -> Any:
    try:
        vectors = parse(body, dims, discard)
    except ApiError as err:
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
        for v in vectors
    ]


def _assert_same(body: bytes, dims: int) -> None:
    for discard in (False, True):
        fast = _outcome(parse_vectors, body, dims, discard)
        reference = _outcome(parse_vectors_reference, body, dims, discard)
        assert fast == reference, (body[:300], discard)


def _number_text(value: float | int, style: int) -> str:
    """A JSON number for ``value`` written in one of several ways clients (or people) use."""
    if isinstance(value, int):
        return str(value)
    if style == 0 or abs(value) > 3.4e38:
        return orjson.dumps(value).decode()  # float64 repr (17 significant digits)
    if style == 1:  # float32 repr, as the client sends
        return orjson.dumps(np.float32(value), option=orjson.OPT_SERIALIZE_NUMPY).decode()
    if style == 2:
        return f"{value:.8e}"  # exponent form: 1.00000000e-08
    return f"{value:.3E}"  # capital E, two-digit exponent: 1.000E-08


finite_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([0.0, -0.0, 1e-08, -1e-08, 3.4028235e38, 1.17549435e-38, 1e-45, 0.1]),
    st.floats(min_value=-1e40, max_value=1e40, allow_nan=False),  # some overflow float32
)
numbers = st.one_of(
    finite_floats,
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=-1000, max_value=1000),
)
ids = st.one_of(
    st.text(min_size=1, max_size=20),
    st.text(alphabet='abcé😀"\\', min_size=1, max_size=8),
    st.text(min_size=15, max_size=70),  # around the 64-byte limit
    st.integers(-(2**63), 2**63 - 1),
    st.none(),
)
metadata_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def lines(draw: st.DrawFn, dims: int) -> bytes:
    """One NDJSON line: mostly well formed, sometimes subtly or grossly broken."""
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return draw(st.binary(max_size=40))
    if kind == 1:
        return draw(st.sampled_from([b"", b"   ", b"\t", b"[1,2]", b"null", b'"x"', b"{", b"{}"]))
    length = dims if draw(st.integers(0, 5)) else draw(st.integers(0, dims + 2))
    style = draw(st.integers(0, 3))
    values = [
        _number_text(v, style) for v in draw(st.lists(numbers, min_size=length, max_size=length))
    ]
    if kind == 2 and values:  # a non-number among the values
        values[draw(st.integers(0, len(values) - 1))] = draw(
            st.sampled_from(
                [
                    "true",
                    "false",
                    "null",
                    '"1"',
                    "[1]",
                    "{}",
                    "1.",
                    ".5",
                    "+1",
                    "01",
                    "NaN",
                    "1e",
                    "-",
                ]
            )
        )
    sep = draw(st.sampled_from([",", ", ", " ,"]))
    values_text = "[" + sep.join(values) + "]"
    record: dict[str, Any] = {"id": draw(ids)}
    if draw(st.booleans()):
        record["namespace"] = draw(st.one_of(st.text(max_size=70), st.none(), st.integers(-5, 5)))
    if draw(st.booleans()):
        record["metadata"] = draw(
            st.one_of(
                st.dictionaries(st.text(max_size=6), metadata_values, max_size=4),
                metadata_values,
                st.just({"values": [1, 2, 3]}),
            )
        )
    head = orjson.dumps(record).decode()[1:-1]
    key = draw(st.sampled_from(['"values"', '"values" ', '"\\u0076alues"']))
    colon = draw(st.sampled_from([":", ": "]))
    parts = [head, f"{key}{colon}{values_text}"] if head else [f"{key}{colon}{values_text}"]
    if draw(st.booleans()):
        parts.reverse()
    if kind == 3:
        parts.append('"values":[1]')  # a duplicate key
    if kind == 4:
        parts = [head]  # no values at all
    text = "{" + ",".join(p for p in parts if p) + "}"
    if kind == 5:
        text = text[: draw(st.integers(0, len(text)))]  # truncated
    return text.encode()


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, int]:
    dims = draw(st.integers(1, 5))
    body_lines = draw(st.lists(lines(dims), min_size=0, max_size=6))
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    body = newline.join(body_lines)
    if draw(st.booleans()):
        body += newline
    return body, dims


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bodies())
def test_fast_parser_agrees_with_reference(case: tuple[bytes, int]) -> None:
    body, dims = case
    _assert_same(body, dims)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(numbers, min_size=4, max_size=4),
    namespace=st.none() | st.text(min_size=1, max_size=10),
    vid=st.text(min_size=1, max_size=16),
)
def test_fast_parser_agrees_on_client_encoding(
    values: list[float | int], namespace: str | None, vid: str
) -> None:
    """Bodies exactly as the client writes them (float32 values, orjson)."""
    with np.errstate(over="ignore"):
        row = np.array([float(v) for v in values], dtype=np.float32)
    body = encode_vector(vid, row, {"k": vid}, namespace) * 3
    _assert_same(body, 4)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"a","values":[1,2,3]}\nnot json\n{"id":"b","values":[1,1,1]}\n',
        b'{"id":"a","values":[1,2]}',
        b'{"id":"a","values":[1,true,3]}',
        b'{"id":"a","values":[1,null,3]}',
        b'{"id":"a","values":[1,"2",3]}',
        b'{"id":"a","values":[1,[2],3]}',
        b'{"id":"a","values":"123"}',
        b'{"id":"a","values":[1,2,1e300]}',
        b'{"id":"a","values":[1,2,3],"metadata":{"values":[true]}}',
        b'{"id":"a","metadata":{"values":[1,2,3]},"\\u0076alues":[1,true,3]}',
        b'{"id":"a","values":[1,2,3],"values":[1,false,3]}',
        b'{"id":"a","values" : [ 1 , 2 , 3 ] }',
        b'{"id":"a","values":[1,2,3]',
        b'{"id":"a","values":[1,2,3,]}',
        b'{"id":"a","values":[01,2,3]}',
        b'{"id":"a","values":[1.,2,3]}',
        b'{"id":"a","values":[18446744073709551616,2,3]}',
        b'{"id":"a","values":[-0.0,1e-08,-1E+2]}',
        b'{"id":"a","values":[1,2,3]}\r\n\r\n  \n{"id":"b","values":[4,5,6]}\r',
        b'{"id":5,"values":[1,2,3]}',
        b'{"id":"' + "é".encode() * 33 + b'","values":[1,2,3]}',
        b'{"id":"a","values":[1,2,3],"namespace":""}',
        b'{"id":"a","values":[1,2,3],"metadata":{"a.b":1}}',
        b"[1,2,3]",
        b"",
        b"\n\n",
    ],
)
def test_errors_are_identical(body: bytes) -> None:
    _assert_same(body, 3)


def test_client_bodies_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Client-encoded lines never fall back to the per-value ``isinstance`` checks."""
    from cloudflare_ai_local import vector_parse

    def refuse(vid: str, values: Any) -> npt.NDArray[np.float32]:
        raise AssertionError(f"slow path taken for {vid!r}")

    monkeypatch.setattr(vector_parse, "values_array", refuse)
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((50, 16)).astype(np.float32)
    rows[0, :4] = [1e-8, -0.0, 3.4028235e38, 1e-45]
    body = b"".join(
        encode_vector(f"ü{i}", rows[i], {"n": i, "text": "values, ü"}, "ns" if i % 2 else None)
        for i in range(50)
    )
    vectors = parse_vectors(body, 16, False)
    assert np.array_equal(np.stack([np.asarray(v.values) for v in vectors]), rows)
