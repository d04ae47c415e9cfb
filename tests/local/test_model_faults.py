"""Scripted per-model faults: the next calls of one model fail in a chosen order."""

from __future__ import annotations

import pytest

from cloudflare_ai import WorkersAIClient
from cloudflare_ai.errors import APIError
from cloudflare_ai.transport import RetryPolicy
from cloudflare_ai_local import LocalCloudflare

MODEL = "@cf/meta/llama-3.1-8b-instruct"


def test_scripted_faults_hit_only_that_model_in_order() -> None:
    with LocalCloudflare() as cf:
        client = WorkersAIClient(
            account_id=cf.account_id,
            api_token=cf.api_token,
            base_url=cf.base_url,
            retry=RetryPolicy(max_retries=0),
        )
        cf.fail_model(MODEL, "3040", "500")
        other = client.chat("@cf/meta/llama-3.2-1b-instruct", prompt="hi")
        assert other.text
        with pytest.raises(APIError) as first:
            client.chat(MODEL, prompt="hi")
        assert first.value.code == 3040
        with pytest.raises(APIError) as second:
            client.chat(MODEL, prompt="hi")
        assert second.value.status_code == 500
        assert client.chat(MODEL, prompt="hi").text
        assert [kind for _, kind in cf.injected_faults] == ["3040", "500"]
        client.close()


def test_unknown_kind_is_refused() -> None:
    with LocalCloudflare() as cf, pytest.raises(ValueError, match="unknown model fault"):
        cf.fail_model(MODEL, "drop")
