"""AI Gateway's Universal endpoint and unified ``/compat`` endpoint with provider keys,
replayed from emulator recordings; the cassettes must hold none of the keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudflare_ai import WorkersAIClient
from tests.conftest import ANTHROPIC_TEST_KEY, GATEWAY_TOKEN, OPENAI_TEST_KEY, Target

LLAMA = "@cf/meta/llama-3.1-8b-instruct"
MESSAGES = [{"role": "user", "content": "What does the gateway do?"}]
KEYS = {"openai": OPENAI_TEST_KEY, "anthropic": ANTHROPIC_TEST_KEY}


def _client(target: Target) -> WorkersAIClient:
    settings = target.gateway(token=GATEWAY_TOKEN, provider_keys=KEYS)
    return WorkersAIClient(**target.client_kwargs(), gateway=settings)


@pytest.mark.vcr
def test_universal_steps_across_providers(target: Target) -> None:
    with _client(target) as client:
        answer = client.chat(
            "@cf/does/not-exist",  # step 0 fails (unknown model), step 1 answers
            MESSAGES,
            fallback_models=["anthropic/claude-3-5-haiku-latest", "openai/gpt-4o-mini"],
            fallback_via="gateway",
            max_tokens=64,
        )
    assert answer.model == "anthropic/claude-3-5-haiku-latest" and answer.text
    assert answer.gateway is not None and answer.gateway.step == 1


@pytest.mark.vcr
def test_compat_with_provider_keys(target: Target) -> None:
    with _client(target) as client:
        answer = client.chat("openai/gpt-4o-mini", MESSAGES, api="compat")
        streamed = client.stream_chat(f"workers-ai/{LLAMA}", MESSAGES, api="compat")
        text = streamed.text()
    assert answer.model == "openai/gpt-4o-mini" and answer.text
    assert text and streamed.model == f"workers-ai/{LLAMA}"


@pytest.mark.parametrize(
    "name", ["test_universal_steps_across_providers", "test_compat_with_provider_keys"]
)
def test_the_cassettes_hold_no_key(vcr_cassette_dir: str, target: Target, name: str) -> Any:
    if target.recording:
        pytest.skip("checked on the recorded cassettes, in replay")
    text = (Path(vcr_cassette_dir).parent / "test_gateway_providers" / f"{name}.yaml").read_text()
    assert "REDACTED" in text
    for secret in (OPENAI_TEST_KEY, ANTHROPIC_TEST_KEY, GATEWAY_TOKEN, target.api_token):
        assert secret not in text
