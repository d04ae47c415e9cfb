"""The measurements: an emulator in its own process, traffic counters, and one function per
workload (ingestion, bytes per vector, retrieval, streaming, client CPU, emulator probes and
the million-document memory check). Each returns a plain dict that ``report`` turns into
Markdown and a chart.

The emulator runs in a separate process so that the client's CPU time and the server's do not
share a GIL; the injected latency (``latency_ms``) is added to every response, so it is the
round trip a client on a far network would see.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from cloudflare_ai.config import ClientSettings
from cloudflare_ai.models import DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL
from cloudflare_ai.ndjson import encode_vector
from cloudflare_ai.pipeline import ingest, plan
from cloudflare_ai.vectorize import VectorizeClient
from cloudflare_ai.workers_ai import WorkersAIClient
from cloudflare_ai_local.config import DEFAULT_ACCOUNT_ID, DEFAULT_API_TOKEN

DIMENSIONS = 768
EMBED_MODEL = DEFAULT_EMBEDDING_MODEL
CHAT_MODEL = DEFAULT_CHAT_MODEL

# The emulator app under uvicorn, without the per-request access log that ``serve`` prints
# (formatting a log line per request would be emulator CPU the benchmark does not care about).
_SERVER_CODE = """
import sys
import uvicorn
from cloudflare_ai_local import EmulatorConfig, FaultConfig, create_app
port, latency_ms = int(sys.argv[1]), float(sys.argv[2])
app = create_app(EmulatorConfig(faults=FaultConfig(latency_ms=latency_ms)))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
            lifespan="off")
"""


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proc_status(pid: int | str, field_name: str) -> float | None:
    """A ``/proc/<pid>/status`` memory field (VmRSS, VmHWM) in MB, or None off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


_BENCH_SERVER = Path(__file__).resolve().with_name("server.py")


class Emulator:
    """A server in a child process on a free port, with injected latency: the full emulator
    (``cloudflare_ai_local``, ``kind="emulator"``) or the benchmark server
    (``benchmarks/server.py``, ``kind="bench"``), which answers the same paths from
    precomputed vectors and reports its own time per request (``server_stats``)."""

    def __init__(
        self, latency_ms: float = 80.0, *, python: str = sys.executable, kind: str = "emulator"
    ) -> None:
        if kind not in ("emulator", "bench"):
            raise ValueError(f"unknown server kind {kind!r}")
        self.kind = kind
        self.latency_ms = latency_ms
        self.python = python
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    @property
    def account_id(self) -> str:
        return DEFAULT_ACCOUNT_ID

    @property
    def api_token(self) -> str:
        return DEFAULT_API_TOKEN

    @property
    def credentials(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "api_token": self.api_token,
            "base_url": self.base_url,
        }

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_token}"}

    def url(self, suffix: str) -> str:
        return f"{self.base_url}/accounts/{self.account_id}/{suffix}"

    def settings(self, concurrency: int = 8) -> ClientSettings:
        return ClientSettings.resolve(**self.credentials, max_concurrency=concurrency)

    def start(self, timeout: float = 30.0) -> Emulator:
        self.port = _free_port()
        if self.kind == "bench":
            command = [
                self.python,
                str(_BENCH_SERVER),
                "--port",
                str(self.port),
                "--rtt-ms",
                str(self.latency_ms),
            ]
        else:
            command = [self.python, "-c", _SERVER_CODE, str(self.port), str(self.latency_ms)]
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while True:
                if self.process.poll() is not None:
                    self._log.seek(0)
                    raise RuntimeError(f"the emulator exited: {self._log.read().decode()[-2000:]}")
                try:
                    answer = client.get(self.url("vectorize/v2/indexes"), headers=self.headers)
                    if answer.status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the emulator did not answer within {timeout} s")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._log.close()

    def server_stats(self, *, reset: bool = False) -> dict[str, Any] | None:
        """The benchmark server's own time per request since the last reset (None for the
        emulator, which does not keep it); ``reset`` starts a new tally afterwards."""
        if self.kind != "bench":
            return None
        with httpx.Client(timeout=10) as client:
            base = f"http://127.0.0.1:{self.port}/__bench__"
            stats: dict[str, Any] = client.get(f"{base}/stats").json()
            if reset:
                client.post(f"{base}/reset")
        return stats

    def reset_stats(self) -> None:
        if self.kind == "bench":
            with httpx.Client(timeout=10) as client:
                client.post(f"http://127.0.0.1:{self.port}/__bench__/reset")

    def peak_rss_mb(self) -> float | None:
        return _proc_status(self.process.pid, "VmHWM") if self.process else None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- traffic counting ----------------------------------------------------------------------


def _kind(path: str) -> str:
    if "/ai/run/" in path or path.endswith("/embeddings") or "/chat/completions" in path:
        return "ai"
    if path.endswith(("/upsert", "/insert")):
        return "write"
    if path.endswith("/query"):
        return "query"
    return "other"


@dataclass
class Traffic:
    """Requests sent (all HTTP clients in this process), request body bytes, most in flight."""

    requests: Counter[str] = field(default_factory=Counter)
    body_bytes: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, path: str, size: int) -> None:
        kind = _kind(path)
        with self.lock:
            self.requests[kind] += 1
            self.body_bytes[kind] += size
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self) -> None:
        with self.lock:
            self.in_flight -= 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.body_bytes.values())


def _httpx_size(request: httpx.Request) -> int:
    try:
        return len(request.content)
    except httpx.RequestNotRead:
        return int(request.headers.get("content-length", 0))


@contextmanager
def count_traffic() -> Iterator[Traffic]:
    """Count every request sent through httpx (sync and async) and ``requests`` meanwhile."""
    traffic = Traffic()
    async_send, sync_send = httpx.AsyncClient.send, httpx.Client.send

    async def counted_async(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
        traffic.begin(request.url.path, _httpx_size(request))
        try:
            return await async_send(self, request, **kw)
        finally:
            traffic.end()

    def counted_sync(self: httpx.Client, request: httpx.Request, **kw: Any) -> Any:
        traffic.begin(request.url.path, _httpx_size(request))
        try:
            return sync_send(self, request, **kw)
        finally:
            traffic.end()

    patched: list[tuple[Any, str, Any]] = [
        (httpx.AsyncClient, "send", async_send),
        (httpx.Client, "send", sync_send),
    ]
    httpx.AsyncClient.send = counted_async  # type: ignore[method-assign]
    httpx.Client.send = counted_sync  # type: ignore[method-assign]
    try:
        import requests

        requests_send = requests.Session.send

        def counted_requests(self: Any, request: Any, **kw: Any) -> Any:
            body = request.body or b""
            traffic.begin(
                httpx.URL(request.url).path, len(body.encode() if isinstance(body, str) else body)
            )
            try:
                return requests_send(self, request, **kw)
            finally:
                traffic.end()

        requests.Session.send = counted_requests  # type: ignore[method-assign]
        patched.append((requests.Session, "send", requests_send))
    except ImportError:
        pass
    try:
        yield traffic
    finally:
        for owner, name, original in patched:
            setattr(owner, name, original)


class PeakRSS:
    """Samples this process's resident set size every few ms: baseline and peak, in MB."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.baseline = self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)

    def _rss(self) -> float:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakRSS:
        gc.collect()
        self.baseline = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def delta(self) -> float:
        return self.peak - self.baseline


# --- workloads -----------------------------------------------------------------------------

_TOPICS = ("vectorize", "workers", "gateway", "embeddings", "streaming", "retrieval", "pricing")
_WORDS = ("limits", "latency", "batches", "indexes", "tokens", "metadata", "filters", "regions")


def document(i: int) -> str:
    """A short synthetic document (about ten words); the same ``i`` gives the same text."""
    return (
        f"Note {i} on {_TOPICS[i % 7]}: {_WORDS[i % 8]} and {_WORDS[(i // 8) % 8]} "
        f"for item {i % 1000} in group {i // 1000}"
    )


def records(n: int, start: int = 0) -> Iterator[tuple[str, str]]:
    """``(id, text)`` records, generated lazily."""
    for i in range(start, start + n):
        yield f"doc-{i}", document(i)


def reset_index(emu: Emulator, name: str, dimensions: int = DIMENSIONS) -> None:
    with VectorizeClient(**emu.credentials) as db:
        db.delete_index(name, missing_ok=True)
        db.create_index(name, dimensions=dimensions, metric="cosine")


def vector_count(emu: Emulator, name: str) -> int:
    with VectorizeClient(**emu.credentials) as db:
        return db.info(name).vector_count


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def round_trip_ms(emu: Emulator, samples: int = 10) -> float:
    """Median time of a cheap request (index list): the injected latency plus loopback cost."""
    times = []
    with httpx.Client(headers=emu.headers) as client:
        client.get(emu.url("vectorize/v2/indexes"))
        for _ in range(samples):
            started = time.perf_counter()
            client.get(emu.url("vectorize/v2/indexes")).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench_ingest(
    emu: Emulator,
    n: int,
    *,
    concurrency: int | None,
    rtt_ms: float,
    write_batch: int | None = None,
    index: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Embed and store ``n`` short documents with ``pipeline.ingest``. ``concurrency=None``
    lets the pipeline size itself (:func:`cloudflare_ai.pipeline.plan`); the lower bound is
    then the rounds of embedding requests its plan allows, plus one round trip for the last
    write."""
    index = index or f"bench-{n}"
    reset_index(emu, index)
    if write_batch:
        options["write_batch"] = write_batch
    with count_traffic() as traffic, PeakRSS() as memory:
        cpu, started = time.process_time(), time.perf_counter()
        report = ingest(
            records(n),
            index=index,
            settings=emu.settings(concurrency or 8),
            concurrency=concurrency,
            **options,
        )
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    stored = vector_count(emu, index)
    if concurrency is None:
        sizing = plan(DEFAULT_EMBEDDING_MODEL, expected=n, write_batch=write_batch)
        rounds = -(-report.embed_requests // sizing.embed_slots) + 1
        lower = rounds * rtt_ms / 1000
        concurrency = sizing.total_slots
    else:
        lower = report.requests / concurrency * rtt_ms / 1000
    return {
        "documents": n,
        "written": report.written,
        "stored": stored,
        "wall_s": wall,
        "requests": report.requests,
        "embed_requests": report.embed_requests,
        "write_requests": report.write_requests,
        "http_requests": traffic.total_requests,
        "bytes_sent": traffic.total_bytes,
        "embed_bytes": traffic.body_bytes["ai"],
        "write_bytes": traffic.body_bytes["write"],
        "max_in_flight": traffic.max_in_flight,
        "concurrency": concurrency,
        "peak_rss_mb": memory.peak,
        "rss_growth_mb": memory.delta,
        "cpu_s": cpu,
        "lower_bound_s": lower,
        "vs_lower_bound": wall / lower if lower else None,
        "docs_per_s": n / wall,
    }


def _json17(values: np.ndarray[Any, Any]) -> bytes:
    return ("[" + ",".join(format(float(x), ".17g") for x in values) + "]").encode()


def bytes_per_vector(samples: int = 200, dimensions: int = DIMENSIONS) -> dict[str, Any]:
    """Our NDJSON line vs the same vector as 17-significant-digit JSON floats, id included,
    no metadata. Measured on dense unit-length float32 vectors, like real bge embeddings (the
    emulator's feature-hashing vectors are mostly zeros, which would flatter neither side)."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((samples, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ours = values_ours = json17 = values17 = 0
    for i, vector in enumerate(vectors):
        ours += len(encode_vector(f"doc-{i}", vector))
        values_ours += len(orjson.dumps(vector, option=orjson.OPT_SERIALIZE_NUMPY))
        values = _json17(vector)
        values17 += len(values)
        json17 += len(b'{"id":"doc-%d","values":' % i + values + b"}\n")
    return {
        "dimensions": dimensions,
        "ndjson_bytes": ours / samples,
        "json17_bytes": json17 / samples,
        "values_bytes": values_ours / samples,
        "values17_bytes": values17 / samples,
        "share": ours / json17,
    }


def _timed(call: Callable[[], Any], repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _summary(times: list[float], two_rtt: float) -> dict[str, float]:
    p50, p95 = percentile(times, 50), percentile(times, 95)
    return {"p50_ms": p50 * 1000, "p95_ms": p95 * 1000, "vs_two_rtt": p50 / two_rtt}


def bench_retrieval(emu: Emulator, index: str, *, queries: int, rtt_ms: float) -> dict[str, Any]:
    """p50/p95 of one similarity search (one embedding request + one query), through the
    LangChain adapter and through the core clients."""
    from cloudflare_ai.langchain import VectorizeVectorStore, WorkersAIEmbeddings

    texts = [f"what about {_WORDS[i % 8]} in {_TOPICS[i % 7]} item {i}" for i in range(10_000)]
    counter = iter(range(10_000))
    two_rtt = 2 * rtt_ms / 1000
    store = VectorizeVectorStore(
        WorkersAIEmbeddings(**emu.credentials), index_name=index, **emu.credentials
    )
    langchain = _timed(lambda: store.similarity_search(texts[next(counter)], k=4), queries)
    store.close()
    with WorkersAIClient(**emu.credentials) as ai, VectorizeClient(**emu.credentials) as db:

        def core_search() -> Any:
            vector = ai.embed_query(texts[next(counter)])
            return db.query(index, vector, top_k=4, return_metadata="all")

        core = _timed(core_search, queries)
    return {
        "index": index,
        "queries": queries,
        "two_rtt_ms": two_rtt * 1000,
        "langchain": _summary(langchain, two_rtt),
        "core": _summary(core, two_rtt),
    }


def _first(seconds: float | None) -> float:
    if seconds is None:
        raise RuntimeError("the stream carried no token")
    return seconds


_PROMPT = [{"role": "user", "content": "Explain Vectorize metadata filters in two sentences."}]


def bench_streaming(emu: Emulator, repeats: int = 15) -> dict[str, Any]:
    """Time to first token: plain httpx reading the SSE body vs ``stream_chat`` and
    ``ChatWorkersAI.stream`` on the same server (interleaved, medians)."""
    from cloudflare_ai.langchain import ChatWorkersAI

    url = emu.url(f"ai/run/{CHAT_MODEL}")
    raw_client = httpx.Client(headers=emu.headers, timeout=60)
    core = WorkersAIClient(**emu.credentials)
    chat = ChatWorkersAI(model=CHAT_MODEL, **emu.credentials)

    # Each reader consumes the whole answer (so connections go back to the pool) and notes
    # when the first token arrived.
    def raw() -> float:
        started, first = time.perf_counter(), None
        body = {"messages": _PROMPT, "stream": True}
        with raw_client.stream("POST", url, json=body) as response:
            for line in response.iter_lines():
                data = line[5:].strip() if line.startswith("data:") else ""
                if (
                    first is None
                    and data
                    and data != "[DONE]"
                    and orjson.loads(data).get("response")
                ):
                    first = time.perf_counter() - started
        return _first(first)

    def ours() -> float:
        started, first = time.perf_counter(), None
        for chunk in core.stream_chat(CHAT_MODEL, _PROMPT):
            if first is None and chunk.text:
                first = time.perf_counter() - started
        return _first(first)

    def langchain() -> float:
        started, first = time.perf_counter(), None
        for chunk in chat.stream(_PROMPT[0]["content"]):
            if first is None and chunk.content:
                first = time.perf_counter() - started
        return _first(first)

    samples: dict[str, list[float]] = {"raw": [], "core": [], "langchain": []}
    runners = {"raw": raw, "core": ours, "langchain": langchain}
    try:
        for run in runners.values():  # warm the connection pools
            run()
        for _ in range(repeats):
            for name, run in runners.items():
                samples[name].append(run())
    finally:
        raw_client.close()
        core.close()
    medians = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    return {
        "repeats": repeats,
        "raw_ms": medians["raw"],
        "core_ms": medians["core"],
        "langchain_ms": medians["langchain"],
        "core_overhead_ms": medians["core"] - medians["raw"],
        "langchain_overhead_ms": medians["langchain"] - medians["raw"],
    }


def bench_cpu(emu: Emulator, index: str, calls: int = 20) -> dict[str, float]:
    """Client CPU time (``time.process_time``) per call, in ms."""
    from cloudflare_ai.langchain import ChatWorkersAI, VectorizeVectorStore, WorkersAIEmbeddings

    batch = [document(i) for i in range(100)]
    with WorkersAIClient(**emu.credentials) as ai, VectorizeClient(**emu.credentials) as db:
        vector = ai.embed_query("metadata filters")
        chat = ChatWorkersAI(model=CHAT_MODEL, **emu.credentials)
        embeddings = WorkersAIEmbeddings(**emu.credentials)
        store = VectorizeVectorStore(embeddings, index_name=index, **emu.credentials)
        cases: dict[str, Callable[[], Any]] = {
            "chat invoke (core chat)": lambda: ai.chat(CHAT_MODEL, _PROMPT),
            "chat invoke (ChatWorkersAI)": lambda: chat.invoke(_PROMPT[0]["content"]),
            "embed 1 query (core)": lambda: ai.embed("metadata filters"),
            "embed 100 docs (core)": lambda: ai.embed(batch),
            "embed 100 docs (WorkersAIEmbeddings)": lambda: embeddings.embed_documents(batch),
            "query top-4 (core)": lambda: db.query(index, vector, top_k=4, return_metadata="all"),
            "similarity_search (LangChain)": lambda: store.similarity_search("filters", k=4),
        }
        result = {}
        for name, call in cases.items():
            call()
            started = time.process_time()
            for _ in range(calls):
                call()
            result[name] = (time.process_time() - started) / calls * 1000
        store.close()
    return result


def fill_index(emu: Emulator, index: str, n: int, batch: int = 5000) -> None:
    """Create ``index`` with ``n`` random unit vectors (pre-encoded 5,000-vector upserts)."""
    reset_index(emu, index)
    rng = np.random.default_rng(1)
    headers = {**emu.headers, "content-type": "application/x-ndjson"}
    with httpx.Client(headers=headers, timeout=300) as client:
        for start in range(0, n, batch):
            rows = rng.standard_normal((min(batch, n - start), DIMENSIONS)).astype(np.float32)
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
            body = b"".join(encode_vector(f"doc-{start + i}", v) for i, v in enumerate(rows))
            url = emu.url(f"vectorize/v2/indexes/{index}/upsert")
            client.post(url, content=body).raise_for_status()


def probe_emulator(
    emu: Emulator, index: str, *, queries: int = 20, fill: int = 100_000
) -> dict[str, Any]:
    """The emulator's own cost, seen over HTTP: query time on ``index`` and write throughput
    (a pre-encoded 5,000-vector NDJSON body), each minus the measured bare round trip.
    ``index`` is first filled with ``fill`` random vectors when this emulator lacks it (the
    ingestion ran on the benchmark server)."""
    base = round_trip_ms(emu) / 1000
    rng = np.random.default_rng(0)
    query = {"vector": rng.standard_normal(DIMENSIONS).astype(np.float32), "topK": 5}
    body = orjson.dumps(query, option=orjson.OPT_SERIALIZE_NUMPY)
    vectors = rng.standard_normal((5000, DIMENSIONS)).astype(np.float32)
    ndjson = b"".join(encode_vector(f"probe-{i}", v) for i, v in enumerate(vectors))
    scratch = "bench-probe"
    reset_index(emu, scratch)
    try:
        present = vector_count(emu, index) > 0
    except Exception:  # not found: the ingestion ran on the benchmark server
        present = False
    if not present:
        fill_index(emu, index, fill)
    with httpx.Client(headers=emu.headers, timeout=120) as client:
        query_url = emu.url(f"vectorize/v2/indexes/{index}/query")
        times = _timed(lambda: client.post(query_url, content=body).raise_for_status(), queries)
        write_url = emu.url(f"vectorize/v2/indexes/{scratch}/upsert")
        headers = {"content-type": "application/x-ndjson"}
        writes = _timed(
            lambda: client.post(write_url, content=ndjson, headers=headers).raise_for_status(),
            3,
            warmup=1,
        )
    with VectorizeClient(**emu.credentials) as db:
        db.delete_index(scratch, missing_ok=True)
    server_write = max(statistics.median(writes) - base, 1e-6)
    return {
        "index": index,
        "vectors": vector_count(emu, index),
        "base_rtt_ms": base * 1000,
        "query_p50_ms": (percentile(times, 50) - base) * 1000,
        "query_p95_ms": (percentile(times, 95) - base) * 1000,
        "write_vectors_per_s": 5000 / server_write,
    }


def bench_million(
    emu: Emulator, n: int, *, concurrency: int, unthrottled: bool = True
) -> dict[str, Any]:
    """Stream ``n`` short documents from a generator through ``pipeline.ingest``; peak RSS.

    ``unthrottled`` lifts the published per-minute request limits (the emulator has none), so
    the run measures memory, not Cloudflare's rate limits."""
    index = "bench-million"
    reset_index(emu, index)
    consumed = 0

    def source() -> Iterator[tuple[str, str]]:
        nonlocal consumed
        for record in records(n):
            consumed += 1
            yield record

    options: dict[str, Any] = {}
    if unthrottled:
        options = {"embed_requests_per_minute": 10**9, "write_requests_per_minute": None}
    progress: list[float] = []
    last = [0.0]

    def on_progress(state: Any) -> None:
        now = time.perf_counter()
        if now - last[0] > 10:
            last[0] = now
            progress.append(state.written)
            print(f"  {state.written:,} written, {state.per_second:,.0f}/s", flush=True)

    with PeakRSS(interval=0.05) as memory:
        started = time.perf_counter()
        report = ingest(
            source(),
            index=index,
            settings=emu.settings(concurrency),
            concurrency=concurrency,
            progress=on_progress,
            **options,
        )
        wall = time.perf_counter() - started
    stored = vector_count(emu, index)
    with VectorizeClient(**emu.credentials) as db:
        db.delete_index(index, missing_ok=True)
    return {
        "documents": n,
        "consumed": consumed,
        "written": report.written,
        "stored": stored,
        "wall_s": wall,
        "requests": report.requests,
        "concurrency": concurrency,
        "unthrottled": unthrottled,
        "baseline_rss_mb": memory.baseline,
        "peak_rss_mb": memory.peak,
        "peak_hwm_mb": _proc_status("self", "VmHWM"),
        "rss_growth_mb": memory.delta,
        "emulator_peak_rss_mb": emu.peak_rss_mb(),
    }
