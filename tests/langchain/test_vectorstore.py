"""VectorizeVectorStore end to end, replayed from emulator recordings.

Every test uses its own index (named after the test) and deletes it at the end: the recording
emulator is shared by the whole session.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.stores import InMemoryStore

from cloudflare_ai.errors import ValidationError
from cloudflare_ai.langchain.embeddings import WorkersAIEmbeddings
from cloudflare_ai.langchain.filters import FilterTranslationError, UnindexedFilterWarning
from cloudflare_ai.langchain.vectorstores import (
    ID_NAMESPACE,
    TopKCappedWarning,
    VectorizeVectorStore,
)
from tests.conftest import FAST_RETRY, Target, requests_made
from tests.langchain.test_vectorstore_standard import index_name_for

pytestmark = pytest.mark.vcr

VOCAB = ("cat", "dog", "fish", "bird", "red", "blue", "green", "fast")


class KeywordEmbeddings(Embeddings):
    """Word counts over a small vocabulary plus a small constant component (never a zero
    vector): texts sharing words are close. Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def _vector(self, text: str) -> list[float]:
        words = text.lower().split()
        return [float(words.count(w)) for w in VOCAB] + [0.1]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self._vector(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def connection(target: Target) -> dict[str, Any]:
    kwargs = target.client_kwargs()
    return {
        "account_id": kwargs["account_id"],
        "api_token": kwargs["api_token"],
        "base_url": kwargs["base_url"],
        "retry_policy": FAST_RETRY,
    }


StoreFactory = Callable[..., VectorizeVectorStore]


@pytest.fixture
def make_store(target: Target, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Stores on this test's own indexes (``suffix`` tells several apart); every index made
    here is deleted afterwards."""
    made: list[VectorizeVectorStore] = []

    def make(
        suffix: str = "",
        *,
        embedding: Embeddings | None = None,
        dimensions: int | None = len(VOCAB) + 1,
        metric: Any = "cosine",
        **kwargs: Any,
    ) -> VectorizeVectorStore:
        name = index_name_for(request.node.name + suffix, prefix="lcvs")
        store = VectorizeVectorStore(
            embedding or KeywordEmbeddings(),
            name,
            **{"wait_for_writes": True, **connection(target), **kwargs},
        )
        if dimensions is not None:
            store.create_index(dimensions, metric, exist_ok=False)
        made.append(store)
        return store

    yield make
    for store in made:
        store.delete_index(missing_ok=True)
        store.close()


def info_count(store: VectorizeVectorStore) -> int:
    return store.client.info(store.index_name).vector_count


# --- text and metadata round trip ----------------------------------------------------------


def test_text_round_trip_without_metadata_leakage(make_store: StoreFactory) -> None:
    store = make_store()
    metadata = {"n": 1, "ratio": 1.5, "whole": 2.0, "tags": ["a", "b"], "nested": {"x": 1}}
    docs = [
        Document(page_content="cat red", metadata=metadata, id="c"),
        Document(page_content="dog blue", metadata={"flag": True, "none": None}),
    ]
    ids = store.add_documents(docs)
    assert ids[0] == "c" and len(ids) == 2 and ids[1] != "c"
    assert docs[1].id is None  # input documents are not mutated

    [found] = store.similarity_search("cat", k=1)
    assert found == Document(page_content="cat red", metadata=metadata, id="c")
    assert type(found.metadata["n"]) is int and type(found.metadata["whole"]) is float
    got = store.get_by_ids([ids[1], "missing", "c"])
    assert got == [
        Document(page_content="dog blue", metadata={"flag": True, "none": None}, id=ids[1]),
        Document(page_content="cat red", metadata=metadata, id="c"),
    ]
    # The text lives in the vector's own metadata, under text_key.
    [raw] = store.client.get_by_ids(store.index_name, ["c"])
    assert raw.metadata == {**metadata, "text": "cat red"}


def test_custom_text_key_and_collision(make_store: StoreFactory, vcr: Any) -> None:
    store = make_store(text_key="body")
    store.add_texts(["fish"], [{"text": "a user field called text"}], ids=["f"])
    [doc] = store.similarity_search("fish", k=1)
    assert doc.page_content == "fish" and doc.metadata == {"text": "a user field called text"}
    before = requests_made(vcr)
    with pytest.raises(ValidationError, match=r"document 'x' at position 0: .* key 'body'"):
        store.add_texts(["bird"], [{"body": "clash"}], ids=["x"])
    assert requests_made(vcr) == before


def test_oversize_document_named_and_nothing_sent(make_store: StoreFactory, vcr: Any) -> None:
    embedding = KeywordEmbeddings()
    store = make_store(embedding=embedding)
    before = requests_made(vcr)
    texts = ["cat", "dog " * 3000, "fish"]
    with pytest.raises(ValidationError) as info:
        store.add_texts(texts, ids=["small", "big", "other"])
    message = str(info.value)
    assert "'big'" in message and "position 1" in message and "docstore=" in message
    assert info.value.item == "big" and info.value.position == 1
    assert requests_made(vcr) == before and embedding.calls == 0
    assert info_count(store) == 0


def test_docstore_keeps_large_texts(make_store: StoreFactory) -> None:
    docstore = InMemoryStore()
    store = make_store(docstore=docstore)
    big = "cat " * 5000  # 20 KB: too large for Vectorize metadata
    ids = store.add_texts([big, "dog"], [{"k": 1}, {"k": 2}], ids=["big", "dog"])
    assert ids == ["big", "dog"]
    assert docstore.mget(["big", "dog"]) == [big, "dog"]
    [raw] = store.client.get_by_ids(store.index_name, ["big"])
    assert raw.metadata == {"k": 1}  # only metadata went to Vectorize

    [hit] = store.similarity_search("cat", k=1)
    assert hit == Document(page_content=big, metadata={"k": 1}, id="big")
    # insert keeps the existing vector, and so its text; upsert replaces both
    store.add_texts(["dog changed"], ids=["dog"], upsert=False)
    assert store.get_by_ids(["dog"])[0].page_content == "dog"
    store.add_texts(["dog changed"], [{"k": 3}], ids=["dog"])
    assert store.get_by_ids(["dog"]) == [
        Document(page_content="dog changed", metadata={"k": 3}, id="dog")
    ]
    store.delete(["big"])
    assert docstore.mget(["big"]) == [None]
    assert [d.id for d in store.similarity_search("cat", k=5)] == ["dog"]


def test_deterministic_ids(make_store: StoreFactory) -> None:
    store = make_store()
    texts = ["cat", "dog", "cat"]
    metadatas = [{"a": 1, "b": 2}, {}, {"b": 2, "a": 1}]
    first = store.add_texts(texts, metadatas)
    # uuid5 of [namespace, text, canonical metadata, occurrence]
    assert first[0] == str(uuid.uuid5(ID_NAMESPACE, '[null,"cat",{"a":1,"b":2},0]'))
    assert len(set(first)) == 3  # the repeated document gets its own id
    assert info_count(store) == 3
    again = store.add_texts(texts, [{"b": 2, "a": 1}, {}, {"a": 1, "b": 2}])
    assert again == first
    assert info_count(store) == 3  # re-ingestion overwrote, did not duplicate
    elsewhere = store.add_texts(["cat"], [{"a": 1, "b": 2}], namespace="other")
    assert elsewhere[0] not in first


def test_namespaces(make_store: StoreFactory) -> None:
    store = make_store(namespace="tenant-a")
    store.add_texts(["cat red"], ids=["a1"])  # the store's default namespace
    store.add_texts(["cat blue"], ids=["b1"], namespace="tenant-b")
    assert [d.id for d in store.similarity_search("cat", k=5)] == ["a1"]
    assert [d.id for d in store.similarity_search("cat", k=5, namespace="tenant-b")] == ["b1"]
    [raw] = store.client.get_by_ids(store.index_name, ["b1"])
    assert raw.namespace == "tenant-b"
    assert "namespace" not in store.get_by_ids(["b1"])[0].metadata


def test_insert_versus_upsert(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_texts(["cat one"], [{"v": 1}], ids=["x"])
    store.add_texts(["cat two"], [{"v": 2}], ids=["x"], upsert=False)
    assert store.get_by_ids(["x"]) == [Document(page_content="cat one", metadata={"v": 1}, id="x")]
    store.add_texts(["cat two"], [{"v": 2}], ids=["x"])  # upsert, the default
    assert store.get_by_ids(["x"]) == [Document(page_content="cat two", metadata={"v": 2}, id="x")]


# --- k, filters, relevance, MMR --------------------------------------------------------------


def test_k_is_exact_and_capped_with_a_warning(make_store: StoreFactory) -> None:
    store = make_store(embedding=DeterministicFakeEmbedding(size=8), dimensions=8)
    store.add_texts([f"document number {i}" for i in range(60)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(store.similarity_search("document", k=7)) == 7
        assert len(store.similarity_search("document", k=50)) == 50
    with pytest.warns(TopKCappedWarning, match=r"k=120 .* at most 50"):
        found = store.similarity_search("document", k=120)
    assert len(found) == 50


def test_unknown_search_arguments_are_refused(make_store: StoreFactory) -> None:
    store = make_store(dimensions=None)
    with pytest.raises(TypeError, match="md_filter"):
        store.similarity_search("cat", k=1, md_filter={"a": 1})
    with pytest.raises(TypeError, match="upsrt"):
        store.add_texts(["cat"], upsrt=False)


@pytest.fixture
def catalogue(make_store: StoreFactory) -> VectorizeVectorStore:
    """Metadata indexes first, then the documents (Vectorize's rule)."""
    store = make_store()
    store.create_metadata_index("genre", "string", wait=True)
    store.create_metadata_index("year", "number", wait=True)
    store.add_texts(
        ["cat film", "cat show", "cat book", "cat song", "dog film"],
        [
            {"genre": "drama", "year": 1999},
            {"genre": "comedy", "year": 2005},
            {"genre": "drama", "year": 2012},
            {"genre": "music", "year": 2005, "extra": "x"},
            {"genre": "drama", "year": 2005},
        ],
        ids=["m1", "s1", "b1", "so1", "d1"],
    )
    return store


def _ids(documents: list[Document]) -> set[str | None]:
    return {d.id for d in documents}


def test_filters_end_to_end(catalogue: VectorizeVectorStore) -> None:
    store = catalogue
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnindexedFilterWarning)
        assert _ids(store.similarity_search("cat", k=10, filter={"genre": "drama"})) == {
            "m1",
            "b1",
            "d1",
        }
        ranged = {"$and": [{"year": {"$gte": 2000}}, {"year": {"$lt": 2010}}]}
        assert _ids(store.similarity_search("cat", k=10, filter=ranged)) == {"s1", "so1", "d1"}
        either = {"$or": [{"genre": "comedy"}, {"genre": {"$in": ["music"]}}]}
        assert _ids(store.similarity_search("cat", k=10, filter=either)) == {"s1", "so1"}
        both = {"genre": {"$ne": "drama"}, "year": {"$between": [2005, 2005]}}
        assert _ids(store.similarity_search("cat", k=10, filter=both)) == {"s1", "so1"}

        retriever = store.as_retriever(search_kwargs={"k": 10, "filter": {"year": 1999}})
        assert _ids(retriever.invoke("cat")) == {"m1"}  # the peers dropped this filter


def test_untranslatable_filter_raises_before_any_request(
    catalogue: VectorizeVectorStore, vcr: Any
) -> None:
    before = requests_made(vcr)
    with pytest.raises(FilterTranslationError, match="across different properties"):
        catalogue.similarity_search("cat", filter={"$or": [{"genre": "drama"}, {"year": 1999}]})
    with pytest.raises(FilterTranslationError, match=r"\$like"):
        catalogue.as_retriever(search_kwargs={"filter": {"genre": {"$like": "dr%"}}}).invoke("x")
    assert requests_made(vcr) == before


def test_unindexed_filter_is_flagged(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_texts(["cat", "dog"], [{"colour": "red"}, {"colour": "blue"}], ids=["c", "d"])
    with pytest.warns(UnindexedFilterWarning, match=r"'colour'.*metadata index.*before"):
        found = store.similarity_search("cat", k=5, filter={"colour": "red"})
    assert found == []  # written before any metadata index: not filterable
    store.create_metadata_index("colour", wait=True)
    store.add_texts(["cat", "dog"], [{"colour": "red"}, {"colour": "blue"}], ids=["c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnindexedFilterWarning)  # the cache was refreshed
        assert _ids(store.similarity_search("cat", k=5, filter={"colour": "red"})) == {"c"}


def test_one_embedding_and_one_query_per_search(catalogue: VectorizeVectorStore, vcr: Any) -> None:
    embedding = catalogue.embeddings
    assert isinstance(embedding, KeywordEmbeddings)
    catalogue.similarity_search("cat", filter={"genre": "drama"})  # lists metadata indexes once
    catalogue.similarity_search_with_relevance_scores("cat")  # reads the metric once
    for search in (
        lambda: catalogue.similarity_search("cat", k=3, filter={"genre": "drama"}),
        lambda: catalogue.similarity_search_with_score("cat", k=3),
        lambda: catalogue.similarity_search_with_relevance_scores("cat", k=3),
        lambda: catalogue.max_marginal_relevance_search("cat", k=2, fetch_k=5),
        lambda: catalogue.as_retriever(search_kwargs={"filter": {"year": 2005}}).invoke("cat"),
    ):
        before, calls = requests_made(vcr), embedding.calls
        assert search()
        assert requests_made(vcr) - before == 1
        assert embedding.calls - calls == 1


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot-product"])
def test_relevance_scores_for_every_metric(make_store: StoreFactory, metric: str) -> None:
    store = make_store(metric=metric)
    store.add_texts(["cat cat", "cat dog", "dog", "fish bird"], ids=["cc", "cd", "d", "fb"])
    raw = store.similarity_search_with_score("cat", k=4)
    scored = store.similarity_search_with_relevance_scores("cat", k=4)
    assert [d.id for d, _ in scored] == [d.id for d, _ in raw]
    relevances = [s for _, s in scored]
    assert all(0.0 <= s <= 1.0 for s in relevances)
    assert relevances == sorted(relevances, reverse=True)
    assert relevances[0] > relevances[-1]
    assert {d.id for d, _ in scored[:2]} == {"cc", "cd"}
    assert scored[-1][0].id == "fb"
    raw_scores = [s for _, s in raw]
    if metric == "cosine":  # similarity: higher is closer
        assert raw_scores == sorted(raw_scores, reverse=True)
    else:  # distance / negative dot product: lower is closer
        assert raw_scores == sorted(raw_scores)


def test_score_threshold_retriever(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_texts(["cat", "cat dog", "fish"], ids=["c", "cd", "f"])
    retriever = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.9, "k": 3}
    )
    assert [d.id for d in retriever.invoke("cat")] == ["c"]
    lenient = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.6}
    )
    assert [d.id for d in lenient.invoke("cat")] == ["c", "cd"]


def test_mmr_returns_diverse_results(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_texts(
        ["cat cat cat", "cat cat cat red", "cat cat cat blue", "dog", "fish"],
        ids=["c1", "c2", "c3", "dog", "fish"],
    )
    plain = store.similarity_search("cat cat dog", k=2)
    assert {d.id for d in plain} <= {"c1", "c2", "c3"}  # near-duplicates
    diverse = store.max_marginal_relevance_search("cat cat dog", k=2, fetch_k=5)
    assert diverse[0].id in {"c1", "c2", "c3"} and diverse[1].id == "dog"
    assert diverse[1] == Document(page_content="dog", metadata={}, id="dog")
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 5})
    assert [d.id for d in retriever.invoke("cat cat dog")] == [d.id for d in diverse]
    with pytest.warns(TopKCappedWarning, match="fetch_k=80"):
        assert len(store.max_marginal_relevance_search("cat", k=3, fetch_k=80)) == 3


# --- delete, from_texts, index helpers -------------------------------------------------------


def test_delete(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_texts(["cat", "dog", "fish"], ids=["c", "d", "f"])
    with pytest.raises(ValueError, match="delete_all=True"):
        store.delete()
    assert store.delete(["c", "never-written"]) is True
    assert [d.id for d in store.get_by_ids(["c", "d", "f"])] == ["d", "f"]
    assert store.delete([]) is True
    store.delete(delete_all=True)
    assert info_count(store) == 0


def test_from_texts_creates_the_index(target: Target, request: pytest.FixtureRequest) -> None:
    name = index_name_for(request.node.name, prefix="lcvs")
    embedding = WorkersAIEmbeddings(
        model="@cf/baai/bge-small-en-v1.5",
        account_id=target.account_id,
        api_token=target.api_token,
        base_url=target.base_url,
        retry_policy=FAST_RETRY,
    )
    store = VectorizeVectorStore.from_texts(
        ["Vectorize stores vectors.", "Workers AI runs models."],
        embedding,
        [{"topic": "db"}, {"topic": "ai"}],
        index_name=name,
        wait_for_writes=True,
        **connection(target),
    )
    try:
        assert store.index_name == name  # the returned store is bound to the index
        index = store.client.get_index(name)
        assert index.config.dimensions == 384 and index.config.metric == "cosine"
        [hit] = store.similarity_search("Which service stores vectors?", k=1)
        assert hit.page_content == "Vectorize stores vectors." and hit.metadata == {"topic": "db"}
    finally:
        store.delete_index()


def test_from_documents_infers_dimensions(target: Target, request: pytest.FixtureRequest) -> None:
    name = index_name_for(request.node.name, prefix="lcvs")
    docs = [Document(page_content="cat", id="c"), Document(page_content="dog")]
    store = VectorizeVectorStore.from_documents(
        docs, KeywordEmbeddings(), index_name=name, metric="euclidean", wait_for_writes=True,
        **connection(target),
    )  # fmt: skip
    try:
        index = store.client.get_index(name)
        assert (index.config.dimensions, index.config.metric) == (len(VOCAB) + 1, "euclidean")
        assert store.similarity_search("cat", k=1) == [Document(page_content="cat", id="c")]
        # again: the index exists with the same configuration, which is fine
        again = VectorizeVectorStore.from_documents(
            docs, KeywordEmbeddings(), index_name=name, metric="euclidean",
            wait_for_writes=True, **connection(target),
        )  # fmt: skip
        assert again.client.info(name).vector_count == 2
        with pytest.raises(ValidationError, match="euclidean"):
            VectorizeVectorStore.from_texts(
                ["cat"], KeywordEmbeddings(), index_name=name, **connection(target)
            )
    finally:
        store.delete_index()
    with pytest.raises(ValueError, match="index_name"):
        VectorizeVectorStore.from_texts(["cat"], KeywordEmbeddings(), **connection(target))


def test_metadata_index_helpers(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.list_metadata_indexes() == []
    store.create_metadata_index("genre", wait=True)
    store.create_metadata_index("year", "number", wait=True)
    listed = {(m.property_name, m.index_type) for m in store.list_metadata_indexes()}
    assert listed == {("genre", "string"), ("year", "number")}
    assert store.index_metric() == "cosine"


# --- async -----------------------------------------------------------------------------------


async def test_async_round_trip(make_store: StoreFactory) -> None:
    store = make_store(docstore=InMemoryStore())
    await store.acreate_metadata_index("kind", wait=True)
    docs = [
        Document(page_content="cat cat cat", metadata={"kind": "pet", "n": 1}),
        Document(page_content="cat cat cat red", metadata={"kind": "pet", "n": 2}),
        Document(page_content="dog", metadata={"kind": "pet", "n": 3}),
        Document(page_content="fish", metadata={"kind": "food", "n": 4}),
    ]
    ids = await store.aadd_documents(docs)
    assert await store.aadd_documents(docs) == ids  # deterministic ids: no duplicates
    assert store.client.info(store.index_name).vector_count == 4
    [(best, score)] = await store.asimilarity_search_with_score("cat", k=1)
    assert best == Document(page_content="cat cat cat", metadata={"kind": "pet", "n": 1}, id=ids[0])
    assert score == pytest.approx(1.0, abs=1e-2)
    pets = await store.asimilarity_search("fish", k=4, filter={"kind": "pet"})
    assert {d.id for d in pets} == set(ids[:3])
    relevant = await store.asimilarity_search_with_relevance_scores("cat", k=4)
    assert all(0 <= s <= 1 for _, s in relevant) and relevant[0][1] > relevant[-1][1]
    diverse = await store.amax_marginal_relevance_search("cat cat dog", k=2, fetch_k=4)
    assert [d.id for d in diverse][1] == ids[2]
    by_vector = await store.asimilarity_search_by_vector(KeywordEmbeddings()._vector("fish"), k=1)
    assert [d.id for d in by_vector] == [ids[3]]
    retriever = store.as_retriever(search_kwargs={"k": 4, "filter": {"kind": "food"}})
    assert [d.id for d in await retriever.ainvoke("cat")] == [ids[3]]

    assert await store.adelete([ids[0], "missing"]) is True
    assert [d.id for d in await store.aget_by_ids([ids[0], ids[1]])] == [ids[1]]
    with pytest.raises(ValueError, match="needs ids"):
        await store.adelete()
    await store.adelete(delete_all=True)
    assert await store.aget_by_ids(ids) == []
    await store.aclose()


async def test_async_from_texts(target: Target, request: pytest.FixtureRequest) -> None:
    name = index_name_for(request.node.name, prefix="lcvs")
    store = await VectorizeVectorStore.afrom_texts(
        ["cat", "dog"], KeywordEmbeddings(), ids=["c", "d"], index_name=name,
        metric="dot-product", wait_for_writes=True, **connection(target),
    )  # fmt: skip
    try:
        assert await store.aindex_metric() == "dot-product"
        assert (await store.async_client.get_index(name)).config.dimensions == len(VOCAB) + 1
        hits = await store.asimilarity_search_with_relevance_scores("dog", k=2)
        assert [d.id for d, _ in hits] == ["d", "c"] and hits[0][1] > hits[1][1]
        with pytest.warns(TopKCappedWarning):
            assert len(await store.asimilarity_search("dog", k=51)) == 2
    finally:
        await store.adelete_index()
