"""Cloudflare Workers AI and Vectorize for Python RAG code.

One httpx-based core (this package) with sync and async clients; LangChain and LlamaIndex
adapters in :mod:`cloudflare_ai.langchain` and :mod:`cloudflare_ai.llama_index`; a local
emulator of the REST APIs in :mod:`cloudflare_ai_local`.

The names below are imported on first use (PEP 562), so ``import cloudflare_ai`` stays cheap
and a program that only needs, say, the model table never loads httpx, pydantic or numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .config import ClientSettings, GatewaySettings
    from .documents import TEXT_KEY, document_id
    from .errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        CapacityError,
        CloudflareError,
        ConfigurationError,
        ConflictError,
        InvalidRequestError,
        MutationTimeoutError,
        NotFoundError,
        PartialWriteError,
        PermissionDeniedError,
        QuotaExceededError,
        RateLimitError,
        ServerError,
        StreamError,
        ValidationError,
    )
    from .filters import Condition, Filter, UnindexedFilterWarning, UnsupportedFilterError
    from .models import ModelInfo, ModelPrice, get_model, iter_models, list_models, require_model
    from .tokens import InputTruncatedWarning, estimate_tokens, input_token_limit
    from .transport import RetryPolicy
    from .types import (
        ChatChunk,
        ChatResponse,
        EmbeddingResponse,
        GatewayInfo,
        Index,
        IndexInfo,
        Match,
        MetadataIndex,
        Mutation,
        QueryResult,
        RunResult,
        ToolCall,
        Usage,
        VectorIdPage,
        VectorRecord,
        WriteResult,
    )
    from .vectorize import AsyncVectorizeClient, Vector, VectorizeClient
    from .workers_ai import AsyncChatStream, AsyncWorkersAIClient, ChatStream, WorkersAIClient

#: Public name -> the submodule that defines it.
_EXPORTS: dict[str, str] = {
    "APIConnectionError": "errors",
    "APIError": "errors",
    "APITimeoutError": "errors",
    "AsyncChatStream": "workers_ai",
    "AsyncVectorizeClient": "vectorize",
    "AsyncWorkersAIClient": "workers_ai",
    "AuthenticationError": "errors",
    "CapacityError": "errors",
    "ChatChunk": "types",
    "ChatResponse": "types",
    "ChatStream": "workers_ai",
    "ClientSettings": "config",
    "CloudflareError": "errors",
    "Condition": "filters",
    "ConfigurationError": "errors",
    "ConflictError": "errors",
    "EmbeddingResponse": "types",
    "Filter": "filters",
    "GatewayInfo": "types",
    "GatewaySettings": "config",
    "Index": "types",
    "IndexInfo": "types",
    "InputTruncatedWarning": "tokens",
    "InvalidRequestError": "errors",
    "Match": "types",
    "MetadataIndex": "types",
    "ModelInfo": "models",
    "ModelPrice": "models",
    "Mutation": "types",
    "MutationTimeoutError": "errors",
    "NotFoundError": "errors",
    "PartialWriteError": "errors",
    "PermissionDeniedError": "errors",
    "QueryResult": "types",
    "QuotaExceededError": "errors",
    "RateLimitError": "errors",
    "RetryPolicy": "transport",
    "RunResult": "types",
    "ServerError": "errors",
    "StreamError": "errors",
    "TEXT_KEY": "documents",
    "ToolCall": "types",
    "UnindexedFilterWarning": "filters",
    "UnsupportedFilterError": "filters",
    "Usage": "types",
    "ValidationError": "errors",
    "Vector": "vectorize",
    "VectorIdPage": "types",
    "VectorRecord": "types",
    "VectorizeClient": "vectorize",
    "WorkersAIClient": "workers_ai",
    "WriteResult": "types",
    "document_id": "documents",
    "estimate_tokens": "tokens",
    "get_model": "models",
    "input_token_limit": "tokens",
    "iter_models": "models",
    "list_models": "models",
    "require_model": "models",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "TEXT_KEY",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncVectorizeClient",
    "AsyncWorkersAIClient",
    "AuthenticationError",
    "CapacityError",
    "ChatChunk",
    "ChatResponse",
    "ChatStream",
    "ClientSettings",
    "CloudflareError",
    "Condition",
    "ConfigurationError",
    "ConflictError",
    "EmbeddingResponse",
    "Filter",
    "GatewayInfo",
    "GatewaySettings",
    "Index",
    "IndexInfo",
    "InputTruncatedWarning",
    "InvalidRequestError",
    "Match",
    "MetadataIndex",
    "ModelInfo",
    "ModelPrice",
    "Mutation",
    "MutationTimeoutError",
    "NotFoundError",
    "PartialWriteError",
    "PermissionDeniedError",
    "QueryResult",
    "QuotaExceededError",
    "RateLimitError",
    "RetryPolicy",
    "RunResult",
    "ServerError",
    "StreamError",
    "ToolCall",
    "UnindexedFilterWarning",
    "UnsupportedFilterError",
    "Usage",
    "ValidationError",
    "Vector",
    "VectorIdPage",
    "VectorRecord",
    "VectorizeClient",
    "WorkersAIClient",
    "WriteResult",
    "__version__",
    "document_id",
    "estimate_tokens",
    "get_model",
    "input_token_limit",
    "iter_models",
    "list_models",
    "require_model",
]
