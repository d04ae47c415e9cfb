"""WorkersAI (completion LLM) and WorkersAIEmbeddings beyond the standard suites."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from cloudflare_ai.langchain import WorkersAI, WorkersAIEmbeddings
from tests.conftest import FAST_RETRY, requests_made

pytestmark = pytest.mark.usefixtures("cloudflare_env")
PROMPT = (
    "Context: Vectorize stores vectors with metadata. Workers AI runs models.\n"
    "Question: What does Vectorize store?"
)


class Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


@pytest.mark.vcr
def test_completion_invoke_stream_with_callbacks() -> None:
    llm = WorkersAI(retry_policy=FAST_RETRY, max_tokens=64)
    text = llm.invoke(PROMPT)
    assert "Vectorize stores vectors" in text
    assert PROMPT not in text  # the answer does not echo the prompt
    handler = Tokens()
    streamed = "".join(llm.stream(PROMPT, config={"callbacks": [handler]}))
    assert streamed == text
    assert len(handler.tokens) > 2
    assert "".join(handler.tokens) == text


@pytest.mark.vcr
def test_completion_raw_mode_and_stop(vcr: Any) -> None:
    llm = WorkersAI(retry_policy=FAST_RETRY, raw=True)
    text = llm.invoke(PROMPT, stop=["metadata"])
    assert json.loads(vcr.requests[-1].body)["raw"] is True
    assert "metadata" not in text


@pytest.mark.vcr
async def test_completion_async() -> None:
    llm = WorkersAI(retry_policy=FAST_RETRY)
    text = await llm.ainvoke(PROMPT)
    parts = [p async for p in llm.astream(PROMPT)]
    assert "".join(parts) == text


@pytest.mark.vcr
def test_embeddings_batches_concurrently_in_order(vcr: Any) -> None:
    embeddings = WorkersAIEmbeddings(retry_policy=FAST_RETRY, max_concurrency=4)
    texts = [f"passage {i} about vectors" for i in range(250)]
    vectors = embeddings.embed_documents(texts)
    assert len(vectors) == 250
    assert all(isinstance(v[0], float) and len(v) == 768 for v in vectors)
    assert requests_made(vcr) == 3  # 100 + 100 + 50, not 50-text sequential batches
    assert embeddings.dimensions == 768
    assert embeddings.embed_query(texts[137]) == pytest.approx(vectors[137])


@pytest.mark.vcr
def test_embeddings_pooling_and_no_lossy_newline_stripping(vcr: Any) -> None:
    embeddings = WorkersAIEmbeddings(retry_policy=FAST_RETRY, pooling="cls")
    embeddings.embed_documents(["line one\nline two"])
    body = json.loads(vcr.requests[-1].body)
    assert body == {"text": ["line one\nline two"], "pooling": "cls"}


@pytest.mark.vcr
async def test_embeddings_async() -> None:
    embeddings = WorkersAIEmbeddings(model="@cf/baai/bge-small-en-v1.5", retry_policy=FAST_RETRY)
    vectors = await embeddings.aembed_documents(["a", "b", "c"])
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert await embeddings.aembed_query("a") == pytest.approx(vectors[0])


def test_embeddings_empty_input_needs_no_request() -> None:
    assert WorkersAIEmbeddings(account_id="a" * 32, api_token="t").embed_documents([]) == []
