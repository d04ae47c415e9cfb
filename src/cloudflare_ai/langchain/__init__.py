"""LangChain adapters: thin translations between LangChain's interfaces and the core clients.

``ChatWorkersAI`` (chat model), ``WorkersAI`` (completion LLM), ``WorkersAIEmbeddings``,
``VectorizeVectorStore``, ``WorkersAIReranker`` (a document compressor), the task tools
(``WorkersAIToolkit``: images, translation, summaries, speech to text, image classification),
``WorkersAIAudioParser`` (a blob parser for ``GenericLoader``) and
``get_cloudflare_usage_callback`` (tokens, neurons and USD of every call in a block). Requires
the ``langchain`` extra (``langchain-core``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .audio import WorkersAIAudioParser
    from .callbacks import CloudflareUsageCallbackHandler, get_cloudflare_usage_callback
    from .chat_models import ChatWorkersAI
    from .embeddings import WorkersAIEmbeddings
    from .llms import WorkersAI
    from .rerank import WorkersAIReranker
    from .task_tools import (
        ClassifyImageTool,
        GenerateImageTool,
        SummarizeTool,
        TranscribeAudioTool,
        TranslateTool,
        WorkersAIToolkit,
    )
    from .vectorstores import VectorizeVectorStore

_EXPORTS = {
    "ChatWorkersAI": "chat_models",
    "WorkersAI": "llms",
    "WorkersAIEmbeddings": "embeddings",
    "VectorizeVectorStore": "vectorstores",
    "WorkersAIReranker": "rerank",
    "WorkersAIAudioParser": "audio",
    "WorkersAIToolkit": "task_tools",
    "GenerateImageTool": "task_tools",
    "TranslateTool": "task_tools",
    "SummarizeTool": "task_tools",
    "TranscribeAudioTool": "task_tools",
    "ClassifyImageTool": "task_tools",
    "CloudflareUsageCallbackHandler": "callbacks",
    "get_cloudflare_usage_callback": "callbacks",
}

__all__ = [
    "ChatWorkersAI",
    "ClassifyImageTool",
    "CloudflareUsageCallbackHandler",
    "GenerateImageTool",
    "SummarizeTool",
    "TranscribeAudioTool",
    "TranslateTool",
    "VectorizeVectorStore",
    "WorkersAI",
    "WorkersAIAudioParser",
    "WorkersAIEmbeddings",
    "WorkersAIReranker",
    "WorkersAIToolkit",
    "get_cloudflare_usage_callback",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
