"""Benchmark of the local emulator's Vectorize routes, through real HTTP.

Starts a ``LocalCloudflare`` (uvicorn on a free localhost port), fills one cosine index with
``--vectors`` random float32 vectors of ``--dims`` dimensions in 5000-vector NDJSON requests
encoded exactly like the client encodes them (``cloudflare_ai.ndjson.encode_vector``), then
measures:

* upsert throughput (vectors/s; request time only, the body is encoded beforehand),
* query latency p50/p95 with no filter and with a metadata filter (about 10 % selectivity),
* the latency of the first query after a 5000-vector write (the stall the incremental
  matrix removes).

``--write-only`` measures just the write path the way ``harness.probe_emulator`` does: one
pre-encoded 5000-vector body (no metadata) upserted ``--writes`` times into a fresh index
(replacing the same ids after the first), by one client and then by ``--clients`` clients
at once; it reports the median request time as vectors/s and the aggregate rate.

Run with ``.venv/bin/python benchmarks/emulator_bench.py [--vectors 100000] [--dims 768]``.
Prints a Markdown table and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
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
    with LocalCloudflare(data_dir=data_dir, engine="deterministic") as cf:
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


def write_throughput(dims: int, writes: int, clients: int, data_dir: str | None) -> list[Row]:
    """Upsert one pre-encoded ``BATCH``-vector body ``writes`` times per client."""
    rng = np.random.default_rng(0)
    values: npt.NDArray[np.float32] = rng.standard_normal((BATCH, dims)).astype(np.float32)
    body = b"".join(encode_vector(f"probe-{i}", values[i]) for i in range(BATCH))
    ndjson = {"content-type": "application/x-ndjson"}
    rows: list[Row] = []
    with LocalCloudflare(data_dir=data_dir, engine="deterministic") as cf:
        base = f"{cf.base_url}/accounts/{cf.account_id}/vectorize/v2/indexes"
        headers = {"Authorization": f"Bearer {cf.api_token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            _post(
                client,
                base,
                json={"name": INDEX, "config": {"dimensions": dims, "metric": "cosine"}},
            )
            _post(client, f"/{INDEX}/upsert", content=body, headers=ndjson)  # warm-up

        def one_client(times: list[float]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=300) as own:
                for _ in range(writes):
                    _, elapsed = _post(own, f"/{INDEX}/upsert", content=body, headers=ndjson)
                    times.append(elapsed)

        for count in sorted({1, clients}):
            times: list[float] = []
            threads = [threading.Thread(target=one_client, args=(times,)) for _ in range(count)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            median = statistics.median(times)
            rows.append(
                Row(
                    f"upsert, pre-encoded {BATCH} x {dims} body, {count} client(s)",
                    f"{median * 1000:.0f} ms/request median = {BATCH / median:,.0f} vectors/s;"
                    f" aggregate {BATCH * len(times) / wall:,.0f} vectors/s",
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
    parser.add_argument(
        "--write-only", action="store_true", help="measure only the upsert path (see above)"
    )
    parser.add_argument("--writes", type=int, default=8, help="upserts per client (--write-only)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients (--write-only)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def measure(data_dir: str | None) -> list[Row]:
        if args.write_only:
            return write_throughput(args.dims, args.writes, args.clients, data_dir)
        return run(args.vectors, args.dims, args.queries, data_dir)

    if args.file:
        with tempfile.TemporaryDirectory(prefix="emulator-bench-") as tmp:
            rows = measure(tmp)
    else:
        rows = measure(None)
    store = "file-backed (WAL)" if args.file else "in-memory"
    scope = (
        f"{args.dims}-d writes" if args.write_only else f"{args.vectors:,} x {args.dims} vectors"
    )
    print(f"\n{scope}, cosine, {store} store\n")
    print("| measurement | result |")
    print("|---|---|")
    for row in rows:
        print(f"| {row.metric} | {row.value} |")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
