"""The floor of this stack: the least a Python client on httpx can do to ingest documents.

No framework, no checks, no retries, no rate limits, no metering: one ``httpx.AsyncClient``
(over aiohttp's pool when installed, as the package's async clients are) sends every
embedding request of a job at once (up to 64 in flight), reads each answer
with the same simdjson decoder the package uses, writes each vector as an orjson NDJSON
line, and sends writes of 500 vectors as soon as they fill (up to 8 in flight). Whatever
the package's paths take beyond this row is their own overhead; what this row takes beyond
the round trips is the cost of HTTP in Python, of parsing the answers and of printing the
floats, which no client of this stack avoids.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import orjson

from cloudflare_ai import aiohttp_backend
from cloudflare_ai.embedding_json import native_embeddings
from cloudflare_ai.transport import _ssl_context

from .harness import Emulator, document, reset_index

MODEL = "@cf/baai/bge-base-en-v1.5"
FLOOR = "floor: bare client, same HTTP pool, simdjson + orjson"
EMBED_BATCH = 100
WRITE_BATCH = 500


async def _ingest(emu: Emulator, n: int, index: str) -> tuple[int, int]:
    base = f"{emu.base_url}/accounts/{emu.account_id}"
    headers = {"Authorization": f"Bearer {emu.api_token}"}
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    timeout = httpx.Timeout(60.0)
    client_of = (
        aiohttp_backend.async_client(timeout=timeout, limits=limits, verify=_ssl_context())
        if aiohttp_backend.available()
        else httpx.AsyncClient(timeout=timeout, limits=limits)
    )
    embeds = asyncio.Semaphore(64)
    writes_in_flight = asyncio.Semaphore(8)
    pending: list[bytes] = []
    writes: list[asyncio.Task[None]] = []
    count = {"embed": 0, "write": 0}
    async with client_of as client:

        async def write(lines: list[bytes]) -> None:
            async with writes_in_flight:
                response = await client.post(
                    f"{base}/vectorize/v2/indexes/{index}/upsert",
                    content=b"".join(lines),
                    headers={**headers, "Content-Type": "application/x-ndjson"},
                )
                response.raise_for_status()
                count["write"] += 1

        def flush(force: bool) -> None:
            while len(pending) >= WRITE_BATCH or (force and pending):
                lines = pending[:WRITE_BATCH]
                del pending[:WRITE_BATCH]
                writes.append(asyncio.create_task(write(lines)))

        async def embed(start: int) -> None:
            ids = [f"doc-{i}" for i in range(start, min(n, start + EMBED_BATCH))]
            texts = [document(i) for i in range(start, start + len(ids))]
            async with embeds:
                response = await client.post(
                    f"{base}/ai/run/{MODEL}", json={"text": texts}, headers=headers
                )
            response.raise_for_status()
            decoded = native_embeddings(response.content)
            assert decoded is not None
            matrix = decoded[0].astype(np.float32)
            count["embed"] += 1
            option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
            pending.extend(
                orjson.dumps({"id": i, "values": row, "metadata": {"text": t}}, option=option)
                for i, row, t in zip(ids, matrix, texts, strict=True)
            )
            flush(force=False)

        await asyncio.gather(*(embed(start) for start in range(0, n, EMBED_BATCH)))
        flush(force=True)
        await asyncio.gather(*writes)
    return count["embed"], count["write"]


def bench_floor(emu: Emulator, n: int) -> dict[str, Any]:
    """Time the floor client on ``n`` documents, measured like the frameworks' rows."""
    from .frameworks import _measure

    index = f"floor-{n}"
    reset_index(emu, index)
    row = _measure(emu, n, index, lambda: asyncio.run(_ingest(emu, n, index)))
    return {"path": FLOOR, **row}
