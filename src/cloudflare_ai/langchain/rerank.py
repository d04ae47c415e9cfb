"""``WorkersAIReranker``: a LangChain document compressor that reorders retrieved documents
with a Workers AI reranker (``@cf/baai/bge-reranker-base``).

Use it where LangChain takes a compressor, typically a ``ContextualCompressionRetriever``::

    retriever = ContextualCompressionRetriever(
        base_compressor=WorkersAIReranker(top_n=3),
        base_retriever=store.as_retriever(search_kwargs={"k": 20}),
    )

Scoring happens in the core (:meth:`cloudflare_ai.WorkersAIClient.rerank`); this class only
maps documents to passages and back, keeping each document's id and metadata and adding the
score as ``metadata["relevance_score"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field

from ..connection import CloudflareConnection

DEFAULT_RERANK_MODEL = "@cf/baai/bge-reranker-base"


class WorkersAIReranker(CloudflareConnection, BaseDocumentCompressor):
    """Reorder documents by their relevance to the query, best first, keeping ``top_n``."""

    model: str = Field(default=DEFAULT_RERANK_MODEL, alias="model_name")
    top_n: int | None = Field(default=3, ge=1, description="Documents kept (None: all).")

    def _ranked(self, documents: Sequence[Document], ranking: Sequence[Any]) -> list[Document]:
        out = []
        for ranked in ranking:
            document = documents[ranked.index]
            out.append(
                Document(
                    page_content=document.page_content,
                    metadata={**document.metadata, "relevance_score": ranked.score},
                    id=document.id,
                )
            )
        return out

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        if not documents:
            return []
        ranking = self.workers_ai.rerank(
            query, [d.page_content for d in documents], top_k=self.top_n, model=self.model
        )
        return self._ranked(documents, ranking)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        if not documents:
            return []
        ranking = await self.async_workers_ai.rerank(
            query, [d.page_content for d in documents], top_k=self.top_n, model=self.model
        )
        return self._ranked(documents, ranking)
