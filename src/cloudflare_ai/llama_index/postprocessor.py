"""``WorkersAIRerank``: a LlamaIndex node postprocessor that reorders retrieved nodes with a
Workers AI reranker (``@cf/baai/bge-reranker-base``)::

    engine = index.as_query_engine(
        similarity_top_k=20, node_postprocessors=[WorkersAIRerank(top_n=3)]
    )

Scoring happens in the core (:meth:`cloudflare_ai.WorkersAIClient.rerank`); this class only
maps nodes to passages and back, replacing each node's score with the reranker's.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from pydantic import Field

from ..connection import CloudflareConnection

DEFAULT_RERANK_MODEL = "@cf/baai/bge-reranker-base"


class WorkersAIRerank(CloudflareConnection, BaseNodePostprocessor):
    """Reorder nodes by their relevance to the query, best first, keeping ``top_n``."""

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="Workers AI reranker model.")
    top_n: int | None = Field(default=3, ge=1, description="Nodes kept (None: all).")

    @classmethod
    def class_name(cls) -> str:
        return "WorkersAIRerank"

    @staticmethod
    def _passages(nodes: list[NodeWithScore]) -> list[str]:
        return [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]

    @staticmethod
    def _query(query_bundle: QueryBundle | None) -> str:
        if query_bundle is None:
            raise ValueError("WorkersAIRerank needs the query (query_bundle or query_str)")
        return query_bundle.query_str

    @staticmethod
    def _ranked(nodes: list[NodeWithScore], ranking: Any) -> list[NodeWithScore]:
        return [NodeWithScore(node=nodes[r.index].node, score=r.score) for r in ranking]

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        ranking = self.workers_ai.rerank(
            self._query(query_bundle), self._passages(nodes), top_k=self.top_n, model=self.model
        )
        return self._ranked(nodes, ranking)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        ranking = await self.async_workers_ai.rerank(
            self._query(query_bundle), self._passages(nodes), top_k=self.top_n, model=self.model
        )
        return self._ranked(nodes, ranking)
