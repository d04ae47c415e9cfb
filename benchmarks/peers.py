"""The same workload through other integrations, when they are installed (``bench`` extra):

- ``langchain-cloudflare`` (Cloudflare's own): ``CloudflareWorkersAIEmbeddings`` +
  ``CloudflareVectorize`` with ``include_d1=False`` (no D1 database here);
- ``langchain-community``: its ``CloudflareWorkersAIEmbeddings`` for the embeddings, written
  and queried with ``CloudflareVectorize`` (the community package has no Vectorize store).

Both send requests one at a time with ``requests``; ``add_texts`` takes at most 5,000 texts,
so larger corpora go in 5,000-text calls. The text goes into each vector's metadata, as ours
does, so the bytes on the wire are comparable.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
import warnings
from typing import Any

from .harness import (
    _TOPICS,
    _WORDS,
    Emulator,
    PeakRSS,
    _summary,
    _timed,
    count_traffic,
    document,
    reset_index,
    vector_count,
)

PEER_BATCH = 5000  # CloudflareVectorize.add_texts refuses more texts per call


def available() -> dict[str, bool]:
    def found(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            return False

    return {
        "langchain-cloudflare": found("langchain_cloudflare"),
        "langchain-community": found("langchain_community") and found("langchain_cloudflare"),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    result = {}
    for name in (
        "langchain-cloudflare",
        "langchain-community",
        "llama-index-embeddings-cloudflare-workersai",
    ):
        with contextlib.suppress(PackageNotFoundError):
            result[name] = version(name)
    return result


def _embeddings(peer: str, emu: Emulator) -> Any:
    api_base_url = f"{emu.base_url}/accounts"
    if peer == "langchain-cloudflare":
        from langchain_cloudflare import CloudflareWorkersAIEmbeddings

        return CloudflareWorkersAIEmbeddings(
            account_id=emu.account_id, api_token=emu.api_token, api_base_url=api_base_url
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.embeddings.cloudflare_workersai import (
            CloudflareWorkersAIEmbeddings,
        )

        return CloudflareWorkersAIEmbeddings(
            account_id=emu.account_id, api_token=emu.api_token, api_base_url=api_base_url
        )


def _store(peer: str, emu: Emulator, index: str) -> Any:
    from langchain_cloudflare import CloudflareVectorize

    return CloudflareVectorize(
        embedding=_embeddings(peer, emu),
        account_id=emu.account_id,
        api_token=emu.api_token,
        base_url=emu.base_url,
        index_name=index,
    )


def bench_peer_ingest(emu: Emulator, peer: str, n: int) -> dict[str, Any]:
    """``add_texts`` of the benchmark documents (upsert, text in metadata, no D1)."""
    index = f"peer-{n}"
    reset_index(emu, index)
    store = _store(peer, emu, index)
    with count_traffic() as traffic, PeakRSS() as memory:
        cpu, started = time.process_time(), time.perf_counter()
        for start in range(0, n, PEER_BATCH):
            stop = min(n, start + PEER_BATCH)
            texts = [document(i) for i in range(start, stop)]
            store.add_texts(
                texts,
                metadatas=[{"text": t} for t in texts],
                ids=[f"doc-{i}" for i in range(start, stop)],
                upsert=True,
                include_d1=False,
            )
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return {
        "peer": peer,
        "documents": n,
        "stored": vector_count(emu, index),
        "wall_s": wall,
        "http_requests": traffic.total_requests,
        "bytes_sent": traffic.total_bytes,
        "write_bytes": traffic.body_bytes["write"],
        "peak_rss_mb": memory.peak,
        "rss_growth_mb": memory.delta,
        "cpu_s": cpu,
        "index": index,
    }


def bench_peer_retrieval(
    emu: Emulator, peer: str, index: str, *, queries: int, rtt_ms: float
) -> dict[str, Any]:
    """``similarity_search(query, k=4, include_d1=False)`` p50/p95 (its defaults otherwise)."""
    store = _store(peer, emu, index)
    texts = iter(f"what about {_WORDS[i % 8]} in {_TOPICS[i % 7]} item {i}" for i in range(10**5))
    times = _timed(lambda: store.similarity_search(next(texts), k=4, include_d1=False), queries)
    return {"peer": peer, "index": index, **_summary(times, 2 * rtt_ms / 1000)}
