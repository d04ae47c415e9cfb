"""``WorkersAIEmbeddings``: LangChain embeddings over Workers AI embedding models."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import Field

from ..connection import CloudflareConnection
from ..models import DEFAULT_EMBEDDING_MODEL, get_model
from ..pipeline import derived_embed_concurrency
from ..tokens import LongInputs


def _floats(vectors: list[list[float]]) -> list[list[float]]:
    """Plain Python floats (JSON may decode whole numbers as ints)."""
    if not vectors:
        return []
    array: list[list[float]] = np.asarray(vectors, dtype=np.float64).tolist()
    return array


def _lists(array: np.ndarray[Any, Any]) -> list[list[float]]:
    """Document embeddings as lists of Python floats, from the float64 matrix the core
    decoded: exactly the values Workers AI sent, with no per-value validation on the way."""
    out: list[list[float]] = array.tolist()
    return out


class WorkersAIEmbeddings(CloudflareConnection, Embeddings):
    """Embed text with a Workers AI model (default ``@cf/baai/bge-base-en-v1.5``, 768 dims).

    Texts are sent in batches at the model's limit (100 for BGE, 32 for qwen3-embedding),
    several batches at a time within ``max_concurrency``, and come back in input order.
    ``pooling="cls"`` gives better embeddings of long inputs on BGE models (not compatible
    with the default ``mean`` pooling).
    """

    model: str = Field(default=DEFAULT_EMBEDDING_MODEL, alias="model_name")
    pooling: Literal["mean", "cls"] | None = None
    long_inputs: LongInputs = Field(
        default="truncate",
        description="Texts over the model's input limit (512 tokens for BGE): 'truncate' "
        "embeds their beginning with an InputTruncatedWarning naming the chunk size to use; "
        "'error' raises ValidationError before sending.",
    )
    batch_size: int | None = Field(
        default=None, description="Texts per request; defaults to the model's limit."
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
        return derived_embed_concurrency(self.model)

    @property
    def dimensions(self) -> int | None:
        """Vector length of the model, from the model table (None if unknown)."""
        info = get_model(self.model)
        return info.dimensions if info else None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        result = self.workers_ai.embed_array(
            texts,
            model=self.model,
            pooling=self.pooling,
            long_inputs=self.long_inputs,
            batch_size=self.batch_size,
            precision="float64",
        )
        return _lists(result.array)

    def embed_query(self, text: str) -> list[float]:
        vector = self.workers_ai.embed_query(
            text, model=self.model, pooling=self.pooling, long_inputs=self.long_inputs
        )
        return _floats([vector])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        result = await self.async_workers_ai.embed_array(
            texts,
            model=self.model,
            pooling=self.pooling,
            long_inputs=self.long_inputs,
            batch_size=self.batch_size,
            precision="float64",
        )
        return _lists(result.array)

    async def aembed_query(self, text: str) -> list[float]:
        client = self.async_workers_ai
        vector = await client.embed_query(
            text, model=self.model, pooling=self.pooling, long_inputs=self.long_inputs
        )
        return _floats([vector])[0]
