"""Client CPU per vector of ingestion: embedding answers decoded, NDJSON written.

Two numbers, both in CPU time of this process (``time.process_time``), no network:

* ``decode+encode``: a Workers AI answer of 100 x 768 values (as Cloudflare sends it) parsed
  into a float32 matrix, then each row written as an NDJSON line with its metadata (the text);
* ``pipeline``: the whole of :func:`cloudflare_ai.pipeline.aingest` for N documents over
  httpx mock transports that answer instantly with precomputed bodies (request building,
  retries' bookkeeping, the rate and concurrency limits, decoding and encoding included).

Run: ``.venv/bin/python scripts/ingest_cpu.py [N]`` (default 10,000 documents).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import httpx
import numpy as np
import orjson

from cloudflare_ai import AsyncVectorizeClient, AsyncWorkersAIClient
from cloudflare_ai.config import ClientSettings
from cloudflare_ai.pipeline import Record, _encode_rows, aingest
from cloudflare_ai.workers_ai import _WorkersAIBase

DIMS = 768
BATCH = 100


def answer(n: int, rng: np.random.Generator) -> bytes:
    """An embedding answer as Workers AI sends it (doubles printed in full)."""
    data = (rng.standard_normal((n, DIMS)) / 20).astype(np.float32).astype(np.float64)
    return orjson.dumps(
        {
            "result": {"shape": [n, DIMS], "data": data.tolist(), "pooling": "mean"},
            "success": True,
            "errors": [],
            "messages": [],
        }
    )


def per_vector_decode_encode(rounds: int = 50) -> float:
    body = answer(BATCH, np.random.default_rng(0))
    records = [
        Record(f"id-{i}", "", {"text": f"document {i} about a topic " * 8}) for i in range(BATCH)
    ]
    start = time.process_time()
    for _ in range(rounds):
        vectors = orjson.loads(body)["result"]["data"]
        matrix = _WorkersAIBase._as_matrix(vectors, "@cf/baai/bge-base-en-v1.5", "run")
        _encode_rows(records, matrix, DIMS)
    return (time.process_time() - start) / (rounds * BATCH)


def per_vector_pipeline(n: int) -> float:
    rng = np.random.default_rng(1)
    bodies = {size: answer(size, rng) for size in (BATCH, n % BATCH or BATCH)}
    mutation = orjson.dumps(
        {"result": {"mutationId": "m"}, "success": True, "errors": [], "messages": []}
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if "/ai/run/" in request.url.path:
            size = len(orjson.loads(request.content)["text"])
            return httpx.Response(200, content=bodies[size])
        return httpx.Response(200, content=mutation)

    settings = ClientSettings.resolve(
        account_id="a" * 32,
        api_token="cpu-measure-token",  # noqa: S106 (a mock transport), base_url="http://measure.invalid"
    )
    texts = [Record(f"doc-{i}", f"document {i} about a topic " * 8) for i in range(n)]

    async def main() -> Any:
        transport = httpx.MockTransport(handler)
        async with (
            httpx.AsyncClient(transport=transport) as http_ai,
            httpx.AsyncClient(transport=transport) as http_db,
            AsyncWorkersAIClient(settings=settings, http_client=http_ai) as ai,
            AsyncVectorizeClient(settings=settings, http_client=http_db) as db,
        ):
            return await aingest(texts, index="measure", workers_ai=ai, vectorize=db)

    start = time.process_time()
    report = asyncio.run(main())
    assert report.written == n
    return (time.process_time() - start) / n


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    per_vector_pipeline(500)  # warm imports and caches
    print(f"decode+encode: {per_vector_decode_encode() * 1e3:.3f} ms per {DIMS}-d vector")
    print(f"pipeline:      {per_vector_pipeline(count) * 1e3:.3f} ms per {DIMS}-d vector")
