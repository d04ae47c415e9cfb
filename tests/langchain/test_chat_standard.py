"""langchain-tests' standard suites for ChatWorkersAI, replayed from emulator recordings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from cloudflare_ai.langchain import ChatWorkersAI
from tests.conftest import FAST_RETRY

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
GEMMA = "@cf/google/gemma-3-12b-it"

#: Standard tests the local engine cannot pass because they need a real model's judgement
#: (or a request that cannot be replayed); they run with credentials (`make record-live`).
LIVE_ONLY = {
    "test_structured_few_shot_examples": "the suite puts fresh uuid4 tool-call ids in the "
    "request body, so a body-matched cassette cannot replay it",
    "test_json_mode": "asks for JSON with keys named only in the prompt; the local engine "
    "has no schema to follow",
}

#: Stands in for the image the suite's image tests download from the internet (a 32x16
#: light-grey PNG with a blue rectangle; fixed bytes, since the recorded bodies hold them).
SUITE_IMAGE = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000020000000100802000000f862ea0e0000003249444154789c"
    "637cf6ec19032d01134d4d1f1616b090aac122ec1141352756c9c1d9433f88462d180116308e9645036e01"
    "00a873088544970d800000000049454e44ae426082"
)


class _SuiteImage:
    """``httpx`` as the suite module sees it: ``get`` of the suite's image URL answers
    :data:`SUITE_IMAGE`, anything else fails."""

    @staticmethod
    def get(url: str, **_: Any) -> Any:
        assert url.endswith(".png") and "langchain-ai/docs" in url, url
        return SimpleNamespace(content=SUITE_IMAGE)


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
        return False  # a text model: images are refused before sending

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True


class TestChatWorkersAIVisionIntegration(TestChatWorkersAIIntegration):
    """The standard suite again on a vision model, with the image tests (base64 images in
    human and tool messages, OpenAI and standard blocks, Anthropic's image source)."""

    @pytest.fixture(autouse=True)
    def _suite_image(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import langchain_tests.integration_tests.chat_models as suite

        monkeypatch.setattr(suite, "httpx", _SuiteImage)

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": GEMMA, "temperature": 0, "retry_policy": FAST_RETRY}

    @property
    def model_override_value(self) -> str:
        return SCOUT

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True
