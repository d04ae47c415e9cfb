"""Client-side request rate limits: Workers AI's requests per minute, per model.

Cloudflare limits Workers AI requests per minute by task, with per-model exceptions
(``cloudflare-api.md`` §1.14, the table in :mod:`cloudflare_ai.limits`). Going over earns 429s,
which the transport retries with backoff; waiting here instead keeps a bulk job smooth.

Semantics: a **sliding window**. At most ``N`` requests of one model start in any window of
``window`` seconds (60 by default): a request that would be the ``N + 1``-th waits until the
oldest of the last ``N`` is a whole window old. Every HTTP attempt counts, retries included,
as Cloudflare counts them.

One limiter serves every client of an account: a process-wide registry keyed by (account id,
API root, rate-limit settings), so a sync client, an async client and the LangChain and
LlamaIndex classes on one account share their budget of requests. State lives under a
:class:`threading.Lock`; sync callers wait with :func:`time.sleep`, async callers with
:func:`asyncio.sleep` (never blocking the event loop).

When it applies (``ClientSettings.rate_limits``):

* ``None`` (default): on for requests to Cloudflare's own hosts (``api.cloudflare.com``,
  ``gateway.ai.cloudflare.com``), off for any other base URL, such as the local emulator,
  which does not enforce Workers AI's per-minute limits;
* ``True``: on everywhere, with the published limits;
* a mapping ``{model: requests_per_minute}``: on everywhere, these limits over the published
  ones (``0`` or a negative number: no limit for that model);
* ``False``: off.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from .limits import WORKERS_AI_REQUESTS_PER_MINUTE_WINDOW
from .models import get_model

#: Hosts of Cloudflare's own API and AI Gateway, where limits are on by default.
CLOUDFLARE_HOSTS: Final = frozenset({"api.cloudflare.com", "gateway.ai.cloudflare.com"})

RateLimits = bool | Mapping[str, int] | None


def workers_ai_requests_per_minute(model: str) -> int | None:
    """The published requests-per-minute limit of ``model`` (its own, else its task's), or
    None for a model the table does not know or a task without a published limit."""
    info = get_model(model)
    return info.requests_per_minute if info is not None else None


class SlidingWindow:
    """At most ``limit`` acquisitions in any sliding window of ``window`` seconds.

    Thread-safe, and usable from sync code (:meth:`acquire`) and asyncio code
    (:meth:`aacquire`) at once: both reserve a slot under one lock and sleep outside it."""

    def __init__(self, limit: int, window: float = WORKERS_AI_REQUESTS_PER_MINUTE_WINDOW) -> None:
        if limit < 1:
            raise ValueError(f"a rate limit must allow at least 1 request, got {limit}")
        if window <= 0:
            raise ValueError(f"the window must be positive, got {window}")
        self.limit = limit
        self.window = window
        self._starts: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a slot now and return 0, or return how long to wait before trying again."""
        with self._lock:
            now = time.monotonic()
            while self._starts and now - self._starts[0] >= self.window:
                self._starts.popleft()
            if len(self._starts) < self.limit:
                self._starts.append(now)
                return 0.0
            return max(self.window - (now - self._starts[0]), 1e-4)

    def acquire(self) -> None:
        """Wait (sleeping the thread) until a request may start, and count it."""
        while (wait := self._reserve()) > 0:
            time.sleep(wait)

    async def aacquire(self) -> None:
        """Wait (without blocking the event loop) until a request may start, and count it."""
        while True:
            wait = self._reserve()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def __repr__(self) -> str:
        return f"SlidingWindow(limit={self.limit}, window={self.window})"


class ModelRateLimiter:
    """One :class:`SlidingWindow` per model, at the model's requests-per-minute limit (the
    published one, or an override). Models without a known limit are not held back."""

    def __init__(
        self,
        overrides: Mapping[str, int] | None = None,
        *,
        window: float = WORKERS_AI_REQUESTS_PER_MINUTE_WINDOW,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.window = window
        self._windows: dict[str, SlidingWindow | None] = {}
        self._lock = threading.Lock()

    def limit_of(self, model: str) -> int | None:
        """Requests allowed per window for ``model``; None for no limit."""
        if model in self.overrides:
            value = self.overrides[model]
            return value if value > 0 else None
        return workers_ai_requests_per_minute(model)

    def _window(self, model: str) -> SlidingWindow | None:
        with self._lock:
            if model not in self._windows:
                limit = self.limit_of(model)
                self._windows[model] = SlidingWindow(limit, self.window) if limit else None
            return self._windows[model]

    def acquire(self, model: str) -> None:
        window = self._window(model)
        if window is not None:
            window.acquire()

    async def aacquire(self, model: str) -> None:
        window = self._window(model)
        if window is not None:
            await window.aacquire()


_registry: dict[tuple[str, str, float, tuple[tuple[str, int], ...]], ModelRateLimiter] = {}
_registry_lock = threading.Lock()


def applies(rate_limits: RateLimits, url: str) -> bool:
    """Whether limits hold back a request to ``url`` under the ``rate_limits`` setting."""
    if rate_limits is None:
        return (urlsplit(url).hostname or "").lower() in CLOUDFLARE_HOSTS
    if isinstance(rate_limits, bool):
        return rate_limits
    return True


def shared_limiter(
    account_id: str,
    base_url: str,
    rate_limits: RateLimits = None,
    window: float = WORKERS_AI_REQUESTS_PER_MINUTE_WINDOW,
) -> ModelRateLimiter:
    """The process-wide limiter of an account and API root (and rate-limit settings)."""
    overrides = dict(rate_limits) if isinstance(rate_limits, Mapping) else {}
    key = (account_id, base_url, window, tuple(sorted(overrides.items())))
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = ModelRateLimiter(overrides, window=window)
        return limiter


def reset() -> None:
    """Forget every shared limiter (their windows start empty again), e.g. between tests."""
    with _registry_lock:
        _registry.clear()


__all__ = [
    "CLOUDFLARE_HOSTS",
    "ModelRateLimiter",
    "RateLimits",
    "SlidingWindow",
    "applies",
    "reset",
    "shared_limiter",
    "workers_ai_requests_per_minute",
]
