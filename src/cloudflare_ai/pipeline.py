"""Ingestion as a pipeline: embed and write at the same time, in bounded memory.

Records are read lazily from any iterable; texts go to Workers AI in batches at the model's
limit while earlier batches are already being written to Vectorize. Requests run
concurrently up to ``concurrency`` and never faster than Cloudflare's published rate limits:
embeddings under the client-wide Workers AI limiter (:mod:`cloudflare_ai.ratelimit`, shared
with every other client of the account), writes under the API's global limit (a sliding
one-minute window of this ingestion). Only a bounded number of records is in memory at once,
so a corpus of millions streams through.

A usage budget (:func:`cloudflare_ai.usage.track_usage`) stops an ingestion cleanly: the
embedding request that would exceed it is never sent, its records are never written, and the
:class:`~cloudflare_ai.errors.PartialWriteError` raised (``__cause__``: the
:class:`~cloudflare_ai.errors.BudgetExceededError`) lists what was written.

``ingest`` (sync) runs the asyncio pipeline on a private event loop; ``aingest`` is the same
for async callers.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import limits
from .config import ClientSettings
from .documents import TEXT_KEY, document_id
from .errors import BudgetExceededError, PartialWriteError, ValidationError
from .models import DEFAULT_EMBEDDING_MODEL, require_model
from .ndjson import Chunk, chunk_lines
from .ratelimit import SlidingWindow
from .transport import RetryPolicy
from .vectorize import AsyncVectorizeClient, Vector, WriteKind, _encode
from .workers_ai import AsyncWorkersAIClient

#: Requests per minute allowed for writes: the Cloudflare API's global limit is 1200 per five
#: minutes (240 a minute).
WRITE_REQUESTS_PER_MINUTE = limits.API_REQUESTS_PER_FIVE_MINUTES // 5


@dataclass(frozen=True, slots=True)
class Record:
    """One text to embed and store, with its id, metadata and namespace."""

    id: str
    text: str
    metadata: Mapping[str, Any] | None = None
    namespace: str | None = None


RecordLike = (
    Record | tuple[str, str] | tuple[str, str, Mapping[str, Any] | None] | Mapping[str, Any]
)


def content_id(
    text: str, metadata: Mapping[str, Any] | None = None, namespace: str | None = None
) -> str:
    """A deterministic id from the content (the core's one scheme,
    :func:`~cloudflare_ai.documents.document_id`): re-running an ingestion rewrites, never
    duplicates."""
    return document_id(text, metadata, namespace=namespace)


def as_record(item: RecordLike, position: int) -> Record:
    if isinstance(item, Record):
        return item
    if isinstance(item, str):
        return Record(content_id(item), item)
    if isinstance(item, tuple):
        if len(item) == 2:
            return Record(item[0], item[1])
        if len(item) == 3:
            return Record(item[0], item[1], item[2])
    if isinstance(item, Mapping) and "text" in item:
        text = str(item["text"])
        metadata = item.get("metadata")
        namespace = item.get("namespace")
        return Record(
            str(item.get("id") or content_id(text, metadata, namespace)), text, metadata, namespace
        )
    raise ValidationError(
        f"record #{position}: expected a Record, a (id, text[, metadata]) tuple, a mapping "
        f"with 'text', or a string; got {type(item).__name__}",
        position=position,
    )


@dataclass
class Progress:
    """How far an ingestion has got (passed to the progress callback)."""

    read: int = 0
    embedded: int = 0
    written: int = 0
    embed_requests: int = 0
    write_requests: int = 0
    bytes_sent: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def per_second(self) -> float:
        return self.written / self.elapsed if self.elapsed else 0.0


@dataclass
class IngestReport:
    """The outcome: counts, requests, bytes and the ids written (in write order)."""

    written: int
    ids: list[str]
    mutation_ids: list[str]
    embed_requests: int
    write_requests: int
    bytes_sent: int
    seconds: float

    @property
    def requests(self) -> int:
        return self.embed_requests + self.write_requests


class RateLimiter:
    """At most ``per_minute`` acquisitions in any sliding 60-second window: the asyncio face
    of :class:`cloudflare_ai.ratelimit.SlidingWindow`."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._window = SlidingWindow(per_minute, window)

    async def acquire(self) -> None:
        await self._window.aacquire()


class _Bounded:
    """Concurrency and rate limits around one kind of request: at most ``concurrency`` of this
    kind, and together with the other kinds at most the slots of the shared ``total``."""

    def __init__(self, total: asyncio.Semaphore, concurrency: int, per_minute: int | None) -> None:
        self.total = total
        self.slots = asyncio.Semaphore(concurrency)
        self.rate = RateLimiter(per_minute) if per_minute else None

    async def run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        async with self.slots, self.total:
            if self.rate is not None:
                await self.rate.acquire()
            return await call()


async def aingest(
    records: Iterable[RecordLike] | AsyncIterable[RecordLike],
    *,
    index: str,
    workers_ai: AsyncWorkersAIClient,
    vectorize: AsyncVectorizeClient,
    model: str = DEFAULT_EMBEDDING_MODEL,
    text_key: str | None = TEXT_KEY,
    upsert: bool = True,
    dimensions: int | None = None,
    concurrency: int | None = None,
    embed_requests_per_minute: int | None = None,
    write_requests_per_minute: int | None = WRITE_REQUESTS_PER_MINUTE,
    write_batch: int = 500,
    max_buffered: int | None = None,
    wait: bool = False,
    wait_timeout: float = 300.0,
    progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Embed ``records`` with ``model`` and write them to ``index``, overlapping the two.

    ``concurrency`` bounds requests in flight (default: the clients' ``max_concurrency``);
    embedding requests are held under the model's per-minute limit by the client-wide limiter
    (on for Cloudflare's hosts; see :mod:`cloudflare_ai.ratelimit`), and additionally under
    ``embed_requests_per_minute`` when given; writes under the API's limit. ``write_batch``
    vectors go in one write request (≤ 5000). At most
    ``max_buffered`` records (default: enough to keep every slot busy) are in memory at once;
    a smaller ``max_buffered`` shrinks the embedding and write batches to fit.
    With ``text_key`` the text is stored in metadata (as the framework stores expect).
    A batch that still fails after retries stops the ingestion with
    :class:`~cloudflare_ai.errors.PartialWriteError` listing what was and was not written;
    re-running with the same ids finishes the job without duplicates.
    """
    info = require_model(model)
    dims = dimensions or info.dimensions
    if dims is None:
        raise ValidationError(f"{model} has no known dimensions; pass dimensions=")
    if not 1 <= write_batch <= limits.MAX_VECTORS_PER_WRITE:
        raise ValidationError(f"write_batch must be 1..{limits.MAX_VECTORS_PER_WRITE}")
    embed_size = info.max_batch or 100
    slots = concurrency or workers_ai.settings.max_concurrency
    buffered = max_buffered or max(write_batch * 2, embed_size * slots * 2)
    if buffered < 1:
        raise ValidationError("max_buffered must be at least 1")
    # A part-filled embedding batch and a part-filled write batch must not together use up
    # the buffer, or the reader would wait forever for memory that only a write frees.
    embed_size = min(embed_size, max(1, buffered // 2))
    write_batch = min(write_batch, buffered - embed_size + 1)
    in_flight = asyncio.Semaphore(slots)  # embeddings and writes together
    # The model's published limit is the Workers AI client's (shared, in its transport).
    embed_limit = _Bounded(in_flight, slots, embed_requests_per_minute)
    write_limit = _Bounded(in_flight, max(1, slots // 2), write_requests_per_minute)
    memory = asyncio.Semaphore(buffered)  # records read but not yet written
    state = Progress()
    ids: list[str] = []
    mutations: list[str] = []
    failed: list[str] = []
    errors: list[BaseException] = []
    pending: list[tuple[str, bytes]] = []
    tasks: set[asyncio.Task[None]] = set()
    kind: WriteKind = "upsert" if upsert else "insert"

    def report() -> None:
        if progress is not None:
            progress(state)

    def write_failed() -> bool:
        """A write or embedding failed: stop writing. A budget's refusal does not stop the
        writes of batches already embedded (and paid for), only further embedding."""
        return any(not isinstance(e, BudgetExceededError) for e in errors)

    async def write(chunk: Chunk) -> None:
        try:
            if write_failed():
                failed.extend(chunk.ids)
                return

            mutation = await write_limit.run(lambda: vectorize._send_chunk(index, kind, chunk))
            ids.extend(chunk.ids)
            mutations.append(mutation.mutation_id)
            state.written += len(chunk.ids)
            state.write_requests += 1
            state.bytes_sent += chunk.size
            report()
        except Exception as exc:  # reported through PartialWriteError
            errors.append(exc)
            failed.extend(chunk.ids)
        finally:
            for _ in chunk.ids:
                memory.release()

    def flush(force: bool) -> None:
        while pending and (force or len(pending) >= write_batch):
            take, pending[:] = pending[:write_batch], pending[write_batch:]
            for chunk in chunk_lines(take, max_vectors=write_batch):
                tasks.add(asyncio.create_task(write(chunk)))

    async def embed(batch: list[Record]) -> None:
        try:
            if errors:
                raise RuntimeError("ingestion stopped")

            async def call() -> Any:
                return await workers_ai.embed([r.text for r in batch], model=model)

            result = await embed_limit.run(call)
            state.embedded += len(batch)
            state.embed_requests += result.requests
            for position, (record, values) in enumerate(zip(batch, result.vectors, strict=True)):
                metadata = dict(record.metadata or {})
                if text_key is not None:
                    metadata[text_key] = record.text
                vector = Vector(record.id, values, metadata or None, record.namespace)
                pending.append(_encode(vector, dims, position))
            flush(force=False)
            report()
        except Exception as exc:  # reported through PartialWriteError
            if not isinstance(exc, RuntimeError) or not errors:
                errors.append(exc)
            failed.extend(r.id for r in batch)
            for _ in batch:
                memory.release()

    async def records_of() -> Any:
        if isinstance(records, AsyncIterable):
            async for item in records:
                yield item
        else:
            for item in records:
                yield item

    batch: list[Record] = []
    position = 0
    async for item in records_of():
        record = as_record(item, position)
        position += 1
        await memory.acquire()
        state.read += 1
        batch.append(record)
        if len(batch) >= embed_size:
            tasks.add(asyncio.create_task(embed(batch)))
            batch = []
        tasks = {t for t in tasks if not t.done()}
        if errors:
            break
    if batch and errors:  # read, never sent
        failed.extend(r.id for r in batch)
    elif batch:
        tasks.add(asyncio.create_task(embed(batch)))
    while tasks or pending:
        await asyncio.gather(*tasks)
        tasks = {t for t in tasks if not t.done()}
        flush(force=True)
    if errors:
        raise PartialWriteError(
            f"ingestion into {index!r} stopped: {len(ids)} vectors written, {len(failed)} not "
            f"(first failure: {errors[0]}); re-run with the same ids to finish",
            written_ids=ids,
            failed_ids=failed,
            mutation_ids=mutations,
        ) from errors[0]
    if wait and mutations:
        await vectorize.wait_for_writes(index, mutations, timeout=wait_timeout)
    return IngestReport(
        written=len(ids),
        ids=ids,
        mutation_ids=mutations,
        embed_requests=state.embed_requests,
        write_requests=state.write_requests,
        bytes_sent=state.bytes_sent,
        seconds=state.elapsed,
    )


def ingest(
    records: Iterable[RecordLike],
    *,
    index: str,
    settings: ClientSettings | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> IngestReport:
    """The synchronous form of :func:`aingest`, on a private event loop (in a worker thread if
    the caller already runs one). Connection settings come from ``settings`` or the
    environment."""
    resolved = settings or ClientSettings.resolve()
    concurrency = options.get("concurrency")
    if concurrency and concurrency > resolved.max_concurrency:
        # the clients' connection pools are sized from max_concurrency
        resolved = resolved.model_copy(update={"max_concurrency": concurrency})

    async def main() -> IngestReport:
        async with (
            AsyncWorkersAIClient(settings=resolved, retry=retry) as ai,
            AsyncVectorizeClient(settings=resolved, retry=retry) as db,
        ):
            return await aingest(records, index=index, workers_ai=ai, vectorize=db, **options)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    outcome: dict[str, Any] = {}

    def runner() -> None:
        try:
            outcome["report"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    # The caller's context goes along, so its usage trackers (and budgets) see the ingestion.
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(runner,), name="cf-ingest")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    report: IngestReport = outcome["report"]
    return report
