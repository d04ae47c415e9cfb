"""The emulator counts tokens the way the served tokenizers roughly do (CJK characters one each),
so a Japanese, Chinese or Korean prompt that is too long for Cloudflare is too long locally:
text generation is refused over the model's context window from the catalog, embeddings over
``max_input_tokens``, both with 5006, exactly where the client's estimate says."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cloudflare_ai import InputTruncatedWarning, WorkersAIClient
from cloudflare_ai.errors import APIError
from cloudflare_ai.models import get_model
from cloudflare_ai.tokens import estimate_tokens, truncate_to_tokens
from cloudflare_ai_local import LocalCloudflare
from cloudflare_ai_local.textgen import complete, count_tokens, pieces

from .conftest import API, BGE, LLAMA, QWEN
from .helpers import assert_error, sse_events

JA = "東京は日本の首都で人口が多い"  # 14 characters, no punctuation
ZH = "北京是中国的首都人口很多"  # 12
KO = "서울은한국의수도입니다"  # 11 (hangul syllables)
EN = "Vectorize stores embeddings next to their metadata."


def _window(model: str) -> int:
    info = get_model(model)
    assert info is not None and info.context_window
    return info.context_window


def _repeat(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


async def _run(client: httpx.AsyncClient, model: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{API}/ai/run/{model}", json=body)


# --- counting ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [JA, ZH, KO])
def test_cjk_counts_one_token_per_character(text: str) -> None:
    assert count_tokens(text) == len(text)
    # a whitespace-separated count would have called each of these one token
    assert len(text.split()) == 1


def test_ascii_words_digits_and_punctuation() -> None:
    assert count_tokens("the") == 1
    assert count_tokens("embeddings") == 2  # one per six letters
    assert count_tokens("1234567") == 3  # digits in groups of three
    assert count_tokens("Hi, there!") == 4  # Hi , there !
    assert count_tokens("\u041c\u043e\u0441\u043a\u0432\u0430") == 3  # Cyrillic by two
    assert count_tokens("caf\u00e9 \U0001f44d") == 3  # caf, the accent, the emoji
    assert count_tokens("  \n\t ") == 0


def test_counts_never_exceed_the_embedding_estimate() -> None:
    """The library's embedding estimate is meant to be the high side; the LLM count is at
    most that (it groups digits by three where WordPiece's estimate groups them by two)."""
    for text in (JA, ZH, KO, EN, "Order 1234567 shipped on 2026-11-30!", "caf\u00e9 \U0001f44d"):
        assert count_tokens(text) <= estimate_tokens(text) - 2


@pytest.mark.parametrize("text", [EN, JA, f"{KO} and {ZH}, 12345 times.\n\n  end  "])
def test_pieces_are_the_counted_tokens(text: str) -> None:
    parts = pieces(text)
    assert "".join(parts) == text.rstrip()
    assert len(parts) == count_tokens(text)


def test_max_tokens_cuts_by_the_counted_tokens() -> None:
    comp = complete(JA + " " + EN, prompt_tokens=7, max_tokens=5)
    assert comp.finish_reason == "length"
    assert comp.text == JA[:5]
    assert comp.completion_tokens == count_tokens(comp.text) == 5
    assert comp.usage() == {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}


# --- usage ---------------------------------------------------------------------------------


async def test_usage_counts_cjk_prompts_per_character(client: httpx.AsyncClient) -> None:
    body = {"messages": [{"role": "system", "content": ZH}, {"role": "user", "content": JA}]}
    r = await client.post(f"{API}/ai/v1/chat/completions", json={"model": QWEN, **body})
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    assert usage["prompt_tokens"] == len(ZH) + len(JA)
    answer = r.json()["choices"][0]["message"]["content"]
    assert usage["completion_tokens"] == count_tokens(answer)


async def test_streamed_chunks_are_the_counted_tokens(client: httpx.AsyncClient) -> None:
    body = {"messages": [{"role": "user", "content": JA}], "max_tokens": 4, "stream": True}
    r = await client.post(f"{API}/ai/v1/chat/completions", json={"model": QWEN, **body})
    assert r.status_code == 200, r.text
    events = [e for e in sse_events(r.text) if e != "[DONE]"]
    texts = [
        c["delta"]["content"]
        for e in events
        for c in e.get("choices", [])
        if c.get("delta", {}).get("content")
    ]
    usage = [e["usage"] for e in events if e.get("usage")][-1]
    assert len(texts) == usage["completion_tokens"] == 4
    assert usage["prompt_tokens"] == len(JA)


# --- context windows -----------------------------------------------------------------------


@pytest.mark.parametrize("unit", [JA, ZH, KO, "word "])
async def test_over_the_context_window_is_5006_in_every_script(
    client: httpx.AsyncClient, unit: str
) -> None:
    window = _window(LLAMA)
    # one more token than fits with the default 256 output tokens
    text = _repeat(unit, (window - 256 + 1) * len(unit) // count_tokens(unit))
    assert count_tokens(text) + 256 > window
    r = await _run(client, LLAMA, {"messages": [{"role": "user", "content": text}]})
    body = assert_error(r, 400, 5006)
    assert f"maximum context length is {window} tokens" in body["errors"][0]["message"]


@pytest.mark.parametrize("unit", [JA, ZH, KO])
async def test_under_the_context_window_passes(client: httpx.AsyncClient, unit: str) -> None:
    window = _window(LLAMA)
    text = _repeat(unit, window - 256)  # exactly fills the window
    assert count_tokens(text) + 256 == window
    r = await _run(client, LLAMA, {"messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["usage"]["prompt_tokens"] == window - 256


async def test_same_characters_of_english_fit_where_japanese_does_not(
    client: httpx.AsyncClient,
) -> None:
    window = _window(LLAMA)
    chars = window  # as many characters as the window has tokens
    english = _repeat("Vectorize stores embeddings. ", chars)
    japanese = _repeat(JA, chars)
    ok = await _run(client, LLAMA, {"prompt": english})
    assert ok.status_code == 200, ok.text
    assert_error(await _run(client, LLAMA, {"prompt": japanese}), 400, 5006)


async def test_max_tokens_counts_against_the_window(client: httpx.AsyncClient) -> None:
    window = _window(QWEN)
    text = _repeat(JA, window - 1000)
    messages = [{"role": "user", "content": text}]
    fits = {"model": QWEN, "messages": messages, "max_tokens": 1000}
    r = await client.post(f"{API}/ai/v1/chat/completions", json=fits)
    assert r.status_code == 200, r.text
    too_many = {**fits, "max_tokens": 1001}
    r = await client.post(f"{API}/ai/v1/chat/completions", json=too_many)
    message = assert_error(r, 400, 5006)["errors"][0]["message"]
    assert f"max_tokens asks for 1001 more ({window + 1} in all)" in message


# --- embeddings ----------------------------------------------------------------------------


@pytest.mark.parametrize(("chars", "status"), [(510, 200), (511, 400), (600, 400)])
async def test_bge_refuses_japanese_exactly_where_the_estimate_says(
    client: httpx.AsyncClient, chars: int, status: int
) -> None:
    text = _repeat(JA, chars)
    assert estimate_tokens(text) == chars + 2  # [CLS], [SEP] and one per character
    r = await _run(client, BGE, {"text": [EN, text]})
    if status == 200:
        assert r.status_code == 200, r.text
    else:
        message = assert_error(r, 400, 5006)["errors"][0]["message"]
        assert f"({chars + 2} tokens)" in message


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.mark.emulator
def test_client_truncation_makes_long_japanese_pass(cf: LocalCloudflare) -> None:
    text = _repeat(JA, 600)
    conn = {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}
    with WorkersAIClient(**conn) as ai:
        with pytest.raises(APIError) as refused:
            ai.run(BGE, {"text": [text]})
        assert refused.value.code == 5006
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cut = ai.embed([text], model=BGE, long_inputs="truncate")
        assert any(issubclass(w.category, InputTruncatedWarning) for w in caught)
        fitted = truncate_to_tokens(text, 512)
        assert len(fitted) == 510
        assert cut.vectors[0] == ai.embed([fitted], model=BGE).vectors[0]
