"""The client-wide Workers AI rate limiter (cloudflare_ai.ratelimit).

No upper bounds on time (a loaded machine only makes things slower): the limiter's promise is
checked on the instants it handed out slots, and on lower bounds of elapsed time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from cloudflare_ai import AsyncWorkersAIClient, RetryPolicy, WorkersAIClient, ratelimit
from cloudflare_ai.config import ClientSettings
from cloudflare_ai.limits import WORKERS_AI_RATE_LIMIT_EXCEPTIONS, WORKERS_AI_RATE_LIMITS
from cloudflare_ai.ratelimit import SlidingWindow, applies, shared_limiter
from cloudflare_ai.transport import Request

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ACCOUNT = "0123456789abcdef0123456789abcdef"
QUICK = RetryPolicy(max_retries=3, initial_delay=0.001, max_delay=0.002, max_retry_after=0.01)


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


class Recording(SlidingWindow):
    """A window that notes the instant of every slot it hands out (under its lock)."""

    def __init__(self, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self.granted: list[float] = []

    def _reserve(self) -> float:
        wait = super()._reserve()
        if wait == 0:
            self.granted.append(self._starts[-1])
        return wait


def assert_within(granted: list[float], limit: int, window: float) -> None:
    times = sorted(granted)
    for i in range(len(times) - limit):
        assert times[i + limit] - times[i] >= window * 0.999, (i, times)


def test_a_burst_from_threads_and_tasks_stays_under_the_rate() -> None:
    limit, window = 3, 0.3
    gate = Recording(limit, window)

    def sync_caller() -> None:
        for _ in range(3):
            gate.acquire()

    async def async_callers() -> None:
        await asyncio.gather(*(gate.aacquire() for _ in range(6)))

    started = time.monotonic()
    threads = [threading.Thread(target=sync_caller) for _ in range(2)]
    for thread in threads:
        thread.start()
    asyncio.run(async_callers())
    for thread in threads:
        thread.join()
    assert len(gate.granted) == 12
    assert_within(gate.granted, limit, window)
    # 12 slots at 3 per window: the last starts at least 3 windows after the first.
    assert time.monotonic() - started >= 3 * window * 0.999


def test_published_limits_come_from_the_table() -> None:
    assert (
        ratelimit.workers_ai_requests_per_minute(MODEL)
        == WORKERS_AI_RATE_LIMITS["text-generation"]
        == 300
    )
    assert ratelimit.workers_ai_requests_per_minute("@cf/baai/bge-large-en-v1.5") == 1500
    assert WORKERS_AI_RATE_LIMIT_EXCEPTIONS["@cf/qwen/qwen1.5-14b-chat-awq"] == 150
    assert ratelimit.workers_ai_requests_per_minute("@cf/deepgram/aura-1") is None
    limiter = ratelimit.ModelRateLimiter({MODEL: 5, "@cf/baai/bge-base-en-v1.5": 0})
    assert limiter.limit_of(MODEL) == 5
    assert limiter.limit_of("@cf/baai/bge-base-en-v1.5") is None  # 0: unlimited
    assert limiter.limit_of("@cf/baai/bge-small-en-v1.5") == 3000


def test_on_for_cloudflare_hosts_only_by_default() -> None:
    assert applies(None, "https://api.cloudflare.com/client/v4/accounts/x/ai/run/m")
    assert applies(None, "https://gateway.ai.cloudflare.com/v1/x/gw/workers-ai/m")
    assert not applies(None, "http://127.0.0.1:8787/client/v4/accounts/x/ai/run/m")
    assert applies(True, "http://127.0.0.1:8787/x") and applies({MODEL: 1}, "http://localhost/x")
    assert not applies(False, "https://api.cloudflare.com/client/v4/x")


def test_clients_of_one_account_share_one_limiter() -> None:
    local = "http://127.0.0.1:9/client/v4"
    kwargs = {"account_id": ACCOUNT, "api_token": "t", "rate_limits": {MODEL: 2}}
    sync = WorkersAIClient(base_url=local, **kwargs)  # type: ignore[arg-type]
    other = AsyncWorkersAIClient(base_url=local, **kwargs)  # type: ignore[arg-type]
    request = Request("POST", f"{local}/accounts/{ACCOUNT}/ai/run/{MODEL}", model=MODEL)
    mine = sync._transport._rate_limiter(request)
    assert mine is not None and mine is other._transport._rate_limiter(request)
    assert mine is shared_limiter(ACCOUNT, local, {MODEL: 2})
    # No rate_limits: the emulator's URL is not held back at all.
    plain = WorkersAIClient(base_url=local, account_id=ACCOUNT, api_token="t")
    assert plain._transport._rate_limiter(request) is None
    # Cloudflare's own host: on by default, the published limits.
    cloud = WorkersAIClient(account_id=ACCOUNT, api_token="t")
    real = Request("POST", f"{cloud.settings.account_url}/ai/run/{MODEL}", model=MODEL)
    limiter = cloud._transport._rate_limiter(real)
    assert limiter is not None and limiter.limit_of(MODEL) == 300
    for client in (sync, plain, cloud):
        client.close()


def _answer(request: httpx.Request) -> httpx.Response:
    body = {"success": True, "errors": [], "messages": [], "result": {"response": "ok"}}
    return httpx.Response(200, json=body)


def _settings(base: str, rate_limits: object, window: float) -> ClientSettings:
    return ClientSettings.resolve(
        account_id=ACCOUNT,
        api_token="t",
        base_url=base,
        rate_limits=rate_limits,  # type: ignore[arg-type]
        rate_limit_window=window,
    )


def test_sync_and_async_clients_share_the_rate() -> None:
    limit, window = 2, 0.25
    settings = _settings("https://api.cloudflare.com/client/v4", {MODEL: limit}, window)
    limiter = shared_limiter(ACCOUNT, settings.base_url, {MODEL: limit}, window)
    gate = Recording(limit, window)
    limiter._windows[MODEL] = gate  # observe the shared window
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return _answer(request)

    transport = httpx.MockTransport(handler)
    sync = WorkersAIClient(
        settings=settings, retry=QUICK, http_client=httpx.Client(transport=transport)
    )

    async def async_side() -> None:
        http = httpx.AsyncClient(transport=transport)
        async with AsyncWorkersAIClient(settings=settings, retry=QUICK, http_client=http) as ai:
            await asyncio.gather(*(ai.chat(MODEL, prompt="hi") for _ in range(3)))
        await http.aclose()

    started = time.monotonic()
    thread = threading.Thread(target=lambda: [sync.chat(MODEL, prompt="hi") for _ in range(3)])
    thread.start()
    asyncio.run(async_side())
    thread.join()
    sync.close()
    assert len(sent) == 6 and len(gate.granted) == 6
    assert_within(gate.granted, limit, window)
    assert time.monotonic() - started >= 2 * window * 0.999


def test_retries_count_against_the_rate() -> None:
    limit, window = 2, 0.25
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        if len(sent) % 2 == 1:  # every first attempt is turned away
            return httpx.Response(429, headers={"retry-after": "0"}, json={"errors": []})
        return _answer(request)

    settings = _settings("http://127.0.0.1:9/client/v4", {MODEL: limit}, window)
    http = httpx.Client(transport=httpx.MockTransport(handler))
    started = time.monotonic()
    with WorkersAIClient(settings=settings, retry=QUICK, http_client=http) as client:
        for _ in range(2):
            assert client.chat(MODEL, prompt="hi").text == "ok"
    assert len(sent) == 4  # 2 calls, 2 attempts each: the 3rd and 4th attempts waited
    assert time.monotonic() - started >= window * 0.999
    # The limiter spaces its acquisitions a window apart; the handler sees each attempt a
    # little after its acquisition, by a varying few ms (a strict bound failed once on CI-like
    # load: 0.246 s). Unthrottled, the gap would be about a millisecond.
    assert sent[2] - sent[0] >= window * 0.9
