"""The demo's RAG pipeline written with LangChain and with LlamaIndex, on the same corpus.

Both are ordinary framework code: only the classes come from this package.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from .corpus import Passage, load_corpus

if TYPE_CHECKING:
    from .environment import Connection

LANGCHAIN_INDEX = "cloudflare-ai-demo-langchain"
LLAMA_INDEX_INDEX = "cloudflare-ai-demo-llama-index"
SYSTEM = (
    "Answer the question using only the numbered context passages. If they do not contain "
    "the answer, say so.\n\nContext:\n{context}"
)
RELEVANT_TOPICS = ["vectorize", "workers-ai", "ai-gateway", "operations"]


def _number(texts: list[str]) -> str:
    return "\n\n".join(f"[{i}] {t}" for i, t in enumerate(texts, 1))


def langchain_rag(
    connection: Connection,
    passages: list[Passage] | None = None,
    *,
    index_name: str = LANGCHAIN_INDEX,
    filter: dict[str, Any] | None = None,
) -> Any:
    """An LCEL chain (retriever with a metadata filter → prompt → ChatWorkersAI →
    StrOutputParser) returning ``{"question", "docs", "answer"}``; streams the answer."""
    from langchain_core.documents import Document
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableParallel, RunnablePassthrough

    from cloudflare_ai.langchain import ChatWorkersAI, VectorizeVectorStore, WorkersAIEmbeddings

    kwargs = connection.client_kwargs()
    embeddings = WorkersAIEmbeddings(**kwargs)
    store = VectorizeVectorStore(embeddings, index_name, wait_for_writes=True, **kwargs)
    # the metadata index before writing, or filters would miss the documents
    store.create_index(exist_ok=True, metadata_indexes={"topic": "string"})
    passages = passages if passages is not None else load_corpus()
    documents = [
        Document(p.text, id=p.id, metadata={"source": p.source, "title": p.title, **p.metadata})
        for p in passages
    ]
    store.add_documents(documents)  # ids from content: re-running adds nothing twice
    retriever = store.as_retriever(
        search_kwargs={"k": 3, "filter": filter or {"topic": {"$in": RELEVANT_TOPICS}}}
    )
    prompt = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", "{question}")])
    llm = ChatWorkersAI(max_tokens=256, **kwargs)
    answer = (
        (
            lambda x: {
                "context": _number([d.page_content for d in x["docs"]]),
                "question": x["question"],
            }
        )
        | prompt
        | llm
        | StrOutputParser()
    )
    return RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(answer=answer)


def llama_index_query_engine(
    connection: Connection,
    passages: list[Passage] | None = None,
    *,
    index_name: str = LLAMA_INDEX_INDEX,
) -> Any:
    """A streaming LlamaIndex query engine over a Vectorize index, filtered on topic."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

    from cloudflare_ai.llama_index import VectorizeVectorStore, WorkersAI, WorkersAIEmbedding

    kwargs = connection.client_kwargs()
    # The store creates the index and the metadata indexes (before its first write).
    store = VectorizeVectorStore(
        index_name=index_name, metadata_indexes={"topic": "string"}, wait_for_writes=True, **kwargs
    )
    embed_model = WorkersAIEmbedding(**kwargs)
    passages = passages if passages is not None else load_corpus()
    keys = ["source", "title", "topic"]  # shown as sources, kept out of prompts and embeddings
    nodes = [
        TextNode(
            text=p.text,
            id_=p.id,
            metadata={"source": p.source, "title": p.title, **p.metadata},
            excluded_llm_metadata_keys=keys,
            excluded_embed_metadata_keys=keys,
        )
        for p in passages
    ]
    index = VectorStoreIndex(
        nodes,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
    )
    filters = MetadataFilters(
        filters=[MetadataFilter(key="topic", value=RELEVANT_TOPICS, operator=FilterOperator.IN)]
    )
    return index.as_query_engine(
        llm=WorkersAI(max_tokens=256, **kwargs),
        similarity_top_k=3,
        filters=filters,
        streaming=True,
    )


def stream_langchain(chain: Any, question: str) -> Iterator[tuple[str, list[Any]]]:
    """(answer piece, retrieved documents) as the chain streams."""
    docs: list[Any] = []
    for part in chain.stream(question):
        docs = part.get("docs", docs)
        if part.get("answer"):
            yield part["answer"], docs


def run(
    connection: Connection, question: str, out: TextIO, *, llama_index: bool = True
) -> dict[str, str]:
    """Answer ``question`` through LangChain and LlamaIndex, streaming, with sources."""
    answers: dict[str, str] = {}
    chain = langchain_rag(connection)
    print("\nAnswer (LangChain RAG chain, streamed): ", end="", file=out, flush=True)
    parts: list[str] = []
    sources: list[Any] = []
    for piece, docs in stream_langchain(chain, question):
        parts.append(piece)
        sources = docs
        print(piece, end="", file=out, flush=True)
    answers["langchain"] = "".join(parts)
    print("\nSources:", file=out)
    for number, doc in enumerate(sources, 1):
        print(f"  [{number}] {doc.metadata['source']} ({doc.metadata['title']})", file=out)
    if not llama_index:
        return answers
    engine = llama_index_query_engine(connection)
    print("\nAnswer (LlamaIndex query engine, streamed): ", end="", file=out, flush=True)
    response = engine.query(question)
    parts = []
    for piece in response.response_gen:
        parts.append(piece)
        print(piece, end="", file=out, flush=True)
    answers["llama_index"] = "".join(parts)
    print("\nSources:", file=out)
    for number, node in enumerate(response.source_nodes, 1):
        print(
            f"  [{number}] {node.metadata['source']} ({node.metadata['title']}), "
            f"score {node.score:.3f}",
            file=out,
        )
    return answers
