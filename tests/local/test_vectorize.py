"""Vectorize v2 routes of the emulator: indexes, writes, queries, filters, consistency."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator
from starlette.applications import Starlette

from cloudflare_ai import limits
from cloudflare_ai_local import EmulatorConfig, create_app, emulator_state
from tests.conftest import REFERENCE

from .conftest import AUTH, VEC
from .helpers import assert_error, make_index, ndjson, query, upsert

SPEC_PATH = REFERENCE / "cloudflare-openapi-ai-vectorize.json"


def _schema(name: str) -> dict[str, Any]:
    spec = json.loads(SPEC_PATH.read_text())
    schemas = spec["components"]["schemas"]
    root = dict(schemas[name])
    root["components"] = {"schemas": schemas}
    return _rewrite_refs(root)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def validate_result(body: dict[str, Any], schema_name: str) -> None:
    OAS30Validator(_schema(schema_name)).validate(body["result"])
    OAS30Validator(_schema("vectorize_api-response-common")).validate(body)


# --- indexes ---------------------------------------------------------------------------------


async def test_index_lifecycle(client: httpx.AsyncClient) -> None:
    r = await client.post(
        VEC,
        json={
            "name": "my-index",
            "description": "d",
            "config": {"dimensions": 4, "metric": "euclidean"},
        },
    )
    assert r.status_code == 200
    validate_result(r.json(), "vectorize_create-index-response")
    assert r.json()["result"]["config"] == {"dimensions": 4, "metric": "euclidean"}
    listed = (await client.get(VEC)).json()["result"]
    assert [i["name"] for i in listed] == ["my-index"]
    got = (await client.get(f"{VEC}/my-index")).json()["result"]
    assert got["description"] == "d"
    info = await client.get(f"{VEC}/my-index/info")
    validate_result(info.json(), "vectorize_index-info-response")
    assert info.json()["result"]["vectorCount"] == 0
    assert (await client.delete(f"{VEC}/my-index")).status_code == 200
    assert_error(await client.get(f"{VEC}/my-index"), 404, 3000)
    assert_error(await client.delete(f"{VEC}/my-index"), 404, 3000)


async def test_preset_and_duplicate(client: httpx.AsyncClient) -> None:
    r = await client.post(
        VEC, json={"name": "preset", "config": {"preset": "@cf/baai/bge-small-en-v1.5"}}
    )
    assert r.json()["result"]["config"] == {"dimensions": 384, "metric": "cosine"}
    again = await client.post(
        VEC, json={"name": "preset", "config": {"dimensions": 3, "metric": "cosine"}}
    )
    assert_error(again, 409, 3002)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "Bad_Name", "config": {"dimensions": 3, "metric": "cosine"}}, 3001),
        ({"name": "a", "config": {"dimensions": 3, "metric": "cosine"}}, 3001),
        ({"name": "x" * 65, "config": {"dimensions": 3, "metric": "cosine"}}, 3001),
        ({"name": "ok-name", "config": {"dimensions": 0, "metric": "cosine"}}, 3003),
        (
            {
                "name": "ok-name",
                "config": {"dimensions": limits.MAX_DIMENSIONS + 1, "metric": "cosine"},
            },
            3003,
        ),
        ({"name": "ok-name", "config": {"dimensions": 3, "metric": "manhattan"}}, 3003),
        ({"name": "ok-name", "config": {"preset": "nope"}}, 3003),
        ({"name": "ok-name"}, 3003),
    ],
)
async def test_create_index_validation(
    client: httpx.AsyncClient, body: dict[str, Any], code: int
) -> None:
    assert_error(await client.post(VEC, json=body), 400, code)


async def test_malformed_json_body(client: httpx.AsyncClient) -> None:
    assert_error(await client.post(VEC, content=b"{oops"), 400, 10002)
    assert_error(await client.post(VEC, content=b"[1]"), 400, 40001)


# --- writes ----------------------------------------------------------------------------------


async def test_insert_keeps_first_upsert_replaces(client: httpx.AsyncClient) -> None:
    await make_index(client)
    r = await client.post(
        f"{VEC}/docs/insert",
        content=ndjson({"id": "a", "values": [1, 0, 0], "metadata": {"v": 1}}),
        headers={"content-type": "application/x-ndjson"},
    )
    mutation = r.json()["result"]["mutationId"]
    uuid.UUID(mutation)
    validate_result(r.json(), "vectorize_index-insert-v2-response")
    await client.post(
        f"{VEC}/docs/insert", content=ndjson({"id": "a", "values": [0, 1, 0], "metadata": {"v": 2}})
    )
    got = (await client.post(f"{VEC}/docs/get_by_ids", json={"ids": ["a"]})).json()["result"]
    assert got == [{"id": "a", "values": [1.0, 0.0, 0.0], "metadata": {"v": 1}}]
    await upsert(client, "docs", {"id": "a", "values": [0, 0, 1], "namespace": "ns"})
    got = (await client.post(f"{VEC}/docs/get_by_ids", json={"ids": ["a", "missing"]})).json()
    validate_result(got, "vectorize_index-get-vectors-by-id-response")
    # upsert replaces in full: metadata is gone, namespace is new
    assert got["result"] == [
        {"id": "a", "values": [0.0, 0.0, 1.0], "metadata": {}, "namespace": "ns"}
    ]


async def test_multipart_upload(client: httpx.AsyncClient) -> None:
    await make_index(client)
    body = ndjson({"id": "m1", "values": [1, 2, 3]}, {"id": "m2", "values": [3, 2, 1]})
    r = await client.post(
        f"{VEC}/docs/upsert", files={"vectors": ("vectors.ndjson", body, "application/x-ndjson")}
    )
    assert r.status_code == 200, r.text
    info = (await client.get(f"{VEC}/docs/info")).json()["result"]
    assert info["vectorCount"] == 2
    assert info["processedUpToMutation"] == r.json()["result"]["mutationId"]
    missing = await client.post(f"{VEC}/docs/upsert", files={"other": ("x", body)})
    assert_error(missing, 400, 40001)


async def test_unparsable_behaviour(client: httpx.AsyncClient) -> None:
    await make_index(client)
    body = b'{"id":"a","values":[1,2,3]}\nnot json\n{"id":"b","values":[1,1,1]}\n'
    err = await client.post(f"{VEC}/docs/upsert", content=body)
    assert "line 2" in assert_error(err, 400, 40008)["errors"][0]["message"]
    ok = await client.post(f"{VEC}/docs/upsert?unparsable-behavior=discard", content=body)
    assert ok.status_code == 200
    assert (await client.get(f"{VEC}/docs/info")).json()["result"]["vectorCount"] == 2


@pytest.mark.parametrize(
    ("record", "code", "needle"),
    [
        (
            {"id": "x", "values": [1, 2]},
            40006,
            'invalid vector for id "x", expected 3 dimensions, and got 2',
        ),
        ({"id": "x" * 65, "values": [1, 2, 3]}, 40003, "64 bytes"),
        ({"id": 5, "values": [1, 2, 3]}, 40003, "id"),
        ({"id": "x", "values": [1, "a", 3]}, 40002, '"x"'),
        ({"id": "x", "values": "abc"}, 40002, '"x"'),
        ({"id": "x", "values": [1, 2, 1e300]}, 40002, "finite"),
        ({"id": "x", "values": [1, 2, 3], "namespace": "n" * 65}, 40004, "namespace"),
        ({"id": "x", "values": [1, 2, 3], "metadata": {"a.b": 1}}, 40005, "a.b"),
        ({"id": "x", "values": [1, 2, 3], "metadata": {"$a": 1}}, 40005, "$a"),
        ({"id": "x", "values": [1, 2, 3], "metadata": {"big": "x" * 11000}}, 40005, "bytes"),
        ({"id": "x", "values": [1, 2, 3], "metadata": [1]}, 40005, "object"),
    ],
)
async def test_write_validation(
    client: httpx.AsyncClient, record: dict[str, Any], code: int, needle: str
) -> None:
    await make_index(client)
    r = await client.post(f"{VEC}/docs/upsert", content=ndjson(record))
    assert needle in assert_error(r, 400, code)["errors"][0]["message"]


async def test_too_many_vectors(client: httpx.AsyncClient) -> None:
    await make_index(client, dims=1)
    records = [{"id": str(i), "values": [1.0]} for i in range(limits.MAX_VECTORS_PER_WRITE + 1)]
    assert_error(await client.post(f"{VEC}/docs/upsert", content=ndjson(*records)), 400, 40007)
    assert_error(await client.post(f"{VEC}/docs/upsert", content=b""), 400, 40008)


async def test_write_to_missing_index(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{VEC}/ghost/upsert", content=ndjson({"id": "a", "values": [1]}))
    assert_error(r, 404, 3000)
    assert_error(await query(client, "ghost", vector=[1]), 404, 3000)


async def test_delete_by_ids(client: httpx.AsyncClient) -> None:
    await make_index(client)
    await upsert(client, "docs", {"id": "a", "values": [1, 0, 0]}, {"id": "b", "values": [0, 1, 0]})
    r = await client.post(f"{VEC}/docs/delete_by_ids", json={"ids": ["a", "zzz"]})
    validate_result(r.json(), "vectorize_index-delete-vectors-by-id-v2-response")
    info = (await client.get(f"{VEC}/docs/info")).json()["result"]
    assert (
        info["vectorCount"] == 1
        and info["processedUpToMutation"] == r.json()["result"]["mutationId"]
    )
    assert_error(await client.post(f"{VEC}/docs/delete_by_ids", json={"ids": "a"}), 400, 40003)


# --- queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "expected_order", "expected_best"),
    [
        ("cosine", ["same", "close", "far"], 1.0),
        ("euclidean", ["same", "close", "far"], 0.0),
        ("dot-product", ["far", "same", "close"], -100.0),
    ],
)
async def test_metrics_scores_and_order(
    client: httpx.AsyncClient, metric: str, expected_order: list[str], expected_best: float
) -> None:
    await make_index(client, metric=metric)
    await upsert(
        client,
        "docs",
        {"id": "same", "values": [1, 0, 0]},
        {"id": "close", "values": [0.9, 0.1, 0]},
        {"id": "far", "values": [100, 0, 0.5]}
        if metric == "dot-product"
        else {"id": "far", "values": [0, 0, 1]},
    )
    r = await query(client, "docs", vector=[1, 0, 0], topK=3)
    validate_result(r.json(), "vectorize_index-query-v2-response")
    matches = r.json()["result"]["matches"]
    assert [m["id"] for m in matches] == expected_order
    assert matches[0]["score"] == pytest.approx(expected_best, abs=1e-5)
    if metric == "euclidean":
        close = next(m for m in matches if m["id"] == "close")
        assert close["score"] == pytest.approx(((0.1**2) * 2) ** 0.5, rel=1e-4)
    if metric == "cosine":
        assert matches[2]["score"] == pytest.approx(0.0, abs=1e-6)
    assert set(matches[0]) == {"id", "score"}


async def test_query_options_and_top_k(client: httpx.AsyncClient) -> None:
    await make_index(client)
    await upsert(
        client,
        "docs",
        *({"id": f"v{i}", "values": [1, i, 0], "metadata": {"i": i}} for i in range(120)),
    )
    r = await query(client, "docs", vector=[1, 0, 0])
    assert r.json()["result"]["count"] == limits.DEFAULT_TOP_K
    r = await query(client, "docs", vector=[1, 0, 0], topK=100)
    assert r.json()["result"]["count"] == 100
    assert_error(await query(client, "docs", vector=[1, 0, 0], topK=101), 400, 40009)
    assert_error(
        await query(client, "docs", vector=[1, 0, 0], topK=51, returnValues=True), 400, 40009
    )
    assert_error(
        await query(client, "docs", vector=[1, 0, 0], topK=51, returnMetadata="all"), 400, 40009
    )
    ok = await query(client, "docs", vector=[1, 0, 0], topK=51, returnMetadata="indexed")
    assert ok.json()["result"]["count"] == 51
    assert_error(await query(client, "docs", vector=[1, 0, 0], topK=0), 400, 40009)
    assert_error(await query(client, "docs", vector=[1, 0, 0], returnMetadata="some"), 400, 40026)
    full = await query(
        client, "docs", vector=[1, 0, 0], topK=2, returnValues=True, returnMetadata="all"
    )
    best = full.json()["result"]["matches"][0]
    assert best == {
        "id": "v0",
        "score": pytest.approx(1.0),
        "values": [1.0, 0.0, 0.0],
        "metadata": {"i": 0},
    }
    bad = await query(client, "docs", vector=[1, 0])
    assert (
        "expected 3 dimensions, and got 2" in assert_error(bad, 400, 40006)["errors"][0]["message"]
    )
    assert_error(await query(client, "docs", vector="x"), 400, 40002)


async def test_query_by_vector_id(client: httpx.AsyncClient) -> None:
    await make_index(client)
    await upsert(client, "docs", {"id": "a", "values": [0, 1, 0]}, {"id": "b", "values": [1, 0, 0]})
    r = await query(client, "docs", vectorId="b", topK=1)
    assert r.json()["result"]["matches"][0]["id"] == "b"
    assert_error(await query(client, "docs", vectorId="nope"), 404, 40014)


async def test_namespaces_restrict_first(client: httpx.AsyncClient) -> None:
    await make_index(client)
    await upsert(
        client,
        "docs",
        {"id": "a1", "values": [1, 0, 0], "namespace": "a"},
        {"id": "b1", "values": [1, 0, 0], "namespace": "b"},
        {"id": "b2", "values": [0, 1, 0], "namespace": "b"},
        {"id": "none", "values": [1, 0, 0]},
    )
    r = await query(client, "docs", vector=[1, 0, 0], namespace="b", topK=10)
    matches = r.json()["result"]["matches"]
    assert [m["id"] for m in matches] == ["b1", "b2"]
    assert all(m["namespace"] == "b" for m in matches)
    assert (await query(client, "docs", vector=[1, 0, 0], namespace="zz")).json()["result"][
        "count"
    ] == 0


# --- metadata filtering ----------------------------------------------------------------------

MOVIES = [
    {
        "id": "m1",
        "values": [1, 0, 0],
        "metadata": {"genre": "drama", "year": 1995, "seen": True, "info": {"lang": "en"}},
    },
    {
        "id": "m2",
        "values": [0.9, 0.1, 0],
        "metadata": {"genre": "comedy", "year": 2005, "seen": False, "info": {"lang": "fr"}},
    },
    {
        "id": "m3",
        "values": [0.8, 0.2, 0],
        "metadata": {"genre": "netflix-original", "year": 2015, "info": {"lang": "en"}},
    },
    {"id": "m4", "values": [0.7, 0.3, 0], "metadata": {"year": 2020}},
]


async def _movies(client: httpx.AsyncClient) -> None:
    await make_index(client)
    for prop, kind in (
        ("genre", "string"),
        ("year", "number"),
        ("seen", "boolean"),
        ("info.lang", "string"),
    ):
        r = await client.post(
            f"{VEC}/docs/metadata_index/create", json={"propertyName": prop, "indexType": kind}
        )
        assert r.status_code == 200
    await upsert(client, "docs", *MOVIES)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"genre": "drama"}, ["m1"]),
        ({"genre": {"$eq": "comedy"}}, ["m2"]),
        ({"genre": {"$ne": "drama"}}, ["m2", "m3", "m4"]),
        ({"genre": {"$in": ["drama", "comedy"]}}, ["m1", "m2"]),
        ({"genre": {"$nin": ["drama", "comedy"]}}, ["m3", "m4"]),
        ({"year": {"$lt": 2005}}, ["m1"]),
        ({"year": {"$lte": 2005}}, ["m1", "m2"]),
        ({"year": {"$gt": 2005}}, ["m3", "m4"]),
        ({"year": {"$gte": 2005, "$lt": 2020}}, ["m2", "m3"]),
        ({"genre": {"$gte": "net", "$lt": "neu"}}, ["m3"]),
        ({"seen": True}, ["m1"]),
        ({"seen": {"$ne": True}}, ["m2", "m3", "m4"]),
        ({"year": {"$eq": True}}, []),
        ({"info.lang": "en"}, ["m1", "m3"]),
        ({"info.lang": "en", "year": {"$gt": 2000}}, ["m3"]),
        ({"unindexed": "x"}, []),
    ],
)
async def test_filter_operators(
    client: httpx.AsyncClient, flt: dict[str, Any], expected: list[str]
) -> None:
    await _movies(client)
    r = await query(client, "docs", vector=[1, 0, 0], topK=10, filter=flt)
    assert r.status_code == 200, r.text
    assert sorted(m["id"] for m in r.json()["result"]["matches"]) == expected


@pytest.mark.parametrize(
    "flt",
    [
        {"year": {"$gt": 1, "$gte": 2}},
        {"year": {"$lt": 1, "$lte": 2}},
        {"year": {"$eq": 1, "$gt": 0}},
        {"year": {"$in": [1], "$nin": [2]}},
        {"year": {"$regex": "x"}},
        {"year": {"$in": "x"}},
        {"year": {"$gt": True}},
        {"year": {}},
        {"$year": 1},
        {"": 1},
        {'a"b': 1},
        {"year": [1, 2]},
        {"k": "x" * limits.MAX_FILTER_BYTES},
        {"k" * (limits.MAX_FILTER_KEY_CHARS + 1): 1},
    ],
)
async def test_invalid_filters(client: httpx.AsyncClient, flt: dict[str, Any]) -> None:
    await make_index(client)
    assert_error(await query(client, "docs", vector=[1, 0, 0], filter=flt), 400, 40010)


async def test_filter_then_top_k(client: httpx.AsyncClient) -> None:
    await _movies(client)
    r = await query(client, "docs", vector=[1, 0, 0], topK=1, filter={"year": {"$gt": 2000}})
    assert [m["id"] for m in r.json()["result"]["matches"]] == ["m2"]


async def test_metadata_index_must_exist_before_write(client: httpx.AsyncClient) -> None:
    await make_index(client)
    await upsert(
        client,
        "docs",
        {"id": "early", "values": [1, 0, 0], "metadata": {"tag": "x", "long": "é" * 40}},
    )
    await client.post(
        f"{VEC}/docs/metadata_index/create", json={"propertyName": "tag", "indexType": "string"}
    )
    await client.post(
        f"{VEC}/docs/metadata_index/create", json={"propertyName": "long", "indexType": "string"}
    )
    await upsert(
        client,
        "docs",
        {"id": "late", "values": [1, 0, 0], "metadata": {"tag": "x", "long": "é" * 40, "other": 1}},
    )
    r = await query(client, "docs", vector=[1, 0, 0], topK=10, filter={"tag": "x"})
    assert [m["id"] for m in r.json()["result"]["matches"]] == ["late"]
    ne = await query(client, "docs", vector=[1, 0, 0], topK=10, filter={"tag": {"$ne": "y"}})
    assert sorted(m["id"] for m in ne.json()["result"]["matches"]) == ["early", "late"]
    indexed = await query(
        client, "docs", vector=[1, 0, 0], topK=10, filter={"tag": "x"}, returnMetadata="indexed"
    )
    meta = indexed.json()["result"]["matches"][0]["metadata"]
    assert set(meta) == {"tag", "long"}
    assert (
        meta["long"] == "é" * 32 and len(meta["long"].encode()) == limits.MAX_INDEXED_METADATA_BYTES
    )
    # re-upserting the early vector indexes it
    await upsert(client, "docs", {"id": "early", "values": [1, 0, 0], "metadata": {"tag": "x"}})
    again = await query(client, "docs", vector=[1, 0, 0], topK=10, filter={"tag": "x"})
    assert sorted(m["id"] for m in again.json()["result"]["matches"]) == ["early", "late"]


async def test_metadata_index_endpoints(client: httpx.AsyncClient) -> None:
    await make_index(client)
    url = f"{VEC}/docs/metadata_index"
    r = await client.post(f"{url}/create", json={"propertyName": "genre", "indexType": "string"})
    validate_result(r.json(), "vectorize_create-metadata-index-response")
    assert_error(
        await client.post(f"{url}/create", json={"propertyName": "genre", "indexType": "string"}),
        409,
        40012,
    )
    assert_error(
        await client.post(f"{url}/create", json={"propertyName": "x", "indexType": "date"}),
        400,
        40001,
    )
    for method in ("GET", "POST"):
        listed = await client.request(method, f"{url}/list")
        validate_result(listed.json(), "vectorize_list-metadata-index-response")
        assert listed.json()["result"] == {
            "metadataIndexes": [{"propertyName": "genre", "indexType": "string"}]
        }
    for i in range(limits.MAX_METADATA_INDEXES - 1):
        await client.post(f"{url}/create", json={"propertyName": f"p{i}", "indexType": "number"})
    assert_error(
        await client.post(
            f"{url}/create", json={"propertyName": "one-more", "indexType": "number"}
        ),
        400,
        40011,
    )
    d = await client.post(f"{url}/delete", json={"propertyName": "genre"})
    validate_result(d.json(), "vectorize_delete-metadata-index-response")
    assert_error(await client.post(f"{url}/delete", json={"propertyName": "genre"}), 404, 40013)


# --- list ------------------------------------------------------------------------------------


async def test_list_vectors_pagination(client: httpx.AsyncClient) -> None:
    await make_index(client, dims=1)
    await upsert(client, "docs", *({"id": f"id-{i:03d}", "values": [i]} for i in range(250)))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"count": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"{VEC}/docs/list", params=params)).json()["result"]
        assert page["totalCount"] == 250
        assert page["count"] == len(page["vectors"])
        seen += [v["id"] for v in page["vectors"]]
        pages += 1
        if not page["isTruncated"]:
            assert page["nextCursor"] is None
            break
        assert page["cursorExpirationTimestamp"].endswith("Z")
        cursor = page["nextCursor"]
    assert pages == 3 and seen == sorted(f"id-{i:03d}" for i in range(250))
    default = (await client.get(f"{VEC}/docs/list")).json()["result"]
    assert default["count"] == limits.DEFAULT_LIST_COUNT
    assert_error(await client.get(f"{VEC}/docs/list", params={"count": 1001}), 400, 40001)
    assert_error(await client.get(f"{VEC}/docs/list", params={"count": "x"}), 400, 40001)
    assert_error(await client.get(f"{VEC}/docs/list", params={"cursor": "%%%"}), 400, 40015)


# --- eventual consistency and persistence ---------------------------------------------------


async def test_write_delay_visibility() -> None:
    app = create_app(EmulatorConfig(write_delay=0.3))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e", headers=AUTH
    ) as c:
        await make_index(c)
        first = await upsert(c, "docs", {"id": "a", "values": [1, 0, 0]})
        second = await upsert(c, "docs", {"id": "b", "values": [0, 1, 0]})
        info = (await c.get(f"{VEC}/docs/info")).json()["result"]
        assert info["vectorCount"] == 0 and info["processedUpToMutation"] not in (first, second)
        assert (await query(c, "docs", vector=[1, 0, 0])).json()["result"]["count"] == 0
        assert (await c.post(f"{VEC}/docs/get_by_ids", json={"ids": ["a"]})).json()["result"] == []
        await asyncio.sleep(0.35)
        info = (await c.get(f"{VEC}/docs/info")).json()["result"]
        assert info["vectorCount"] == 2 and info["processedUpToMutation"] == second
        assert (await query(c, "docs", vector=[1, 0, 0])).json()["result"]["count"] == 2


async def test_persistence_across_restart(tmp_path: Path) -> None:
    async def session(fn: Any) -> Any:
        app: Starlette = create_app(EmulatorConfig(data_dir=tmp_path))
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://e", headers=AUTH
            ) as c:
                return await fn(c)
        finally:
            emulator_state(app).store.close()

    async def write(c: httpx.AsyncClient) -> None:
        await make_index(c)
        await c.post(
            f"{VEC}/docs/metadata_index/create", json={"propertyName": "k", "indexType": "string"}
        )
        await upsert(
            c, "docs", {"id": "a", "values": [1, 0, 0], "namespace": "n", "metadata": {"k": "v"}}
        )

    async def read(c: httpx.AsyncClient) -> Any:
        r = await query(
            c,
            "docs",
            vector=[1, 0, 0],
            filter={"k": "v"},
            namespace="n",
            returnMetadata="all",
            returnValues=True,
        )
        return r.json()["result"]

    await session(write)
    result = await session(read)
    assert result["matches"] == [
        {
            "id": "a",
            "score": pytest.approx(1.0),
            "values": [1.0, 0.0, 0.0],
            "metadata": {"k": "v"},
            "namespace": "n",
        }
    ]
    assert (tmp_path / "vectorize.sqlite3").exists()


def test_mutation_is_atomic(tmp_path: Path) -> None:
    """A failure while applying a mutation rolls the whole batch back."""
    from cloudflare_ai_local.vector_store import NewVector, VectorStore

    store = VectorStore(tmp_path)
    store.create_index("docs", 1, "cosine", "")
    store.write("docs", [NewVector("ok", b"\x00\x00\x80?", None, None)], replace=True)

    vectors = [NewVector(f"v{i}", b"\x00\x00\x80?", None, None) for i in range(10)]
    # metadata whose serialisation fails mid-batch
    vectors.append(NewVector("bad", b"\x00\x00\x80?", None, {"x": object()}))
    with pytest.raises(TypeError):
        store.write("docs", vectors, replace=True)
    assert sorted(store.indexes["docs"].vectors) == ["ok"]
    store.close()
    reopened = VectorStore(tmp_path)
    assert sorted(reopened.indexes["docs"].vectors) == ["ok"]
    reopened.close()
