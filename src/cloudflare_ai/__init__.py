"""Cloudflare Workers AI and Vectorize for Python RAG code.

One httpx-based core (this package) with sync and async clients; LangChain and LlamaIndex
adapters in :mod:`cloudflare_ai.langchain` and :mod:`cloudflare_ai.llama_index`; a local
emulator of the REST APIs in :mod:`cloudflare_ai_local`.
"""

__version__ = "0.1.0"

from .config import ClientSettings, GatewaySettings
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
from .models import ModelInfo, get_model, iter_models, require_model
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

__all__ = [
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
    "ConfigurationError",
    "ConflictError",
    "EmbeddingResponse",
    "GatewayInfo",
    "GatewaySettings",
    "Index",
    "IndexInfo",
    "InputTruncatedWarning",
    "InvalidRequestError",
    "Match",
    "MetadataIndex",
    "ModelInfo",
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
    "Usage",
    "ValidationError",
    "Vector",
    "VectorIdPage",
    "VectorRecord",
    "VectorizeClient",
    "WorkersAIClient",
    "WriteResult",
    "__version__",
    "estimate_tokens",
    "get_model",
    "input_token_limit",
    "iter_models",
    "require_model",
]
