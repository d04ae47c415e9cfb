"""LlamaIndex adapters: thin translations between LlamaIndex's interfaces and the core clients.

``WorkersAI`` (a function-calling LLM), ``WorkersAIEmbedding``, ``VectorizeVectorStore``,
``WorkersAIRerank`` (a node postprocessor), ``WorkersAIToolSpec`` (the Workers AI tasks as agent
tools), ``WorkersAIAudioReader`` (speech to text for ``SimpleDirectoryReader``) and
``CloudflareUsageHandler`` (tokens, neurons and USD of the calls of a query or agent run).
Requires the ``llama-index`` extra (``llama-index-core``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .callbacks import CloudflareUsageHandler
    from .embeddings import WorkersAIEmbedding
    from .llms import WorkersAI
    from .postprocessor import WorkersAIRerank
    from .readers import WorkersAIAudioReader
    from .tool_spec import WorkersAIToolSpec
    from .vector_stores import VectorizeVectorStore

_EXPORTS = {
    "CloudflareUsageHandler": "callbacks",
    "WorkersAI": "llms",
    "WorkersAIEmbedding": "embeddings",
    "VectorizeVectorStore": "vector_stores",
    "WorkersAIRerank": "postprocessor",
    "WorkersAIAudioReader": "readers",
    "WorkersAIToolSpec": "tool_spec",
}

__all__ = [
    "CloudflareUsageHandler",
    "VectorizeVectorStore",
    "WorkersAI",
    "WorkersAIAudioReader",
    "WorkersAIEmbedding",
    "WorkersAIRerank",
    "WorkersAIToolSpec",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
