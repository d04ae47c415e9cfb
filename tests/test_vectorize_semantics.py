"""Vectorize's semantics live in the core, so both frameworks behave alike: run against the
emulator (over loopback) through the core client, LangChain's store and LlamaIndex's store.

* index setup: ``ensure_index`` creates the index and its metadata indexes once;
* delete by filter selects through Vectorize and refuses unindexed properties;
* equivalent filters select exactly the same vectors in LangChain and LlamaIndex;
* nested metadata: a metadata index on a dotted path makes nested filtering work end to end
  in both adapters, and a filter on a property without a metadata index warns in both.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from cloudflare_ai import ValidationError, Vector, VectorizeClient
from cloudflare_ai.documents import TEXT_KEY, document_id
from cloudflare_ai.filters import Condition, Filter, UnindexedFilterWarning
from cloudflare_ai.langchain import VectorizeVectorStore as LangChainStore
from cloudflare_ai.llama_index import VectorizeVectorStore as LlamaIndexStore
from cloudflare_ai_local import LocalCloudflare
from tests.conftest import FAST_RETRY

DIMS = 4


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as cf:
        yield cf


def _connection(cf: LocalCloudflare) -> dict[str, Any]:
    return {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}


@pytest.fixture
def vectorize(emulator: LocalCloudflare) -> Iterator[VectorizeClient]:
    with VectorizeClient(**_connection(emulator), retry=FAST_RETRY) as client:
        yield client


def _unit(i: int) -> list[float]:
    values = [0.1] * DIMS
    values[i % DIMS] = 1.0
    return values


class _FixedEmbeddings:
    """LangChain embeddings that map text to the axis its last digit names."""

    dimensions = DIMS

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        digits = [c for c in text if c.isdigit()]
        return _unit(int(digits[-1]) if digits else 0)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def test_ensure_index_sets_up_the_index_and_its_metadata_indexes_once(
    vectorize: VectorizeClient,
) -> None:
    name = "sem-ensure"
    vectorize.delete_index(name, missing_ok=True)
    with pytest.raises(ValidationError, match="does not exist; pass dimensions"):
        vectorize.ensure_index(name)
    index = vectorize.ensure_index(
        name, dimensions=DIMS, metadata_indexes={"topic": "string", "author.name": "string"}
    )
    assert (index.config.dimensions, index.config.metric) == (DIMS, "cosine")
    expected = {"topic": "string", "author.name": "string"}
    assert vectorize.metadata_index_types(name, refresh=True) == expected
    # Again: nothing to create; a different configuration is refused naming both.
    vectorize.ensure_index(name, dimensions=DIMS, metadata_indexes={"topic": "string"})
    with pytest.raises(ValidationError, match=r"exists with 4 dimensions.*not the requested 8"):
        vectorize.ensure_index(name, dimensions=8)
    with pytest.warns(UserWarning, match="is of type 'string', not 'number'"):
        vectorize.ensure_index(name, metadata_indexes={"topic": "number"})
    vectorize.delete_index(name)


def test_delete_matching_deletes_exactly_what_the_filter_selects(
    vectorize: VectorizeClient,
) -> None:
    name = "sem-delete"
    vectorize.delete_index(name, missing_ok=True)
    vectorize.ensure_index(name, dimensions=DIMS, metadata_indexes={"n": "number"})
    vectorize.upsert(
        name,
        [Vector(f"v{i}", _unit(i), {"n": i, "other": i}) for i in range(250)],
        wait=True,
    )
    with pytest.raises(ValidationError, match=r"'other'.*no metadata index"):
        vectorize.delete_matching(name, {"other": {"$ne": 3}})
    deleted = vectorize.delete_matching(name, Filter([Condition("n", "$gte", 40)]))
    assert sorted(deleted) == sorted(f"v{i}" for i in range(40, 250))  # three query pages
    assert sorted(vectorize.iter_ids(name)) == sorted(f"v{i}" for i in range(40))
    assert vectorize.delete_matching(name, {"n": {"$gte": 40}}) == []
    vectorize.delete_index(name)


@pytest.fixture
def shared_index(vectorize: VectorizeClient) -> Iterator[str]:
    """One index of plain text documents, read by both frameworks' stores."""
    name = "sem-shared"
    vectorize.delete_index(name, missing_ok=True)
    vectorize.ensure_index(
        name,
        dimensions=DIMS,
        metadata_indexes={"x": "number", "k": "string", "author.name": "string"},
    )
    docs = []
    for i in range(12):
        metadata = {
            TEXT_KEY: f"document {i}",
            "x": i,
            "k": "abc"[i % 3],
            "author": {"name": ["Ada", "Grace"][i % 2]},
        }
        docs.append(Vector(document_id(f"document {i}", metadata), _unit(i), metadata))
    vectorize.upsert(name, docs, wait=True)
    yield name
    vectorize.delete_index(name)


def _lc_texts(store: LangChainStore, flt: dict[str, Any]) -> set[str]:
    return {d.page_content for d in store.similarity_search("document 0", k=20, filter=flt)}


def _li_texts(store: LlamaIndexStore, flt: MetadataFilters) -> set[str]:
    query = VectorStoreQuery(query_embedding=_unit(0), similarity_top_k=20, filters=flt)
    return {n.get_content() for n in store.query(query).nodes}


def _f(key: str, value: Any, op: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


EQUIVALENT = [
    (
        {"$and": [{"x": {"$gt": 3}}, {"x": {"$gt": 5}}]},
        MetadataFilters(filters=[_f("x", 3, FilterOperator.GT), _f("x", 5, FilterOperator.GT)]),
    ),
    (
        {"$and": [{"k": "a"}, {"k": {"$in": ["a", "b"]}}]},
        MetadataFilters(filters=[_f("k", "a"), _f("k", ["a", "b"], FilterOperator.IN)]),
    ),
    (
        {"$or": [{"k": "b"}, {"k": "c"}], "x": {"$lte": 7}},
        MetadataFilters(
            filters=[
                MetadataFilters(filters=[_f("k", "b"), _f("k", "c")], condition=FilterCondition.OR),
                _f("x", 7, FilterOperator.LTE),
            ]
        ),
    ),
    (
        {"author.name": "Grace", "x": {"$nin": [1, 3]}},
        MetadataFilters(filters=[_f("author.name", "Grace"), _f("x", [1, 3], FilterOperator.NIN)]),
    ),
]


@pytest.mark.parametrize(("langchain", "llama_index"), EQUIVALENT)
def test_equivalent_filters_select_the_same_vectors_in_both_frameworks(
    emulator: LocalCloudflare,
    shared_index: str,
    langchain: dict[str, Any],
    llama_index: MetadataFilters,
) -> None:
    connection = {**_connection(emulator), "retry_policy": FAST_RETRY}
    lc = LangChainStore(_FixedEmbeddings(), shared_index, **connection)  # type: ignore[arg-type]
    li = LlamaIndexStore(index_name=shared_index, **connection)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnindexedFilterWarning)
        from_langchain, from_llama_index = _lc_texts(lc, langchain), _li_texts(li, llama_index)
    assert from_langchain == from_llama_index
    assert from_langchain  # each case selects something ...
    assert len(from_langchain) < 12  # ... and excludes something


def test_nested_metadata_works_end_to_end_in_both_adapters(emulator: LocalCloudflare) -> None:
    connection = {**_connection(emulator), "retry_policy": FAST_RETRY, "wait_for_writes": True}
    lc = LangChainStore(_FixedEmbeddings(), "sem-nested-lc", **connection)  # type: ignore[arg-type]
    lc.create_index(metadata_indexes={"author.name": "string"})
    lc.add_texts(
        ["about 1", "about 2"],
        metadatas=[{"author": {"name": "Ada"}}, {"author": {"name": "Grace"}}],
    )
    found = lc.similarity_search("about 1", k=5, filter={"author.name": "Grace"})
    assert [d.page_content for d in found] == ["about 2"]
    assert found[0].metadata == {"author": {"name": "Grace"}}

    li = LlamaIndexStore(
        index_name="sem-nested-li", metadata_indexes={"author.name": "string"}, **connection
    )
    li.add(
        [
            TextNode(id_="n1", text="about 1", metadata={"author": {"name": "Ada"}},
                     embedding=_unit(1)),
            TextNode(id_="n2", text="about 2", metadata={"author": {"name": "Grace"}},
                     embedding=_unit(2)),
        ]
    )  # fmt: skip
    query = VectorStoreQuery(
        query_embedding=_unit(1),
        similarity_top_k=5,
        filters=MetadataFilters(filters=[_f("author.name", "Grace")]),
    )
    result = li.query(query)
    assert result.ids == ["n2"]
    assert result.nodes[0].metadata == {"author": {"name": "Grace"}}

    # A filter on the parent object, which has no metadata index, warns in both adapters.
    with pytest.warns(UnindexedFilterWarning, match=r"'author'.*no metadata index"):
        assert lc.similarity_search("about 1", k=5, filter={"author": "Ada"}) == []
    query.filters = MetadataFilters(filters=[_f("author", "Ada")])
    with pytest.warns(UnindexedFilterWarning, match=r"'author'.*no metadata index"):
        assert li.query(query).ids == []
    lc.delete_index()
    li.delete_index()


def test_both_adapters_delete_by_filter_through_the_core(emulator: LocalCloudflare) -> None:
    connection = {**_connection(emulator), "retry_policy": FAST_RETRY, "wait_for_writes": True}
    lc = LangChainStore(_FixedEmbeddings(), "sem-del-lc", **connection)  # type: ignore[arg-type]
    lc.create_index(metadata_indexes={"topic": "string"})
    ids = lc.add_texts(
        [f"t{i}" for i in range(6)], metadatas=[{"topic": "ab"[i % 2]} for i in range(6)]
    )
    assert lc.delete(filter={"topic": "a"})
    assert {d.id for d in lc.get_by_ids(ids)} == {ids[1], ids[3], ids[5]}
    with pytest.raises(ValueError, match="pass one of ids, filter= or delete_all=True"):
        lc.delete(ids[:1], filter={"topic": "b"})

    li = LlamaIndexStore(
        index_name="sem-del-li", metadata_indexes={"topic": "string"}, **connection
    )
    li.add(
        [TextNode(id_=f"n{i}", text=f"t{i}", metadata={"topic": "ab"[i % 2]}, embedding=_unit(i))
         for i in range(6)]
    )  # fmt: skip
    li.delete_nodes(filters=MetadataFilters(filters=[_f("topic", "a")]))
    assert sorted(n.node_id for n in li.get_nodes()) == ["n1", "n3", "n5"]
    lc.delete_index()
    li.delete_index()
