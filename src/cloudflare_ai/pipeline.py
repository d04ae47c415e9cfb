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
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    Sized,
)
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

import numpy as np

from . import limits
from .config import ClientSettings
from .documents import TEXT_KEY, document_id
from .errors import BudgetExceededError, PartialWriteError, ValidationError
from .models import DEFAULT_EMBEDDING_MODEL, get_model, require_model
from .ndjson import Chunk, ChunkBuffer, encode_vector
from .ratelimit import SlidingWindow, workers_ai_requests_per_minute
from .tokens import LongInputs
from .transport import RetryPolicy
from .validation import check_id, check_metadata, check_namespace, check_values
from .vectorize import AsyncVectorizeClient, WriteKind
from .workers_ai import AsyncWorkersAIClient, EmbeddingArray

T = TypeVar("T")

#: Requests per minute allowed for writes: the Cloudflare API's global limit is 1200 per five
#: minutes (240 a minute).
WRITE_REQUESTS_PER_MINUTE = limits.API_REQUESTS_PER_FIVE_MINUTES // 5


@dataclass(frozen=True, slots=True)
class Record:
    """One item to store: its id, text, metadata and namespace, and optionally its vector.

    A record with ``values`` (an embedding computed elsewhere, e.g. by LlamaIndex before it
    calls the store) is written as is, never sent for embedding; its ``text`` may then be
    empty."""

    id: str
    text: str
    metadata: Mapping[str, Any] | None = None
    namespace: str | None = None
    values: Sequence[float] | np.ndarray[Any, Any] | None = None


RecordLike = (
    Record | tuple[str, str] | tuple[str, str, Mapping[str, Any] | None] | Mapping[str, Any]
)

#: Embeds one batch of texts into a float32 matrix (one row per text, in order). The pipeline
#: calls it once per batch, many batches concurrently.
Embedder = Callable[[list[str]], Awaitable[EmbeddingArray]]

#: Most embedding requests in flight when the caller does not set ``concurrency``: a bound on
#: sockets and memory (each answer is ~1 MB of JSON at 768 dimensions). The client's CPU, not
#: the round trip, bounds a large ingestion well below this (measured: 32 and 50 in flight
#: took the same time for 10,000 documents at 80 ms, 50 with more memory).
MAX_DERIVED_CONCURRENCY = 32
#: Embedding requests in flight for a job too large for one round of requests (or of unknown
#: length). There the client's CPU, not the round trip, sets the pace: 16 answers in flight
#: keep it busy (10,000 documents took the same time with 16 and 32) and hold half the memory
#: (100,000 documents through add_texts peaked at ~250 MB instead of ~310).
STEADY_EMBED_CONCURRENCY = 16
#: Embedding requests in flight for a model whose rate limit is not published.
UNKNOWN_MODEL_CONCURRENCY = 16
#: Write requests in flight when derived. The bodies are large (~4.7 MB for 500 vectors, held
#: two or three times over while sending), and four of them at a time already write faster
#: than the client can embed.
DERIVED_WRITE_CONCURRENCY = 4
#: Vectors per write request by default: ~4.5 MB of NDJSON at 768 dimensions. Small enough
#: that the first write leaves once five embedding answers are in; large enough that
#: 100,000 vectors are 200 writes, under the API's 240 a minute.
DEFAULT_WRITE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Plan:
    """How an ingestion is sized: batch sizes, requests in flight and records in memory."""

    embed_batch: int
    write_batch: int
    embed_slots: int
    write_slots: int
    total_slots: int
    buffered: int


def derived_embed_concurrency(model: str | None) -> int:
    """Embedding requests in flight for ``model`` when nobody set a concurrency: one second's
    worth of its published requests-per-minute limit, within 1..:data:`MAX_DERIVED_CONCURRENCY`
    (:data:`UNKNOWN_MODEL_CONCURRENCY` without a published limit)."""
    rpm = workers_ai_requests_per_minute(model) if model is not None else None
    return min(MAX_DERIVED_CONCURRENCY, max(1, rpm // 60)) if rpm else UNKNOWN_MODEL_CONCURRENCY


def plan(
    model: str | None,
    *,
    concurrency: int | None = None,
    embed_batch: int | None = None,
    write_batch: int | None = None,
    max_buffered: int | None = None,
    expected: int | None = None,
) -> Plan:
    """Size an ingestion to the work and to the model's published rate limit.

    Without ``concurrency``, embedding requests in flight are one second's worth of the
    model's requests-per-minute limit (3000/min for BGE: 50), at most
    :data:`MAX_DERIVED_CONCURRENCY`: a job that fits in one such round sends all its batches
    at once (2,000 documents are 20 requests, all in flight), a larger one, or one of unknown
    length, keeps :data:`STEADY_EMBED_CONCURRENCY` in flight; writes get their own
    :data:`DERIVED_WRITE_CONCURRENCY` slots. With ``concurrency`` (e.g. an explicit
    ``max_concurrency``), embeddings and writes together never exceed it. Records in memory
    default to every embedding slot's batch plus two write batches."""
    info = require_model(model) if model is not None else None
    size = embed_batch or (info.max_batch if info else None) or 100
    if size < 1:
        raise ValidationError("the embedding batch must be at least 1")
    batch = write_batch or DEFAULT_WRITE_BATCH
    if not 1 <= batch <= limits.MAX_VECTORS_PER_WRITE:
        raise ValidationError(f"write_batch must be 1..{limits.MAX_VECTORS_PER_WRITE}")
    if concurrency is not None:
        if concurrency < 1:
            raise ValidationError(f"concurrency must be at least 1, got {concurrency}")
        embed_slots, write_slots, total = concurrency, max(1, concurrency // 2), concurrency
    else:
        embed_slots = derived_embed_concurrency(model)
        write_slots = DERIVED_WRITE_CONCURRENCY
        batches = -(-expected // size) if expected is not None else None
        if batches is not None and batches <= embed_slots:
            embed_slots = max(1, batches)  # one round: everything in flight at once
        else:
            embed_slots = min(embed_slots, STEADY_EMBED_CONCURRENCY)
        if expected is not None:
            write_slots = max(1, min(write_slots, -(-expected // batch)))
        total = embed_slots + write_slots
    buffered = max_buffered or size * embed_slots + 2 * batch
    if buffered < 1:
        raise ValidationError("max_buffered must be at least 1")
    # A part-filled embedding batch and a part-filled write batch must not together use up
    # the buffer, or the reader would wait forever for memory that only a write frees.
    size = min(size, max(1, buffered // 2))
    batch = min(batch, buffered - size + 1)
    return Plan(size, batch, embed_slots, write_slots, total, buffered)


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
    if isinstance(item, Mapping) and ("text" in item or "values" in item):
        text = str(item.get("text") or "")
        metadata = item.get("metadata")
        namespace = item.get("namespace")
        return Record(
            str(item.get("id") or content_id(text, metadata, namespace)),
            text,
            metadata,
            namespace,
            item.get("values"),
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


def checked_record(record: Record, position: int, text_key: str | None) -> Record:
    """``record`` checked before anything of it is sent: its id, namespace, and metadata
    (with the text under ``text_key``) within Vectorize's limits, and text to embed unless it
    carries its vector. Errors name the record and its position."""
    vector_id = check_id(record.id, position)
    if record.namespace is not None:
        check_namespace(record.namespace, vector_id, position)
    if record.values is None and (not isinstance(record.text, str) or not record.text.strip()):
        raise ValidationError(
            f"record {vector_id!r} at position {position}: its text is empty (and it has no "
            "values); Workers AI embeds only non-empty text",
            item=vector_id,
            position=position,
            field="text",
        )
    metadata = record.metadata
    if text_key is not None:
        metadata = {**(metadata or {}), text_key: record.text}
    if metadata is not None:
        check_metadata(metadata, vector_id, position)
    return Record(vector_id, record.text, metadata or None, record.namespace, record.values)


def _workers_ai_embedder(
    workers_ai: AsyncWorkersAIClient,
    model: str,
    pooling: Literal["mean", "cls"] | None,
    long_inputs: LongInputs,
) -> Embedder:
    async def embed(texts: list[str]) -> EmbeddingArray:
        return await workers_ai.embed_array(
            texts, model=model, pooling=pooling, long_inputs=long_inputs, batch_size=len(texts)
        )

    return embed


def _encode_rows(
    records: Sequence[Record], matrix: Any, dims: int | None
) -> Iterator[tuple[str, bytes]]:
    """NDJSON lines of checked records and their vectors (one float32 row each), straight
    from the array: one finiteness check per batch (made at once), no Python floats. Lines
    are made one at a time as they are read, to be copied into a request body."""
    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != len(records):
        raise ValidationError(
            f"the embeddings returned {array.shape[0] if array.ndim else 0} vectors for "
            f"{len(records)} texts"
        )
    if dims is not None and array.shape[1] != dims:
        raise ValidationError(
            f"the embeddings have {array.shape[1]} dimensions but the index has {dims}",
            item=records[0].id,
        )
    if not np.isfinite(array).all():
        row = int(np.argmin(np.isfinite(array).all(axis=1)))
        raise ValidationError(
            f"record {records[row].id!r}: its embedding has values that are not finite",
            item=records[row].id,
            field="values",
        )
    return (
        (r.id, encode_vector(r.id, row, r.metadata, r.namespace))
        for r, row in zip(records, array, strict=True)
    )


async def aingest(
    records: Iterable[RecordLike] | AsyncIterable[RecordLike],
    *,
    index: str,
    vectorize: AsyncVectorizeClient,
    workers_ai: AsyncWorkersAIClient | None = None,
    embedder: Embedder | None = None,
    model: str = DEFAULT_EMBEDDING_MODEL,
    pooling: Literal["mean", "cls"] | None = None,
    long_inputs: LongInputs = "truncate",
    text_key: str | None = TEXT_KEY,
    upsert: bool = True,
    dimensions: int | None = None,
    concurrency: int | None = None,
    embed_batch: int | None = None,
    embed_requests_per_minute: int | None = None,
    write_requests_per_minute: int | None = WRITE_REQUESTS_PER_MINUTE,
    write_batch: int | None = None,
    max_buffered: int | None = None,
    checked: bool = False,
    wait: bool = False,
    wait_timeout: float = 300.0,
    progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Embed ``records`` with ``model`` and write them to ``index``, overlapping the two.

    Embeddings come from ``workers_ai`` (``embed_array``: float32 matrices, never Python
    floats) or from ``embedder`` (any async function of a batch of texts, e.g. a LangChain
    embeddings object's). Records that carry ``values`` skip embedding: they are only
    written, batched and concurrently like the rest.

    Sizing (see :func:`plan`): without ``concurrency``, requests in flight follow the work
    and the model's published rate limit; with it, embeddings and writes together stay
    within it. Embedding requests are further held under the model's per-minute limit by the
    client-wide limiter (on for Cloudflare's hosts; see :mod:`cloudflare_ai.ratelimit`), and
    under ``embed_requests_per_minute`` when given; writes under the API's limit.
    ``write_batch`` vectors go in one write request (≤ 5000). At most ``max_buffered``
    records are in memory at once, so an iterator of any length streams through.

    Each record is checked when read (id, namespace, metadata size with the text under
    ``text_key``), before any of it is sent; ``checked=True`` skips that (and the check of
    ``values`` given as 1-d float32 arrays) for records a caller has already checked. A bad
    record stops the ingestion: with nothing sent yet its
    :class:`~cloudflare_ai.errors.ValidationError` is raised as is; otherwise, as for a batch
    that still fails after retries or a usage budget's refusal,
    :class:`~cloudflare_ai.errors.PartialWriteError` lists what was and was not written
    (``__cause__``: the first failure); re-running with the same ids finishes the job
    without duplicates. A budget that refuses before anything was written raises its
    :class:`~cloudflare_ai.errors.BudgetExceededError` itself.
    """
    if embedder is None:
        if workers_ai is None:
            raise ValidationError("aingest needs workers_ai= or embedder=")
        embedder = _workers_ai_embedder(workers_ai, model, pooling, long_inputs)
    dims = dimensions
    if dims is None and workers_ai is not None and embedder is not None:
        info = get_model(model)
        dims = info.dimensions if info else None
    expected = len(records) if isinstance(records, Sized) else None
    sizing = plan(
        model if workers_ai is not None else None,
        concurrency=concurrency,
        embed_batch=embed_batch,
        write_batch=write_batch,
        max_buffered=max_buffered,
        expected=expected,
    )
    in_flight = asyncio.Semaphore(sizing.total_slots)  # embeddings and writes together
    # The model's published limit is the Workers AI client's (shared, in its transport).
    embed_limit = _Bounded(in_flight, sizing.embed_slots, embed_requests_per_minute)
    write_limit = _Bounded(in_flight, sizing.write_slots, write_requests_per_minute)
    memory = asyncio.Semaphore(sizing.buffered)  # records read but not yet written
    state = Progress()
    ids: list[str] = []
    mutations: list[str] = []
    failed: list[str] = []
    errors: list[BaseException] = []
    pending = ChunkBuffer(max_vectors=sizing.write_batch)
    embeds: set[asyncio.Task[None]] = set()
    writes: set[asyncio.Task[None]] = set()
    kind: WriteKind = "upsert" if upsert else "insert"
    embed_size = sizing.embed_batch

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

    def send(chunk: Chunk) -> None:
        writes.add(asyncio.create_task(write(chunk)))

    def flush() -> None:
        if len(pending):
            send(pending.take())

    def lines_ready(lines: Iterable[tuple[str, bytes]]) -> None:
        for vector_id, line in lines:
            full = pending.add(vector_id, line)
            if full is not None:
                send(full)

    async def embed(batch: list[Record]) -> None:
        try:
            if errors:
                raise RuntimeError("ingestion stopped")
            assert embedder is not None
            result = await embed_limit.run(lambda: embedder([r.text for r in batch]))
            state.embedded += len(batch)
            state.embed_requests += result.requests
            lines_ready(_encode_rows(batch, result.array, dims))
            report()
        except Exception as exc:  # reported through PartialWriteError
            if not isinstance(exc, RuntimeError) or not errors:
                errors.append(exc)
            failed.extend(r.id for r in batch)
            for _ in batch:
                memory.release()

    def precomputed(record: Record, position: int) -> None:
        """A record with its vector: encoded now, written with the next write batch."""
        nonlocal dims
        values = record.values
        already = (
            checked
            and isinstance(values, np.ndarray)
            and values.dtype == np.float32
            and values.ndim == 1
            and (dims is None or values.size == dims)
        )  # a caller's float32 array, checked by it (the LlamaIndex store's)
        if not already:
            values = check_values(values, dims, record.id, position)
        assert isinstance(values, np.ndarray)
        dims = dims or int(values.size)
        state.embedded += 1
        lines_ready(
            [(record.id, encode_vector(record.id, values, record.metadata, record.namespace))]
        )

    async def records_of() -> Any:
        if isinstance(records, AsyncIterable):
            async for item in records:
                yield item
        else:
            for item in records:
                yield item

    batch: list[Record] = []
    position = 0
    sent = False
    try:
        async for item in records_of():
            record = as_record(item, position)
            if not checked:
                record = checked_record(record, position, text_key)
            elif text_key is not None:
                record = replace(
                    record, metadata={**(record.metadata or {}), text_key: record.text}
                )
            await memory.acquire()
            state.read += 1
            if record.values is not None:
                try:
                    precomputed(record, position)
                except BaseException:
                    memory.release()
                    raise
            else:
                batch.append(record)
            position += 1
            if len(batch) >= embed_size:
                embeds = {t for t in embeds if not t.done()}
                embeds.add(asyncio.create_task(embed(batch)))
                batch = []
            sent = sent or bool(embeds or writes)
            if errors:
                break
    except ValidationError as exc:
        if not sent and not batch and not pending:
            raise
        errors.append(exc)
        failed.extend(r.id for r in batch)
        for _ in batch:
            memory.release()
        batch = []
    if batch and errors:  # read, never sent
        failed.extend(r.id for r in batch)
    elif batch:
        embeds.add(asyncio.create_task(embed(batch)))
    # Writes leave as embeddings arrive; the remainder once every embedding is in.
    await asyncio.gather(*embeds)
    if write_failed():
        failed.extend(pending.take().ids)
    flush()
    await asyncio.gather(*writes)
    if errors and not ids and isinstance(errors[0], BudgetExceededError):
        raise errors[0]  # refused before anything was sent: nothing to list
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


def pool_settings(settings: ClientSettings, slots: int) -> ClientSettings:
    """``settings`` whose connection pools hold ``slots`` requests at once (pools are sized
    from ``max_concurrency``), so the pipeline's requests go out together instead of queueing
    for a connection."""
    if slots <= settings.max_concurrency:
        return settings
    return settings.model_copy(update={"max_concurrency": slots})


def run_sync(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``main()`` on a private event loop: here, or, when the caller already
    runs a loop (a notebook cell, an async framework calling sync code), in a worker thread
    that carries the caller's context, so its usage trackers and budgets see the work."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    outcome: dict[str, Any] = {}

    def runner() -> None:
        try:
            outcome["value"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(runner,), name="cf-ingest")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


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
    environment; the clients' connection pools are sized to the plan's requests in flight."""
    resolved = settings or ClientSettings.resolve()
    sizing = plan(
        options.get("model", DEFAULT_EMBEDDING_MODEL),
        concurrency=options.get("concurrency"),
        embed_batch=options.get("embed_batch"),
        write_batch=options.get("write_batch"),
        max_buffered=options.get("max_buffered"),
    )
    resolved = pool_settings(resolved, sizing.total_slots)

    async def main() -> IngestReport:
        async with (
            AsyncWorkersAIClient(settings=resolved, retry=retry) as ai,
            AsyncVectorizeClient(settings=resolved, retry=retry) as db,
        ):
            return await aingest(records, index=index, workers_ai=ai, vectorize=db, **options)

    return run_sync(main)
