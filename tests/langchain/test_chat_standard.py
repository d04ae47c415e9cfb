"""langchain-tests' standard suites for ChatWorkersAI, replayed from emulator recordings."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from cloudflare_ai.langchain import ChatWorkersAI
from tests.conftest import FAST_RETRY

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"

#: Standard tests the local engine cannot pass because they need a real model's judgement
#: (or a request that cannot be replayed); they run with credentials (`make record-live`).
LIVE_ONLY = {
    "test_structured_few_shot_examples": "the suite puts fresh uuid4 tool-call ids in the "
    "request body, so a body-matched cassette cannot replay it",
    "test_json_mode": "asks for JSON with keys named only in the prompt; the local engine "
    "has no schema to follow",
    "test_image_inputs": "downloads an image from the internet while recording",
    "test_anthropic_inputs": "downloads an image from the internet while recording",
}


class TestChatWorkersAIUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatWorkersAI]:
        return ChatWorkersAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": LLAMA, "account_id": "0123456789abcdef0123456789abcdef"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "CLOUDFLARE_ACCOUNT_ID": "abcdefabcdefabcdefabcdefabcdefab",
                "CLOUDFLARE_API_TOKEN": "env-token",
                "CLOUDFLARE_BASE_URL": "https://example.invalid/client/v4",
            },
            {"model": LLAMA},
            {
                "account_id": "abcdefabcdefabcdefabcdefabcdefab",
                "base_url": "https://example.invalid/client/v4",
            },
        )

    @property
    def supports_json_mode(self) -> bool:
        return True


@pytest.mark.vcr
@pytest.mark.usefixtures("cloudflare_env")
class TestChatWorkersAIIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatWorkersAI]:
        return ChatWorkersAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": LLAMA, "temperature": 0, "retry_policy": FAST_RETRY}

    @property
    def model_override_value(self) -> str:
        return SCOUT

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True
