"""AI Gateway's Universal endpoint: one request carrying every model as an ordered step.

``POST {gateway root}/{account}/{gateway}`` takes a JSON array of steps, each
``{provider, endpoint, headers, query, config?}``; the gateway tries them in order (each with
its own timeout and retries from ``config``) and answers with the first that succeeds, naming
it in the ``cf-aig-step`` header (cloudflare-api.md §3.1). The clients build the steps from a
model and its ``fallback_models`` with ``fallback_via="gateway"``; this module holds the step
options and the bookkeeping shared by whole and streamed answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import limits
from .types import FallbackAttempt, GatewayInfo

#: What a step that did not answer is reported with: the gateway names only the step that
#: answered, not why the earlier ones failed.
STEP_FAILED = "failed at AI Gateway's Universal endpoint (the gateway does not say why)"


class StepConfig(BaseModel):
    """Per-step request handling on the Universal endpoint (the step's ``config``).

    ``request_timeout_ms``: a step slower than this (to its first byte) is abandoned for the
    next; ``max_attempts`` / ``retry_delay_ms`` / ``backoff``: how the gateway retries a
    failing step before moving on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_timeout_ms: int | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1, le=limits.GATEWAY_MAX_ATTEMPTS)
    retry_delay_ms: int | None = Field(default=None, ge=0, le=limits.GATEWAY_MAX_RETRY_DELAY_MS)
    backoff: Literal["constant", "linear", "exponential"] | None = None

    def to_json(self) -> dict[str, Any]:
        """The step's ``config`` object in the gateway's camelCase names."""
        names = {
            "request_timeout_ms": "requestTimeout",
            "max_attempts": "maxAttempts",
            "retry_delay_ms": "retryDelay",
            "backoff": "backoff",
        }
        return {names[k]: v for k, v in self.model_dump(exclude_none=True).items()}


#: One config for every step, or one per model name (models without one get none).
StepConfigs = StepConfig | Mapping[str, StepConfig]


def config_for(configs: StepConfigs | None, model: str) -> dict[str, Any] | None:
    """The ``config`` object of ``model``'s step, or None."""
    if configs is None:
        return None
    chosen = configs if isinstance(configs, StepConfig) else configs.get(model)
    if chosen is None:
        return None
    return chosen.to_json() or None


def answering_step(gateway: GatewayInfo | None, steps: int) -> int:
    """The 0-based step that answered, from ``cf-aig-step``.

    UNCERTAIN: an answer without the header is taken as the first step's (the gateway sets it
    on every Universal answer as far as documented)."""
    step = gateway.step if gateway is not None else None
    if step is None or not 0 <= step < steps:
        return 0
    return step


def skipped(models: Sequence[str], step: int) -> list[FallbackAttempt]:
    """Reports of the steps before the one that answered."""
    return [
        FallbackAttempt(model=m, error=STEP_FAILED, step=i) for i, m in enumerate(models[:step])
    ]
