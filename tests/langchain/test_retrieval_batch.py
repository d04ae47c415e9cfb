"""Retrieval at the network's limit: one embedding request for many queries, searched
concurrently, and a query-embedding cache."""

from __future__ import annotations

from typing import Any

import pytest

from cloudflare_ai.langchain import VectorizeVectorStore, WorkersAIEmbeddings
from tests.conftest import FAST_RETRY, requests_made

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("cloudflare_env")]
TEXTS = [
    "Vectorize stores vectors with metadata.",
    "Workers AI runs models on Cloudflare's network.",
    "AI Gateway caches identical requests.",
    "Metadata indexes must exist before vectors are written.",
]
QUERIES = ["What caches requests?", "Where do models run?", "What stores vectors?"]


def _store(name: str, **embedding: Any) -> VectorizeVectorStore:
    store = VectorizeVectorStore(
        WorkersAIEmbeddings(retry_policy=FAST_RETRY, **embedding),
        name,
        wait_for_writes=True,
        retry_policy=FAST_RETRY,
    )
    store.create_index(768)
    store.add_texts(TEXTS)
    return store


def test_batch_search_embeds_once_and_matches_single_searches(vcr: Any) -> None:
    store = _store("lc-batch-search")
    singles = [store.similarity_search(q, k=2) for q in QUERIES]
    before = requests_made(vcr)
    batched = store.similarity_search_batch(QUERIES, k=2)
    assert requests_made(vcr) - before == 1 + len(QUERIES)  # one embedding, one query each
    assert batched == singles
    assert batched[0][0].page_content == "AI Gateway caches identical requests."
    store.delete_index()


async def test_async_batch_search(vcr: Any) -> None:
    store = _store("lc-batch-async")
    before = requests_made(vcr)
    batched = await store.asimilarity_search_batch(QUERIES, k=1)
    assert requests_made(vcr) - before == 1 + len(QUERIES)
    assert [docs[0].page_content for docs in batched] == [
        "AI Gateway caches identical requests.",
        "Workers AI runs models on Cloudflare's network.",
        "Vectorize stores vectors with metadata.",
    ]
    await store.adelete_index()


def test_query_embedding_cache_skips_repeat_round_trips(vcr: Any) -> None:
    store = _store("lc-query-cache", query_cache_size=16)
    first = store.similarity_search(QUERIES[0], k=1)
    before = requests_made(vcr)
    again = store.similarity_search(QUERIES[0], k=1)
    assert requests_made(vcr) - before == 1  # the query only: the embedding was cached
    assert again == first
    embeddings = store.embeddings
    assert isinstance(embeddings, WorkersAIEmbeddings)
    assert embeddings.workers_ai.query_cache.hits == 1
    store.delete_index()
