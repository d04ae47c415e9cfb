"""Usage and cost of Cloudflare calls in LangChain: ``get_cloudflare_usage_callback``.

In the spirit of ``langchain_community.callbacks.get_openai_callback``::

    from cloudflare_ai.langchain import get_cloudflare_usage_callback

    with get_cloudflare_usage_callback() as cb:
        chain.invoke("When must the metadata index exist?")
    print(cb.total_tokens, cb.total_cost, cb.neurons, cb.successful_requests, cb.by_model)

The handler is backed by a core usage tracker (:func:`cloudflare_ai.usage.track_usage`), so it
counts **every** Workers AI call made inside the block, from any of this package's classes:
chat and completion models, and the embeddings a retriever or vector store makes (which
LangChain's callbacks never report). Its totals are the core tracker's. Budgets work the same
way: ``get_cloudflare_usage_callback(budget_neurons=10_000)`` refuses a call that would exceed
it with :class:`~cloudflare_ai.errors.BudgetExceededError` before it is sent.

A handler made directly (``CloudflareUsageCallbackHandler()``) and passed in
``config={"callbacks": [handler]}`` counts what LangChain reports to it instead: the usage,
neurons and cost on the messages of ``ChatWorkersAI`` answers (not embeddings).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from ..types import Usage
from ..usage import TrackerFigures, UsageTracker, track_usage
from ._messages import PROVIDER


class CloudflareUsageCallbackHandler(TrackerFigures, BaseCallbackHandler):
    """Tokens, neurons and USD of Cloudflare calls: ``total_tokens``, ``prompt_tokens``,
    ``completion_tokens``, ``total_cost`` (USD), ``neurons``, ``successful_requests`` and
    ``by_model`` (per-model :class:`~cloudflare_ai.usage.UsageTotals`).

    Made by :func:`get_cloudflare_usage_callback` it reads its tracker, which the core fills
    with every call; made directly it counts the chat answers LangChain reports to it."""

    raise_error: bool = True

    def __init__(self, tracker: UsageTracker | None = None) -> None:
        super().__init__()
        #: Filled by the core clients (context-manager form) or by :meth:`on_llm_end`.
        self.tracker = tracker if tracker is not None else UsageTracker()
        self._from_core = tracker is not None

    @property
    def always_verbose(self) -> bool:
        return True

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Count the Cloudflare chat answers of a run (only when not backed by the core,
        which already counted them)."""
        if self._from_core:
            return
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                meta = getattr(message, "response_metadata", None) or {}
                if meta.get("model_provider") != PROVIDER:
                    continue
                tokens = getattr(message, "usage_metadata", None) or {}
                usage = Usage(
                    prompt_tokens=int(tokens.get("input_tokens", 0)),
                    completion_tokens=int(tokens.get("output_tokens", 0)),
                    total_tokens=int(tokens.get("total_tokens", 0)),
                    neurons=meta.get("neurons"),
                    cost_usd=meta.get("cost_usd"),
                    estimated=bool(meta.get("usage_estimated", False)),
                )
                self.tracker.record(str(meta.get("model_name") or "unknown"), usage)


@contextmanager
def get_cloudflare_usage_callback(
    *, budget_neurons: float | None = None, budget_usd: float | None = None
) -> Iterator[CloudflareUsageCallbackHandler]:
    """Count every Cloudflare call made inside the block (chat, completion, embeddings,
    tasks; sync, async and threads LangChain starts), optionally under a budget."""
    with track_usage(budget_neurons=budget_neurons, budget_usd=budget_usd) as tracker:
        yield CloudflareUsageCallbackHandler(tracker)


__all__ = ["CloudflareUsageCallbackHandler", "get_cloudflare_usage_callback"]
