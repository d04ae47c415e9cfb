"""Benchmark of the local emulator's Vectorize routes, through real HTTP.

Starts a ``LocalCloudflare`` (uvicorn on a free localhost port), fills one cosine index with
``--vectors`` random float32 vectors of ``--dims`` dimensions in 5000-vector NDJSON requests
encoded exactly like the client encodes them (``cloudflare_ai.ndjson.encode_vector``), then
measures:

* upsert throughput (vectors/s; request time only, the body is encoded beforehand),
* query latency p50/p95 with no filter and with a metadata filter (about 10 % selectivity),
* the latency of the first query after a 5000-vector write (the stall the incremental
  matrix removes).

Run with ``.venv/bin/python benchmarks/emulator_bench.py [--vectors 100000] [--dims 768]``.
Prints a Markdown table and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from cloudflare_ai.ndjson import encode_vector
from cloudflare_ai_local.server import LocalCloudflare

BATCH = 5000
INDEX = "bench"
CATEGORIES = 10


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    metric: str
    value: str


def _body(rng: np.random.Generator, start: int, count: int, dims: int) -> bytes:
    """An NDJSON body of ``count`` vectors with ids ``v{start}``... and a little metadata."""
    values: npt.NDArray[np.float32] = rng.standard_normal((count, dims)).astype(np.float32)
    return b"".join(
        encode_vector(
            f"v{start + i}",
            values[i],
            {"category": f"c{(start + i) % CATEGORIES}", "n": start + i},
        )
        for i in range(count)
    )


def _percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def _query_vectors(rng: np.random.Generator, count: int, dims: int) -> Iterator[list[float]]:
    for _ in range(count):
        yield rng.standard_normal(dims).astype(np.float32).tolist()


def _post(client: httpx.Client, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = client.post(path, **kwargs)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    return response, elapsed


def run(vectors: int, dims: int, queries: int, data_dir: str | None) -> list[Row]:
    """Fill an index and time upserts and queries; returns the table rows."""
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    with LocalCloudflare(data_dir=data_dir) as cf:
        base = f"{cf.base_url}/accounts/{cf.account_id}/vectorize/v2/indexes"
        headers = {"Authorization": f"Bearer {cf.api_token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            _post(
                client,
                base,
                json={"name": INDEX, "config": {"dimensions": dims, "metric": "cosine"}},
            )
            _post(
                client,
                f"/{INDEX}/metadata_index/create",
                json={"propertyName": "category", "indexType": "string"},
            )
            ndjson = {"content-type": "application/x-ndjson"}
            write_seconds = 0.0
            written = 0
            for start in range(0, vectors, BATCH):
                count = min(BATCH, vectors - start)
                body = _body(rng, start, count, dims)
                _, elapsed = _post(client, f"/{INDEX}/upsert", content=body, headers=ndjson)
                write_seconds += elapsed
                written += count
            rows.append(
                Row(
                    f"upsert ({BATCH}-vector NDJSON requests)",
                    f"{written / write_seconds:,.0f} vectors/s",
                )
            )

            _post(client, f"/{INDEX}/query", json={"vector": [1.0] * dims, "topK": 10})  # warm-up
            for label, extra in (
                ("query, no filter", {}),
                ("query, metadata filter (~10 %)", {"filter": {"category": "c3"}}),
            ):
                times = []
                for vector in _query_vectors(rng, queries, dims):
                    response, elapsed = _post(
                        client, f"/{INDEX}/query", json={"vector": vector, "topK": 10, **extra}
                    )
                    if response.json()["result"]["count"] != min(10, vectors):
                        raise RuntimeError(f"unexpected query result: {response.text[:300]}")
                    times.append(elapsed * 1000)
                rows.append(
                    Row(
                        f"{label} p50 / p95",
                        f"{statistics.median(times):.1f} ms / {_percentile(times, 95):.1f} ms",
                    )
                )

            after_write = []
            for round_ in range(3):
                # each round overwrites half of its ids and adds the other half
                start = vectors - BATCH // 2 + round_ * (BATCH // 2)
                body = _body(rng, start, BATCH, dims)
                _post(client, f"/{INDEX}/upsert", content=body, headers=ndjson)
                vector = next(_query_vectors(rng, 1, dims))
                _, elapsed = _post(client, f"/{INDEX}/query", json={"vector": vector, "topK": 10})
                after_write.append(elapsed * 1000)
            rows.append(
                Row(
                    f"first query after a {BATCH}-vector upsert (max of 3)",
                    f"{max(after_write):.1f} ms",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors in the index")
    parser.add_argument("--dims", type=int, default=768, help="dimensions per vector")
    parser.add_argument("--queries", type=int, default=40, help="timed queries per kind")
    parser.add_argument(
        "--file", action="store_true", help="use a file-backed store in a temporary directory"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.file:
        with tempfile.TemporaryDirectory(prefix="emulator-bench-") as tmp:
            rows = run(args.vectors, args.dims, args.queries, tmp)
    else:
        rows = run(args.vectors, args.dims, args.queries, None)
    store = "file-backed (WAL)" if args.file else "in-memory"
    print(f"\n{args.vectors:,} x {args.dims} vectors, cosine, {store} store\n")
    print("| measurement | result |")
    print("|---|---|")
    for row in rows:
        print(f"| {row.metric} | {row.value} |")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
