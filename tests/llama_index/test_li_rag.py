"""LlamaIndex end to end on Vectorize and Workers AI: query engines with filters and streaming,
a chat engine, refreshing and deleting a document, async paths. Replayed from cassettes."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

from cloudflare_ai.llama_index import VectorizeVectorStore, WorkersAI, WorkersAIEmbedding
from cloudflare_ai_app.demo_frameworks import llama_index_query_engine
from cloudflare_ai_app.environment import Connection
from tests.conftest import FAST_RETRY, Target

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("cloudflare_env")]
QUESTION = "When do I have to create a metadata index for Vectorize filters to work?"

DOCS = [
    Document(
        id_="filters",
        text="Vectorize filters need a metadata index. Create the metadata index before you "
        "write the vectors. Vectors written earlier never match a filter.",
        metadata={"topic": "vectorize"},
    ),
    Document(
        id_="gateway",
        text="AI Gateway caches identical requests. The cf-aig-cache-ttl header sets how long "
        "an answer is cached. Cached answers carry the HIT status.",
        metadata={"topic": "gateway"},
    ),
]


def _splitter() -> SentenceSplitter:
    # Deterministic node ids (LlamaIndex uses uuid4 by default), so requests replay.
    return SentenceSplitter(chunk_size=64, chunk_overlap=0, id_func=lambda i, d: f"{d.id_}-{i}")


def _index(name: str, docs: list[Document] | None = None) -> tuple[VectorStoreIndex, Any]:
    store = VectorizeVectorStore(
        index_name=name,
        metadata_indexes={"topic": "string"},
        wait_for_writes=True,
        retry_policy=FAST_RETRY,
    )
    index = VectorStoreIndex.from_documents(
        docs if docs is not None else DOCS,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WorkersAIEmbedding(retry_policy=FAST_RETRY),
        transformations=[_splitter()],
    )
    return index, store


def _llm() -> WorkersAI:
    return WorkersAI(retry_policy=FAST_RETRY, max_tokens=256)


def _topic(value: str) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key="topic", value=value)])


def test_query_engine_with_metadata_filters() -> None:
    index, _ = _index("li-query-filters")
    engine = index.as_query_engine(llm=_llm(), similarity_top_k=2, filters=_topic("vectorize"))
    response = engine.query(QUESTION)
    assert "before you write the vectors" in str(response)
    assert {n.metadata["topic"] for n in response.source_nodes} == {"vectorize"}
    other = index.as_query_engine(llm=_llm(), filters=_topic("gateway")).query(QUESTION)
    assert {n.metadata["topic"] for n in other.source_nodes} == {"gateway"}
    assert "before you write the vectors" not in str(other)


def test_streaming_query_engine(target: Target) -> None:
    connection = Connection(target.account_id, target.api_token, target.base_url, None, True)
    engine = llama_index_query_engine(connection, index_name="li-query-stream")
    response = engine.query(QUESTION)
    pieces = list(response.response_gen)
    assert len(pieces) > 5
    assert "before you write the vectors" in "".join(pieces)
    assert response.source_nodes[0].metadata["source"] == "vectorize-metadata-filters.md#3"


def test_chat_engine_keeps_the_conversation() -> None:
    index, _ = _index("li-chat-engine")
    engine = index.as_chat_engine(chat_mode="context", llm=_llm(), similarity_top_k=2)
    first = engine.chat("What does AI Gateway cache?")
    assert "identical requests" in str(first)
    second = engine.chat("Which header sets how long an answer is cached?")
    assert "cf-aig-cache-ttl" in str(second)
    assert len(engine.chat_history) == 4


def test_refresh_and_delete_a_document() -> None:
    index, store = _index("li-refresh-delete")
    changed = Document(
        id_="gateway",
        text="AI Gateway now retries failed requests up to five times.",
        metadata={"topic": "gateway"},
    )
    assert index.refresh_ref_docs([DOCS[0], changed]) == [False, True]
    retriever = index.as_retriever(similarity_top_k=5, filters=_topic("gateway"))
    texts = [n.get_content() for n in retriever.retrieve("What does AI Gateway do?")]
    assert texts == ["AI Gateway now retries failed requests up to five times."]
    index.delete_ref_doc("gateway")
    assert retriever.retrieve("What does AI Gateway do?") == []
    remaining = store.get_nodes()
    assert {n.ref_doc_id for n in remaining} == {"filters"}


async def test_async_query_and_delete() -> None:
    index, _ = _index("li-async")
    engine = index.as_query_engine(llm=_llm(), similarity_top_k=2, filters=_topic("vectorize"))
    response = await engine.aquery(QUESTION)
    assert "before you write the vectors" in str(response)
    await index.adelete_ref_doc("filters")
    retriever = index.as_retriever(similarity_top_k=5)
    nodes = await retriever.aretrieve(QUESTION)
    assert {n.node.ref_doc_id for n in nodes} == {"gateway"}


def test_filter_operators_vectorize_cannot_express_are_refused() -> None:
    index, _ = _index("li-refused")
    either = MetadataFilters(
        filters=[
            MetadataFilter(key="topic", value="vectorize"),
            MetadataFilter(key="year", value=2020, operator=FilterOperator.GT),
        ],
        condition="or",
    )
    with pytest.raises(ValueError, match=r"(?i)\bor\b"):
        index.as_retriever(filters=either).retrieve(QUESTION)
