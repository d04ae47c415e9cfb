"""Shared test harness: where HTTP goes, and how it is recorded and replayed.

Tests marked ``vcr`` talk to Cloudflare's REST API through the real client code. Three modes:

* replay (default, ``make test``): no server at all; requests are answered from
  ``cassettes/`` and an unrecorded request fails the test (record mode ``none``).
* record (``make record``): a local emulator is started and the cassettes are rewritten from
  its answers.
* live (``make record-live``, needs ``CLOUDFLARE_ACCOUNT_ID``, ``CLOUDFLARE_API_TOKEN`` and
  ``CLOUDFLARE_AI_LIVE=1``): real Cloudflare; cassettes go to ``cassettes/live/`` so they never
  mix with the emulator's.

Recorded URIs are rewritten to Cloudflare's canonical hosts and a placeholder account id,
and credentials are scrubbed, so a cassette recorded anywhere replays anywhere.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloudflare_ai import (
    AsyncVectorizeClient,
    AsyncWorkersAIClient,
    RetryPolicy,
    VectorizeClient,
    WorkersAIClient,
)

# The suite runs on the deterministic engines whatever a developer exported for their own
# work; the real-model tests ask for engine="models" themselves (tests/models).
os.environ.pop("CLOUDFLARE_AI_LOCAL_ENGINE", None)

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
#: Third-party reference data the tests read (provenance in ``tests/reference/README.md``).
REFERENCE = ROOT / "tests" / "reference"

CANONICAL_BASE = "https://api.cloudflare.com/client/v4"
CANONICAL_GATEWAY = "https://gateway.ai.cloudflare.com/v1"
PLACEHOLDER_ACCOUNT = "0123456789abcdef0123456789abcdef"
REPLAY_TOKEN = "replay-token-not-a-secret"
GATEWAY_TOKEN = "gateway-test-token-0123456789"
#: Provider keys the gateway tests send (scrubbed from cassettes, checked by the contract test).
OPENAI_TEST_KEY = "sk-openai-test-key-0123456789"
ANTHROPIC_TEST_KEY = "sk-ant-test-key-0123456789"
#: Header names whose values are secrets, wherever they appear (request headers, or the
#: per-step ``headers`` of a Universal endpoint body).
SECRET_HEADERS = ("authorization", "cf-aig-authorization", "x-api-key", "x-auth-key")
FAST_RETRY = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=0.05, max_retry_after=0.2)

LIVE = os.environ.get("CLOUDFLARE_AI_LIVE") == "1" and bool(
    os.environ.get("CLOUDFLARE_ACCOUNT_ID") and os.environ.get("CLOUDFLARE_API_TOKEN")
)


@dataclass
class Target:
    """Where the clients of a test session point."""

    mode: str  # "replay" | "record" | "live"
    base_url: str
    gateway_url: str
    account_id: str
    api_token: str
    emulator: Any = None  # LocalCloudflare while recording

    @property
    def recording(self) -> bool:
        return self.mode != "replay"

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "api_token": self.api_token,
            "base_url": self.base_url,
            "retry": FAST_RETRY,
        }

    def gateway(self, gateway_id: str = "test-gateway", **options: Any) -> dict[str, Any]:
        return {"id": gateway_id, "base_url": self.gateway_url, **options}

    def set_faults(self, **faults: Any) -> None:
        """Inject faults into the emulator while recording (a no-op on replay, where the
        cassette already holds the faulty answers)."""
        if self.emulator is not None:
            self.emulator.set_faults(**faults)

    def clear_faults(self) -> None:
        if self.emulator is not None:
            from cloudflare_ai_local import FaultConfig

            self.emulator.set_faults(FaultConfig())


def _record_mode(config: pytest.Config) -> str:
    return str(config.getoption("--record-mode", default="none") or "none")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``live`` need a real account: without one they are deselected (and
    reported), never silently skipped.

    A test module may name inherited standard tests that need a real model's judgement in a
    ``LIVE_ONLY = {"test_name": "reason"}`` mapping; they get the ``live`` mark here.
    """
    for item in items:
        live_only = getattr(getattr(item, "module", None), "LIVE_ONLY", {})
        name = getattr(item, "originalname", item.name)
        if name in live_only:
            item.add_marker(pytest.mark.live(reason=live_only[name]))
    if LIVE:
        return
    live = [item for item in items if item.get_closest_marker("live")]
    if live:
        config.hook.pytest_deselected(items=live)
        items[:] = [item for item in items if not item.get_closest_marker("live")]


def pytest_report_header(config: pytest.Config) -> str:
    mode = (
        "live Cloudflare"
        if LIVE
        else (
            "replay from cassettes/" if _record_mode(config) == "none" else "record from emulator"
        )
    )
    return f"cloudflare-ai HTTP mode: {mode}"


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    mode = _record_mode(pytestconfig)
    if mode == "none":
        yield Target("replay", CANONICAL_BASE, CANONICAL_GATEWAY, PLACEHOLDER_ACCOUNT, REPLAY_TOKEN)
    elif LIVE:
        yield Target(
            "live",
            os.environ.get("CLOUDFLARE_BASE_URL", CANONICAL_BASE),
            os.environ.get("CLOUDFLARE_AI_GATEWAY_URL", CANONICAL_GATEWAY),
            os.environ["CLOUDFLARE_ACCOUNT_ID"],
            os.environ["CLOUDFLARE_API_TOKEN"],
        )
    else:
        from cloudflare_ai_local import LocalCloudflare

        with LocalCloudflare(account_id=PLACEHOLDER_ACCOUNT, gateway_token=GATEWAY_TOKEN) as cf:
            yield Target("record", cf.base_url, cf.gateway_url, cf.account_id, cf.api_token, cf)


# --- vcr configuration (pytest-recording) ------------------------------------------------


@pytest.fixture
def cloudflare_env(target: Target, monkeypatch: pytest.MonkeyPatch) -> Target:
    """Point adapters built from environment variables (as users build them) at the target."""
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", target.account_id)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", target.api_token)
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", target.base_url)
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_URL", target.gateway_url)
    for name in ("CF_ACCOUNT_ID", "CF_API_TOKEN", "CF_AI_API_TOKEN", "CLOUDFLARE_AI_GATEWAY_ID"):
        monkeypatch.delenv(name, raising=False)
    return target


@pytest.fixture(scope="session")
def vcr_config(target: Target) -> dict[str, Any]:
    def scrub_request(request: Any) -> Any:
        uri = request.uri
        uri = uri.replace(target.base_url, CANONICAL_BASE)
        uri = uri.replace(target.gateway_url, CANONICAL_GATEWAY)
        if target.account_id != PLACEHOLDER_ACCOUNT:
            uri = uri.replace(target.account_id, PLACEHOLDER_ACCOUNT)
        request.uri = uri
        request.body = scrub_step_headers(request.body)
        return request

    def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in {"set-cookie", "cf-auditlog-id"}:
                del headers[name]
        return response

    return {
        "filter_headers": [
            ("authorization", "REDACTED"),
            ("cf-aig-authorization", "REDACTED"),
            ("x-auth-key", "REDACTED"),
            ("x-api-key", "REDACTED"),
            ("x-auth-email", "REDACTED"),
            ("cookie", "REDACTED"),
        ],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "allow_playback_repeats": False,
    }


def scrub_step_headers(body: Any) -> Any:
    """A Universal endpoint body (a JSON array of steps) with each step's credentials
    replaced, so provider keys and the API token never reach a cassette. Applied when
    recording and before matching on replay, so both sides compare scrubbed bodies."""
    if not body or not isinstance(body, bytes | str):
        return body
    text = body.decode() if isinstance(body, bytes) else body
    if not text.lstrip().startswith("["):
        return body
    import orjson

    try:
        steps = orjson.loads(text)
    except orjson.JSONDecodeError:
        return body
    changed = False
    for step in steps:
        headers = step.get("headers") if isinstance(step, dict) else None
        if isinstance(headers, dict):
            for name in list(headers):
                if name.lower() in SECRET_HEADERS:
                    headers[name] = "REDACTED"
                    changed = True
    if not changed:
        return body
    out = orjson.dumps(steps)
    return out if isinstance(body, bytes) else out.decode()


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    module = request.node.path.stem
    base = CASSETTES / "live" if LIVE else CASSETTES
    return str(base / module)


@pytest.fixture(autouse=True)
def _known_secrets() -> None:
    """Secrets that must never reach a cassette (checked by the contract tests)."""
    from cloudflare_ai_local.config import DEFAULT_API_TOKEN

    secrets = [
        GATEWAY_TOKEN,
        DEFAULT_API_TOKEN,
        REPLAY_TOKEN,
        "wrong-token-value-123",
        OPENAI_TEST_KEY,
        ANTHROPIC_TEST_KEY,
    ]
    os.environ.setdefault("CF_TEST_SECRETS", ",".join(secrets))


@pytest.fixture(autouse=True)
def _httpx_pool_for_cassettes(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cassette tests send through httpx's own pool: their cassettes are recorded and played
    at httpx's transport, and vcrpy's aiohttp stub does not carry response headers into
    httpx-aiohttp's transport. Every other test uses the default backend (aiohttp's pool,
    installed with the dev extras), so both backends run in the suite."""
    if request.node.get_closest_marker("vcr") is not None:
        monkeypatch.setenv("CLOUDFLARE_AI_HTTP_BACKEND", "httpx")


# --- a private emulator per module -----------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    """A local emulator of this test module's own (a module that needs other settings defines
    its own ``emulator``): for tests that talk to it directly, outside the cassettes."""
    from cloudflare_ai_local import LocalCloudflare

    with LocalCloudflare() as cf:
        yield cf


@pytest.fixture
def connection(emulator: Any) -> dict[str, Any]:
    """Adapter keyword arguments that reach the module's ``emulator``, retrying quickly."""
    return {
        "account_id": emulator.account_id,
        "api_token": emulator.api_token,
        "base_url": emulator.base_url,
        "retry_policy": FAST_RETRY,
    }


# --- clients ---------------------------------------------------------------------------------


@pytest.fixture
def workers_ai(target: Target) -> Iterator[WorkersAIClient]:
    with WorkersAIClient(**target.client_kwargs()) as client:
        yield client


@pytest.fixture
async def async_workers_ai(target: Target) -> AsyncIterator[AsyncWorkersAIClient]:
    async with AsyncWorkersAIClient(**target.client_kwargs()) as client:
        yield client


@pytest.fixture
def vectorize(target: Target) -> Iterator[VectorizeClient]:
    with VectorizeClient(**target.client_kwargs()) as client:
        yield client


@pytest.fixture
async def async_vectorize(target: Target) -> AsyncIterator[AsyncVectorizeClient]:
    async with AsyncVectorizeClient(**target.client_kwargs()) as client:
        yield client


@pytest.fixture(autouse=True)
def _reset_faults(target: Target) -> Iterator[None]:
    yield
    target.clear_faults()


def requests_made(cassette: Any) -> int:
    """HTTP requests the test made so far: recorded ones while recording, replayed ones on
    replay (where ``cassette.requests`` lists everything in the file)."""
    return int(cassette.play_count) if cassette.play_count else len(cassette.requests)
