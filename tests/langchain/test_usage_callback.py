"""LangChain: ``get_cloudflare_usage_callback`` over a real LCEL chain (our retriever and
ChatWorkersAI) reports what the core tracker reports; answers carry neurons and cost."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from cloudflare_ai import BudgetExceededError, VectorizeClient, track_usage
from cloudflare_ai.langchain import (
    ChatWorkersAI,
    CloudflareUsageCallbackHandler,
    VectorizeVectorStore,
    WorkersAIEmbeddings,
    get_cloudflare_usage_callback,
)
from cloudflare_ai_local import LocalCloudflare

pytestmark = pytest.mark.emulator

CHAT = "@cf/meta/llama-3.1-8b-instruct"
EMBED = "@cf/baai/bge-base-en-v1.5"
_names = itertools.count()


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def conn(cf: LocalCloudflare) -> dict[str, str]:
    return {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}


@pytest.fixture
def store(conn: dict[str, str]) -> VectorizeVectorStore:
    name = f"usage-lc-{next(_names)}"
    with VectorizeClient(**conn) as db:
        db.create_index(name, dimensions=768, metric="cosine")
    vectors = VectorizeVectorStore(
        WorkersAIEmbeddings(model=EMBED, **conn), name, wait_for_writes=True, **conn
    )
    vectors.add_documents(
        [
            Document("Vectorize filters need a metadata index created before writing."),
            Document("AI Gateway caches identical requests for the cache TTL."),
        ]
    )
    return vectors


def _chain(store: VectorizeVectorStore, conn: dict[str, str]):  # type: ignore[no-untyped-def]
    prompt = ChatPromptTemplate.from_template("Context: {context}\n\nQuestion: {question}")
    context = store.as_retriever(search_kwargs={"k": 2}) | (
        lambda docs: "\n\n".join(d.page_content for d in docs)
    )
    llm = ChatWorkersAI(model=CHAT, **conn)
    return {"context": context, "question": lambda q: q} | prompt | llm | StrOutputParser()


def test_callback_reports_the_core_totals_for_a_whole_chain(
    store: VectorizeVectorStore, conn: dict[str, str]
) -> None:
    chain = _chain(store, conn)
    with track_usage() as core, get_cloudflare_usage_callback() as cb:
        answer = chain.invoke("When must the metadata index exist?")
        streamed = "".join(chain.stream("What does AI Gateway cache?"))
    assert answer and streamed
    # Two runs: a query embedding and a chat answer each.
    assert cb.successful_requests == core.total.calls == 4
    assert cb.by_model[EMBED].calls == 2 and cb.by_model[CHAT].calls == 2
    assert cb.total_tokens == core.total.total_tokens > 0
    assert cb.prompt_tokens + cb.completion_tokens == cb.total_tokens
    assert cb.neurons == pytest.approx(core.total.neurons) and cb.neurons > 0
    assert cb.total_cost == pytest.approx(core.total.cost_usd) and cb.total_cost > 0
    assert "Total Cost (USD)" in repr(cb)


async def test_callback_counts_async_chains(
    store: VectorizeVectorStore, conn: dict[str, str]
) -> None:
    chain = _chain(store, conn)
    with track_usage() as core, get_cloudflare_usage_callback() as cb:
        await chain.ainvoke("When must the metadata index exist?")
    assert cb.successful_requests == core.total.calls == 2
    assert cb.total_cost == pytest.approx(core.total.cost_usd)
    assert cb.total_cost > 0


def test_messages_carry_neurons_and_cost(conn: dict[str, str]) -> None:
    llm = ChatWorkersAI(model=CHAT, **conn)
    message = llm.invoke("What is Vectorize?")
    meta = message.response_metadata
    assert meta["neurons"] > 0 and meta["cost_usd"] == pytest.approx(meta["neurons"] * 1.1e-5)
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] > 0
    last = list(llm.stream("What is Vectorize?"))[-1]
    assert last.response_metadata["neurons"] > 0 and last.response_metadata["cost_usd"] > 0


def test_handler_in_config_counts_the_chat_answers(conn: dict[str, str]) -> None:
    handler = CloudflareUsageCallbackHandler()
    llm = ChatWorkersAI(model=CHAT, **conn)
    with track_usage() as core:
        llm.invoke("What is Vectorize?", config={"callbacks": [handler]})
    assert handler.successful_requests == 1
    assert handler.total_tokens == core.total.total_tokens
    assert handler.neurons == pytest.approx(core.total.neurons)


def test_a_budget_stops_add_texts_before_the_call_that_would_exceed_it(
    store: VectorizeVectorStore, conn: dict[str, str]
) -> None:
    texts = [f"note {i}: " + "metadata indexes and filters " * 30 for i in range(6)]
    probe = WorkersAIEmbeddings(model=EMBED, **conn)
    with track_usage() as one:
        probe.embed_documents(texts[:2])
    written: list[str] = []

    def bulk_job() -> None:
        for start in range(0, len(texts), 2):
            written.extend(store.add_texts(texts[start : start + 2]))

    with get_cloudflare_usage_callback(budget_neurons=one.total.neurons * 2.5) as cb:
        with pytest.raises(BudgetExceededError) as refused:
            bulk_job()
    assert len(written) == 4 and cb.successful_requests == 2
    assert refused.value.usage.calls == 2
    found = store.get_by_ids(written + [f"missing-{i}" for i in range(2)])
    assert len(found) == 4  # only the texts of the paid-for calls were written
