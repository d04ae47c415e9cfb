"""Cost on every answer, usage trackers and budgets, against the local emulator.

Each cost is checked against :func:`cloudflare_ai.costs.cost_of` applied to the units the call
reported (or that the test computes independently: tiles from the image's size, seconds from
the WAV header), so a wrong unit or a dropped price fails.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import itertools
import threading
import wave
from collections.abc import Iterator

import pytest

from cloudflare_ai import (
    AsyncWorkersAIClient,
    BudgetExceededError,
    Units,
    VectorizeClient,
    WorkersAIClient,
    cost_of,
    estimate_tokens,
    track_usage,
)
from cloudflare_ai.config import ClientSettings
from cloudflare_ai.costs import tiles
from cloudflare_ai.errors import PartialWriteError
from cloudflare_ai.pipeline import ingest
from cloudflare_ai.types import Usage
from cloudflare_ai_local import LocalCloudflare

pytestmark = pytest.mark.emulator

LLAMA_8B = "@cf/meta/llama-3.1-8b-instruct"  # priced in neurons only (pricing page)
BGE = "@cf/baai/bge-base-en-v1.5"
FLUX = "@cf/black-forest-labs/flux-1-schnell"
WHISPER = "@cf/openai/whisper"
AURA_2 = "@cf/deepgram/aura-2-en"
RESNET = "@cf/microsoft/resnet-50"
M2M = "@cf/meta/m2m100-1.2b"
ASK = [{"role": "user", "content": "What does AI Gateway cache, and for how long?"}]
_names = itertools.count()


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def conn(cf: LocalCloudflare) -> dict[str, str]:
    return {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}


@pytest.fixture
def ai(conn: dict[str, str]) -> Iterator[WorkersAIClient]:
    with WorkersAIClient(**conn) as client:
        yield client


def priced(model: str, units: Units) -> tuple[float, float]:
    cost = cost_of(model, units)
    assert cost is not None
    return cost.neurons, cost.usd


def wav(seconds: float, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


# --- cost on every answer --------------------------------------------------------------------


@pytest.mark.parametrize("api", ["native", "openai"])
def test_llama_31_8b_chat_costs_neurons_and_usd(ai: WorkersAIClient, api: str) -> None:
    answer = ai.chat(LLAMA_8B, ASK, api=api)  # type: ignore[arg-type]
    usage = answer.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    neurons, usd = priced(
        LLAMA_8B, Units(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens)
    )
    # 25,608 neurons per M input tokens and 75,147 per M output (cloudflare-api.md §1.15).
    assert neurons == pytest.approx(
        (usage.prompt_tokens * 25_608 + usage.completion_tokens * 75_147) / 1e6
    )
    assert usage.neurons == pytest.approx(neurons)
    assert usage.cost_usd == pytest.approx(usd) and usd == pytest.approx(neurons * 0.011 / 1000)
    assert usage.complete and not usage.estimated


def test_native_embeddings_are_estimated_and_priced(ai: WorkersAIClient) -> None:
    texts = ["Vectorize stores vectors.", "AI Gateway caches answers for a while."]
    usage = ai.embed(texts, model=BGE).usage
    assert usage is not None and usage.estimated  # /ai/run reports no tokens for BGE
    tokens = sum(estimate_tokens(t) for t in texts)
    assert usage.prompt_tokens == tokens
    assert (usage.neurons, usage.cost_usd) == pytest.approx(priced(BGE, Units(input_tokens=tokens)))


def test_openai_embeddings_use_the_reported_tokens(ai: WorkersAIClient) -> None:
    usage = ai.embed(["one two three", "four"], model=BGE, api="openai").usage
    assert usage is not None and not usage.estimated and usage.prompt_tokens > 0
    expected = priced(BGE, Units(input_tokens=usage.prompt_tokens))
    assert (usage.neurons, usage.cost_usd) == pytest.approx(expected)


def test_image_is_priced_per_tile_of_its_size_and_per_step(ai: WorkersAIClient) -> None:
    image = ai.generate_image("a lighthouse at dusk", model=FLUX)
    usage = image.usage
    assert usage is not None and usage.units is not None
    width, height = image.size
    assert usage.units.output_tiles == tiles(width, height) > 0
    assert usage.units.steps == 4  # flux-1-schnell's default (UNCERTAIN, see metering)
    # 4.80 neurons per 512x512 tile plus 9.60 per step (cloudflare-api.md §1.15).
    assert usage.neurons == pytest.approx(tiles(width, height) * 4.8 + 4 * 9.6)
    explicit = ai.generate_image("a lighthouse", model=FLUX, num_steps=2).usage
    assert explicit is not None and explicit.units is not None and explicit.units.steps == 2


def test_transcription_is_priced_per_audio_minute(ai: WorkersAIClient) -> None:
    text = ai.transcribe(wav(3.0), model=WHISPER)
    usage = text.usage
    assert usage is not None and usage.units is not None
    assert usage.units.audio_seconds == pytest.approx(3.0)
    assert usage.neurons == pytest.approx(41.14 * 3.0 / 60)


def test_speech_is_priced_per_character(ai: WorkersAIClient) -> None:
    spoken = "Hello from Workers AI."
    usage = ai.speak(spoken, model=AURA_2).usage
    assert usage is not None and usage.units is not None
    assert usage.units.characters == len(spoken)
    assert usage.cost_usd == pytest.approx(0.03 * len(spoken) / 1000)


def test_image_classification_is_one_image(ai: WorkersAIClient) -> None:
    image = ai.generate_image("a red apple", model=FLUX)
    with track_usage() as usage:
        ai.classify_image(image.data, model=RESNET)
    # Plain-list answers carry no usage; the tracker has it: one image, priced once.
    totals = usage.by_model[RESNET]
    assert totals.calls == 1
    assert totals.neurons == pytest.approx(228_055 / 1e6)
    assert totals.cost_usd == pytest.approx(2.51e-6)


def test_stream_final_chunk_and_response_carry_the_usage(ai: WorkersAIClient) -> None:
    with track_usage() as usage:
        stream = ai.stream_chat(LLAMA_8B, ASK)
        chunks = list(stream)
    final = chunks[-1].usage
    assert final is not None and final.neurons is not None and final.cost_usd is not None
    assert [c for c in chunks if c.usage is not None] == [chunks[-1]]
    assert stream.response is not None and stream.response.usage == final
    assert usage.total.calls == 1
    assert usage.total.neurons == pytest.approx(final.neurons)


# --- trackers ---------------------------------------------------------------------------------


def _sum(usages: list[Usage | None]) -> tuple[int, float, float]:
    known = [u for u in usages if u is not None]
    assert len(known) == len(usages)
    return (
        sum(u.total_tokens for u in known),
        sum(u.neurons or 0.0 for u in known),
        sum(u.cost_usd or 0.0 for u in known),
    )


def test_tracker_totals_are_the_sum_of_the_calls(ai: WorkersAIClient) -> None:
    with track_usage() as outer:
        chat = ai.chat(LLAMA_8B, ASK)
        with track_usage() as inner:
            vectors = ai.embed(["one", "two", "three"], model=BGE)
            image = ai.generate_image("a cat", model=FLUX)
    tokens, neurons, usd = _sum([chat.usage, vectors.usage, image.usage])
    assert outer.total.calls == 3 and inner.total.calls == 2
    assert outer.total.total_tokens == tokens
    assert outer.total.neurons == pytest.approx(neurons)
    assert outer.total.cost_usd == pytest.approx(usd)
    assert set(outer.by_model) == {LLAMA_8B, BGE, FLUX}
    assert inner.total.neurons == pytest.approx(neurons - (chat.usage.neurons or 0))  # type: ignore[union-attr]
    after = ai.chat(LLAMA_8B, ASK)  # no tracker active: recorded nowhere
    assert after.usage is not None and outer.total.calls == 3


def test_tracker_counts_threads_and_embedding_batches(conn: dict[str, str]) -> None:
    texts = [f"document number {i} about vectors" for i in range(250)]  # 3 batches
    with WorkersAIClient(**conn) as ai, track_usage() as usage:
        results: list[Usage | None] = []
        lock = threading.Lock()

        def work() -> None:
            answer = ai.chat(LLAMA_8B, ASK)
            with lock:
                results.append(answer.usage)

        workers = [
            threading.Thread(target=contextvars.copy_context().run, args=(work,)) for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        batch = ai.embed(texts, model=BGE)  # sent from a thread pool, recorded here
        results.append(batch.usage)
    assert batch.requests == 3
    tokens, neurons, usd = _sum(results)
    assert usage.total.calls == 5
    assert usage.by_model[LLAMA_8B].calls == 4
    assert usage.total.total_tokens == tokens
    assert usage.total.neurons == pytest.approx(neurons)
    assert usage.total.cost_usd == pytest.approx(usd)


async def test_tracker_counts_concurrent_async_calls(conn: dict[str, str]) -> None:
    async with AsyncWorkersAIClient(**conn) as ai:
        with track_usage() as usage:
            answers = await asyncio.gather(*(ai.chat(LLAMA_8B, ASK) for _ in range(5)))
            vectors = await ai.embed(["alpha", "beta"], model=BGE)
            stream = ai.stream_chat(LLAMA_8B, ASK)
            streamed = [chunk async for chunk in stream]
    tokens, neurons, usd = _sum([a.usage for a in answers] + [vectors.usage, streamed[-1].usage])
    assert usage.total.calls == 7
    assert usage.total.total_tokens == tokens
    assert usage.total.neurons == pytest.approx(neurons)
    assert usage.total.cost_usd == pytest.approx(usd)


# --- budgets ----------------------------------------------------------------------------------


def test_budget_refuses_the_call_that_would_exceed_it_before_sending(
    ai: WorkersAIClient, cf: LocalCloudflare
) -> None:
    texts = [f"chunk {i}: " + "vector search with metadata filters " * 20 for i in range(40)]
    one = ai.embed(texts[:10], model=BGE).usage
    assert one is not None and one.neurons is not None
    budget = one.neurons * 2.5  # room for two batches of ten, not three
    done = 0

    def bulk_job() -> None:
        nonlocal done
        for start in range(0, len(texts), 10):
            ai.embed(texts[start : start + 10], model=BGE)
            done += 1

    with track_usage(budget_neurons=budget) as usage:
        with pytest.raises(BudgetExceededError) as refused:
            bulk_job()
    assert done == 2
    error = refused.value
    assert error.model == BGE and error.budget_neurons == budget
    assert error.usage.calls == 2 and error.usage.neurons == pytest.approx(2 * one.neurons)
    assert error.estimate_neurons == pytest.approx(one.neurons)
    assert BGE in str(error) and "not sent" in str(error)
    assert usage.total.calls == 2 and usage.total.neurons <= budget


def test_usd_budget_refuses_a_chat_by_its_max_tokens(ai: WorkersAIClient) -> None:
    with track_usage(budget_usd=1e-9) as usage, pytest.raises(BudgetExceededError):
        ai.chat(LLAMA_8B, ASK, max_tokens=100)
    assert usage.total.calls == 0
    with track_usage(budget_usd=1e-9), pytest.raises(BudgetExceededError):
        ai.stream_chat(LLAMA_8B, ASK)  # refused when made, before anything is read


def test_budget_stops_an_ingestion_cleanly(cf: LocalCloudflare, conn: dict[str, str]) -> None:
    index = f"metering-{next(_names)}"
    with VectorizeClient(**conn) as db:
        db.create_index(index, dimensions=768, metric="cosine")
    records = [(f"doc-{i}", f"record {i} about budgets and vectors") for i in range(500)]
    per_batch = cost_of(BGE, Units(input_tokens=sum(estimate_tokens(t) for _, t in records[:100])))
    assert per_batch is not None
    settings = ClientSettings.resolve(**conn)
    with track_usage(budget_neurons=per_batch.neurons * 2.5) as usage:
        with pytest.raises(PartialWriteError) as stopped:
            ingest(records, index=index, settings=settings, concurrency=1, wait=True)
    error = stopped.value
    assert isinstance(error.__cause__, BudgetExceededError)
    assert error.__cause__.usage.calls >= 1
    written, failed = set(error.written_ids), set(error.failed_ids)
    assert written and failed and not written & failed
    assert len(written) == 100 * usage.total.calls  # only whole, paid-for batches
    with VectorizeClient(**conn) as db:
        found = {r.id for r in db.get_by_ids(index, [r for r, _ in records])}
    assert found == written  # nothing of a refused batch was written
