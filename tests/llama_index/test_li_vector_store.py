"""VectorizeVectorStore (LlamaIndex) against the emulator's Vectorize, replayed from cassettes.

Every test writes to its own index (deterministic name) and deletes it at the end; nodes get
fixed ids so request bodies, and therefore the cassettes, are deterministic.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from cloudflare_ai import ValidationError, Vector, VectorizeClient
from cloudflare_ai.llama_index.filters import UnsupportedFilterError
from cloudflare_ai.llama_index.vector_stores import (
    NodeValidationError,
    UnsupportedQueryError,
    VectorizeVectorStore,
)
from tests.conftest import FAST_RETRY, Target, requests_made

DIMS = 32


class HashEmbedding(BaseEmbedding):
    """Deterministic bag-of-words embedding: each word hashed (md5) into DIMS buckets,
    normalised. Texts sharing words score high, which is all ranking tests need."""

    @staticmethod
    def _vector(text: str) -> list[float]:
        values = [0.0] * DIMS
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            digest = hashlib.md5(word.encode(), usedforsecurity=False).digest()
            values[digest[0] % DIMS] += 1.0 if digest[1] % 2 else 0.5
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [round(v / norm, 6) for v in values]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


def _unit(i: int, dims: int = 8) -> list[float]:
    """Distinct deterministic vectors."""
    values = [0.0] * dims
    values[i % dims] = 1.0
    values[(i + 1) % dims] = round(0.1 + (i % 7) / 10, 3)
    return values


def _node(node_id: str, values: list[float], doc: str = "doc-a", **metadata: Any) -> TextNode:
    return TextNode(
        id_=node_id,
        text=f"text of {node_id}",
        embedding=values,
        metadata=metadata,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
    )


@pytest.fixture
def make_store(target: Target, vectorize: VectorizeClient) -> Iterator[Any]:
    """Builds stores pointed at the target; deletes the indexes they used afterwards."""
    names: list[str] = []
    stores: list[VectorizeVectorStore] = []

    def make(name: str, **kwargs: Any) -> VectorizeVectorStore:
        kwargs.setdefault("wait_for_writes", True)
        store = VectorizeVectorStore(
            index_name=name,
            account_id=target.account_id,
            api_token=target.api_token,
            base_url=target.base_url,
            retry_policy=FAST_RETRY,
            **kwargs,
        )
        if name not in names:
            names.append(name)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
    for name in names:
        vectorize.delete_index(name, missing_ok=True)


def _ids(result: Any) -> list[str]:
    return list(result.ids)


# --- end to end with LlamaIndex ----------------------------------------------------------


DOCS = [
    Document(
        text="Vectorize stores vectors. Metadata filters need a metadata index. "
        "Queries return the nearest vectors first.",
        id_="doc-vectorize",
        metadata={"product": "vectorize", "year": 2024},
    ),
    Document(
        text="Workers AI runs models at the edge. Text generation streams tokens. "
        "Embedding models turn text into vectors.",
        id_="doc-workers-ai",
        metadata={"product": "workers-ai", "year": 2023},
    ),
    Document(
        text="AI Gateway caches identical requests. It retries failed requests and logs them.",
        id_="doc-gateway",
        metadata={"product": "gateway", "year": 2025},
    ),
]


@pytest.mark.vcr
def test_vector_store_index_end_to_end(make_store: Any) -> None:
    store = make_store("li-e2e", metadata_indexes={"product": "string", "year": "number"})
    # Deterministic node ids; word tokens and a regex sentence splitter keep the test free of
    # tiktoken / nltk data files.
    splitter = SentenceSplitter(
        chunk_size=12,
        chunk_overlap=0,
        id_func=lambda i, d: f"{d.id_}-{i}",
        tokenizer=str.split,
        chunking_tokenizer_fn=lambda text: re.split(r"(?<=\.) ", text),
    )
    index = VectorStoreIndex.from_documents(
        DOCS,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=HashEmbedding(),
        transformations=[splitter],
    )
    stored = sorted(n.node_id for n in store.get_nodes())
    assert len(stored) > len(DOCS) and "doc-vectorize-1" in stored  # split into several nodes
    hits = index.as_retriever(similarity_top_k=3).retrieve("which metadata filters need an index")
    assert hits[0].node.ref_doc_id == "doc-vectorize"
    assert "metadata index" in hits[0].node.get_content()
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    gateway_only = index.as_retriever(
        similarity_top_k=5,
        filters=MetadataFilters(filters=[MetadataFilter(key="product", value="gateway")]),
    ).retrieve("which metadata filters need an index")
    assert gateway_only and {h.node.ref_doc_id for h in gateway_only} == {"doc-gateway"}
    assert all(h.node.metadata["product"] == "gateway" for h in gateway_only)

    recent = index.as_retriever(
        similarity_top_k=10,
        filters=MetadataFilters(
            filters=[MetadataFilter(key="year", value=2024, operator=FilterOperator.GTE)]
        ),
    ).retrieve("vectors")
    assert {h.node.ref_doc_id for h in recent} == {"doc-vectorize", "doc-gateway"}

    index.delete_ref_doc("doc-vectorize")
    after = index.as_retriever(similarity_top_k=10).retrieve("which metadata filters")
    assert after and "doc-vectorize" not in {h.node.ref_doc_id for h in after}


# --- add / query ---------------------------------------------------------------------------


@pytest.mark.vcr
def test_add_query_round_trip(make_store: Any, vcr: Any) -> None:
    store = make_store("li-roundtrip", metric="cosine")
    first = TextNode(
        id_="n-1",
        text="Vectorize keeps the node text in metadata.",
        embedding=_unit(1, DIMS),
        metadata={"topic": "storage", "author": {"name": "Ada", "tags": ["x", "y"]}, "n": 3},
        relationships={
            NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1"),
            NodeRelationship.NEXT: RelatedNodeInfo(node_id="n-2"),
        },
        start_char_idx=0,
        end_char_idx=42,
        excluded_llm_metadata_keys=["n"],
    )
    second = _node("n-2", _unit(2, DIMS), doc="doc-1", topic="other")
    assert store.add([first, second]) == ["n-1", "n-2"]

    before = requests_made(vcr)
    result = store.query(VectorStoreQuery(query_embedding=_unit(1, DIMS), similarity_top_k=2))
    assert requests_made(vcr) == before + 1  # exactly one query request
    assert result.ids == ["n-1", "n-2"]
    assert result.similarities is not None and result.similarities[0] == pytest.approx(1.0)
    assert result.nodes is not None
    node = result.nodes[0]
    assert isinstance(node, TextNode)
    assert node.text == first.text
    assert node.metadata == first.metadata  # nested metadata survives
    assert node.ref_doc_id == "doc-1"
    assert node.relationships[NodeRelationship.NEXT].node_id == "n-2"
    assert (node.start_char_idx, node.end_char_idx) == (0, 42)
    assert node.excluded_llm_metadata_keys == ["n"]
    assert node.hash == first.hash

    fetched = store.get_nodes(node_ids=["n-2", "missing", "n-1"])
    assert [n.node_id for n in fetched] == ["n-2", "n-1"]
    assert fetched[1].get_content() == first.text


@pytest.mark.vcr
def test_top_k_exact_and_clamped(make_store: Any, vcr: Any) -> None:
    store = make_store("li-topk", metric="cosine")
    store.add([_node(f"k-{i:02d}", _unit(i)) for i in range(60)])
    result = store.query(VectorStoreQuery(query_embedding=_unit(3), similarity_top_k=7))
    assert len(result.ids) == 7 and result.ids[0] == "k-03"
    assert result.similarities == sorted(result.similarities or [], reverse=True)

    before = requests_made(vcr)
    with pytest.warns(UserWarning, match="cap of 50"):
        many = store.query(VectorStoreQuery(query_embedding=_unit(3), similarity_top_k=80))
    assert len(many.ids) == 50 and requests_made(vcr) == before + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exactly_cap = store.query(VectorStoreQuery(query_embedding=_unit(3), similarity_top_k=50))
    assert len(exactly_cap.ids) == 50


# --- filters ---------------------------------------------------------------------------------

ROWS = [
    {"id": f"f-{i}", "n": i, "color": ["red", "green", "blue"][i % 3], "size": i % 4}
    for i in range(12)
]


def _filters(*items: MetadataFilter | MetadataFilters, condition: str = "and") -> MetadataFilters:
    return MetadataFilters(filters=list(items), condition=FilterCondition(condition))


CASES: list[tuple[MetadataFilters, set[int]]] = [
    (_filters(MetadataFilter(key="color", value="red")), {0, 3, 6, 9}),
    (_filters(MetadataFilter(key="color", value="red", operator=FilterOperator.NE)),
     {1, 2, 4, 5, 7, 8, 10, 11}),
    (_filters(MetadataFilter(key="n", value=8, operator=FilterOperator.GT)), {9, 10, 11}),
    (_filters(MetadataFilter(key="n", value=8, operator=FilterOperator.GTE)), {8, 9, 10, 11}),
    (_filters(MetadataFilter(key="n", value=2, operator=FilterOperator.LT)), {0, 1}),
    (_filters(MetadataFilter(key="n", value=2, operator=FilterOperator.LTE)), {0, 1, 2}),
    (_filters(MetadataFilter(key="size", value=[1, 3], operator=FilterOperator.IN)),
     {1, 3, 5, 7, 9, 11}),
    (_filters(MetadataFilter(key="color", value=["red", "blue"], operator=FilterOperator.NIN)),
     {1, 4, 7, 10}),
    (_filters(  # range merged on one key, AND across keys, a nested AND group flattened
        MetadataFilter(key="n", value=3, operator=FilterOperator.GT),
        _filters(MetadataFilter(key="n", value=10, operator=FilterOperator.LTE),
                 MetadataFilter(key="color", value="green")),
    ), {4, 7, 10}),
    (_filters(  # OR of EQ/IN on one key → $in
        MetadataFilter(key="size", value=0),
        MetadataFilter(key="size", value=[2], operator=FilterOperator.IN),
        condition="or",
    ), {0, 2, 4, 6, 8, 10}),
]  # fmt: skip


@pytest.mark.vcr
def test_every_filter_operator_through_query(make_store: Any, vcr: Any) -> None:
    store = make_store(
        "li-filters",
        metric="cosine",
        metadata_indexes={"n": "number", "color": "string", "size": "number"},
    )
    store.add(
        [_node(r["id"], _unit(i), n=r["n"], color=r["color"], size=r["size"])
         for i, r in enumerate(ROWS)]
    )  # fmt: skip
    for filters, expected in CASES:
        before = requests_made(vcr)
        result = store.query(
            VectorStoreQuery(query_embedding=_unit(0), similarity_top_k=20, filters=filters)
        )
        assert requests_made(vcr) == before + 1
        assert set(result.ids) == {f"f-{i}" for i in expected}, filters
        # the same filter selects the same nodes client-side (get_nodes lists and filters)
        listed = store.get_nodes(filters=filters)
        assert {n.node_id for n in listed} == {f"f-{i}" for i in expected}, filters

    refused = [
        _filters(MetadataFilter(key="color", value="red"), MetadataFilter(key="n", value=1),
                 condition="or"),
        _filters(MetadataFilter(key="color", value="red"), condition="not"),
        _filters(MetadataFilter(key="color", value="re", operator=FilterOperator.TEXT_MATCH)),
        _filters(MetadataFilter(key="color", value="red", operator=FilterOperator.CONTAINS)),
        _filters(MetadataFilter(key="tags", value=["a"], operator=FilterOperator.ANY)),
        _filters(MetadataFilter(key="tags", value=["a"], operator=FilterOperator.ALL)),
        _filters(MetadataFilter(key="color", value=None, operator=FilterOperator.IS_EMPTY)),
        _filters(MetadataFilter(key="color", value="R",
                                operator=FilterOperator.TEXT_MATCH_INSENSITIVE)),
    ]  # fmt: skip
    before = requests_made(vcr)
    for filters in refused:
        with pytest.raises(UnsupportedFilterError):
            store.query(
                VectorStoreQuery(query_embedding=_unit(0), similarity_top_k=5, filters=filters)
            )
        with pytest.raises(UnsupportedFilterError):
            store.delete_nodes(filters=filters)
    assert requests_made(vcr) == before  # nothing sent


@pytest.mark.vcr
def test_doc_ids_and_node_ids_restrict_the_search(make_store: Any, vcr: Any) -> None:
    store = make_store("li-restrict", metric="cosine", metadata_indexes={"n": "number"})
    nodes = [_node(f"r-{i}", _unit(i), doc=f"doc-{i % 3}", n=i) for i in range(9)]
    store.add(nodes)

    by_doc = store.query(
        VectorStoreQuery(query_embedding=_unit(0), similarity_top_k=10, doc_ids=["doc-1", "doc-2"])
    )
    assert set(by_doc.ids) == {"r-1", "r-2", "r-4", "r-5", "r-7", "r-8"}
    one_doc = store.query(
        VectorStoreQuery(
            query_embedding=_unit(0),
            similarity_top_k=10,
            doc_ids=["doc-1"],
            filters=MetadataFilters(
                filters=[MetadataFilter(key="n", value=4, operator=FilterOperator.GT)]
            ),
        )
    )
    assert set(one_doc.ids) == {"r-7"}

    before = requests_made(vcr)
    by_node = store.query(
        VectorStoreQuery(
            query_embedding=_unit(5), similarity_top_k=2, node_ids=["r-0", "r-5", "r-6"]
        )
    )
    assert requests_made(vcr) == before + 1  # one get_by_ids, scored here
    assert by_node.ids == ["r-5", "r-6"] or by_node.ids == ["r-5", "r-0"]
    assert by_node.ids[0] == "r-5"
    # local scores agree with Vectorize's own for the same vectors
    served = store.query(VectorStoreQuery(query_embedding=_unit(5), similarity_top_k=9))
    served_scores = dict(zip(served.ids, served.similarities or [], strict=True))
    for node_id, score in zip(by_node.ids, by_node.similarities or [], strict=True):
        assert score == pytest.approx(served_scores[node_id], abs=1e-5)

    filtered = store.query(
        VectorStoreQuery(
            query_embedding=_unit(5),
            similarity_top_k=5,
            node_ids=["r-0", "r-5", "r-6"],
            filters=MetadataFilters(
                filters=[MetadataFilter(key="n", value=5, operator=FilterOperator.NE)]
            ),
        )
    )
    assert set(filtered.ids) == {"r-0", "r-6"}


@pytest.mark.vcr
def test_mmr_prefers_diverse_results(make_store: Any) -> None:
    store = make_store("li-mmr", metric="cosine")
    query = [1.0, 0.0, 0.0, 0.0]
    nodes = [
        _node("dup-1", [0.9, 0.1, 0.0, 0.0]),
        _node("dup-2", [0.9, 0.11, 0.0, 0.0]),
        _node("dup-3", [0.9, 0.12, 0.0, 0.0]),
        _node("other-1", [0.6, 0.0, 0.8, 0.0]),
        _node("other-2", [0.6, 0.0, 0.0, 0.8]),
    ]
    store.add(nodes)
    plain = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=3))
    assert set(plain.ids) == {"dup-1", "dup-2", "dup-3"}
    mmr = store.query(
        VectorStoreQuery(
            query_embedding=query,
            similarity_top_k=3,
            mode=VectorStoreQueryMode.MMR,
            mmr_threshold=0.3,
        )
    )
    assert mmr.ids[0] == "dup-1"
    assert {"other-1", "other-2"} <= set(mmr.ids)
    assert mmr.nodes is not None and mmr.nodes[0].embedding is not None

    with pytest.raises(UnsupportedQueryError, match="hybrid"):
        store.query(VectorStoreQuery(query_embedding=query, mode=VectorStoreQueryMode.HYBRID))


# --- deletes ---------------------------------------------------------------------------------


@pytest.mark.vcr
def test_delete_ref_doc_removes_every_node_of_a_large_document(
    make_store: Any, vectorize: VectorizeClient, vcr: Any
) -> None:
    store = make_store("li-delete-doc", metric="euclidean")
    big = [_node(f"big-{i:03d}", _unit(i), doc="doc-big") for i in range(130)]
    small = [_node(f"small-{i}", _unit(i), doc="doc-small") for i in range(5)]
    store.add(big + small)
    assert vectorize.info("li-delete-doc").vector_count == 135

    store.delete("doc-big")
    assert vectorize.info("li-delete-doc").vector_count == 5
    remaining = store.get_nodes()
    assert sorted(n.node_id for n in remaining) == [f"small-{i}" for i in range(5)]
    queries = [r for r in vcr.requests if r.path.endswith("/query")]
    assert len(queries) >= 3  # 100, then 30, then none left: the loop paged

    store.delete("doc-unknown")  # nothing to delete is fine
    assert vectorize.info("li-delete-doc").vector_count == 5


@pytest.mark.vcr
def test_delete_nodes_get_nodes_and_clear(make_store: Any, vectorize: VectorizeClient) -> None:
    store = make_store("li-nodes", metric="cosine", metadata_indexes={"n": "number"})
    store.add([_node(f"d-{i}", _unit(i), n=i) for i in range(10)])

    store.delete_nodes(node_ids=["d-0", "d-1"])
    assert vectorize.info("li-nodes").vector_count == 8
    store.delete_nodes(
        filters=MetadataFilters(
            filters=[MetadataFilter(key="n", value=7, operator=FilterOperator.GTE)]
        )
    )
    assert sorted(n.node_id for n in store.get_nodes()) == [f"d-{i}" for i in range(2, 7)]
    store.delete_nodes(
        node_ids=["d-2", "d-3"],
        filters=MetadataFilters(filters=[MetadataFilter(key="n", value=3)]),
    )
    assert sorted(n.node_id for n in store.get_nodes()) == ["d-2", "d-4", "d-5", "d-6"]
    got = store.get_nodes(
        node_ids=["d-4", "d-5"], filters=MetadataFilters(filters=[MetadataFilter(key="n", value=5)])
    )
    assert [n.node_id for n in got] == ["d-5"]
    with pytest.raises(ValidationError, match="needs node_ids or filters"):
        store.delete_nodes()

    store.clear()
    assert vectorize.info("li-nodes").vector_count == 0
    assert vectorize.get_index("li-nodes").name == "li-nodes"  # the index is kept


@pytest.mark.vcr
def test_namespaces_partition_writes_queries_and_clear(
    target: Target, make_store: Any, vectorize: VectorizeClient
) -> None:
    a = make_store("li-namespaces", metric="cosine", namespace="tenant-a")
    b = make_store("li-namespaces", metric="cosine", namespace="tenant-b")
    a.add([_node(f"a-{i}", _unit(i), doc="doc-shared") for i in range(4)])
    b.add([_node(f"b-{i}", _unit(i), doc="doc-shared") for i in range(3)])

    found_a = a.query(VectorStoreQuery(query_embedding=_unit(1), similarity_top_k=10))
    assert set(found_a.ids) == {f"a-{i}" for i in range(4)}
    assert b.get_nodes(node_ids=["a-1", "b-1"])[0].node_id == "b-1"
    assert len(b.get_nodes(node_ids=["a-1", "b-1"])) == 1

    b.delete_nodes(node_ids=["a-0"])  # not b's: untouched
    b.delete("doc-shared")  # only b's nodes of the document
    assert vectorize.info("li-namespaces").vector_count == 4
    a.clear()
    assert vectorize.info("li-namespaces").vector_count == 0


# --- validation ------------------------------------------------------------------------------


@pytest.mark.vcr
def test_oversize_node_is_named_and_nothing_is_sent(
    make_store: Any, vectorize: VectorizeClient, vcr: Any
) -> None:
    vectorize.create_index("li-oversize", dimensions=8, metric="cosine")
    store = make_store("li-oversize", metric="cosine")
    nodes = [_node("fine", _unit(0)), _node("too-big", _unit(1), blob="x" * 11_000)]
    before = requests_made(vcr)
    with pytest.raises(NodeValidationError, match=r"node 'too-big' at position 1: .*10240") as err:
        store.add(nodes)
    assert err.value.item == "too-big" and err.value.position == 1
    assert "smaller chunks" in str(err.value)
    with pytest.raises(NodeValidationError, match="node 'no-emb' at position 0: has no embedding"):
        store.add([TextNode(id_="no-emb", text="x")])
    with pytest.raises(NodeValidationError, match="node 'bad-dims' at position 1"):
        store.add([_node("ok", _unit(0)), _node("bad-dims", [1.0, 2.0])])
    assert requests_made(vcr) == before
    assert vectorize.info("li-oversize").vector_count == 0


@pytest.mark.vcr
def test_vectors_not_written_by_llama_index_become_text_nodes(
    make_store: Any, vectorize: VectorizeClient
) -> None:
    vectorize.create_index("li-legacy", dimensions=8, metric="cosine")
    vectorize.upsert(
        "li-legacy",
        [Vector("raw-1", _unit(0), {"text": "plain text", "source": "wrangler"})],
        wait=True,
    )
    store = make_store("li-legacy", metric="cosine")
    result = store.query(VectorStoreQuery(query_embedding=_unit(0), similarity_top_k=1))
    assert result.nodes is not None
    node = result.nodes[0]
    assert isinstance(node, TextNode)
    assert (node.node_id, node.text, node.metadata) == (
        "raw-1",
        "plain text",
        {"source": "wrangler"},
    )


# --- metrics ---------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot-product"])
def test_similarities_are_higher_for_closer_vectors(make_store: Any, metric: str) -> None:
    name = f"li-metric-{metric}"
    store = make_store(name)  # metric read from the index (created with it below)
    creator = make_store(name, metric=metric)
    vectors = {
        "near": [1.0, 0.1, 0.0, 0.0],
        "mid": [0.6, 0.6, 0.2, 0.0],
        "far": [0.0, 0.2, 1.0, 0.3],
    }
    creator.add([_node(k, v) for k, v in vectors.items()])
    query = [1.0, 0.0, 0.0, 0.0]
    result = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=3))
    assert result.ids == ["near", "mid", "far"]
    sims = result.similarities or []
    assert sims == sorted(sims, reverse=True) and sims[0] > sims[1] > sims[2]
    q = np.asarray(query)
    for node_id, sim in zip(result.ids, sims, strict=True):
        v = np.asarray(vectors[node_id])
        expected = {
            "cosine": float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v))),
            "euclidean": 1.0 / (1.0 + float(np.linalg.norm(q - v))),
            "dot-product": float(q @ v),
        }[metric]
        assert sim == pytest.approx(expected, abs=1e-4)


# --- async -----------------------------------------------------------------------------------


@pytest.mark.vcr
async def test_async_add_query_delete_clear(make_store: Any, vectorize: VectorizeClient) -> None:
    store = make_store("li-store-async", metric="cosine", metadata_indexes={"n": "number"})
    ids = await store.async_add(
        [_node(f"as-{i}", _unit(i), doc=f"doc-{i % 2}", n=i) for i in range(6)]
    )
    assert ids == [f"as-{i}" for i in range(6)]
    found = await store.aquery(
        VectorStoreQuery(
            query_embedding=_unit(2),
            similarity_top_k=3,
            filters=MetadataFilters(
                filters=[MetadataFilter(key="n", value=1, operator=FilterOperator.GT)]
            ),
        )
    )
    assert found.ids[0] == "as-2" and "as-1" not in found.ids and len(found.ids) == 3
    by_ids = await store.aquery(
        VectorStoreQuery(query_embedding=_unit(2), similarity_top_k=1, node_ids=["as-3", "as-2"])
    )
    assert by_ids.ids == ["as-2"]

    await store.adelete("doc-0")
    assert sorted(n.node_id for n in await store.aget_nodes()) == ["as-1", "as-3", "as-5"]
    await store.adelete_nodes(node_ids=["as-1"])
    got = await store.aget_nodes(
        filters=MetadataFilters(filters=[MetadataFilter(key="n", value=5)])
    )
    assert [n.node_id for n in got] == ["as-5"]
    await store.aclear()
    assert vectorize.info("li-store-async").vector_count == 0
    await store.aclose()


@pytest.mark.vcr
def test_settings_from_the_environment(cloudflare_env: Target, vectorize: VectorizeClient) -> None:
    store = VectorizeVectorStore("li-env", retry_policy=FAST_RETRY, wait_for_writes=True)
    assert store.client.settings.account_id == cloudflare_env.account_id
    assert "api_token" not in repr(store) or "**" in repr(store)
    assert store.add([_node("e-1", _unit(0))]) == ["e-1"]
    assert store.query(VectorStoreQuery(query_embedding=_unit(0))).ids == ["e-1"]
    assert vectorize.get_index("li-env").config.metric == "cosine"
    vectorize.delete_index("li-env")
    store.close()


# --- no network ------------------------------------------------------------------------------


def test_score_conversion_is_higher_is_better() -> None:
    from cloudflare_ai.llama_index.vector_stores import similarity_from_score

    assert similarity_from_score(0.8, "cosine") == 0.8
    assert similarity_from_score(0.0, "euclidean") == 1.0
    assert similarity_from_score(1.0, "euclidean") > similarity_from_score(3.0, "euclidean")
    assert similarity_from_score(-12.0, "dot-product") == 12.0  # Vectorize: negative dot
    assert similarity_from_score(-12.0, "dot-product") > similarity_from_score(5.0, "dot-product")


def test_serialisation_never_carries_the_token() -> None:
    store = VectorizeVectorStore(
        "li-serial", account_id="a" * 32, api_token="secret-token-value", namespace="ns"
    )
    assert "secret-token-value" not in store.to_json() + repr(store)
    again = VectorizeVectorStore.from_dict(store.to_dict())
    assert (again.index_name, again.namespace) == ("li-serial", "ns")
    assert store.class_name() == "CloudflareVectorizeVectorStore"
    with pytest.raises(ValueError, match="lower-case"):
        VectorizeVectorStore("Bad Name", account_id="a" * 32, api_token="t")
