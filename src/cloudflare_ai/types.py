"""Typed results returned by the core clients.

Cloudflare answers the same question in several shapes (classic Workers AI results, OpenAI
``chat.completion`` objects, SSE chunks of either family). The clients normalise them into
these types so adapters translate one shape, and keep the original under ``raw``.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

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


class FallbackAttempt(_Model):
    """A model that was tried for a call and did not answer it, and why.

    Client-side fallback knows the error of each model; through AI Gateway's Universal
    endpoint only the answering step is reported, so earlier steps carry ``step`` and a
    generic ``error``."""

    model: str
    #: One line: the error's class and message (never a credential).
    error: str
    error_type: str | None = None
    status_code: int | None = None
    code: int | None = None
    #: The Universal endpoint step (0-based) this model was, when tried there.
    step: int | None = None


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
    #: Models tried before ``model`` answered (empty when the first one did).
    fallbacks: list[FallbackAttempt] = Field(default_factory=list)
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
    #: Token counts (and cost, where priced) when the result reports ``usage``.
    usage: Usage | None = None
    #: Models tried before ``model`` answered (empty when the first one did).
    fallbacks: list[FallbackAttempt] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)


# --- media and the other Workers AI tasks ---------------------------------------------------


class _Frozen(_Model):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class BinaryResult(_Frozen):
    """A binary answer of ``/ai/run`` (an image, audio) with the call's metadata.

    ``data`` is the response body itself, never decoded from or copied through JSON."""

    model: str
    data: bytes = Field(repr=False)
    #: The media type of ``data`` (``image/png``, ``audio/mpeg``, ...), without parameters.
    content_type: str
    gateway: GatewayInfo | None = None
    request_id: str | None = None
    usage: Usage | None = None
    #: Models tried before ``model`` answered (empty when the first one did).
    fallbacks: list[FallbackAttempt] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @property
    def extension(self) -> str | None:
        """The usual file extension of ``content_type`` (``.png``), or None when unknown."""
        from .media import extension_for

        return extension_for(self.content_type)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``data`` to ``path`` and return where it went. The right extension is added
        when ``path`` has none; one naming another format is refused (ValidationError)."""
        from .media import save_path

        target = save_path(path, self.content_type)
        target.write_bytes(self.data)
        return target


class ImageResult(BinaryResult):
    """A generated image."""

    @cached_property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        from .media import image_size

        return image_size(self.data)

    @cached_property
    def is_blank(self) -> bool:
        """Whether the image is all black: what Workers AI sends back when its safety filter
        refuses a prompt."""
        from .media import is_blank_image

        return is_blank_image(self.data)


class AudioResult(BinaryResult):
    """Generated speech."""


class Word(NamedTuple):
    """One transcribed word and when it is spoken (seconds; None where the model gives no
    time)."""

    word: str
    start: float | None
    end: float | None


class Transcription(_Frozen):
    """What a speech recognition model heard."""

    model: str
    text: str
    #: The spoken language, where the model detects or reports it.
    language: str | None = None
    words: list[Word] = Field(default_factory=list)
    #: Subtitles in WebVTT, where the model produces them.
    vtt: str | None = None
    #: Length of the audio in seconds, where the model reports it.
    duration: float | None = None
    word_count: int | None = None
    gateway: GatewayInfo | None = None
    request_id: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class Label(NamedTuple):
    """A class a classifier assigned, with its confidence (0..1)."""

    label: str
    score: float


class Box(NamedTuple):
    """A bounding box in the image's pixel coordinates."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float


class Detection(NamedTuple):
    """An object found in an image."""

    label: str
    score: float
    box: Box | None


class Ranked(NamedTuple):
    """A passage's place in a reranking: its index in the input, its score, and the text."""

    # Shadows tuple.index(), which nobody calls on a ranking; the name is what it is.
    index: int  # type: ignore[assignment]
    score: float
    passage: str
