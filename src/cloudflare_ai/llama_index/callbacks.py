"""Usage and cost of Cloudflare calls in LlamaIndex: ``CloudflareUsageHandler``.

```python
from llama_index.core import Settings
from llama_index.core.callbacks import CallbackManager
from cloudflare_ai.llama_index import CloudflareUsageHandler

usage = CloudflareUsageHandler()            # optionally budget_neurons=10_000
Settings.callback_manager = CallbackManager([usage])
index.as_query_engine(llm=WorkersAI()).query("...")
print(usage.total_tokens, usage.total_cost, usage.neurons, usage.by_model)
```

The handler owns a core usage tracker (:mod:`cloudflare_ai.usage`) and makes it active for
the length of every LlamaIndex trace (a query, an index construction, an LLM call, an
insertion), so every Workers AI call of this package made inside one is counted, embeddings
included, with the same figures as a core tracker. A budget refuses a call that would exceed it
with :class:`~cloudflare_ai.errors.BudgetExceededError` before it is sent. Calls made outside
any trace of its callback manager are not counted: an agent workflow's tools, for one, run
outside the LLM's traces. Wrap such a run in ``with handler.tracker:`` (or ``async with``) to
count all of it; the traces inside the block are not counted twice.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.callbacks.schema import CBEventType

from ..usage import TrackerFigures, UsageTracker, activate, deactivate

_Activation = Token[tuple[UsageTracker, ...]]


class CloudflareUsageHandler(TrackerFigures, BaseCallbackHandler):
    """Tokens, neurons and USD of the Cloudflare calls made in LlamaIndex traces:
    ``total_tokens``, ``prompt_tokens``, ``completion_tokens``, ``total_cost`` (USD),
    ``neurons``, ``successful_requests`` and ``by_model``."""

    def __init__(
        self,
        *,
        budget_neurons: float | None = None,
        budget_usd: float | None = None,
        tracker: UsageTracker | None = None,
    ) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.tracker = tracker or UsageTracker(budget_neurons=budget_neurons, budget_usd=budget_usd)
        # Per context (thread or task): the activation of the tracker by the open trace.
        self._activation: ContextVar[_Activation | None] = ContextVar(
            f"cloudflare_usage_handler_{id(self)}", default=None
        )

    def start_trace(self, trace_id: str | None = None) -> None:
        if self._activation.get() is None:
            self._activation.set(activate(self.tracker))

    def end_trace(
        self, trace_id: str | None = None, trace_map: dict[str, list[str]] | None = None
    ) -> None:
        activation = self._activation.get()
        if activation is not None:
            self._activation.set(None)
            deactivate(activation)

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        return event_id

    def on_event_end(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        return None


__all__ = ["CloudflareUsageHandler"]
