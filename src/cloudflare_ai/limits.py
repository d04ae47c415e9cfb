"""Cloudflare's published limits, in one place.

The client validates against these before sending, and the local emulator enforces the same
numbers, so a request that passes here is one Cloudflare accepts. Sources: Vectorize limits page
(2026 render), the Vectorize OpenAPI schemas, the Workers AI limits page and the AI Gateway docs.
"""

from __future__ import annotations

from typing import Final, Literal

# --- Vectorize -------------------------------------------------------------------------------
MAX_DIMENSIONS: Final = 1536
MIN_DIMENSIONS: Final = 1
MAX_ID_BYTES: Final = 64
MAX_NAMESPACE_BYTES: Final = 64
MAX_INDEX_NAME_BYTES: Final = 64
#: Index names: lower-case letters first, then letters, digits, ``-`` and ``_``.
INDEX_NAME_PATTERN: Final = r"^([a-z]+[a-z0-9_-]*[a-z0-9]+)$"
MAX_METADATA_BYTES: Final = 10 * 1024
#: Upper limits on ``topK``: 100 in general, 50 when values or all metadata are returned.
MAX_TOP_K: Final = 100
MAX_TOP_K_WITH_VALUES_OR_METADATA: Final = 50
DEFAULT_TOP_K: Final = 5
#: Vectors per insert/upsert request over HTTP (the Workers binding allows 1000).
MAX_VECTORS_PER_WRITE: Final = 5000
#: Bytes per insert/upsert request body.
MAX_WRITE_BYTES: Final = 100 * 1000 * 1000
MAX_IDS_PER_REQUEST: Final = 1000  # get_by_ids / delete_by_ids; UNCERTAIN: no documented cap.
MAX_LIST_COUNT: Final = 1000
DEFAULT_LIST_COUNT: Final = 100
MAX_METADATA_INDEXES: Final = 10
#: Strings are indexed on their first 64 bytes (cut on a UTF-8 boundary).
MAX_INDEXED_METADATA_BYTES: Final = 64
#: Compact JSON of a filter must be shorter than this.
MAX_FILTER_BYTES: Final = 2048
MAX_FILTER_KEY_CHARS: Final = 512

Metric = Literal["cosine", "euclidean", "dot-product"]
METRICS: Final[tuple[str, ...]] = ("cosine", "euclidean", "dot-product")
MetadataIndexType = Literal["string", "number", "boolean"]
METADATA_INDEX_TYPES: Final[tuple[str, ...]] = ("string", "number", "boolean")
ReturnMetadata = Literal["none", "indexed", "all"]

EQUALITY_OPERATORS: Final = frozenset({"$eq", "$ne"})
SET_OPERATORS: Final = frozenset({"$in", "$nin"})
LOWER_BOUND_OPERATORS: Final = frozenset({"$gt", "$gte"})
UPPER_BOUND_OPERATORS: Final = frozenset({"$lt", "$lte"})
RANGE_OPERATORS: Final = LOWER_BOUND_OPERATORS | UPPER_BOUND_OPERATORS
FILTER_OPERATORS: Final = EQUALITY_OPERATORS | SET_OPERATORS | RANGE_OPERATORS

#: Index presets and the configuration they imply. The dimensions are the models' own; the
#: metric Cloudflare picks per preset is not documented (UNCERTAIN), cosine is assumed.
PRESETS: Final[dict[str, tuple[int, str]]] = {
    "@cf/baai/bge-small-en-v1.5": (384, "cosine"),
    "@cf/baai/bge-base-en-v1.5": (768, "cosine"),
    "@cf/baai/bge-large-en-v1.5": (1024, "cosine"),
    "openai/text-embedding-ada-002": (1536, "cosine"),
    "cohere/embed-multilingual-v2.0": (768, "cosine"),
}

# --- Workers AI ------------------------------------------------------------------------------
#: Cloudflare API global limit: 1200 requests per five minutes per user.
API_REQUESTS_PER_FIVE_MINUTES: Final = 1200

#: The window of Workers AI's request limits, in seconds ("requests per minute").
WORKERS_AI_REQUESTS_PER_MINUTE_WINDOW: Final = 60.0

#: Requests per minute by task (Workers AI limits page, cloudflare-api.md §1.14), keyed by the
#: model table's task names. The page has no row for text-to-speech or voice activity
#: detection: no limit is assumed for them (UNCERTAIN). The reranker is catalogued as Text
#: Classification, so it gets that row (UNCERTAIN: the page does not name it). Beta models
#: "may be lower" (UNCERTAIN: by how much is not published).
WORKERS_AI_RATE_LIMITS: Final[dict[str, int]] = {
    "automatic-speech-recognition": 720,
    "image-classification": 3000,
    "image-to-text": 720,
    "object-detection": 3000,
    "summarization": 1500,
    "text-classification": 2000,
    "reranking": 2000,
    "text-embeddings": 3000,
    "text-generation": 300,
    "text-to-image": 720,
    "translation": 720,
}
#: The page's per-model exceptions to :data:`WORKERS_AI_RATE_LIMITS`.
WORKERS_AI_RATE_LIMIT_EXCEPTIONS: Final[dict[str, int]] = {
    "@cf/baai/bge-large-en-v1.5": 1500,
    "@hf/thebloke/mistral-7b-instruct-v0.1-awq": 400,
    "@cf/microsoft/phi-2": 720,
    "@cf/qwen/qwen1.5-0.5b-chat": 1500,
    "@cf/qwen/qwen1.5-1.8b-chat": 720,
    "@cf/qwen/qwen1.5-14b-chat-awq": 150,
    "@cf/tinyllama/tinyllama-1.1b-chat-v1.0": 720,
    "@cf/runwayml/stable-diffusion-v1-5-img2img": 1500,
}

# --- AI Gateway ------------------------------------------------------------------------------
GATEWAY_MIN_CACHE_TTL: Final = 60
GATEWAY_MAX_CACHE_TTL: Final = 30 * 24 * 3600  # "one month"
GATEWAY_MAX_METADATA_ENTRIES: Final = 5
GATEWAY_MAX_ATTEMPTS: Final = 5
GATEWAY_MAX_RETRY_DELAY_MS: Final = 5000
GATEWAY_BACKOFFS: Final[tuple[str, ...]] = ("constant", "linear", "exponential")
