"""LangChain's indexing API (``index`` / ``aindex`` with a record manager) over the real
``VectorizeVectorStore``, against the emulator running in this process.

The indexing API calls ``add_documents(docs, ids=..., batch_size=...)`` with ids of its own
(hashes of each document) and ``delete(ids)`` for what it cleans up; the record manager decides
what is skipped. These tests check the store's content afterwards through the store itself
(``get_by_ids``, ``similarity_search``) and the index's ids and mutations through the core
client, so a write that should not have happened is seen.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.indexing import InMemoryRecordManager, aindex, index

from cloudflare_ai import VectorizeClient
from cloudflare_ai.langchain import VectorizeVectorStore, WorkersAIEmbeddings
from cloudflare_ai_local import LocalCloudflare

pytestmark = pytest.mark.emulator

_names = itertools.count()


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


def _connection(cf: LocalCloudflare) -> dict[str, Any]:
    return {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}


@dataclass
class Setup:
    store: VectorizeVectorStore
    records: InMemoryRecordManager
    db: VectorizeClient
    mode: str

    def ids(self) -> set[str]:
        """Every vector id in the index, read with the core client."""
        return set(self.db.iter_ids(self.store.index_name))

    def mutation(self) -> str | None:
        return self.db.info(self.store.index_name).processed_up_to_mutation

    async def run(self, docs: list[Document], cleanup: str | None) -> dict[str, int]:
        """Index ``docs`` through ``index`` (sync mode) or ``aindex`` (async mode)."""
        options: dict[str, Any] = {
            "cleanup": cleanup,
            "source_id_key": "source",
            "key_encoder": "sha256",
            "batch_size": 2,  # several add_documents calls, each with batch_size=2
        }
        if self.mode == "sync":
            return dict(index(docs, self.records, self.store, **options))
        return dict(await aindex(docs, self.records, self.store, **options))

    async def get(self, ids: list[str]) -> list[Document]:
        if self.mode == "sync":
            return self.store.get_by_ids(ids)
        return await self.store.aget_by_ids(ids)

    async def search(self, query: str, k: int = 10) -> list[Document]:
        if self.mode == "sync":
            return self.store.similarity_search(query, k=k)
        return await self.store.asimilarity_search(query, k=k)


@pytest.fixture(params=["sync", "async"])
async def setup(cf: LocalCloudflare, request: pytest.FixtureRequest) -> Any:
    conn = _connection(cf)
    name = f"indexing-{request.param}-{next(_names)}"
    store = VectorizeVectorStore(WorkersAIEmbeddings(**conn), name, wait_for_writes=True, **conn)
    records = InMemoryRecordManager(namespace=f"vectorize/{name}")
    if request.param == "sync":
        store.create_index()
        records.create_schema()
    else:
        await store.acreate_index()
        await records.acreate_schema()
    with VectorizeClient(**conn) as db:
        yield Setup(store, records, db, request.param)
        db.delete_index(name, missing_ok=True)
    store.close()
    await store.aclose()


def _docs() -> list[Document]:
    return [
        Document("Vectorize stores vectors with metadata.", metadata={"source": "a.md"}),
        Document("Metadata indexes must exist before writing.", metadata={"source": "a.md"}),
        Document("AI Gateway caches identical requests.", metadata={"source": "b.md"}),
        Document("Gateway logs carry a log id header.", metadata={"source": "b.md"}),
        Document("Workers AI streams tokens as server-sent events.", metadata={"source": "c.md"}),
    ]


async def test_first_run_adds_everything_under_the_record_managers_ids(setup: Setup) -> None:
    result = await setup.run(_docs(), cleanup="incremental")
    assert result == {"num_added": 5, "num_updated": 0, "num_skipped": 0, "num_deleted": 0}
    keys = setup.records.list_keys()
    assert len(keys) == 5
    # The store keeps the ids the indexing API chose, so it can delete them later.
    assert setup.ids() == set(keys)
    stored = await setup.get(keys)
    assert sorted(d.page_content for d in stored) == sorted(d.page_content for d in _docs())
    assert {d.id for d in stored} == set(keys)
    assert {d.metadata["source"] for d in stored} == {"a.md", "b.md", "c.md"}


@pytest.mark.parametrize("cleanup", ["incremental", "full"])
async def test_reindexing_unchanged_documents_writes_nothing(setup: Setup, cleanup: str) -> None:
    await setup.run(_docs(), cleanup=cleanup)
    before_ids, before_mutation = setup.ids(), setup.mutation()
    result = await setup.run(_docs(), cleanup=cleanup)
    assert result == {"num_added": 0, "num_updated": 0, "num_skipped": 5, "num_deleted": 0}
    assert setup.ids() == before_ids
    assert setup.mutation() == before_mutation  # no write and no delete reached Vectorize


async def test_incremental_replaces_a_changed_document_and_keeps_the_rest(setup: Setup) -> None:
    await setup.run(_docs(), cleanup="incremental")
    old_keys = set(setup.records.list_keys())
    changed = _docs()
    changed[0] = Document(
        "Vectorize keeps ten kilobytes of metadata per vector.", metadata={"source": "a.md"}
    )
    # Only source a.md is re-indexed: incremental cleanup touches only the sources it sees.
    result = await setup.run(changed[:2], cleanup="incremental")
    assert result == {"num_added": 1, "num_updated": 0, "num_skipped": 1, "num_deleted": 1}

    new_keys = set(setup.records.list_keys())
    [gone] = old_keys - new_keys
    [added] = new_keys - old_keys
    assert setup.ids() == new_keys
    assert await setup.get([gone]) == []
    [doc] = await setup.get([added])
    assert doc.page_content == "Vectorize keeps ten kilobytes of metadata per vector."
    texts = [d.page_content for d in await setup.search("Vectorize metadata kilobytes")]
    assert "Vectorize keeps ten kilobytes of metadata per vector." in texts
    assert "Vectorize stores vectors with metadata." not in texts
    # b.md and c.md were not in this run and stay.
    assert "AI Gateway caches identical requests." in [
        d.page_content for d in await setup.search("AI Gateway caches requests")
    ]


async def test_full_cleanup_deletes_documents_that_are_gone(setup: Setup) -> None:
    await setup.run(_docs(), cleanup="full")
    by_text = {d.page_content: d.id for d in await setup.get(setup.records.list_keys())}
    kept = [d for d in _docs() if d.metadata["source"] != "b.md"]
    result = await setup.run(kept, cleanup="full")
    assert result == {"num_added": 0, "num_updated": 0, "num_skipped": 3, "num_deleted": 2}

    gone = [by_text["AI Gateway caches identical requests."]]
    gone.append(by_text["Gateway logs carry a log id header."])
    assert await setup.get(gone) == []
    assert setup.ids() == set(setup.records.list_keys())
    assert len(setup.ids()) == 3
    texts = [d.page_content for d in await setup.search("AI Gateway caches log id")]
    assert not any("Gateway" in t for t in texts)
    assert sorted(texts) == sorted(d.page_content for d in kept)


async def test_full_cleanup_of_an_empty_source_empties_the_store(setup: Setup) -> None:
    await setup.run(_docs(), cleanup="full")
    result = await setup.run([], cleanup="full")
    assert result == {"num_added": 0, "num_updated": 0, "num_skipped": 0, "num_deleted": 5}
    assert setup.ids() == set()
    assert setup.records.list_keys() == []


async def test_delete_with_the_indexing_apis_ids(setup: Setup) -> None:
    await setup.run(_docs(), cleanup=None)
    keys = sorted(setup.records.list_keys())
    if setup.mode == "sync":
        assert setup.store.delete(keys[:2]) is True
    else:
        assert await setup.store.adelete(keys[:2]) is True
    assert setup.ids() == set(keys[2:])
    assert await setup.get(keys[:2]) == []
    assert len(await setup.get(keys)) == 3
