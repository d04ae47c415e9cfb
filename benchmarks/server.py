"""A benchmark server that answers Cloudflare's REST paths at almost no cost of its own.

The full emulator (``cloudflare_ai_local``) computes real embeddings, parses every float of
every write and keeps an exact index, all on one event loop; under a benchmark's load its
answers took 100-190 ms where 80 ms were injected, so it measured itself, not the clients.
This server speaks the same paths but does as little as possible, so that what a benchmark
measures is the client and the injected round trip:

* **Embeddings** (``/ai/run/{model}`` in Cloudflare's envelope with bge's
  ``{"shape", "data", "pooling"}`` result, and the OpenAI-style ``/ai/v1/embeddings``):
  the answer for ``n`` texts is made of precomputed unit vectors, serialised once per ``n``
  and cached, so answering costs a dictionary lookup after counting the texts.
* **Vectorize v2**: index create / get / list / delete / info, ``insert`` / ``upsert``
  (NDJSON or a multipart ``vectors`` part), ``query``, ``get_by_ids``, ``delete_by_ids``,
  ``list`` and ``metadata_index/{create,list,delete}``. A write is acknowledged the way
  Vectorize does it: a mutation id at once, applied later (on the next read that finds it
  due, ``--write-delay-ms`` after it was accepted). Vectors are counted by their lines and
  their ids are cut out of each line's first bytes; floats are never parsed. Query answers
  come from a small sample of each index's first vectors (their metadata parsed once), with
  fixed scores: the shape of a real answer, not a search.
* **Round trip**: every answer is held back ``--rtt-ms`` (default 80) with a non-blocking
  ``asyncio.sleep``, so requests overlap as they would on a far network.
* **Its own time**: each request's handler time (from the whole body received to the answer
  built, the injected sleep excluded) is recorded per kind, next to the time spent receiving
  the body and the process CPU time. ``GET /__bench__/stats`` returns them and
  ``POST /__bench__/reset`` starts a new tally; the benchmark fails its target when the
  handler time reaches 5 % of the round trip.

Run: ``python benchmarks/server.py --port 8787 --rtt-ms 80``; point clients at
``http://127.0.0.1:8787/client/v4``. Not an emulator: no validation beyond what counting
needs, no authentication, no search. ``harness.BenchServer`` starts it in a child process.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

DIMENSIONS = {"@cf/baai/bge-small-en-v1.5": 384, "@cf/baai/bge-large-en-v1.5": 1024}
DEFAULT_DIMENSIONS = 768  # bge-base and anything else
POOL = 256  # distinct precomputed vectors per dimension count
SAMPLE = 32  # vectors per index whose metadata is kept for query answers
_OK_PREFIX = b'{"result":'
_OK_SUFFIX = b',"success":true,"errors":[],"messages":[]}'

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def envelope(result: bytes) -> bytes:
    """Cloudflare's success envelope around an already-serialised ``result``."""
    return _OK_PREFIX + result + _OK_SUFFIX


def _error(status: int, code: int, message: str) -> tuple[int, bytes]:
    body = {"result": None, "success": False, "errors": [{"code": code, "message": message}]}
    return status, orjson.dumps({**body, "messages": []})


class Vectors:
    """Precomputed unit vectors of one dimension count and their cached answers."""

    def __init__(self, dims: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed + dims)
        pool = rng.standard_normal((POOL, dims)).astype(np.float32)
        pool /= np.linalg.norm(pool, axis=1, keepdims=True)
        self.dims = dims
        self.pool = pool
        self.rows = [orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) for row in pool]
        self._native: dict[int, bytes] = {}
        self._openai: dict[tuple[int, str], bytes] = {}

    def _data(self, n: int) -> bytes:
        rows = self.rows
        return b"[" + b",".join(rows[i % POOL] for i in range(n)) + b"]"

    def native(self, n: int) -> bytes:
        """The enveloped ``/ai/run`` answer for ``n`` texts (built once per ``n``)."""
        answer = self._native.get(n)
        if answer is None:
            shape = b'{"shape":[%d,%d],"data":' % (n, self.dims)
            answer = envelope(shape + self._data(n) + b',"pooling":"mean"}')
            self._native[n] = answer
        return answer

    def openai(self, n: int, model: str) -> bytes:
        """The ``/ai/v1/embeddings`` answer (OpenAI's list form) for ``n`` inputs."""
        answer = self._openai.get((n, model))
        if answer is None:
            items = b",".join(
                b'{"object":"embedding","index":%d,"embedding":%s}' % (i, self.rows[i % POOL])
                for i in range(n)
            )
            tail = orjson.dumps(
                {"model": model, "usage": {"prompt_tokens": 8 * n, "total_tokens": 8 * n}}
            )
            answer = b'{"object":"list","data":[' + items + b"]," + tail[1:]
            self._openai[(n, model)] = answer
        return answer


@dataclass
class Index:
    """What the server keeps of an index: its description, ids and a few sample vectors."""

    name: str
    dimensions: int
    metric: str
    description: str
    created_on: str
    ids: set[bytes] = field(default_factory=set)
    sample: list[dict[str, Any]] = field(default_factory=list)
    metadata_indexes: dict[str, str] = field(default_factory=dict)
    processed_mutation: str | None = None
    processed_at: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "config": {"dimensions": self.dimensions, "metric": self.metric},
            "created_on": self.created_on,
            "modified_on": self.created_on,
        }


def line_ids(body: bytes) -> tuple[list[bytes], list[tuple[int, int]]]:
    """The ids of an NDJSON body and each non-blank line's span, without parsing floats.

    The id is cut out of the line's first 256 bytes (every client here writes ``id`` first;
    a line that does not is parsed whole). Ids with escaped quotes are not unescaped: the
    benchmark's ids have none.
    """
    ids: list[bytes] = []
    spans: list[tuple[int, int]] = []
    pos, end = 0, len(body)
    find = body.find
    while pos < end:
        stop = find(b"\n", pos)
        if stop < 0:
            stop = end
        if stop - pos > 2 or body[pos:stop].strip():
            key = find(b'"id"', pos, min(stop, pos + 256))
            colon = find(b":", key + 4, stop) if key >= 0 else -1
            first = find(b'"', colon + 1, stop) if colon >= 0 else -1
            last = find(b'"', first + 1, stop) if first >= 0 else -1
            if last >= 0:
                ids.append(body[first + 1 : last])
            else:
                ids.append(str(orjson.loads(body[pos:stop]).get("id", "")).encode())
            spans.append((pos, stop))
        pos = stop + 1
    return ids, spans


def _multipart_vectors(body: bytes, content_type: str) -> bytes:
    """The ``vectors`` part of a multipart body (found by its boundary, not parsed)."""
    boundary = content_type.split("boundary=", 1)[1].split(";", 1)[0].strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, _, payload = part.partition(b"\r\n\r\n")
        if b'name="vectors"' in head:
            return payload.removesuffix(b"\r\n")
    return b""


@dataclass
class Mutation:
    id: str
    index: str
    due: float
    ids: list[bytes]
    delete: bool


@dataclass
class Tally:
    """Handler and body-receive times per request kind, in seconds, and CPU since reset."""

    handler: dict[str, list[float]] = field(default_factory=dict)
    receive: dict[str, list[float]] = field(default_factory=dict)
    cpu_start: float = field(default_factory=time.process_time)
    wall_start: float = field(default_factory=time.perf_counter)

    def add(self, kind: str, handler: float, receive: float) -> None:
        self.handler.setdefault(kind, []).append(handler)
        self.receive.setdefault(kind, []).append(receive)

    def summary(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, float]:
            arr = np.asarray(values) * 1000
            return {
                "count": len(values),
                "mean_ms": float(arr.mean()),
                "p50_ms": float(np.percentile(arr, 50)),
                "p95_ms": float(np.percentile(arr, 95)),
                "max_ms": float(arr.max()),
            }

        every = [t for times in self.handler.values() for t in times]
        requests = len(every)
        cpu = time.process_time() - self.cpu_start
        return {
            "requests": requests,
            "handler": {kind: stats(times) for kind, times in self.handler.items()},
            "receive": {kind: stats(times) for kind, times in self.receive.items()},
            "all": stats(every) if every else None,
            "cpu_s": cpu,
            "cpu_per_request_ms": cpu / requests * 1000 if requests else None,
            "wall_s": time.perf_counter() - self.wall_start,
        }


class BenchServer:
    """The ASGI application (no framework: one function and a path split)."""

    def __init__(self, rtt_ms: float = 80.0, write_delay_ms: float = 0.0) -> None:
        self.delay = rtt_ms / 1000
        self.write_delay = write_delay_ms / 1000
        self.rtt_ms = rtt_ms
        self.vectors: dict[int, Vectors] = {}
        self.indexes: dict[str, Index] = {}
        self.pending: deque[Mutation] = deque()
        self.tally = Tally()

    def _vectors(self, model: str) -> Vectors:
        dims = DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
        found = self.vectors.get(dims)
        if found is None:
            found = self.vectors[dims] = Vectors(dims)
        return found

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        received = time.perf_counter()
        kind, status, answer = self.handle(scope, body)
        handled = time.perf_counter() - received
        delay = self.delay if kind != "bench" else 0.0
        if delay:
            await asyncio.sleep(delay)
        after = time.perf_counter()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})
        if kind != "bench":
            self.tally.add(kind, handled + time.perf_counter() - after, received - started)

    # --- routing ---------------------------------------------------------------------------

    def handle(self, scope: Scope, body: bytes) -> tuple[str, int, bytes]:
        """(kind, status, body) of one request; ``kind`` groups the timings."""
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/__bench__/"):
            if path.endswith("/reset"):
                self.tally = Tally()
            return "bench", 200, orjson.dumps(self.tally.summary())
        parts = path.strip("/").split("/")
        # client / v4 / accounts / {id} / ...
        if len(parts) < 5 or parts[:3] != ["client", "v4", "accounts"]:
            return "other", *_error(404, 7000, f"no route for {path}")
        rest = parts[4:]
        if rest[:2] == ["ai", "run"]:
            model = "/".join(rest[2:])
            return "embed", 200, self._vectors(model).native(_count_texts(body, "text"))
        if rest[:3] == ["ai", "v1", "embeddings"]:
            model = str(orjson.loads(body).get("model", "")) if body else ""
            return "embed", 200, self._vectors(model).openai(_count_texts(body, "input"), model)
        if rest[:3] == ["vectorize", "v2", "indexes"]:
            return self.vectorize(method, rest[3:], body, scope)
        return "other", *_error(404, 7000, f"no route for {path}")

    def vectorize(
        self, method: str, rest: list[str], body: bytes, scope: Scope
    ) -> tuple[str, int, bytes]:
        if not rest:
            if method == "POST":
                return "index", *self.create_index(orjson.loads(body))
            listing = [i.describe() for i in sorted(self.indexes.values(), key=lambda i: i.name)]
            return "index", 200, envelope(orjson.dumps(listing))
        name, action = rest[0], "/".join(rest[1:])
        index = self.indexes.get(name)
        if index is None:
            return "index", *_error(404, 3000, f"vectorize.index.not_found: {name}")
        if not action:
            if method == "DELETE":
                del self.indexes[name]
                self.pending = deque(m for m in self.pending if m.index != name)
                return "index", 200, envelope(b"null")
            return "index", 200, envelope(orjson.dumps(index.describe()))
        if action in ("upsert", "insert"):
            return "write", 200, self.write(index, body, scope)
        self.apply_due()
        if action == "info":
            info = {
                "dimensions": index.dimensions,
                "vectorCount": len(index.ids),
                "processedUpToDatetime": index.processed_at,
                "processedUpToMutation": index.processed_mutation,
            }
            return "index", 200, envelope(orjson.dumps(info))
        if action == "query":
            return "query", 200, self.query(index, orjson.loads(body))
        if action == "get_by_ids":
            return "read", 200, self.get_by_ids(index, orjson.loads(body).get("ids", []))
        if action == "delete_by_ids":
            ids = [str(i).encode() for i in orjson.loads(body).get("ids", [])]
            return "write", 200, self._enqueue(index, ids, delete=True)
        if action == "list":
            ids = sorted(i.decode() for i in index.ids)
            page = {
                "count": len(ids),
                "totalCount": len(ids),
                "isTruncated": False,
                "nextCursor": None,
                "cursorExpirationTimestamp": None,
                "vectors": [{"id": i} for i in ids],
            }
            return "read", 200, envelope(orjson.dumps(page))
        if action.startswith("metadata_index/"):
            return "index", 200, self.metadata_index(index, action.split("/", 1)[1], body)
        return "other", *_error(404, 7000, f"no route for {action}")

    # --- handlers --------------------------------------------------------------------------

    def create_index(self, body: dict[str, Any]) -> tuple[int, bytes]:
        name = str(body.get("name", ""))
        if name in self.indexes:
            return _error(409, 3002, f"vectorize.index.duplicate_name: {name}")
        config = body.get("config") or {}
        index = Index(
            name,
            int(config.get("dimensions", DEFAULT_DIMENSIONS)),
            str(config.get("metric", "cosine")),
            str(body.get("description", "")),
            _now(),
        )
        index.processed_mutation, index.processed_at = str(uuid.uuid4()), index.created_on
        self.indexes[name] = index
        return 200, envelope(orjson.dumps(index.describe()))

    def write(self, index: Index, body: bytes, scope: Scope) -> bytes:
        content_type = next((v.decode() for k, v in scope["headers"] if k == b"content-type"), "")
        if content_type.startswith("multipart/form-data"):
            body = _multipart_vectors(body, content_type)
        ids, spans = line_ids(body)
        for start, stop in spans[: max(0, SAMPLE - len(index.sample))]:
            item = orjson.loads(body[start:stop])
            item.pop("values", None)
            index.sample.append(item)
        return self._enqueue(index, ids, delete=False)

    def _enqueue(self, index: Index, ids: list[bytes], *, delete: bool) -> bytes:
        mutation = Mutation(
            str(uuid.uuid4()), index.name, time.monotonic() + self.write_delay, ids, delete
        )
        self.pending.append(mutation)
        return envelope(b'{"mutationId":"%s"}' % mutation.id.encode())

    def apply_due(self) -> None:
        now = time.monotonic()
        while self.pending and self.pending[0].due <= now:
            mutation = self.pending.popleft()
            index = self.indexes.get(mutation.index)
            if index is None:
                continue
            if mutation.delete:
                index.ids.difference_update(mutation.ids)
            else:
                index.ids.update(mutation.ids)
            index.processed_mutation, index.processed_at = mutation.id, _now()

    def query(self, index: Index, body: dict[str, Any]) -> bytes:
        top_k = int(body.get("topK", 5))
        metadata = body.get("returnMetadata", "none")
        values = bool(body.get("returnValues", False))
        pool = self._vectors("").pool if index.dimensions == DEFAULT_DIMENSIONS else None
        matches = []
        for rank, item in enumerate(index.sample[:top_k]):
            match: dict[str, Any] = {"id": item.get("id"), "score": 0.9 - 0.01 * rank}
            if values:
                row = pool[rank % POOL] if pool is not None else np.zeros(index.dimensions)
                match["values"] = row.tolist()
            if metadata not in ("none", False, None) and item.get("metadata") is not None:
                match["metadata"] = item["metadata"]
            if item.get("namespace") is not None:
                match["namespace"] = item["namespace"]
            matches.append(match)
        return envelope(orjson.dumps({"count": len(matches), "matches": matches}))

    def get_by_ids(self, index: Index, ids: list[Any]) -> bytes:
        sample = {item.get("id"): item for item in index.sample}
        out = []
        for vid in ids:
            if str(vid).encode() in index.ids:
                item = sample.get(vid, {"id": vid})
                out.append({**item, "values": [0.0] * index.dimensions})
        return envelope(orjson.dumps(out))

    def metadata_index(self, index: Index, action: str, body: bytes) -> bytes:
        if action == "list":
            listed = [
                {"propertyName": k, "indexType": v} for k, v in index.metadata_indexes.items()
            ]
            return envelope(orjson.dumps({"metadataIndexes": listed}))
        request = orjson.loads(body) if body else {}
        prop = str(request.get("propertyName", ""))
        if action == "create":
            index.metadata_indexes[prop] = str(request.get("indexType", "string"))
        else:
            index.metadata_indexes.pop(prop, None)
        return self._enqueue(index, [], delete=False)


def _count_texts(body: bytes, key: str) -> int:
    """How many texts an embedding request carries (a string counts as one)."""
    texts = orjson.loads(body).get(key) if body else None
    if isinstance(texts, list):
        return len(texts)
    return 1 if texts is not None else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--rtt-ms", type=float, default=80.0, help="delay added to every answer")
    parser.add_argument(
        "--write-delay-ms", type=float, default=0.0, help="time before a write is applied"
    )
    args = parser.parse_args(argv)
    import uvicorn

    app = BenchServer(args.rtt_ms, args.write_delay_ms)
    for dims in {DEFAULT_DIMENSIONS, *DIMENSIONS.values()}:
        app.vectors[dims] = Vectors(dims)
    # uvloop and httptools (the bench extra) keep the server's own HTTP work small: with
    # uvicorn's pure-Python defaults, receiving a 4.7 MB write body alone took tens of ms.
    fast = {}
    if importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools"):
        fast = {"loop": "uvloop", "http": "httptools"}
    uvicorn.run(
        app,
        **fast,  # type: ignore[arg-type]
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=60,
        h11_max_incomplete_event_size=1 << 20,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
