"""The model table, and embed() batching, ordering and concurrency."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import httpx
import orjson
import pytest

from cloudflare_ai import (
    APIError,
    EmbeddingResponse,
    ValidationError,
    get_model,
    iter_models,
    require_model,
)
from cloudflare_ai.models import DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL, embedding_dimensions

from ._support import Recorder, ai_client, async_ai_client, clear_env, envelope, json_response

BGE_SMALL = "@cf/baai/bge-small-en-v1.5"
QWEN_EMBED = "@cf/qwen/qwen3-embedding-0.6b"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)


# --- the table --------------------------------------------------------------------------------


#: The models of the first bundled table (7 embedding, 8 text-generation models).
FIRST_TABLE = {
    "text-embeddings": {
        "@cf/baai/bge-small-en-v1.5",
        "@cf/baai/bge-base-en-v1.5",
        "@cf/baai/bge-large-en-v1.5",
        "@cf/baai/bge-m3",
        "@cf/google/embeddinggemma-300m",
        "@cf/qwen/qwen3-embedding-0.6b",
        "@cf/pfnet/plamo-embedding-1b",
    },
    "text-generation": {
        "@cf/meta/llama-3.1-8b-instruct",
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "@cf/meta/llama-4-scout-17b-16e-instruct",
        "@cf/mistralai/mistral-small-3.1-24b-instruct",
        "@cf/google/gemma-3-12b-it",
        "@cf/qwen/qwen3-30b-a3b-fp8",
        "@cf/openai/gpt-oss-120b",
        "@cf/openai/gpt-oss-20b",
    },
}


@pytest.mark.parametrize("task", sorted(FIRST_TABLE))
def test_table_keeps_the_first_models(task: str) -> None:
    names = [m.name for m in iter_models(task)]  # type: ignore[arg-type]
    assert len(names) == len(set(names))
    assert FIRST_TABLE[task] <= set(names)
    for name in FIRST_TABLE[task]:
        assert require_model(name).source == "catalog"
        assert require_model(name).has_schema


@pytest.mark.parametrize(
    ("name", "dims"),
    [
        ("@cf/baai/bge-small-en-v1.5", 384),
        ("@cf/baai/bge-base-en-v1.5", 768),
        ("@cf/baai/bge-large-en-v1.5", 1024),
    ],
)
def test_bge_dimensions_and_batch(name: str, dims: int) -> None:
    info = require_model(name)
    assert info.dimensions == dims
    assert embedding_dimensions(name) == dims
    assert info.max_batch == 100
    assert info.is_embedding
    assert info.output_style == "embedding"


def test_qwen3_embedding_batch_limit() -> None:
    assert require_model(QWEN_EMBED).max_batch == 32


@pytest.mark.parametrize(
    ("name", "window", "price_in", "price_out"),
    [
        ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", 24000, 0.29, 2.25),
        ("@cf/meta/llama-4-scout-17b-16e-instruct", 131000, 0.27, 0.85),
        ("@cf/mistralai/mistral-small-3.1-24b-instruct", 128000, 0.35, 0.56),
        ("@cf/google/gemma-3-12b-it", 80000, 0.35, 0.56),
        ("@cf/qwen/qwen3-30b-a3b-fp8", 32768, 0.051, 0.34),
        ("@cf/openai/gpt-oss-120b", 128000, 0.35, 0.75),
        ("@cf/openai/gpt-oss-20b", 128000, 0.20, 0.30),
    ],
)
def test_context_windows_and_prices(
    name: str, window: int, price_in: float, price_out: float
) -> None:
    info = require_model(name)
    assert info.context_window == window
    assert info.price_input_per_m == pytest.approx(price_in)
    assert info.price_output_per_m == pytest.approx(price_out)
    assert info.task == "text-generation"
    assert info.dimensions is None


def test_model_flags() -> None:
    assert require_model("@cf/qwen/qwen3-30b-a3b-fp8").output_style == "chat.completion"
    assert require_model("@cf/meta/llama-3.3-70b-instruct-fp8-fast").output_style == "classic"
    assert require_model("@cf/meta/llama-3.3-70b-instruct-fp8-fast").function_calling
    assert require_model("@cf/meta/llama-4-scout-17b-16e-instruct").vision
    assert require_model("@cf/baai/bge-large-en-v1.5").requests_per_minute == 1500
    assert require_model("@cf/baai/bge-small-en-v1.5").requests_per_minute == 3000
    assert require_model(DEFAULT_CHAT_MODEL).requests_per_minute == 300
    assert get_model(DEFAULT_EMBEDDING_MODEL) is not None


def test_unknown_model() -> None:
    assert get_model("@cf/nope/nothing") is None
    assert embedding_dimensions("@cf/nope/nothing") is None
    with pytest.raises(KeyError, match="bge-small"):
        require_model("@cf/nope/nothing")


# --- embed batching ---------------------------------------------------------------------------


def vector_for(text: str) -> list[float]:
    """A 2-d vector that encodes which input produced it."""
    return [float(int(text.removeprefix("t"))), 1.0]


def embed_answer(request: httpx.Request) -> httpx.Response:
    texts = orjson.loads(request.content)["text"]
    return json_response(
        200,
        envelope(
            {
                "shape": [len(texts), 2],
                "data": [vector_for(t) for t in texts],
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            }
        ),
    )


@pytest.mark.parametrize(("n", "requests"), [(1, 1), (100, 1), (101, 2), (250, 3)])
def test_embed_batches_at_model_limit(n: int, requests: int) -> None:
    rec = Recorder(embed_answer)
    texts = [f"t{i}" for i in range(n)]
    out = ai_client(rec).embed(texts, model=BGE_SMALL)
    assert isinstance(out, EmbeddingResponse)
    assert rec.count == requests
    sizes = sorted((len(orjson.loads(r.content)["text"]) for r in rec.requests), reverse=True)
    assert all(size <= 100 for size in sizes)
    assert sum(sizes) == n
    assert out.vectors == [vector_for(t) for t in texts]
    assert out.requests == requests
    assert out.dimensions == 2
    assert out.usage is not None
    assert out.usage.prompt_tokens == n
    assert out.usage.cost_usd == pytest.approx(n * 0.02 / 1e6)


def test_embed_qwen_batches_of_32() -> None:
    rec = Recorder(embed_answer)
    out = ai_client(rec).embed([f"t{i}" for i in range(100)], model=QWEN_EMBED)
    assert rec.count == 4
    assert sorted(len(orjson.loads(r.content)["text"]) for r in rec.requests) == [4, 32, 32, 32]
    assert len(out.vectors) == 100


def test_embed_explicit_batch_size() -> None:
    rec = Recorder(embed_answer)
    ai_client(rec).embed([f"t{i}" for i in range(10)], model=BGE_SMALL, batch_size=3)
    assert rec.count == 4
    with pytest.raises(ValidationError, match="limit of 32"):
        ai_client(rec).embed(["t1"], model=QWEN_EMBED, batch_size=33)
    with pytest.raises(ValidationError, match="at least 1"):
        ai_client(rec).embed(["t1"], model=QWEN_EMBED, batch_size=0)
    assert rec.count == 4


@pytest.mark.parametrize("texts", [["t1", ""], ["t1", "   "], ["t1", None]])
def test_embed_refuses_empty_or_non_string_text(texts: list[object]) -> None:
    rec = Recorder(embed_answer)
    with pytest.raises(ValidationError) as info:
        ai_client(rec).embed(texts)  # type: ignore[arg-type]
    assert info.value.position == 1
    assert rec.count == 0


def test_embed_single_string() -> None:
    rec = Recorder(embed_answer)
    out = ai_client(rec).embed("t7", model=BGE_SMALL)
    assert out.vectors == [[7.0, 1.0]]


def test_embed_wrong_count_is_error() -> None:
    def short(request: httpx.Request) -> httpx.Response:
        return json_response(200, envelope({"shape": [1, 2], "data": [[0.0, 1.0]]}))

    with pytest.raises(APIError, match="expected 2 embeddings"):
        ai_client(short).embed(["t1", "t2"], model=BGE_SMALL)


def test_sync_embed_order_and_concurrency_limit() -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}
    rng = random.Random(5)

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            delay = rng.uniform(0.005, 0.02)
        time.sleep(delay)
        try:
            return embed_answer(request)
        finally:
            with lock:
                state["now"] -= 1

    texts = [f"t{i}" for i in range(1000)]
    out = ai_client(handler, max_concurrency=3).embed(texts, model=BGE_SMALL)
    assert out.vectors == [vector_for(t) for t in texts]
    assert out.requests == 10
    assert 1 < state["peak"] <= 3


async def test_async_embed_order_under_scrambled_timing_and_concurrency_limit() -> None:
    state = {"now": 0, "peak": 0, "order": []}
    rng = random.Random(11)

    async def handler(request: httpx.Request) -> httpx.Response:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        try:
            await asyncio.sleep(rng.uniform(0.002, 0.03))
            texts = orjson.loads(request.content)["text"]
            state["order"].append(texts[0])
            return embed_answer(request)
        finally:
            state["now"] -= 1

    texts = [f"t{i}" for i in range(1000)]
    out = await async_ai_client(handler, max_concurrency=4).embed(texts, model=BGE_SMALL)
    assert out.vectors == [vector_for(t) for t in texts]
    assert out.requests == 10
    assert 1 < state["peak"] <= 4
    first_texts = [f"t{i * 100}" for i in range(10)]
    assert sorted(state["order"], key=lambda t: int(t[1:])) == first_texts
    assert state["order"] != first_texts  # the answers really did arrive out of order


async def test_async_embed_openai_api_sorts_by_index() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        texts = orjson.loads(request.content)["input"]
        data = [{"index": i, "embedding": vector_for(t)} for i, t in enumerate(texts)]
        return json_response(200, {"data": list(reversed(data)), "usage": {"prompt_tokens": 2}})

    out = await async_ai_client(handler).embed(["t1", "t2", "t3"], model=BGE_SMALL, api="openai")
    assert out.vectors == [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
