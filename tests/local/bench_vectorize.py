"""Manual benchmark (not collected by pytest): upsert throughput and query latency.

Run with ``.venv/bin/python tests/local/bench_vectorize.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import numpy as np
import orjson

from cloudflare_ai.local import EmulatorConfig, create_app

ACCOUNT = "0123456789abcdef0123456789abcdef"
HEADERS = {"Authorization": "Bearer local-emulator-token"}
BASE = f"/client/v4/accounts/{ACCOUNT}/vectorize/v2/indexes"


async def main(n: int = 100_000, dims: int = 768) -> None:
    app = create_app(EmulatorConfig())
    rng = np.random.default_rng(0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
        await c.post(
            BASE,
            json={"name": "bench", "config": {"dimensions": dims, "metric": "cosine"}},
            headers=HEADERS,
        )
        total = 0.0
        for start in range(0, n, 5000):
            vecs = rng.standard_normal((5000, dims)).astype(np.float32)
            body = b"\n".join(
                orjson.dumps({"id": f"v{start + i}", "values": row.tolist()})
                for i, row in enumerate(vecs)
            )
            t = time.perf_counter()
            r = await c.post(f"{BASE}/bench/upsert", content=body, headers=HEADERS)
            total += time.perf_counter() - t
            assert r.status_code == 200, r.text
        print(f"upsert: {n / total:,.0f} vectors/s ({dims} dims)")
        q = rng.standard_normal(dims).tolist()
        t = time.perf_counter()
        await c.post(f"{BASE}/bench/query", json={"vector": q, "topK": 10}, headers=HEADERS)
        print(f"first query (builds the matrix): {(time.perf_counter() - t) * 1000:.1f} ms")
        times = []
        for _ in range(30):
            q = rng.standard_normal(dims).tolist()
            t = time.perf_counter()
            r = await c.post(f"{BASE}/bench/query", json={"vector": q, "topK": 10}, headers=HEADERS)
            times.append((time.perf_counter() - t) * 1000)
            assert r.json()["result"]["count"] == 10
        print(
            f"query over {n:,} x {dims}: p50 {statistics.median(times):.1f} ms, "
            f"max {max(times):.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
