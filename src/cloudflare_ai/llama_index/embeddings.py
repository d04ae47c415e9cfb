"""``WorkersAIEmbedding``: LlamaIndex embeddings over Workers AI embedding models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
from llama_index.core.base.embeddings import base as _llama_base
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.callbacks.schema import CBEventType, EventPayload
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)
from pydantic import Field

from ..connection import CloudflareConnection
from ..models import DEFAULT_EMBEDDING_MODEL, get_model
from ..pipeline import derived_embed_concurrency
from ..tokens import LongInputs

#: The dispatcher LlamaIndex's own ``BaseEmbedding`` sends its embedding events through: ours
#: go through the same one, so handlers attached anywhere on its path see them as before.
_events_dispatcher = _llama_base.dispatcher


def _floats(vectors: list[list[float]]) -> list[list[float]]:
    if not vectors:
        return []
    out: list[list[float]] = np.asarray(vectors, dtype=np.float64).tolist()
    return out


def _lists(array: np.ndarray[Any, Any]) -> list[list[float]]:
    """Document embeddings as lists of Python floats, from the float64 matrix the core
    decoded: exactly the values Workers AI sent, with no per-value validation on the way."""
    out: list[list[float]] = array.tolist()
    return out


class _BatchEvents:
    """The events LlamaIndex's ``get_text_embedding_batch`` emits, for one call that embeds
    every text at once.

    The base class embeds ``embed_batch_size`` texts at a time, one call after the other,
    and wraps each call in an ``EmbeddingStartEvent`` / ``EmbeddingEndEvent`` pair and a
    callback-manager ``EMBEDDING`` event whose end carries that batch's chunks and
    embeddings. Handlers (token counters, tracers) rely on those, so they are kept batch for
    batch: every batch's start is emitted before the single call (as the base class's async
    form does), every batch's end after it, with that batch's slice of texts and vectors. A
    failed call ends every open callback event with the exception, as the base class's
    ``callback_manager.event`` context does, and emits no ``EmbeddingEndEvent``.
    """

    def __init__(self, model: BaseEmbedding, texts: list[str]) -> None:
        self.model = model
        self.texts = texts
        size = model.embed_batch_size
        self.spans = [(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]
        payload = model.to_payload()
        self.event_ids: list[str] = []
        for _ in self.spans:
            _events_dispatcher.event(EmbeddingStartEvent(model_dict=payload))
            self.event_ids.append(
                model.callback_manager.on_event_start(
                    CBEventType.EMBEDDING, payload={EventPayload.SERIALIZED: payload}
                )
            )

    @contextmanager
    def failing(self) -> Iterator[None]:
        """End every open callback event with the exception raised inside, then re-raise."""
        try:
            yield
        except Exception as exc:
            payload: dict[str, Any] | None = (
                None if hasattr(exc, "event_added") else {EventPayload.EXCEPTION: exc}
            )
            for event_id in self.event_ids:
                self.model.callback_manager.on_event_end(
                    CBEventType.EMBEDDING, payload=payload, event_id=event_id
                )
            exc.event_added = True  # type: ignore[attr-defined]
            raise

    def finish(self, embeddings: list[Embedding], show_progress: bool) -> None:
        """Each batch's end events, in input order, with its slice of texts and vectors.

        The ``EmbeddingEndEvent`` is built without pydantic validation: its vectors are the
        lists of floats just decoded, and validating would check and copy every value
        (~90 ms for 2,000 vectors of 768) only to hand handlers the same numbers."""
        bar = _progress_bar(len(self.texts)) if show_progress else None
        for (start, end), event_id in zip(self.spans, self.event_ids, strict=True):
            chunks, vectors = self.texts[start:end], embeddings[start:end]
            self.model.callback_manager.on_event_end(
                CBEventType.EMBEDDING,
                payload={EventPayload.CHUNKS: chunks, EventPayload.EMBEDDINGS: vectors},
                event_id=event_id,
            )
            _events_dispatcher.event(
                EmbeddingEndEvent.model_construct(chunks=chunks, embeddings=vectors)
            )
            if bar is not None:
                bar.update(end - start)
        if bar is not None:
            bar.close()


def _progress_bar(total: int) -> Any:
    """LlamaIndex's "Generating embeddings" bar over ``total`` texts (None without tqdm)."""
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - tqdm comes with llama-index-core
        return None
    return tqdm(total=total, desc="Generating embeddings")


class WorkersAIEmbedding(CloudflareConnection, BaseEmbedding):
    """Embed text with a Workers AI model (default ``@cf/baai/bge-base-en-v1.5``).

    ``get_text_embedding_batch`` (what ``VectorStoreIndex``, ``IngestionPipeline`` and
    ``embed_nodes`` call) sends all its texts in one core call, whatever
    ``embed_batch_size``: the core splits them at the model's own limit (100 for BGE, 32 for
    qwen3-embedding) and sends those requests concurrently within ``max_concurrency`` (when
    unset: derived from the model's published rate limit), keeping input order. LlamaIndex's
    events, callbacks, cache, rate limiter and progress bar behave as with its base class
    (see :meth:`get_text_embedding_batch`).
    """

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL, description="Workers AI model.")
    #: LlamaIndex's largest. Batch calls embed every text at once anyway; this size only sets
    #: how texts are grouped in LlamaIndex's embedding events and rate-limiter acquisitions.
    embed_batch_size: int = Field(default=2048, gt=0, le=2048)
    pooling: Literal["mean", "cls"] | None = None
    long_inputs: LongInputs = Field(
        default="truncate",
        description="Texts over the model's input limit (512 tokens for BGE): 'truncate' "
        "embeds their beginning with an InputTruncatedWarning naming the chunk size to use; "
        "'error' raises ValidationError before sending.",
    )
    query_cache_size: int = Field(
        default=0, ge=0, description="Remember this many query embeddings (0: no cache)."
    )

    def _client_options(self) -> dict[str, Any]:
        return {"query_cache_size": self.query_cache_size}

    def _default_max_concurrency(self) -> int | None:
        """Unless ``max_concurrency`` is set: one second's worth of the model's published
        requests-per-minute limit in flight (at most 32: 32 for BGE), so the batches of a large
        call go out together (the shared rate limiter still paces them on Cloudflare's hosts)."""
        return derived_embed_concurrency(self.model_name)

    @classmethod
    def class_name(cls) -> str:
        return "CloudflareWorkersAIEmbedding"

    @property
    def dimensions(self) -> int | None:
        info = get_model(self.model_name)
        return info.dimensions if info else None

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """Document embeddings, decoded straight into a matrix and handed to LlamaIndex as
        lists (the exact values sent; no per-value validation on the way)."""
        if not texts:
            return []
        result = self.workers_ai.embed_array(
            texts,
            model=self.model_name,
            pooling=self.pooling,
            long_inputs=self.long_inputs,
            precision="float64",
        )
        return _lists(result.array)

    async def _aembed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        result = await self.async_workers_ai.embed_array(
            texts,
            model=self.model_name,
            pooling=self.pooling,
            long_inputs=self.long_inputs,
            precision="float64",
        )
        return _lists(result.array)

    def _get_query_embedding(self, query: str) -> list[float]:
        vector = self.workers_ai.embed_query(
            query, model=self.model_name, pooling=self.pooling, long_inputs=self.long_inputs
        )
        return _floats([vector])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        client = self.async_workers_ai
        vector = await client.embed_query(
            query, model=self.model_name, pooling=self.pooling, long_inputs=self.long_inputs
        )
        return _floats([vector])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aembed([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._aembed(texts)

    # --- many texts: one core call --------------------------------------------------------
    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Embed ``texts``, in order, with ONE core ``embed_array`` call for all of them.

        LlamaIndex's base class cuts ``texts`` into ``embed_batch_size`` batches and embeds
        them one after the other; the core already splits a call at the model's request
        limit and sends those requests concurrently, so here every text goes in one call and
        ``embed_batch_size`` only shapes the events (see :class:`_BatchEvents`) and how many
        times a ``rate_limiter`` is acquired (once per batch, as before). With an
        ``embeddings_cache`` the cache is read per text and the misses embedded in one call.
        ``show_progress`` shows LlamaIndex's "Generating embeddings" bar, which advances
        batch by batch once the embeddings are in."""
        texts = list(texts)
        if not texts:
            return []
        events = _BatchEvents(self, texts)
        with events.failing():
            if self.rate_limiter is not None:
                for _ in events.spans:
                    self.rate_limiter.acquire()
            if self.embeddings_cache:
                embeddings = self._get_text_embeddings_cached(texts)
            else:
                embeddings = self._get_text_embeddings(texts)
        events.finish(embeddings, show_progress)
        return embeddings

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Asynchronous :meth:`get_text_embedding_batch`: one core call for every text
        (``num_workers`` is not needed: the core's own concurrency applies)."""
        texts = list(texts)
        if not texts:
            return []
        events = _BatchEvents(self, texts)
        with events.failing():
            if self.rate_limiter is not None:
                for _ in events.spans:
                    await self.rate_limiter.async_acquire()
            if self.embeddings_cache:
                embeddings = await self._aget_text_embeddings_cached(texts)
            else:
                embeddings = await self._aget_text_embeddings(texts)
        events.finish(embeddings, show_progress)
        return embeddings

    def __repr_args__(self) -> Any:
        return [(k, v) for k, v in super().__repr_args__() if k != "api_token"]
