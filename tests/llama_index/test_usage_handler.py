"""LlamaIndex: ``CloudflareUsageHandler`` in a callback manager reports, for a query engine,
what the core tracker reports; the LLM's ``raw`` and ``additional_kwargs`` carry the cost."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import ChatMessage

from cloudflare_ai import BudgetExceededError, track_usage
from cloudflare_ai.llama_index import (
    CloudflareUsageHandler,
    VectorizeVectorStore,
    WorkersAI,
    WorkersAIEmbedding,
)
from cloudflare_ai_local import LocalCloudflare

pytestmark = pytest.mark.emulator

CHAT = "@cf/meta/llama-3.1-8b-instruct"
EMBED = "@cf/baai/bge-base-en-v1.5"
_names = itertools.count()
DOCS = [
    Document(text="Vectorize filters need a metadata index created before writing."),
    Document(text="AI Gateway caches identical requests for the cache TTL."),
]


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def conn(cf: LocalCloudflare) -> dict[str, str]:
    return {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}


def _index(conn: dict[str, str]) -> VectorStoreIndex:
    store = VectorizeVectorStore(
        index_name=f"usage-li-{next(_names)}", wait_for_writes=True, **conn
    )
    return VectorStoreIndex.from_documents(
        DOCS,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WorkersAIEmbedding(model_name=EMBED, **conn),
    )


def test_handler_reports_the_core_totals_for_a_query_engine(
    conn: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = CloudflareUsageHandler()
    monkeypatch.setattr(Settings, "callback_manager", CallbackManager([handler]))
    index = _index(conn)
    built = handler.total
    assert built.calls == 1 and handler.by_model[EMBED].calls == 1  # the documents' embedding
    llm = WorkersAI(model=CHAT, **conn)
    with track_usage() as core:
        answer = index.as_query_engine(llm=llm).query("When must the metadata index exist?")
        streamed = index.as_query_engine(llm=llm, streaming=True)
        text = "".join(streamed.query("What does AI Gateway cache?").response_gen)
    assert str(answer) and text
    since = handler.total
    assert since.calls - built.calls == core.total.calls == 4  # 2 x (query embedding + chat)
    assert since.total_tokens - built.total_tokens == core.total.total_tokens
    assert since.neurons - built.neurons == pytest.approx(core.total.neurons)
    assert handler.total_cost - built.cost_usd == pytest.approx(core.total.cost_usd)
    assert handler.by_model[CHAT].calls == 2 and handler.total_cost > 0


def test_calls_outside_a_trace_of_the_manager_are_not_counted(conn: dict[str, str]) -> None:
    handler = CloudflareUsageHandler()
    WorkersAI(model=CHAT, **conn).complete("hello")  # its own manager, without the handler
    assert handler.successful_requests == 0
    WorkersAI(model=CHAT, callback_manager=CallbackManager([handler]), **conn).complete("hi")
    assert handler.successful_requests == 1


def test_llm_raw_and_additional_kwargs_carry_the_cost(conn: dict[str, str]) -> None:
    llm = WorkersAI(model=CHAT, **conn)
    response = llm.chat([ChatMessage(role="user", content="What is Vectorize?")])
    usage = response.raw["usage"]
    assert usage["neurons"] > 0 and usage["cost_usd"] > 0
    assert response.additional_kwargs["neurons"] == usage["neurons"]
    last = list(llm.stream_chat([ChatMessage(role="user", content="And AI Gateway?")]))[-1]
    assert last.raw["usage"]["neurons"] > 0 and last.additional_kwargs["cost_usd"] > 0


def test_handler_budget_refuses_a_query(conn: dict[str, str]) -> None:
    handler = CloudflareUsageHandler(budget_neurons=0.0001)
    llm = WorkersAI(model=CHAT, callback_manager=CallbackManager([handler]), **conn)
    with pytest.raises(BudgetExceededError):
        llm.complete("What is Vectorize?")
    assert handler.successful_requests == 0
