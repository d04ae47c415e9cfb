"""Typed results of the AI Gateway management, logs and analytics calls
(:mod:`cloudflare_ai.gateways`), named as Cloudflare's REST API names its fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

RateLimitTechnique = Literal["fixed", "sliding"]
Backoff = Literal["constant", "linear", "exponential"]
FilterOperator = Literal["eq", "neq", "contains", "lt", "gt"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AIGateway(_Model):
    """One gateway's settings, as the management API returns them."""

    id: str
    #: Drop the gateway's cached answers whenever its settings are updated.
    cache_invalidate_on_update: bool = False
    #: Seconds answers stay cached when a request sends no ``cf-aig-cache-ttl`` (None or 0:
    #: caching off).
    cache_ttl: int | None = None
    collect_logs: bool = True
    #: At most ``rate_limiting_limit`` requests per ``rate_limiting_interval`` seconds (both
    #: None: no limit); over it the gateway answers 429.
    rate_limiting_interval: int | None = None
    rate_limiting_limit: int | None = None
    rate_limiting_technique: RateLimitTechnique | None = None
    #: Requests need ``cf-aig-authorization`` (``GatewaySettings.token``).
    authentication: bool = False
    retry_max_attempts: int | None = None
    retry_delay: int | None = None
    retry_backoff: Backoff | None = None
    log_management: int | None = None
    log_management_strategy: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None

    @property
    def rate_limit(self) -> str | None:
        """The rate limit in words ("10 per 60 s, sliding"), or None."""
        if not self.rate_limiting_limit or not self.rate_limiting_interval:
            return None
        technique = self.rate_limiting_technique or "fixed"
        return f"{self.rate_limiting_limit} per {self.rate_limiting_interval} s, {technique}"


class GatewayLog(_Model):
    """One request in a gateway's log."""

    id: str
    created_at: datetime
    cached: bool = False
    success: bool = True
    status_code: int | None = None
    provider: str = ""
    model: str = ""
    model_type: str | None = None
    path: str = ""
    request_type: str | None = None
    #: Milliseconds the gateway took to answer.
    duration: int = 0
    tokens_in: int | None = None
    tokens_out: int | None = None
    #: USD, as the gateway priced the call.
    cost: float | None = None
    #: Neurons (the local emulator reports them; Cloudflare's logs carry only ``cost``).
    neurons: float | None = None
    #: The request's ``cf-aig-metadata`` (Cloudflare sends it as a JSON string).
    metadata: dict[str, Any] = Field(default_factory=dict)
    #: Universal endpoint: the step (0-based) that answered.
    step: int | None = None
    #: 1 (thumbs up), -1 (thumbs down) or None.
    feedback: int | None = None
    score: float | None = None
    event_id: str | None = None
    #: Upstream attempts (retries included) when the gateway reports them.
    attempts: int | None = None
    request_head: str | None = None
    response_head: str | None = None

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_json(cls, value: Any) -> Any:
        if value is None or value == "":
            return {}
        if isinstance(value, str | bytes):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                return {"value": value}
            return parsed if isinstance(parsed, dict) else {"value": parsed}
        return value


class LogPage(_Model):
    """One page of a gateway's logs, with the paging Cloudflare reported."""

    logs: list[GatewayLog]
    page: int = 1
    per_page: int = 0
    total_count: int | None = None


@dataclass(frozen=True, slots=True)
class LogFilter:
    """A filter of the logs API sent as is: ``key`` (``model``, ``cost``, ``created_at``,
    ``metadata.value``, ...), an operator and the values it compares with."""

    key: str
    operator: FilterOperator
    values: tuple[str | float | bool | None, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "operator": self.operator, "value": list(self.values)}


class ModelStats(_Model):
    """Totals of a set of logged requests (one model's, or all of them)."""

    model: str
    requests: int = 0
    errors: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    neurons: float = 0.0
    cost_usd: float = 0.0
    #: Answered requests (not from the cache) whose log has no cost: a model without a known
    #: price, so ``cost_usd`` and ``neurons`` leave them out rather than count them as free.
    unpriced: int = 0
    #: Median and 95th percentile of the gateway's durations (ms, nearest rank).
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / self.requests if self.requests else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class GatewayAnalytics(_Model):
    """A gateway's traffic over a time range: totals and one :class:`ModelStats` per model
    (most requested first)."""

    gateway_id: str
    start: datetime | None = None
    end: datetime | None = None
    total: ModelStats
    models: list[ModelStats] = Field(default_factory=list)


__all__ = [
    "AIGateway",
    "Backoff",
    "FilterOperator",
    "GatewayAnalytics",
    "GatewayLog",
    "LogFilter",
    "LogPage",
    "ModelStats",
    "RateLimitTechnique",
]
