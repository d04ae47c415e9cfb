"""Answering a question from an ingested index with LangChain or LlamaIndex, with sources.

Used by ``cloudflare-ai ask``: retrieval and generation are ordinary framework code over this
package's classes, so what the command does is what an application would do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .environment import Connection

Framework = Literal["langchain", "llama-index"]
SYSTEM = (
    "Answer the question using only the numbered context passages, citing them like [1]. "
    "If they do not contain the answer, say so.\n\nContext:\n{context}"
)


@dataclass(frozen=True)
class Source:
    number: int
    source: str
    title: str
    score: float | None


@dataclass
class Answer:
    """Sources are known before the text streams."""

    sources: list[Source]
    pieces: Iterator[str]


def _numbered(texts: list[str]) -> str:
    return "\n\n".join(f"[{i}] {t}" for i, t in enumerate(texts, 1))


def _llama_filters(flt: Mapping[str, Any]) -> Any:
    """A Vectorize/LangChain-style filter dict as LlamaIndex MetadataFilters."""
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

    ops = {
        "$eq": FilterOperator.EQ,
        "$ne": FilterOperator.NE,
        "$gt": FilterOperator.GT,
        "$gte": FilterOperator.GTE,
        "$lt": FilterOperator.LT,
        "$lte": FilterOperator.LTE,
        "$in": FilterOperator.IN,
        "$nin": FilterOperator.NIN,
    }
    filters = []
    for key, condition in flt.items():
        conditions = condition if isinstance(condition, Mapping) else {"$eq": condition}
        for op, value in conditions.items():
            if op not in ops:
                raise ValueError(f"filter {key!r}: operator {op!r} is not supported")
            filters.append(MetadataFilter(key=key, value=value, operator=ops[op]))
    return MetadataFilters(filters=filters)


def ask(
    connection: Connection,
    index: str,
    question: str,
    *,
    framework: Framework = "langchain",
    top_k: int = 4,
    filter: Mapping[str, Any] | None = None,
    model: str | None = None,
    stream: bool = True,
    gateway: str | None = None,
) -> Answer:
    """Retrieve from ``index`` and answer ``question`` through the chosen framework (through
    AI Gateway ``gateway``, or the one ``CLOUDFLARE_AI_GATEWAY_ID`` names, if any)."""
    kwargs = connection.ai_kwargs(gateway)
    if framework == "langchain":
        return _ask_langchain(kwargs, index, question, top_k, filter, model, stream)
    return _ask_llama_index(kwargs, index, question, top_k, filter, model, stream)


def _ask_langchain(
    kwargs: dict[str, Any],
    index: str,
    question: str,
    top_k: int,
    flt: Mapping[str, Any] | None,
    model: str | None,
    stream: bool,
) -> Answer:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from cloudflare_ai.langchain import ChatWorkersAI, VectorizeVectorStore, WorkersAIEmbeddings

    # The store talks to Vectorize, which AI Gateway does not front; the embeddings it calls
    # and the chat model go through the gateway when one is configured.
    store_kwargs = {k: v for k, v in kwargs.items() if k != "gateway"}
    store = VectorizeVectorStore(WorkersAIEmbeddings(**kwargs), index, **store_kwargs)
    found = store.similarity_search_with_relevance_scores(
        question, k=top_k, filter=dict(flt) if flt else None
    )
    sources = [
        Source(i, str(d.metadata.get("source", d.id)), str(d.metadata.get("title", "")), s)
        for i, (d, s) in enumerate(found, 1)
    ]
    prompt = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", "{question}")])
    llm = ChatWorkersAI(max_tokens=512, **({"model": model} if model else {}), **kwargs)
    chain = prompt | llm | StrOutputParser()
    inputs = {"context": _numbered([d.page_content for d, _ in found]), "question": question}
    pieces = chain.stream(inputs) if stream else iter([chain.invoke(inputs)])
    return Answer(sources, pieces)


def _ask_llama_index(
    kwargs: dict[str, Any],
    index: str,
    question: str,
    top_k: int,
    flt: Mapping[str, Any] | None,
    model: str | None,
    stream: bool,
) -> Answer:
    from llama_index.core import VectorStoreIndex

    from cloudflare_ai.llama_index import VectorizeVectorStore, WorkersAI, WorkersAIEmbedding

    store = VectorizeVectorStore(index_name=index, create_if_missing=False, **kwargs)
    vector_index = VectorStoreIndex.from_vector_store(
        store, embed_model=WorkersAIEmbedding(**kwargs)
    )
    engine = vector_index.as_query_engine(
        llm=WorkersAI(max_tokens=512, **({"model": model} if model else {}), **kwargs),
        similarity_top_k=top_k,
        filters=_llama_filters(flt) if flt else None,
        streaming=stream,
    )
    response = engine.query(question)
    sources = [
        Source(
            i, str(n.metadata.get("source", n.node_id)), str(n.metadata.get("title", "")), n.score
        )
        for i, n in enumerate(response.source_nodes, 1)
    ]
    pieces: Iterator[str] = iter(response.response_gen) if stream else iter([str(response)])  # type: ignore[union-attr,arg-type]
    return Answer(sources, pieces)
