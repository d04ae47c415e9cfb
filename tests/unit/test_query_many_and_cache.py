"""Concurrent multi-query and the query-embedding cache of the core clients."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import httpx
import orjson

from tests.unit._support import ai_client, async_vz_client, envelope, vz_client


def _query_handler(delay: bool, seen: list[float], lock: threading.Lock, peak: list[int]):  # type: ignore[no-untyped-def]
    active = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        if delay:
            time.sleep(random.uniform(0.001, 0.01))
        with lock:
            active[0] -= 1
            seen.append(body["vector"][0])
        match = {"id": f"v{int(body['vector'][0])}", "score": 1.0}
        return httpx.Response(200, json=envelope({"count": 1, "matches": [match]}))

    return handler


def test_query_many_keeps_order_and_bounds_concurrency() -> None:
    seen: list[float] = []
    peak = [0]
    db = vz_client(_query_handler(True, seen, threading.Lock(), peak), max_concurrency=3)
    vectors = [[float(i), 0.0] for i in range(12)]
    results = db.query_many("idx", vectors, top_k=1)
    assert [r.matches[0].id for r in results] == [f"v{i}" for i in range(12)]
    assert sorted(seen) == [float(i) for i in range(12)]
    assert 1 <= peak[0] <= 3


def test_async_query_many_keeps_order() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        await asyncio.sleep(random.uniform(0.001, 0.01))
        match = {"id": f"v{int(body['vector'][0])}", "score": 1.0}
        return httpx.Response(200, json=envelope({"count": 1, "matches": [match]}))

    async def run() -> list[str]:
        db = async_vz_client(handler)
        results = await db.query_many("idx", [[float(i), 1.0] for i in range(8)])
        await db.aclose()
        return [r.matches[0].id for r in results]

    assert asyncio.run(run()) == [f"v{i}" for i in range(8)]


def test_query_cache_is_a_bounded_lru() -> None:
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        texts = orjson.loads(request.content)["text"]
        calls.append(texts)
        data = [[float(len(t)), 1.0] for t in texts]
        return httpx.Response(200, json=envelope({"shape": [len(texts), 2], "data": data}))

    ai = ai_client(handler, query_cache_size=2)
    first = ai.embed_query("alpha")
    assert ai.embed_query("alpha") == first
    ai.embed_query("bb")
    ai.embed_query("ccc")  # evicts "alpha"
    ai.embed_query("alpha")
    assert calls == [["alpha"], ["bb"], ["ccc"], ["alpha"]]
    assert ai.query_cache.hits == 1
    no_cache = ai_client(handler)
    no_cache.embed_query("alpha")
    no_cache.embed_query("alpha")
    assert calls[-2:] == [["alpha"], ["alpha"]]
