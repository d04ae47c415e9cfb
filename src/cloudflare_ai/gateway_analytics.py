"""A gateway's analytics computed from its logs: requests, errors, cache hits, tokens,
neurons, cost and latency percentiles, per model and in total.

UNCERTAIN: Cloudflare serves AI Gateway analytics through its GraphQL Analytics API, which
this package does not call (and the local emulator does not emulate); the figures here are
computed from the logs API over the same time range instead. They therefore cover logged
requests only (``collect_logs`` off, or ``cf-aig-collect-log: false``, leaves requests out),
and neurons come from each log's ``neurons`` when the gateway reports them (the emulator
does) or else from its USD ``cost`` for Workers AI, at Cloudflare's one rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from .costs import usd_to_neurons
from .gateway_types import GatewayAnalytics, GatewayLog, ModelStats

TOTAL = "*"


def percentile(values: list[float], p: float) -> float | None:
    """The ``p``-th percentile of ``values`` by nearest rank (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def log_neurons(log: GatewayLog) -> float:
    """Neurons of one logged call (see the module's note)."""
    if log.neurons is not None:
        return log.neurons
    if log.cost and log.provider == "workers-ai":
        return usd_to_neurons(log.cost)
    return 0.0


class _Tally:
    def __init__(self, model: str) -> None:
        self.stats = ModelStats(model=model)
        self.durations: list[float] = []

    def add(self, log: GatewayLog) -> None:
        s = self.stats
        s.requests += 1
        s.errors += 0 if log.success else 1
        s.cache_hits += 1 if log.cached else 0
        s.tokens_in += log.tokens_in or 0
        s.tokens_out += log.tokens_out or 0
        s.neurons += log_neurons(log)
        s.cost_usd += log.cost or 0.0
        s.unpriced += 1 if log.success and not log.cached and log.cost is None else 0
        self.durations.append(float(log.duration))

    def done(self) -> ModelStats:
        self.stats.p50_ms = percentile(self.durations, 50)
        self.stats.p95_ms = percentile(self.durations, 95)
        return self.stats


def summarize(
    gateway_id: str,
    logs: Iterable[GatewayLog],
    start: datetime | None = None,
    end: datetime | None = None,
) -> GatewayAnalytics:
    """Analytics of ``logs`` (already limited to the time range)."""
    total = _Tally(TOTAL)
    per_model: dict[str, _Tally] = {}
    for log in logs:
        total.add(log)
        per_model.setdefault(log.model or "(none)", _Tally(log.model or "(none)")).add(log)
    models = sorted((t.done() for t in per_model.values()), key=lambda s: (-s.requests, s.model))
    return GatewayAnalytics(
        gateway_id=gateway_id, start=start, end=end, total=total.done(), models=models
    )


__all__ = ["TOTAL", "log_neurons", "percentile", "summarize"]
