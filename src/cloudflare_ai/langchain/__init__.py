"""LangChain adapters: thin translations between LangChain's interfaces and the core clients.

``ChatWorkersAI`` (chat model), ``WorkersAI`` (completion LLM), ``WorkersAIEmbeddings`` and
``VectorizeVectorStore``. Requires the ``langchain`` extra (``langchain-core``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chat_models import ChatWorkersAI
    from .embeddings import WorkersAIEmbeddings
    from .llms import WorkersAI
    from .vectorstores import VectorizeVectorStore

_EXPORTS = {
    "ChatWorkersAI": "chat_models",
    "WorkersAI": "llms",
    "WorkersAIEmbeddings": "embeddings",
    "VectorizeVectorStore": "vectorstores",
}

__all__ = ["ChatWorkersAI", "VectorizeVectorStore", "WorkersAI", "WorkersAIEmbeddings"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
