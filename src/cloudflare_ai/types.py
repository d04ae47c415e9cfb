"""Typed results returned by the core clients.

Cloudflare answers the same question in several shapes (classic Workers AI results, OpenAI
``chat.completion`` objects, SSE chunks of either family). The clients normalise them into
these types so adapters translate one shape, and keep the original under ``raw``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class GatewayInfo(_Model):
    """What AI Gateway said about a call, from its response headers."""

    cache_status: str | None = None
    log_id: str | None = None
    event_id: str | None = None
    step: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> GatewayInfo | None:
        aig = {k: v for k, v in headers.items() if k.startswith("cf-aig-")}
        if not aig:
            return None
        step = aig.get("cf-aig-step")
        return cls(
            cache_status=aig.get("cf-aig-cache-status"),
            log_id=aig.get("cf-aig-log-id"),
            event_id=aig.get("cf-aig-event-id"),
            step=int(step) if step and step.isdigit() else None,
            headers=aig,
        )


class Usage(_Model):
    """Token counts of one call and, where the model table has a price, its estimated cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    #: Neurons reported by Cloudflare on some streams (Workers AI's billing unit).
    neurons: float | None = None
    #: Estimated USD cost from the model table's published prices.
    cost_usd: float | None = None


class ToolCall(_Model):
    """One function call requested by the model."""

    id: str
    name: str
    #: Arguments parsed as a JSON object (None when the model sent text that is not JSON).
    arguments: dict[str, Any] | None
    #: The arguments exactly as sent, as a JSON string.
    raw_arguments: str
    index: int = 0


class ChatResponse(_Model):
    """A whole text-generation answer."""

    model: str
    text: str
    #: The structured value when the model answered JSON (JSON mode / json_schema).
    parsed: Any = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    gateway: GatewayInfo | None = None
    request_id: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class ToolCallDelta(_Model):
    """A fragment of a streamed tool call; fragments with the same ``index`` belong together."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class ChatChunk(_Model):
    """One step of a streamed answer. Usage and the finish reason arrive once, on the last."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallDelta] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    raw: dict[str, Any] | None = Field(default=None, repr=False)


class EmbeddingResponse(_Model):
    """Embeddings in input order."""

    model: str
    vectors: list[list[float]]
    dimensions: int
    usage: Usage | None = None
    requests: int = 1


# --- Vectorize ------------------------------------------------------------------------------


class IndexConfig(_Model):
    dimensions: int
    metric: Literal["cosine", "euclidean", "dot-product"]


class Index(_Model):
    """A Vectorize index's description."""

    name: str
    description: str | None = None
    config: IndexConfig
    created_on: datetime | None = None
    modified_on: datetime | None = None


class IndexInfo(_Model):
    dimensions: int
    vector_count: int = Field(alias="vectorCount")
    processed_up_to_mutation: str | None = Field(default=None, alias="processedUpToMutation")
    processed_up_to_datetime: datetime | None = Field(default=None, alias="processedUpToDatetime")


class Mutation(_Model):
    """An accepted, asynchronously applied change to an index."""

    mutation_id: str = Field(alias="mutationId")
    #: When Cloudflare accepted the change (its ``Date`` header), for waiting on it.
    accepted_at: datetime | None = None


class WriteResult(_Model):
    """The outcome of an insert or upsert, which may have taken several requests."""

    ids: list[str]
    mutation_ids: list[str]
    count: int
    requests: int
    accepted_at: datetime | None = None

    @property
    def mutation_id(self) -> str | None:
        """The last mutation: once it is processed, every batch of this write is."""
        return self.mutation_ids[-1] if self.mutation_ids else None


class Match(_Model):
    id: str
    score: float
    values: list[float] | None = None
    metadata: dict[str, Any] | None = None
    namespace: str | None = None


class QueryResult(_Model):
    count: int
    matches: list[Match]


class VectorRecord(_Model):
    id: str
    values: list[float] | None = None
    metadata: dict[str, Any] | None = None
    namespace: str | None = None


class VectorIdPage(_Model):
    """One page of vector ids from ``list``."""

    count: int
    total_count: int | None = Field(default=None, alias="totalCount")
    is_truncated: bool = Field(default=False, alias="isTruncated")
    next_cursor: str | None = Field(default=None, alias="nextCursor")
    cursor_expiration_timestamp: datetime | None = Field(
        default=None, alias="cursorExpirationTimestamp"
    )
    ids: list[str] = Field(default_factory=list)


class MetadataIndex(_Model):
    property_name: str = Field(alias="propertyName")
    index_type: str = Field(alias="indexType")


class RunResult(_Model):
    """The raw ``result`` of ``/ai/run`` for any model, with the call's metadata."""

    model: str
    result: Any
    gateway: GatewayInfo | None = None
    request_id: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
