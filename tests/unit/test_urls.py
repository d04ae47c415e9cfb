"""The URLs and headers of the requests the clients send (captured by MockTransport)."""

from __future__ import annotations

import warnings

import httpx
import orjson
import pytest

from cloudflare_ai import GatewaySettings

from ._support import (
    ACCOUNT,
    CHAT_MODEL,
    TOKEN,
    Recorder,
    ai_client,
    clear_env,
    envelope,
    json_response,
    vz_client,
)

ACCOUNT_PATH = f"/client/v4/accounts/{ACCOUNT}"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)


def classic_ok(request: httpx.Request) -> httpx.Response:
    return json_response(200, envelope({"response": "ok", "usage": {"prompt_tokens": 1}}))


def chat_completion_ok(request: httpx.Request) -> httpx.Response:
    return json_response(
        200,
        {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}],
        },
    )


def test_direct_run_url_keeps_model_slashes() -> None:
    rec = Recorder(classic_ok)
    ai_client(rec).chat(CHAT_MODEL, [{"role": "user", "content": "hi"}])
    (request,) = rec.requests
    assert request.method == "POST"
    assert request.url.host == "api.cloudflare.com"
    assert request.url.raw_path == f"{ACCOUNT_PATH}/ai/run/{CHAT_MODEL}".encode()
    assert b"%2F" not in request.url.raw_path
    assert b"%40" not in request.url.raw_path
    body = orjson.loads(request.content)
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert "stream" not in body


def test_headers_authorization_and_no_zstd() -> None:
    rec = Recorder(classic_ok)
    ai_client(rec).run(CHAT_MODEL, {"prompt": "hi"})
    headers = rec.requests[0].headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert "zstd" not in headers["accept-encoding"]
    assert "gzip" in headers["accept-encoding"]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("cloudflare-ai-python/")


def test_openai_api_direct_url() -> None:
    rec = Recorder(chat_completion_ok)
    reply = ai_client(rec).chat(CHAT_MODEL, prompt="hi", api="openai", stop=["x"])
    assert reply.text == "ok"
    (request,) = rec.requests
    assert request.url.raw_path == f"{ACCOUNT_PATH}/ai/v1/chat/completions".encode()
    body = orjson.loads(request.content)
    assert body["model"] == CHAT_MODEL
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["stop"] == ["x"]


def test_gateway_run_url_and_headers() -> None:
    rec = Recorder(classic_ok)
    gw = GatewaySettings(id="my-gw", cache_ttl=300, token="gw-tok")
    ai_client(rec, gateway=gw).chat(CHAT_MODEL, prompt="hi")
    (request,) = rec.requests
    assert str(request.url) == (
        f"https://gateway.ai.cloudflare.com/v1/{ACCOUNT}/my-gw/workers-ai/{CHAT_MODEL}"
    )
    assert request.headers["cf-aig-cache-ttl"] == "300"
    assert request.headers["cf-aig-authorization"] == "Bearer gw-tok"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_gateway_openai_url() -> None:
    rec = Recorder(chat_completion_ok)
    ai_client(rec, gateway="gw2").chat(CHAT_MODEL, prompt="hi", api="openai")
    assert str(rec.requests[0].url) == (
        f"https://gateway.ai.cloudflare.com/v1/{ACCOUNT}/gw2/workers-ai/v1/chat/completions"
    )


def test_gateway_from_env_and_custom_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_ID", "env-gw")
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_URL", "http://127.0.0.1:9999/v1")
    rec = Recorder(classic_ok)
    ai_client(rec).run(CHAT_MODEL, {"prompt": "hi"})
    assert str(rec.requests[0].url) == (
        f"http://127.0.0.1:9999/v1/{ACCOUNT}/env-gw/workers-ai/{CHAT_MODEL}"
    )


def test_per_call_gateway_override() -> None:
    rec = Recorder(classic_ok)
    client = ai_client(rec)
    client.chat(CHAT_MODEL, prompt="hi", gateway="per-call")
    client.chat(CHAT_MODEL, prompt="hi")
    assert rec.requests[0].url.path.startswith(f"/v1/{ACCOUNT}/per-call/workers-ai/")
    assert rec.requests[1].url.path == f"{ACCOUNT_PATH}/ai/run/{CHAT_MODEL}"


def test_embed_urls() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if request.url.path.endswith("v1/embeddings"):
            n = len(body["input"])
            return json_response(
                200, {"data": [{"index": i, "embedding": [0.0, 1.0]} for i in range(n)]}
            )
        return json_response(200, envelope({"shape": [1, 2], "data": [[0.0, 1.0]]}))

    rec = Recorder(handler)
    client = ai_client(rec)
    client.embed("hello", model="@cf/baai/bge-small-en-v1.5", pooling="cls")
    client.embed("hello", model="@cf/baai/bge-small-en-v1.5", api="openai")
    assert rec.requests[0].url.path == f"{ACCOUNT_PATH}/ai/run/@cf/baai/bge-small-en-v1.5"
    assert orjson.loads(rec.requests[0].content) == {"text": ["hello"], "pooling": "cls"}
    assert rec.requests[1].url.path == f"{ACCOUNT_PATH}/ai/v1/embeddings"


def test_list_models_url() -> None:
    rec = Recorder(lambda r: json_response(200, envelope([{"name": "m"}])))
    models = ai_client(rec).list_models(task="Text Embeddings", search="bge", online=True)
    assert [m.name for m in models] == ["m"]
    request = rec.requests[0]
    assert request.method == "GET"
    assert request.url.path == f"{ACCOUNT_PATH}/ai/models/search"
    assert request.url.params["task"] == "Text Embeddings"
    assert request.url.params["search"] == "bge"


def index_payload(name: str = "docs", dims: int = 2) -> dict[str, object]:
    return {"name": name, "config": {"dimensions": dims, "metric": "cosine"}}


def test_vectorize_paths() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/info"):
            return json_response(200, envelope({"dimensions": 2, "vectorCount": 0}))
        if path.endswith("/query"):
            return json_response(200, envelope({"count": 0, "matches": []}))
        if path.endswith("/list"):
            return json_response(200, envelope({"count": 0, "vectors": []}))
        if path.endswith(("/delete_by_ids", "/upsert", "/insert")) or "metadata_index" in path:
            if path.endswith("metadata_index/list"):
                return json_response(200, envelope({"metadataIndexes": []}))
            return json_response(200, envelope({"mutationId": "m1"}))
        if path.endswith("/get_by_ids"):
            return json_response(200, envelope([]))
        if request.method == "GET" and path.endswith("/indexes"):
            return json_response(200, envelope([index_payload()]))
        return json_response(200, envelope(index_payload()))

    rec = Recorder(handler)
    vz = vz_client(rec)
    vz.create_index("docs", dimensions=2)
    vz.get_index("docs")
    vz.list_indexes()
    vz.info("docs")
    vz.query("docs", [0.1, 0.2], top_k=3)
    vz.upsert("docs", [{"id": "a", "values": [1, 2]}])
    vz.insert("docs", [{"id": "b", "values": [1, 2]}])
    vz.get_by_ids("docs", ["a"])
    vz.delete_by_ids("docs", ["a"])
    vz.list_vectors("docs", count=10, cursor="c1")
    vz.create_metadata_index("docs", "genre")
    vz.list_metadata_indexes("docs")
    vz.delete_metadata_index("docs", "genre")
    vz.delete_index("docs")
    base = f"{ACCOUNT_PATH}/vectorize/v2/indexes"
    seen = [(r.method, r.url.path) for r in rec.requests]
    assert seen == [
        ("POST", base),
        ("GET", f"{base}/docs"),
        ("GET", base),
        ("GET", f"{base}/docs/info"),
        ("POST", f"{base}/docs/query"),
        ("POST", f"{base}/docs/upsert"),
        ("POST", f"{base}/docs/insert"),
        ("POST", f"{base}/docs/get_by_ids"),
        ("POST", f"{base}/docs/delete_by_ids"),
        ("GET", f"{base}/docs/list"),
        ("POST", f"{base}/docs/metadata_index/create"),
        ("GET", f"{base}/docs/metadata_index/list"),
        ("POST", f"{base}/docs/metadata_index/delete"),
        ("DELETE", f"{base}/docs"),
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in rec.requests)
    assert all("zstd" not in r.headers["accept-encoding"] for r in rec.requests)
    assert orjson.loads(rec.requests[0].content) == {
        "name": "docs",
        "config": {"dimensions": 2, "metric": "cosine"},
    }
    query = orjson.loads(rec.requests[4].content)
    assert query["topK"] == 3
    assert query["returnValues"] is False
    assert query["returnMetadata"] == "none"
    assert query["vector"] == pytest.approx([0.1, 0.2], rel=1e-6)
    assert rec.requests[9].url.params["count"] == "10"
    assert rec.requests[9].url.params["cursor"] == "c1"
    assert orjson.loads(rec.requests[10].content) == {
        "propertyName": "genre",
        "indexType": "string",
    }


def test_vectorize_query_with_filter_and_namespace_body() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/metadata_index/list"):
            indexes = [
                {"propertyName": "genre", "indexType": "string"},
                {"propertyName": "year", "indexType": "number"},
            ]
            return json_response(200, envelope({"metadataIndexes": indexes}))
        return json_response(200, envelope({"count": 0, "matches": []}))

    rec = Recorder(respond)
    client = vz_client(rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both keys are indexed: no warning
        for _ in range(2):
            client.query(
                "docs",
                [1.0, 0.0],
                filter={"genre": {"$in": ["drama"]}, "year": {"$gte": 2000, "$lt": 2010}},
                namespace="tenant-a",
                return_metadata="indexed",
            )
    # The metadata indexes are listed once per client, before the first filtered query.
    paths = [r.url.path.rsplit("/", 2)[-2:] for r in rec.requests]
    assert paths == [["metadata_index", "list"], ["docs", "query"], ["docs", "query"]]
    body = orjson.loads(rec.requests[1].content)
    assert body["filter"] == {"genre": {"$in": ["drama"]}, "year": {"$gte": 2000, "$lt": 2010}}
    assert body["namespace"] == "tenant-a"
    assert body["returnMetadata"] == "indexed"
