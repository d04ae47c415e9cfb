"""Real Cloudflare exchanges, recorded by another project against the live API, replayed
through our client. Requests are matched on method and path only (the recorded bodies were
sent by a different client); responses are Cloudflare's own."""

from __future__ import annotations

from pathlib import Path

import pytest
import vcr

from cloudflare_ai import AsyncWorkersAIClient, WorkersAIClient
from tests.conftest import CANONICAL_BASE, PLACEHOLDER_ACCOUNT, REFERENCE

RECORDED = REFERENCE / "recorded" / "chatlas-openai-compat"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ARGS = {"account_id": PLACEHOLDER_ACCOUNT, "api_token": "t", "base_url": CANONICAL_BASE}


def _replay(name: str) -> vcr.cassette.Cassette:
    path = RECORDED / name
    assert path.exists(), f"missing reference recording {path}"
    player = vcr.VCR(record_mode="none", match_on=["method", "path"])
    return player.use_cassette(str(path), allow_playback_repeats=False)


def _recorded_files() -> list[Path]:
    return sorted(RECORDED.glob("*.yaml"))


def test_reference_recordings_are_present() -> None:
    assert len(_recorded_files()) == 4


def test_real_openai_stream_parses() -> None:
    with _replay("test_cloudflare_simple_request.yaml"), WorkersAIClient(**ARGS) as ai:
        stream = ai.stream_chat(
            LLAMA, [{"role": "user", "content": "What is 1 + 1?"}], api="openai"
        )
        chunks = list(stream)
    assert "".join(c.text for c in chunks) == " + 1 = 2."
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1
    assert (usage[0].prompt_tokens, usage[0].completion_tokens, usage[0].total_tokens) == (
        43,
        9,
        52,
    )
    assert chunks[-1].finish_reason == "stop"
    assert stream.request_id == "9b6c921fae6a000c-ORD"  # cf-ray of that recording


async def test_real_openai_stream_parses_async() -> None:
    with _replay("test_cloudflare_simple_streaming_request.yaml"):
        async with AsyncWorkersAIClient(**ARGS) as ai:
            stream = ai.stream_chat(
                LLAMA, [{"role": "user", "content": "What is 1 + 1?"}], api="openai"
            )
            chunks = [c async for c in stream]
    assert "".join(c.text for c in chunks).strip()
    assert sum(1 for c in chunks if c.usage) == 1


def test_real_multi_turn_streams_parse() -> None:
    texts = []
    with _replay("test_cloudflare_respects_turns_interface.yaml"), WorkersAIClient(**ARGS) as ai:
        for _ in range(3):
            stream = ai.stream_chat(LLAMA, [{"role": "user", "content": "turn"}], api="openai")
            texts.append(stream.text())
            assert stream.response is not None
            assert stream.response.usage is not None
    assert all(texts)


def test_real_json_schema_answers_are_objects() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    with _replay("test_cloudflare_data_extraction.yaml"), WorkersAIClient(**ARGS) as ai:
        answers = [
            ai.chat(
                LLAMA,
                [{"role": "user", "content": "extract"}],
                api="openai",
                response_format=schema,
            )
            for _ in range(3)
        ]
        follow_up = ai.stream_chat(LLAMA, [{"role": "user", "content": "name?"}], api="openai")
        follow_text = follow_up.text()
    assert answers[0].parsed == {"title": "Apples are tasty", "author": "Hadley Wickham"}
    assert all(isinstance(a.parsed, dict) for a in answers)
    # This real answer carried no usage: its tokens are estimated, and still priced.
    usage = answers[0].usage
    assert usage is not None and usage.estimated
    assert usage.completion_tokens > 0 and usage.cost_usd is not None and usage.cost_usd > 0
    assert follow_text


@pytest.mark.parametrize("path", _recorded_files(), ids=lambda p: p.name)
def test_every_recorded_response_decodes(path: Path) -> None:
    import yaml

    data = yaml.safe_load(path.read_text())
    for interaction in data["interactions"]:
        assert interaction["response"]["status"]["code"] == 200
