"""Vectorize writes: chunking, validation before sending, partial failures, waiting."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
import pytest

from cloudflare_ai import (
    ConflictError,
    MutationTimeoutError,
    PartialWriteError,
    ServerError,
    ValidationError,
    Vector,
)
from cloudflare_ai.ndjson import read_ndjson

from ._support import (
    ACCOUNT,
    FAST,
    async_vz_client,
    clear_env,
    envelope,
    failure,
    json_response,
    vz_client,
)

INDEX = "docs"
BASE = f"/client/v4/accounts/{ACCOUNT}/vectorize/v2/indexes"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)


def tiny(n: int) -> list[dict[str, Any]]:
    return [{"id": f"v{i}", "values": [float(i), 1.0]} for i in range(n)]


class FakeVectorize:
    """Answers writes with increasing mutation ids; can fail chunks and report progress."""

    def __init__(self, *, fail_first_ids: set[str] | None = None) -> None:
        self.fail_first_ids = fail_first_ids or set()
        self.lock = threading.Lock()
        self.writes: list[httpx.Request] = []
        self.events: list[str] = []
        self.info_calls = 0
        self.mutation = 0
        self.processed: list[str | None] = []
        self.other: list[httpx.Request] = []

    def first_id(self, request: httpx.Request) -> str:
        return next(read_ndjson(request.content))["id"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        path = request.url.path
        if path.endswith(("/upsert", "/insert")):
            first = self.first_id(request)
            with self.lock:
                self.writes.append(request)
                self.events.append(f"start:{first}")
            if first in self.fail_first_ids:
                return json_response(500, failure(None, "internal"))
            with self.lock:
                self.mutation += 1
                mutation = f"m{self.mutation}"
                self.events.append(f"end:{first}")
            return json_response(200, envelope({"mutationId": mutation}))
        if path.endswith("/info"):
            with self.lock:
                self.info_calls += 1
                processed = self.processed.pop(0) if len(self.processed) > 1 else self.processed[0]
            return json_response(
                200,
                envelope({"dimensions": 2, "vectorCount": 0, "processedUpToMutation": processed}),
            )
        self.other.append(request)
        return json_response(
            200, envelope({"name": INDEX, "config": {"dimensions": 2, "metric": "cosine"}})
        )


def test_upsert_12001_vectors_in_three_ndjson_requests() -> None:
    fake = FakeVectorize()
    result = vz_client(fake).upsert(INDEX, tiny(12_001), dimensions=2)
    assert len(fake.writes) == 3
    assert fake.other == []  # dimensions given: no index lookup
    line_counts = sorted(len(list(read_ndjson(r.content))) for r in fake.writes)
    assert line_counts == [2001, 5000, 5000]
    for request in fake.writes:
        assert request.headers["content-type"] == "application/x-ndjson"
        assert request.url.path == f"{BASE}/{INDEX}/upsert"
        assert request.content.count(b"\n") <= 5000
    sent_ids = [rec["id"] for r in fake.writes for rec in read_ndjson(r.content)]
    assert sorted(sent_ids) == sorted(f"v{i}" for i in range(12_001))
    assert result.count == 12_001
    assert result.requests == 3
    assert result.ids == [f"v{i}" for i in range(12_001)]
    assert sorted(result.mutation_ids) == ["m1", "m2", "m3"]
    record = next(read_ndjson(fake.writes[0].content))
    assert set(record) == {"id", "values"}


def test_insert_path_and_lookup_of_dimensions_once() -> None:
    fake = FakeVectorize()
    client = vz_client(fake)
    client.insert(INDEX, [Vector("a", [1.0, 2.0], {"k": "v"}, "ns")])
    client.insert(INDEX, [{"id": "b", "values": [1.0, 2.0]}])
    assert [r.url.path for r in fake.other] == [f"{BASE}/{INDEX}"]  # looked up once
    assert fake.writes[0].url.path == f"{BASE}/{INDEX}/insert"
    assert next(read_ndjson(fake.writes[0].content)) == {
        "id": "a",
        "values": [1.0, 2.0],
        "namespace": "ns",
        "metadata": {"k": "v"},
    }
    with pytest.raises(ValidationError, match="3 values but the index has 2"):
        client.insert(INDEX, [{"id": "c", "values": [1.0, 2.0, 3.0]}])
    assert len(fake.writes) == 2


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ({"id": "last", "values": [1.0]}, "1 values but the index has 2"),
        ({"id": "last", "values": [1.0, float("nan")]}, "finite"),
        ({"id": "x" * 65, "values": [1.0, 2.0]}, "65 bytes"),
        ({"id": "last", "values": [1.0, 2.0], "metadata": {"a.b": 1}}, "'a.b'"),
        ({"id": "last", "values": [1.0, 2.0], "namespace": "n" * 65}, "65 bytes"),
        ({"id": "last"}, "needs 'id' and 'values'"),
    ],
)
def test_bad_vector_at_the_end_sends_nothing(bad: dict[str, Any], fragment: str) -> None:
    fake = FakeVectorize()
    vectors = [*tiny(12_000), bad]
    with pytest.raises(ValidationError, match=fragment) as info:
        vz_client(fake).upsert(INDEX, vectors, dimensions=2)
    assert fake.writes == []
    assert info.value.position == 12_000
    assert "12000" in str(info.value)


def test_duplicate_ids_send_nothing() -> None:
    fake = FakeVectorize()
    vectors = [*tiny(6000), {"id": "v17", "values": [0.0, 0.0]}]
    with pytest.raises(ValidationError, match="appears twice") as info:
        vz_client(fake).upsert(INDEX, vectors, dimensions=2)
    assert fake.writes == []
    assert (info.value.item, info.value.position) == ("v17", 6000)
    assert "positions 17 and 6000" in str(info.value)


def test_failed_chunk_gives_partial_write_error_sequential() -> None:
    fake = FakeVectorize(fail_first_ids={"v5000"})
    client = vz_client(fake, max_concurrency=1)
    with pytest.raises(PartialWriteError) as info:
        client.upsert(INDEX, tiny(12_001), dimensions=2)
    exc = info.value
    assert exc.written_ids == [f"v{i}" for i in range(5000)]
    assert exc.failed_ids == [f"v{i}" for i in range(5000, 12_001)]
    assert exc.mutation_ids == ["m1"]
    assert isinstance(exc.__cause__, ServerError)
    # chunk 2 was tried 1 + max_retries times; chunk 3 was never sent
    firsts = [fake.first_id(r) for r in fake.writes]
    assert firsts == ["v0"] + ["v5000"] * (FAST.max_retries + 1)
    assert "5000 vectors written" in str(exc)
    assert "7001 not written" in str(exc)


def test_failed_chunk_gives_partial_write_error_concurrent() -> None:
    fake = FakeVectorize(fail_first_ids={"v5000"})
    with pytest.raises(PartialWriteError) as info:
        vz_client(fake, max_concurrency=8).upsert(INDEX, tiny(12_001), dimensions=2)
    exc = info.value
    assert exc.written_ids == [f"v{i}" for i in range(5000)] + [
        f"v{i}" for i in range(10_000, 12_001)
    ]
    assert exc.failed_ids == [f"v{i}" for i in range(5000, 10_000)]
    assert sorted(exc.mutation_ids) == ["m1", "m2"]
    assert not set(exc.written_ids) & set(exc.failed_ids)


def test_first_chunk_failing_alone_raises_its_error() -> None:
    fake = FakeVectorize(fail_first_ids={"v0"})
    with pytest.raises(ServerError):
        vz_client(fake, max_concurrency=1).upsert(INDEX, tiny(12_001), dimensions=2)
    assert {fake.first_id(r) for r in fake.writes} == {"v0"}


def test_wait_sends_last_chunk_after_others_then_polls_info() -> None:
    fake = FakeVectorize()
    fake.processed = ["m1", "m2", "m3"]  # catching up, one poll at a time
    result = vz_client(fake).upsert(INDEX, tiny(12_001), dimensions=2, wait=True)
    assert result.mutation_ids[-1] == "m3"
    assert result.mutation_id == "m3"
    last_start = fake.events.index("start:v10000")
    assert fake.events.index("end:v0") < last_start
    assert fake.events.index("end:v5000") < last_start
    assert fake.info_calls == 3  # polled until processedUpToMutation == m3


def test_wait_returns_at_once_when_already_processed() -> None:
    fake = FakeVectorize()
    fake.processed = ["m1"]
    vz_client(fake).upsert(INDEX, tiny(3), dimensions=2, wait=True)
    assert fake.info_calls == 1


def test_wait_for_mutation_timeout_names_mutation() -> None:
    fake = FakeVectorize()
    fake.processed = ["m0"]
    with pytest.raises(MutationTimeoutError) as info:
        vz_client(fake).wait_for_mutation(INDEX, "m-target-42", timeout=0.15)
    exc = info.value
    assert exc.mutation_id == "m-target-42"
    assert exc.last_processed == "m0"
    assert "m-target-42" in str(exc)
    assert "'docs'" in str(exc)
    assert isinstance(exc, TimeoutError)
    assert fake.info_calls >= 2


def test_upsert_wait_timeout_raises_mutation_timeout() -> None:
    fake = FakeVectorize()
    fake.processed = [None]
    with pytest.raises(MutationTimeoutError) as info:
        vz_client(fake).upsert(INDEX, tiny(2), dimensions=2, wait=True, wait_timeout=0.1)
    assert info.value.mutation_id == "m1"
    assert info.value.last_processed is None


# --- create_index(exist_ok) -------------------------------------------------------------------


def conflict_then(existing: dict[str, Any]) -> tuple[list[httpx.Request], Any]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return json_response(409, failure(3002, "vectorize.index.duplicate_name"))
        return json_response(200, envelope(existing))

    return seen, handler


def test_create_index_exist_ok_returns_existing() -> None:
    existing = {"name": INDEX, "config": {"dimensions": 768, "metric": "cosine"}}
    seen, handler = conflict_then(existing)
    client = vz_client(handler)
    index = client.create_index(INDEX, dimensions=768, metric="cosine", exist_ok=True)
    assert (index.name, index.config.dimensions, index.config.metric) == (INDEX, 768, "cosine")
    assert [(r.method, r.url.path) for r in seen] == [("POST", BASE), ("GET", f"{BASE}/{INDEX}")]
    assert client.dimensions(INDEX) == 768
    assert len(seen) == 2  # remembered, not looked up again


def test_create_index_exist_ok_with_preset() -> None:
    existing = {"name": INDEX, "config": {"dimensions": 768, "metric": "cosine"}}
    _, handler = conflict_then(existing)
    index = vz_client(handler).create_index(
        INDEX, preset="@cf/baai/bge-base-en-v1.5", exist_ok=True
    )
    assert index.config.dimensions == 768


@pytest.mark.parametrize(("dims", "metric"), [(384, "cosine"), (768, "euclidean")])
def test_create_index_exist_ok_refuses_different_config(dims: int, metric: str) -> None:
    existing = {"name": INDEX, "config": {"dimensions": 768, "metric": "cosine"}}
    _, handler = conflict_then(existing)
    with pytest.raises(ValidationError) as info:
        vz_client(handler).create_index(INDEX, dimensions=dims, metric=metric, exist_ok=True)  # type: ignore[arg-type]
    message = str(info.value)
    assert "768" in message
    assert str(dims) in message
    assert metric in message
    assert info.value.item == INDEX


def test_create_index_conflict_without_exist_ok() -> None:
    seen, handler = conflict_then({})
    with pytest.raises(ConflictError) as info:
        vz_client(handler).create_index(INDEX, dimensions=2)
    assert info.value.code == 3002
    assert len(seen) == 1


def test_create_index_argument_checks_send_nothing() -> None:
    seen, handler = conflict_then({})
    client = vz_client(handler)
    with pytest.raises(ValidationError):
        client.create_index("Bad Name", dimensions=2)
    with pytest.raises(ValidationError):
        client.create_index(INDEX, dimensions=2000)
    with pytest.raises(ValidationError):
        client.create_index(INDEX)
    with pytest.raises(ValidationError):
        client.create_index(INDEX, dimensions=2, preset="@cf/baai/bge-base-en-v1.5")
    with pytest.raises(ValidationError):
        client.create_index(INDEX, preset="@cf/unknown")
    with pytest.raises(ValidationError):
        client.create_index(INDEX, dimensions=2, metric="manhattan")  # type: ignore[arg-type]
    assert seen == []


# --- async twins --------------------------------------------------------------------------------


async def test_async_upsert_chunks_and_partial_failure() -> None:
    fake = FakeVectorize()
    result = await async_vz_client(fake).upsert(INDEX, tiny(12_001), dimensions=2)
    assert len(fake.writes) == 3
    assert result.count == 12_001
    assert result.ids == [f"v{i}" for i in range(12_001)]

    failing = FakeVectorize(fail_first_ids={"v10000"})
    with pytest.raises(PartialWriteError) as info:
        await async_vz_client(failing).upsert(INDEX, tiny(12_001), dimensions=2)
    assert info.value.written_ids == [f"v{i}" for i in range(10_000)]
    assert info.value.failed_ids == [f"v{i}" for i in range(10_000, 12_001)]


async def test_async_validation_before_sending_and_wait() -> None:
    fake = FakeVectorize()
    client = async_vz_client(fake)
    with pytest.raises(ValidationError):
        await client.upsert(INDEX, [*tiny(5001), {"id": "z", "values": [1.0]}], dimensions=2)
    assert fake.writes == []
    fake.processed = ["m0", "m2"]
    result = await client.upsert(INDEX, tiny(5001), dimensions=2, wait=True)
    assert result.mutation_id == "m2"
    assert fake.info_calls == 2
    assert fake.events.index("end:v0") < fake.events.index("start:v5000")


async def test_async_create_index_exist_ok() -> None:
    existing = {"name": INDEX, "config": {"dimensions": 2, "metric": "dot-product"}}
    _, handler = conflict_then(existing)
    client = async_vz_client(handler)
    index = await client.create_index(INDEX, dimensions=2, metric="dot-product", exist_ok=True)
    assert index.config.metric == "dot-product"
    with pytest.raises(ValidationError):
        await client.create_index(INDEX, dimensions=2, metric="cosine", exist_ok=True)


def test_query_validates_before_sending() -> None:
    fake = FakeVectorize()
    client = vz_client(fake)
    with pytest.raises(ValidationError, match="cap of 50"):
        client.query(INDEX, [1.0, 2.0], top_k=51, return_values=True)
    with pytest.raises(ValidationError, match="logical"):
        client.query(INDEX, [1.0, 2.0], filter={"$or": [{"a": 1}]})
    with pytest.raises(ValidationError, match="a vector or a vector_id"):
        client.query(INDEX)
    assert fake.writes == []
    assert fake.other == []
    body_seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body_seen.append(orjson.loads(request.content))
        return json_response(
            200, envelope({"count": 1, "matches": [{"id": "a", "score": 0.5, "namespace": "n"}]})
        )

    result = vz_client(handler).query(INDEX, vector_id="a", top_k=100)
    assert body_seen[0]["vectorId"] == "a"
    assert "vector" not in body_seen[0]
    assert result.count == 1
    assert result.matches[0].namespace == "n"
