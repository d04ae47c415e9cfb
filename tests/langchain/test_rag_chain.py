"""End to end: an LCEL RAG chain over Vectorize and Workers AI, sync, streaming and async."""

from __future__ import annotations

from typing import Any

import pytest

from cloudflare_ai_app.demo_frameworks import langchain_rag, stream_langchain
from cloudflare_ai_app.environment import Connection
from tests.conftest import Target

QUESTION = "When do I have to create a metadata index for Vectorize filters to work?"
pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("cloudflare_env")]


def _connection(target: Target) -> Connection:
    return Connection(target.account_id, target.api_token, target.base_url, None, local=True)


def _check(result: dict[str, Any]) -> None:
    assert "before you write the vectors" in result["answer"]
    sources = [d.metadata["source"] for d in result["docs"]]
    assert sources[0] == "vectorize-metadata-filters.md#3"
    assert all(d.metadata["topic"] in {"vectorize", "workers-ai", "ai-gateway", "operations"}
               for d in result["docs"])  # fmt: skip
    assert all(d.page_content for d in result["docs"])  # the text came back from Vectorize


def test_rag_chain_invoke(target: Target) -> None:
    chain = langchain_rag(_connection(target), index_name="lc-rag-invoke")
    _check(chain.invoke(QUESTION))


def test_rag_chain_streams_the_answer(target: Target) -> None:
    chain = langchain_rag(_connection(target), index_name="lc-rag-stream")
    pieces = list(stream_langchain(chain, QUESTION))
    assert len(pieces) > 5, "the answer arrives in pieces"
    answer = "".join(piece for piece, _ in pieces)
    _check({"answer": answer, "docs": pieces[-1][1]})


async def test_rag_chain_async(target: Target) -> None:
    chain = langchain_rag(_connection(target), index_name="lc-rag-async")
    _check(await chain.ainvoke(QUESTION))
    parts = [part async for part in chain.astream(QUESTION)]
    assert "".join(p.get("answer", "") for p in parts) == (await chain.ainvoke(QUESTION))["answer"]


def test_filter_restricts_what_the_chain_sees(target: Target) -> None:
    chain = langchain_rag(
        _connection(target), index_name="lc-rag-filter", filter={"topic": "ai-gateway"}
    )
    result = chain.invoke(QUESTION)  # a Vectorize question, but only gateway passages allowed
    assert len(result["docs"]) == 3
    assert {d.metadata["topic"] for d in result["docs"]} == {"ai-gateway"}
    assert "before you write the vectors" not in result["answer"]
