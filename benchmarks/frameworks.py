"""Ingestion through the frameworks' own calls, ours and the peers', on one server.

Every workload embeds and stores the same synthetic documents (``harness.document``, ids
``doc-{i}``, text in metadata) and is measured the same way: wall time, HTTP requests (every
``httpx`` / ``requests`` send in this process), request bytes, client CPU time and peak RSS.

Ours: LangChain ``VectorizeVectorStore.add_texts`` (``WorkersAIEmbeddings``), LlamaIndex
``VectorStoreIndex.from_documents`` into ``VectorizeVectorStore`` (``WorkersAIEmbedding``),
timed with LlamaIndex's default node parser and then with the node parsing alone, so the
splitter's share is reported apart; the core ``pipeline.ingest`` is ``harness.bench_ingest``.

Peers (``peers.py`` for the LangChain ones): ``llama-index-embeddings-cloudflare-workersai``
(``CloudflareEmbedding``, embedding only: the package has no vector store) against our
``WorkersAIEmbedding`` embedding the same texts. It has no base-URL option, so its module
constant ``API_URL_TEMPLATE`` is patched to the server's address for the run.

``stream_langchain`` runs 100,000 documents from a generator through ``add_texts`` in a
child process whose resident set is watched from here: its peak RSS is the client's alone,
and the child is stopped if it passes ``rss_cap_mb`` (a client that holds every embedding
as Python floats would otherwise take gigabytes of a shared machine).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .harness import Emulator, PeakRSS, _proc_status, count_traffic, document, reset_index

ROOT = Path(__file__).resolve().parents[1]


def _measure(emu: Emulator, n: int, index: str, run: Callable[[], Any]) -> dict[str, Any]:
    """Time ``run()`` (wall and CPU) with traffic counted and RSS sampled."""
    emu.reset_stats()
    with count_traffic() as traffic, PeakRSS() as memory:
        cpu, started = time.process_time(), time.perf_counter()
        run()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    stats = emu.server_stats(reset=True)
    from .harness import vector_count

    return {
        "documents": n,
        "index": index,
        "stored": vector_count(emu, index) if index else None,
        "wall_s": wall,
        "http_requests": traffic.total_requests,
        "embed_requests": traffic.requests["ai"],
        "write_requests": traffic.requests["write"],
        "bytes_sent": traffic.total_bytes,
        "max_in_flight": traffic.max_in_flight,
        "peak_rss_mb": memory.peak,
        "rss_growth_mb": memory.delta,
        "cpu_s": cpu,
        "cpu_ms_per_vector": cpu / n * 1000,
        "server_handler_ms": (stats or {}).get("all", {}).get("mean_ms") if stats else None,
    }


def bench_langchain(emu: Emulator, n: int) -> dict[str, Any]:
    """Our LangChain ``VectorizeVectorStore.add_texts`` (one call, all texts)."""
    from cloudflare_ai.langchain import VectorizeVectorStore, WorkersAIEmbeddings

    index = f"lc-{n}"
    reset_index(emu, index)
    texts = [document(i) for i in range(n)]
    ids = [f"doc-{i}" for i in range(n)]
    store = VectorizeVectorStore(
        WorkersAIEmbeddings(**emu.credentials), index_name=index, **emu.credentials
    )
    try:
        row = _measure(emu, n, index, lambda: store.add_texts(texts, ids=ids))
    finally:
        store.close()
    return {"path": "langchain add_texts", **row}


def _llama_documents(n: int) -> list[Any]:
    from llama_index.core import Document

    return [Document(text=document(i), id_=f"doc-{i}") for i in range(n)]


def bench_llamaindex(emu: Emulator, n: int) -> dict[str, Any]:
    """Our LlamaIndex path: ``VectorStoreIndex.from_documents`` with ``VectorizeVectorStore``
    and ``WorkersAIEmbedding``; then LlamaIndex's default node parser alone on the same
    documents, whose time is subtracted (``wall_minus_splitter_s``)."""
    from llama_index.core import Settings, StorageContext, VectorStoreIndex

    from cloudflare_ai.llama_index import VectorizeVectorStore, WorkersAIEmbedding

    index = f"li-{n}"
    reset_index(emu, index)
    store = VectorizeVectorStore(index_name=index, **emu.credentials)
    embed = WorkersAIEmbedding(**emu.credentials)
    documents = _llama_documents(n)

    def run() -> None:
        storage = StorageContext.from_defaults(vector_store=store)
        VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed)

    row = _measure(emu, n, index, run)
    fresh = _llama_documents(n)
    started = time.perf_counter()
    Settings.node_parser.get_nodes_from_documents(fresh)
    splitter = time.perf_counter() - started
    return {
        "path": "llama-index from_documents",
        **row,
        "splitter_s": splitter,
        "wall_minus_splitter_s": row["wall_s"] - splitter,
    }


def bench_pipeline(emu: Emulator, n: int, *, concurrency: int, rtt_ms: float) -> dict[str, Any]:
    """The core ``pipeline.ingest`` (``harness.bench_ingest``) with the server's own time."""
    from .harness import bench_ingest

    emu.reset_stats()
    row = bench_ingest(emu, n, concurrency=concurrency, rtt_ms=rtt_ms, index=f"core-{n}")
    stats = emu.server_stats(reset=True)
    return {
        "path": "core pipeline.ingest",
        "index": f"core-{n}",
        **row,
        "cpu_ms_per_vector": row["cpu_s"] / n * 1000,
        "server_handler_ms": (stats or {}).get("all", {}).get("mean_ms") if stats else None,
    }


# --- llama-index-embeddings-cloudflare-workersai -----------------------------------------------


def llama_peer_available() -> bool:
    try:
        return importlib.util.find_spec("llama_index.embeddings.cloudflare_workersai") is not None
    except ModuleNotFoundError:
        return False


@contextlib.contextmanager
def _llama_peer_url(emu: Emulator) -> Iterator[None]:
    """Point ``CloudflareEmbedding`` at the server: it only knows the module constant."""
    from llama_index.embeddings.cloudflare_workersai import base

    original = base.API_URL_TEMPLATE
    base.API_URL_TEMPLATE = emu.base_url + "/accounts/{}/ai/run/{}"
    try:
        yield
    finally:
        base.API_URL_TEMPLATE = original


def bench_llama_embeddings(emu: Emulator, n: int) -> list[dict[str, Any]]:
    """``get_text_embedding_batch`` of ``n`` texts: the peer (its defaults, and with its
    documented maximum batch of 100) and our ``WorkersAIEmbedding``."""
    from llama_index.embeddings.cloudflare_workersai import CloudflareEmbedding

    from cloudflare_ai.llama_index import WorkersAIEmbedding

    texts = [document(i) for i in range(n)]
    rows = []
    with _llama_peer_url(emu):
        for batch in (None, 100):
            options = {} if batch is None else {"embed_batch_size": batch}
            peer = CloudflareEmbedding(
                account_id=emu.account_id, auth_token=emu.api_token, **options
            )
            row = _measure(emu, n, "", lambda p=peer: p.get_text_embedding_batch(texts))
            label = "defaults" if batch is None else f"embed_batch_size={batch}"
            rows.append({"path": f"llama-index-embeddings-cloudflare-workersai ({label})", **row})
    ours = WorkersAIEmbedding(**emu.credentials)
    row = _measure(emu, n, "", lambda: ours.get_text_embedding_batch(texts))
    rows.append({"path": "ours: WorkersAIEmbedding.get_text_embedding_batch", **row})
    return rows


# --- 100,000 documents from an iterator, in a child process ------------------------------------

_STREAM_CODE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from benchmarks.harness import document
from cloudflare_ai.langchain import VectorizeVectorStore, WorkersAIEmbeddings
creds = json.loads(sys.argv[2]); n = int(sys.argv[3]); index = sys.argv[4]
store = VectorizeVectorStore(WorkersAIEmbeddings(**creds), index_name=index, **creds)
texts = (document(i) for i in range(n))
ids = [f"doc-{i}" for i in range(n)]
cpu, started = time.process_time(), time.perf_counter()
store.add_texts(texts, ids=ids)
print(json.dumps({"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}))
"""


def stream_langchain(emu: Emulator, n: int, *, rss_cap_mb: float = 1000.0) -> dict[str, Any]:
    """``add_texts`` of ``n`` documents from a generator, in a child process: peak RSS
    (VmHWM, sampled every 20 ms; the child is stopped past ``rss_cap_mb``)."""
    index = f"stream-{n}"
    reset_index(emu, index)
    child = subprocess.Popen(
        [sys.executable, "-c", _STREAM_CODE, str(ROOT), json.dumps(emu.credentials), str(n), index],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak, capped = 0.0, False
    while child.poll() is None:
        rss = _proc_status(child.pid, "VmHWM") or 0.0
        peak = max(peak, rss)
        if rss > rss_cap_mb:
            capped = True
            child.kill()
            break
        time.sleep(0.02)
    out, err = child.communicate()
    result: dict[str, Any] = {"documents": n, "index": index, "capped": capped}
    if capped or child.returncode != 0:
        result.update(peak_rss_mb=peak, error=None if capped else err.decode()[-500:])
        return result
    from .harness import vector_count

    timing = json.loads(out.decode().strip().splitlines()[-1])
    return {**result, **timing, "peak_rss_mb": peak, "stored": vector_count(emu, index)}
