"""``WorkersAIEmbedding``: LlamaIndex embeddings over Workers AI embedding models."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field

from ..connection import CloudflareConnection
from ..models import DEFAULT_EMBEDDING_MODEL, get_model
from ..pipeline import derived_embed_concurrency
from ..tokens import LongInputs


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


class WorkersAIEmbedding(CloudflareConnection, BaseEmbedding):
    """Embed text with a Workers AI model (default ``@cf/baai/bge-base-en-v1.5``).

    LlamaIndex hands over up to ``embed_batch_size`` texts at a time (default 2048, its
    maximum); the core splits them at the model's own limit (100 for BGE, 32 for
    qwen3-embedding) and sends those requests concurrently within ``max_concurrency`` (when
    unset: derived from the model's published rate limit), keeping input order.
    """

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL, description="Workers AI model.")
    #: LlamaIndex's largest: ``VectorStoreIndex`` embeds each insert batch (2048 nodes) in one
    #: call, whose requests are then all in flight together.
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

    def __repr_args__(self) -> Any:
        return [(k, v) for k, v in super().__repr_args__() if k != "api_token"]
