"""Vectorize v2 through the core client, replayed from cassettes recorded on the emulator."""

from __future__ import annotations

import pytest

from cloudflare_ai import (
    AsyncVectorizeClient,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ValidationError,
    Vector,
    VectorizeClient,
)
from tests.conftest import Target


def _unit(i: int, dims: int = 4) -> list[float]:
    """Distinct, deterministic vectors."""
    values = [0.0] * dims
    values[i % dims] = 1.0
    values[(i + 1) % dims] = 0.5 + (i % 5) / 10
    return values


@pytest.mark.vcr
def test_index_lifecycle(vectorize: VectorizeClient) -> None:
    vectorize.delete_index("lifecycle", missing_ok=True)
    created = vectorize.create_index("lifecycle", dimensions=4, metric="euclidean", description="t")
    assert created.config.dimensions == 4 and created.config.metric == "euclidean"
    assert vectorize.get_index("lifecycle").name == "lifecycle"
    assert "lifecycle" in {i.name for i in vectorize.list_indexes()}
    info = vectorize.info("lifecycle")
    assert info.dimensions == 4 and info.vector_count == 0
    with pytest.raises(ConflictError):
        vectorize.create_index("lifecycle", dimensions=4, metric="euclidean")
    again = vectorize.create_index("lifecycle", dimensions=4, metric="euclidean", exist_ok=True)
    assert again.name == "lifecycle"
    with pytest.raises(ValidationError, match="4 dimensions"):
        vectorize.create_index("lifecycle", dimensions=8, exist_ok=True)
    vectorize.delete_index("lifecycle")
    with pytest.raises(NotFoundError):
        vectorize.get_index("lifecycle")
    vectorize.delete_index("lifecycle", missing_ok=True)


@pytest.mark.vcr
def test_preset_index(vectorize: VectorizeClient) -> None:
    index = vectorize.create_index("preset-idx", preset="@cf/baai/bge-small-en-v1.5")
    assert index.config.dimensions == 384
    vectorize.delete_index("preset-idx")


@pytest.mark.vcr
def test_upsert_wait_query_get_delete(vectorize: VectorizeClient) -> None:
    vectorize.create_index("rw", dimensions=4, metric="cosine")
    vectors = [
        Vector(f"v{i}", _unit(i), {"kind": "even" if i % 2 == 0 else "odd", "n": i})
        for i in range(10)
    ]
    result = vectorize.upsert("rw", vectors, wait=True)
    assert result.count == 10 and result.requests == 1 and result.mutation_id
    assert vectorize.info("rw").vector_count == 10

    found = vectorize.query("rw", _unit(3), top_k=3, return_metadata="all", return_values=True)
    assert found.matches[0].id == "v3"
    assert found.matches[0].score == pytest.approx(1.0, abs=1e-6)
    assert [m.score for m in found.matches] == sorted(
        (m.score for m in found.matches), reverse=True
    )
    assert found.matches[0].metadata == {"kind": "odd", "n": 3}
    assert found.matches[0].values == pytest.approx(_unit(3))

    bare = vectorize.query("rw", _unit(3), top_k=2)
    assert bare.matches[0].metadata is None and bare.matches[0].values is None

    records = vectorize.get_by_ids("rw", ["v1", "v2", "missing"])
    assert {r.id for r in records} == {"v1", "v2"}

    [mutation] = vectorize.delete_by_ids("rw", ["v1", "v2"])
    vectorize.wait_for_mutation("rw", mutation.mutation_id, timeout=10)
    assert vectorize.info("rw").vector_count == 8
    assert vectorize.get_by_ids("rw", ["v1"]) == []
    vectorize.delete_index("rw")


@pytest.mark.vcr
def test_insert_keeps_first_write_upsert_replaces(vectorize: VectorizeClient) -> None:
    vectorize.create_index("semantics", dimensions=4)
    vectorize.insert("semantics", [Vector("a", _unit(0), {"v": 1})], wait=True)
    vectorize.insert("semantics", [Vector("a", _unit(1), {"v": 2})], wait=True)
    [kept] = vectorize.get_by_ids("semantics", ["a"])
    assert kept.metadata == {"v": 1}
    vectorize.upsert("semantics", [Vector("a", _unit(2), {"v": 3})], wait=True)
    [replaced] = vectorize.get_by_ids("semantics", ["a"])
    assert replaced.metadata == {"v": 3}
    assert replaced.values == pytest.approx(_unit(2))
    vectorize.delete_index("semantics")


@pytest.mark.vcr
def test_metadata_filters_need_an_index_before_writing(vectorize: VectorizeClient) -> None:
    vectorize.create_index("filters", dimensions=4)
    early = [Vector(f"early{i}", _unit(i), {"genre": "drama", "year": 1990 + i}) for i in range(3)]
    vectorize.upsert("filters", early, wait=True)
    m1 = vectorize.create_metadata_index("filters", "genre", "string")
    m2 = vectorize.create_metadata_index("filters", "year", "number")
    vectorize.wait_for_mutation("filters", m2.mutation_id, timeout=10)
    assert m1.mutation_id != m2.mutation_id
    listed = {(m.property_name, m.index_type) for m in vectorize.list_metadata_indexes("filters")}
    assert listed == {("genre", "String"), ("year", "Number")} or listed == {
        ("genre", "string"),
        ("year", "number"),
    }
    late = [
        Vector(f"late{i}", _unit(i), {"genre": g, "year": 2000 + i})
        for i, g in enumerate(["drama", "comedy", "drama", "horror"])
    ]
    vectorize.upsert("filters", late, wait=True)

    def ids(flt: dict[str, object]) -> set[str]:
        result = vectorize.query("filters", _unit(0), top_k=20, filter=flt)
        return {m.id for m in result.matches}

    # Vectors written before the metadata index existed are invisible to filters on it.
    assert ids({"genre": "drama"}) == {"late0", "late2"}
    assert ids({"genre": {"$ne": "drama"}}) >= {"late1", "late3"}
    assert ids({"genre": {"$in": ["comedy", "horror"]}}) == {"late1", "late3"}
    assert ids({"genre": {"$nin": ["drama"]}}) >= {"late1", "late3"}
    assert ids({"year": {"$gte": 2001, "$lt": 2003}}) == {"late1", "late2"}
    assert ids({"genre": "drama", "year": {"$gt": 2000}}) == {"late2"}
    indexed = vectorize.query(
        "filters", _unit(0), top_k=1, filter={"genre": "drama"}, return_metadata="indexed"
    )
    assert set(indexed.matches[0].metadata or {}) <= {"genre", "year"}
    vectorize.delete_metadata_index("filters", "year")
    assert {m.property_name for m in vectorize.list_metadata_indexes("filters")} == {"genre"}
    vectorize.delete_index("filters")


@pytest.mark.vcr
def test_namespaces_partition_queries(vectorize: VectorizeClient) -> None:
    vectorize.create_index("spaces", dimensions=4)
    vectorize.upsert(
        "spaces",
        [
            Vector("a1", _unit(0), namespace="tenant-a"),
            Vector("b1", _unit(0), namespace="tenant-b"),
            Vector("b2", _unit(1), namespace="tenant-b"),
        ],
        wait=True,
    )
    only_b = vectorize.query("spaces", _unit(0), top_k=10, namespace="tenant-b")
    assert {m.id for m in only_b.matches} == {"b1", "b2"}
    assert all(m.namespace == "tenant-b" for m in only_b.matches)
    [record] = vectorize.get_by_ids("spaces", ["a1"])
    assert record.namespace == "tenant-a"
    vectorize.delete_index("spaces")


@pytest.mark.vcr
@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot-product"])
def test_metric_conventions(vectorize: VectorizeClient, metric: str) -> None:
    name = f"metric-{metric}"
    vectorize.create_index(name, dimensions=2, metric=metric)  # type: ignore[arg-type]
    vectorize.upsert(
        name,
        [Vector("near", [1.0, 0.1]), Vector("far", [-1.0, 0.0]), Vector("mid", [0.5, 0.5])],
        wait=True,
    )
    result = vectorize.query(name, [1.0, 0.0], top_k=3)
    assert [m.id for m in result.matches][0] == "near"
    assert [m.id for m in result.matches][-1] == "far"
    scores = [m.score for m in result.matches]
    if metric == "cosine":
        assert scores == sorted(scores, reverse=True)  # higher is closer
    else:
        assert scores == sorted(scores)  # euclidean distance / negative dot: lower is closer
    vectorize.delete_index(name)


@pytest.mark.vcr
def test_write_chunked_at_5000_vectors(vectorize: VectorizeClient) -> None:
    vectorize.create_index("bulk", dimensions=2)
    vectors = [Vector(f"id-{i}", [float(i % 17), 1.0]) for i in range(5001)]
    result = vectorize.upsert("bulk", vectors, wait=True)
    assert result.requests == 2 and result.count == 5001 and len(result.mutation_ids) == 2
    assert vectorize.info("bulk").vector_count == 5001
    ids = list(vectorize.iter_ids("bulk", page_size=1000))
    assert len(ids) == 5001 and len(set(ids)) == 5001
    page = vectorize.list_vectors("bulk", count=10)
    assert page.count == 10 and page.is_truncated and page.next_cursor
    vectorize.delete_index("bulk")


@pytest.mark.vcr
def test_dimension_mismatch_caught_before_sending(vectorize: VectorizeClient) -> None:
    vectorize.create_index("dims", dimensions=4)
    with pytest.raises(ValidationError) as info:
        vectorize.upsert("dims", [Vector("ok", _unit(0)), Vector("bad", [1.0, 2.0])])
    assert info.value.item == "bad" and info.value.position == 1
    assert vectorize.info("dims").vector_count == 0  # nothing half-written
    vectorize.delete_index("dims")


@pytest.mark.vcr
def test_server_side_dimension_error_when_unchecked(
    vectorize: VectorizeClient, target: Target
) -> None:
    vectorize.create_index("srvdims", dimensions=4)
    with VectorizeClient(**target.client_kwargs()) as fresh:  # knows no dimensions yet
        with pytest.raises(InvalidRequestError) as info:
            fresh.query("srvdims", [1.0, 0.0])
    assert info.value.status_code == 400 and info.value.code
    assert "dimensions" in info.value.message
    vectorize.delete_index("srvdims")


@pytest.mark.vcr
def test_missing_index_is_not_found(vectorize: VectorizeClient) -> None:
    with pytest.raises(NotFoundError):
        vectorize.query("does-not-exist", [1.0, 0.0])
    with pytest.raises(NotFoundError):
        vectorize.info("does-not-exist")


@pytest.mark.vcr
async def test_async_vectorize_round_trip(async_vectorize: AsyncVectorizeClient) -> None:
    await async_vectorize.create_index("async-rw", dimensions=4)
    vectors = [Vector(f"x{i}", _unit(i), {"i": i}) for i in range(6)]
    result = await async_vectorize.upsert("async-rw", vectors, wait=True)
    assert result.count == 6
    found = await async_vectorize.query("async-rw", _unit(4), top_k=1, return_metadata="all")
    assert found.matches[0].id == "x4" and found.matches[0].metadata == {"i": 4}
    ids = [i async for i in async_vectorize.iter_ids("async-rw")]
    assert sorted(ids) == sorted(v.id for v in vectors)
    await async_vectorize.delete_by_ids("async-rw", ["x0"])
    await async_vectorize.delete_index("async-rw")
