"""Per-gateway rate limiting: at most ``limit`` requests per ``interval`` seconds, counted in
fixed windows or in a sliding one, as a gateway's ``rate_limiting_*`` settings ask.

UNCERTAIN: Cloudflare documents the two techniques by name only. Here a fixed window starts
at multiples of ``interval`` since the epoch and counts every request in it; the sliding
window counts the requests of the last ``interval`` seconds exactly. Requests refused for the
limit do not count.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    """Request counts of every gateway, in memory (a restart starts the windows afresh)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: dict[str, tuple[float, int]] = {}
        self._sliding: dict[str, deque[float]] = {}

    def reset(self, gateway_id: str) -> None:
        """Forget a gateway's counts (its settings changed or it was deleted)."""
        with self._lock:
            self._fixed.pop(gateway_id, None)
            self._sliding.pop(gateway_id, None)

    def admit(
        self,
        gateway_id: str,
        limit: int,
        interval: float,
        technique: str,
        now: float | None = None,
    ) -> float | None:
        """Count one request. None when it is within the limit, else the seconds until the
        window lets another one through (the request is then not counted)."""
        now = time.time() if now is None else now
        with self._lock:
            if technique == "sliding":
                hits = self._sliding.setdefault(gateway_id, deque())
                while hits and hits[0] <= now - interval:
                    hits.popleft()
                if len(hits) >= limit:
                    return hits[0] + interval - now
                hits.append(now)
                return None
            start = math.floor(now / interval) * interval
            window, count = self._fixed.get(gateway_id, (start, 0))
            if window != start:
                window, count = start, 0
            if count >= limit:
                return window + interval - now
            self._fixed[gateway_id] = (window, count + 1)
            return None


def retry_after(wait: float) -> str:
    """``Retry-After`` in whole seconds, rounded up so a client waiting that long gets in."""
    return str(max(1, math.ceil(wait)))


__all__ = ["RateLimiter", "retry_after"]
