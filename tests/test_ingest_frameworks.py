"""Every framework write path ends in the ingestion pipeline, against the emulator.

LangChain's ``add_texts``, ``add_documents``, ``from_texts``, ``from_documents``, their async
forms and ``langchain_core.indexing.index()``; LlamaIndex's ``add`` / ``async_add`` (hence
``VectorStoreIndex.from_documents``, ``insert`` and ``IngestionPipeline``). Requests are
counted by kind (embedding or write) as they cross httpx; nothing here is timed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.indexing import InMemoryRecordManager, index
from llama_index.core import Document as LIDocument
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import TextNode

from cloudflare_ai import AsyncVectorizeClient, VectorizeClient
from cloudflare_ai.config import ClientSettings
from cloudflare_ai.errors import BudgetExceededError, PartialWriteError, ValidationError
from cloudflare_ai.langchain import vectorstores as lc_module
from cloudflare_ai.langchain.embeddings import WorkersAIEmbeddings
from cloudflare_ai.langchain.vectorstores import VectorizeVectorStore as LCStore
from cloudflare_ai.llama_index import vector_stores as li_module
from cloudflare_ai.llama_index.embeddings import WorkersAIEmbedding
from cloudflare_ai.llama_index.vector_stores import VectorizeVectorStore as LIStore
from cloudflare_ai.pipeline import Progress, Record, aingest, plan
from cloudflare_ai.usage import track_usage
from cloudflare_ai_local import FaultConfig, LocalCloudflare

pytestmark = pytest.mark.emulator

EMBED = "@cf/baai/bge-base-en-v1.5"
_names = itertools.count()


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def emulator(cf: LocalCloudflare) -> Iterator[LocalCloudflare]:
    yield cf
    cf.set_faults(FaultConfig())


@pytest.fixture
def conn(cf: LocalCloudflare) -> dict[str, str]:
    return {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}


@pytest.fixture
def index_name(conn: dict[str, str]) -> Iterator[str]:
    name = f"frameworks-{next(_names)}"
    with VectorizeClient(**conn) as db:
        db.create_index(name, dimensions=768, metric="cosine")
        yield name
        db.delete_index(name, missing_ok=True)


class Requests:
    """Requests crossing every httpx client, by kind: now in flight, most at once, total."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = {"embed": 0, "write": 0}
        self.most = {"embed": 0, "write": 0}
        self.total = {"embed": 0, "write": 0}
        async_send = httpx.AsyncClient.send
        sync_send = httpx.Client.send

        def kind(request: httpx.Request) -> str | None:
            path = request.url.path
            if "/ai/run/" in path:
                return "embed"
            if path.endswith(("/upsert", "/insert")):
                return "write"
            return None

        def enter(request: httpx.Request) -> str | None:
            which = kind(request)
            if which:
                self.now[which] += 1
                self.total[which] += 1
                self.most[which] = max(self.most[which], self.now[which])
            return which

        async def tracked(client: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
            which = enter(request)
            try:
                return await async_send(client, request, **kw)
            finally:
                if which:
                    self.now[which] -= 1

        def tracked_sync(client: httpx.Client, request: httpx.Request, **kw: Any) -> Any:
            which = enter(request)
            try:
                return sync_send(client, request, **kw)
            finally:
                if which:
                    self.now[which] -= 1

        monkeypatch.setattr(httpx.AsyncClient, "send", tracked)
        monkeypatch.setattr(httpx.Client, "send", tracked_sync)


class PipelineCalls:
    """Counts the adapters' calls of the pipeline (the real one still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []

        async def spy(records: Any, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            return await aingest(records, **kwargs)

        monkeypatch.setattr(lc_module, "aingest", spy)
        monkeypatch.setattr(li_module, "aingest", spy)


def stored_ids(conn: dict[str, str], name: str) -> list[str]:
    with VectorizeClient(**conn) as db:
        return list(db.iter_ids(name))


def texts(n: int, start: int = 0) -> list[str]:
    return [f"framework document {i} about topic {i % 11}" for i in range(start, start + n)]


def lc_store(conn: dict[str, str], name: str, **options: Any) -> LCStore:
    return LCStore(WorkersAIEmbeddings(model=EMBED, **conn), name, **options, **conn)


# --- LangChain ---------------------------------------------------------------------------------


def test_every_langchain_sync_entry_point_ends_in_the_pipeline(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = PipelineCalls(monkeypatch)
    store = lc_store(conn, index_name)
    embeddings = store.embeddings

    store.add_texts(texts(3))
    store.add_documents([Document(t, id=f"d-{i}") for i, t in enumerate(texts(3, 10))])
    LCStore.from_texts(texts(3, 20), embeddings, index_name=index_name, **conn)
    LCStore.from_documents(
        [Document(t) for t in texts(3, 30)], embeddings, index_name=index_name, **conn
    )
    manager = InMemoryRecordManager(namespace=f"lc/{index_name}")
    manager.create_schema()
    outcome = index(
        [Document(t, metadata={"source": "s"}) for t in texts(3, 40)],
        manager,
        store,
        cleanup=None,
    )

    assert outcome["num_added"] == 3
    assert len(calls.calls) == 5
    assert all(c["index"] == index_name and c["checked"] for c in calls.calls)
    assert len(stored_ids(conn, index_name)) == 15
    assert [d.id for d in store.get_by_ids(["d-0", "d-2"])] == ["d-0", "d-2"]


async def test_every_langchain_async_entry_point_ends_in_the_pipeline(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = PipelineCalls(monkeypatch)
    store = lc_store(conn, index_name)
    embeddings = store.embeddings

    await store.aadd_texts(texts(3))
    await store.aadd_documents([Document(t) for t in texts(3, 10)])
    await LCStore.afrom_texts(texts(3, 20), embeddings, index_name=index_name, **conn)
    await LCStore.afrom_documents(
        [Document(t) for t in texts(3, 30)], embeddings, index_name=index_name, **conn
    )

    assert len(calls.calls) == 4
    assert len(stored_ids(conn, index_name)) == 12


def test_add_texts_sends_every_embedding_at_once_and_writes_in_few_requests(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.set_latency(40)  # so that requests overlap
    seen = Requests(monkeypatch)
    ids = lc_store(conn, index_name).add_texts(texts(2000))

    assert len(ids) == len(set(ids)) == 2000
    assert seen.total == {"embed": 20, "write": 4}  # bge: 100 texts a request; 500 a write
    assert seen.most["embed"] == 20  # all in flight at once, not 8 at a time
    assert len(stored_ids(conn, index_name)) == 2000


def test_an_explicit_max_concurrency_caps_the_pipeline(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.set_latency(20)
    seen = Requests(monkeypatch)
    lc_store(conn, index_name, max_concurrency=3).add_texts(texts(1000))

    assert seen.total["embed"] == 10
    assert seen.most["embed"] + seen.most["write"] <= 3 * 2  # each kind within the cap …
    assert seen.most["embed"] <= 3


def test_foreign_langchain_embeddings_go_through_the_pipeline_too(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    calls = PipelineCalls(monkeypatch)
    store = LCStore(DeterministicFakeEmbedding(size=768), index_name, **conn)
    ids = store.add_texts(texts(250))

    assert len(calls.calls) == 1 and calls.calls[0]["embedder"] is not None
    assert sorted(stored_ids(conn, index_name)) == sorted(ids)


def test_bad_input_is_refused_before_anything_is_sent(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = Requests(monkeypatch)
    store = lc_store(conn, index_name)
    with pytest.raises(ValidationError, match="position 150"):
        store.add_texts([*texts(150), "   ", *texts(10)])
    with pytest.raises(ValidationError, match="position 3"):
        store.add_texts(texts(5), metadatas=[{}, {}, {}, {"bad": object()}, {}])
    assert seen.total == {"embed": 0, "write": 0}


def test_a_budget_stops_add_texts_mid_way_with_an_exact_account(
    emulator: LocalCloudflare, conn: dict[str, str], index_name: str
) -> None:
    corpus = texts(1000)
    store = lc_store(conn, index_name, max_concurrency=1)  # one embedding at a time
    with track_usage() as probe:
        store.embeddings.embed_documents(corpus[:100])
    with track_usage(budget_neurons=probe.total.neurons * 3.5):
        with pytest.raises(PartialWriteError) as caught:
            store.add_texts(corpus)

    error = caught.value
    assert isinstance(error.__cause__, BudgetExceededError)
    written, failed = set(error.written_ids), set(error.failed_ids)
    assert written and failed and not written & failed
    assert len(written) + len(failed) == 1000
    assert set(stored_ids(conn, index_name)) == written


# --- LlamaIndex --------------------------------------------------------------------------------


def li_store(conn: dict[str, str], name: str, **options: Any) -> LIStore:
    return LIStore(index_name=name, **options, **conn)


def embedded_nodes(n: int) -> list[TextNode]:
    rng = np.random.default_rng(5)
    return [
        TextNode(id_=f"node-{i}", text=f"node {i}", embedding=rng.standard_normal(768).tolist())
        for i in range(n)
    ]


def test_llama_index_add_writes_embedded_nodes_without_re_embedding(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = PipelineCalls(monkeypatch)
    seen = Requests(monkeypatch)
    nodes = embedded_nodes(1200)
    ids = li_store(conn, index_name).add(nodes)

    assert ids == [n.node_id for n in nodes]
    assert len(calls.calls) == 1
    assert seen.total == {"embed": 0, "write": 3}  # 500 + 500 + 200, no embedding
    assert sorted(stored_ids(conn, index_name)) == sorted(ids)


async def test_llama_index_async_add_goes_through_the_pipeline(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = PipelineCalls(monkeypatch)
    seen = Requests(monkeypatch)
    ids = await li_store(conn, index_name).async_add(embedded_nodes(300))

    assert len(calls.calls) == 1 and seen.total["embed"] == 0
    assert sorted(stored_ids(conn, index_name)) == sorted(ids)


def test_from_documents_embeds_once_and_writes_through_the_pipeline(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.set_latency(50)
    calls = PipelineCalls(monkeypatch)
    seen = Requests(monkeypatch)
    store = li_store(conn, index_name)
    documents = [LIDocument(text=t, id_=f"doc-{i}") for i, t in enumerate(texts(1500))]
    index_ = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WorkersAIEmbedding(model_name=EMBED, **conn),
    )
    index_.insert(LIDocument(text="one more document", id_="doc-extra"))

    assert len(calls.calls) == 2  # from_documents (one insert batch) and insert
    assert seen.total["embed"] == 15 + 1  # LlamaIndex's own embedding only, never the store's
    # one call of embed_batch_size texts, its requests sent together (threads of the sync
    # client: not promised to overlap to the last one, but never capped at the old 8)
    assert seen.most["embed"] > 8
    assert len(stored_ids(conn, index_name)) == 1501


def test_ingestion_pipeline_writes_through_the_store(
    emulator: LocalCloudflare,
    conn: dict[str, str],
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = PipelineCalls(monkeypatch)
    store = li_store(conn, index_name)
    pipeline = IngestionPipeline(
        transformations=[WorkersAIEmbedding(model_name=EMBED, **conn)], vector_store=store
    )
    nodes = pipeline.run(documents=[LIDocument(text=t) for t in texts(250)])

    assert len(calls.calls) == 1
    assert sorted(stored_ids(conn, index_name)) == sorted(n.node_id for n in nodes)


# --- the pipeline's own promises on these paths ---------------------------------------------------


async def test_writes_start_before_every_embedding_is_in(
    emulator: LocalCloudflare, conn: dict[str, str], index_name: str
) -> None:
    """The source holds back its last records until a write has completed: a pipeline that
    waited for every embedding before writing would never get there."""
    written = 0

    def on_progress(state: Progress) -> None:
        nonlocal written
        written = state.written

    async def source() -> AsyncIterator[tuple[str, str]]:
        for i, text in enumerate(texts(1000)):
            if i == 900:
                for _ in range(2000):
                    if written:
                        break
                    await asyncio.sleep(0.005)
                assert written, "no write before the last embeddings were even asked for"
            yield f"id-{i}", text

    settings = ClientSettings.resolve(**conn)
    from cloudflare_ai import AsyncWorkersAIClient

    async with (
        AsyncWorkersAIClient(settings=settings) as ai,
        AsyncVectorizeClient(settings=settings) as db,
    ):
        report = await aingest(
            source(), index=index_name, workers_ai=ai, vectorize=db, progress=on_progress
        )
    assert report.written == 1000


async def test_precomputed_records_stream_in_bounded_memory(
    emulator: LocalCloudflare, conn: dict[str, str], index_name: str
) -> None:
    emulator.set_latency(5)
    max_buffered = 300
    written = consumed = 0
    ahead: list[int] = []
    rng = np.random.default_rng(1)

    def on_progress(state: Progress) -> None:
        nonlocal written
        written = state.written

    def source() -> Iterator[Record]:
        nonlocal consumed
        for i in range(3000):
            consumed += 1
            ahead.append(consumed - written)
            yield Record(f"p-{i}", "", {"n": i}, values=rng.standard_normal(768).astype(np.float32))

    settings = ClientSettings.resolve(**conn)
    async with AsyncVectorizeClient(settings=settings) as db:

        async def never(batch: list[str]) -> Any:
            raise AssertionError("a record with values was sent for embedding")

        report = await aingest(
            source(), index=index_name, vectorize=db, embedder=never, text_key=None,
            write_batch=100, max_buffered=max_buffered, progress=on_progress,
        )  # fmt: skip
    assert report.written == consumed == 3000
    assert report.embed_requests == 0 and report.write_requests == 30
    assert max(ahead) <= max_buffered + 1  # +1: the record being handed over


def test_plan_is_sized_to_the_work_and_the_rate_limit() -> None:
    small = plan(EMBED, expected=2000)
    assert (small.embed_batch, small.embed_slots, small.write_slots) == (100, 20, 4)
    big = plan(EMBED, expected=1_000_000)
    # more than one round of requests: the client's CPU sets the pace, 16 keep it busy
    assert big.embed_slots == 16
    assert big.buffered == 16 * 100 + 2 * 500  # bounded, whatever the length
    assert plan(EMBED, expected=3200).embed_slots == 32  # one round (at most 32) all at once
    assert plan(EMBED, expected=3300).embed_slots == 16
    assert plan(EMBED).embed_slots == 16  # unknown length
    capped = plan(EMBED, concurrency=6, expected=2000)
    assert (capped.embed_slots, capped.write_slots, capped.total_slots) == (6, 3, 6)
