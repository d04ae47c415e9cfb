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
    from .costs import FREE_NEURONS_PER_DAY, Cost, Units, cost_of
    from .documents import TEXT_KEY, document_id
    from .errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BudgetExceededError,
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
    from .gateway_types import (
        AIGateway,
        GatewayAnalytics,
        GatewayLog,
        LogFilter,
        LogPage,
        ModelStats,
    )
    from .gateways import AIGatewayClient, AsyncAIGatewayClient
    from .media import MediaInput
    from .models import ModelInfo, ModelPrice, get_model, iter_models, list_models, require_model
    from .tokens import InputTruncatedWarning, estimate_tokens, input_token_limit
    from .transport import RetryPolicy
    from .types import (
        AudioResult,
        BinaryResult,
        Box,
        ChatChunk,
        ChatResponse,
        Detection,
        EmbeddingResponse,
        GatewayInfo,
        ImageResult,
        Index,
        IndexInfo,
        Label,
        Match,
        MetadataIndex,
        Mutation,
        QueryResult,
        Ranked,
        RunResult,
        ToolCall,
        Transcription,
        Usage,
        VectorIdPage,
        VectorRecord,
        Word,
        WriteResult,
    )
    from .usage import UsageTotals, UsageTracker, track_usage
    from .vectorize import AsyncVectorizeClient, Vector, VectorizeClient
    from .workers_ai import AsyncChatStream, AsyncWorkersAIClient, ChatStream, WorkersAIClient

#: Public name -> the submodule that defines it.
_EXPORTS: dict[str, str] = {
    "AIGateway": "gateway_types",
    "AIGatewayClient": "gateways",
    "AsyncAIGatewayClient": "gateways",
    "GatewayAnalytics": "gateway_types",
    "GatewayLog": "gateway_types",
    "LogFilter": "gateway_types",
    "LogPage": "gateway_types",
    "ModelStats": "gateway_types",
    "APIConnectionError": "errors",
    "APIError": "errors",
    "APITimeoutError": "errors",
    "AsyncChatStream": "workers_ai",
    "AsyncVectorizeClient": "vectorize",
    "AsyncWorkersAIClient": "workers_ai",
    "AudioResult": "types",
    "AuthenticationError": "errors",
    "BinaryResult": "types",
    "Box": "types",
    "BudgetExceededError": "errors",
    "CapacityError": "errors",
    "ChatChunk": "types",
    "ChatResponse": "types",
    "ChatStream": "workers_ai",
    "ClientSettings": "config",
    "CloudflareError": "errors",
    "Condition": "filters",
    "ConfigurationError": "errors",
    "ConflictError": "errors",
    "Cost": "costs",
    "Detection": "types",
    "EmbeddingResponse": "types",
    "FREE_NEURONS_PER_DAY": "costs",
    "Filter": "filters",
    "GatewayInfo": "types",
    "GatewaySettings": "config",
    "ImageResult": "types",
    "Index": "types",
    "IndexInfo": "types",
    "InputTruncatedWarning": "tokens",
    "InvalidRequestError": "errors",
    "Label": "types",
    "Match": "types",
    "MediaInput": "media",
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
    "Ranked": "types",
    "RateLimitError": "errors",
    "RetryPolicy": "transport",
    "RunResult": "types",
    "ServerError": "errors",
    "StreamError": "errors",
    "TEXT_KEY": "documents",
    "ToolCall": "types",
    "Transcription": "types",
    "UnindexedFilterWarning": "filters",
    "Units": "costs",
    "UnsupportedFilterError": "filters",
    "Usage": "types",
    "UsageTotals": "usage",
    "UsageTracker": "usage",
    "ValidationError": "errors",
    "Vector": "vectorize",
    "VectorIdPage": "types",
    "VectorRecord": "types",
    "VectorizeClient": "vectorize",
    "Word": "types",
    "WorkersAIClient": "workers_ai",
    "WriteResult": "types",
    "cost_of": "costs",
    "document_id": "documents",
    "estimate_tokens": "tokens",
    "get_model": "models",
    "input_token_limit": "tokens",
    "iter_models": "models",
    "list_models": "models",
    "require_model": "models",
    "track_usage": "usage",
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
    "FREE_NEURONS_PER_DAY",
    "TEXT_KEY",
    "AIGateway",
    "AIGatewayClient",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncAIGatewayClient",
    "AsyncChatStream",
    "AsyncVectorizeClient",
    "AsyncWorkersAIClient",
    "AudioResult",
    "AuthenticationError",
    "BinaryResult",
    "Box",
    "BudgetExceededError",
    "CapacityError",
    "ChatChunk",
    "ChatResponse",
    "ChatStream",
    "ClientSettings",
    "CloudflareError",
    "Condition",
    "ConfigurationError",
    "ConflictError",
    "Cost",
    "Detection",
    "EmbeddingResponse",
    "Filter",
    "GatewayAnalytics",
    "GatewayInfo",
    "GatewayLog",
    "GatewaySettings",
    "ImageResult",
    "Index",
    "IndexInfo",
    "InputTruncatedWarning",
    "InvalidRequestError",
    "Label",
    "LogFilter",
    "LogPage",
    "Match",
    "MediaInput",
    "MetadataIndex",
    "ModelInfo",
    "ModelPrice",
    "ModelStats",
    "Mutation",
    "MutationTimeoutError",
    "NotFoundError",
    "PartialWriteError",
    "PermissionDeniedError",
    "QueryResult",
    "QuotaExceededError",
    "Ranked",
    "RateLimitError",
    "RetryPolicy",
    "RunResult",
    "ServerError",
    "StreamError",
    "ToolCall",
    "Transcription",
    "UnindexedFilterWarning",
    "Units",
    "UnsupportedFilterError",
    "Usage",
    "UsageTotals",
    "UsageTracker",
    "ValidationError",
    "Vector",
    "VectorIdPage",
    "VectorRecord",
    "VectorizeClient",
    "Word",
    "WorkersAIClient",
    "WriteResult",
    "__version__",
    "cost_of",
    "document_id",
    "estimate_tokens",
    "get_model",
    "input_token_limit",
    "iter_models",
    "list_models",
    "require_model",
    "track_usage",
]
