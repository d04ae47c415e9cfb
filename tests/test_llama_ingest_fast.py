"""LlamaIndex ingestion through LlamaIndex's own entry points, against the local emulator:
``WorkersAIEmbedding`` embeds a whole batch call in one core call yet keeps LlamaIndex's
events, callbacks, cache, rate limiter, progress bar and order; ``VectorizeVectorStore``
writes exactly the metadata ``node_to_metadata_dict`` would and refuses bad vectors naming
the node, before anything is sent.

Where the base class's behaviour is the reference, it is run on the same object (its own
``BaseEmbedding.get_text_embedding_batch``) and compared with ours.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks import CallbackManager
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.callbacks.schema import CBEventType, EventPayload
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import (
    BaseNode,
    ImageNode,
    IndexNode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.storage.kvstore import SimpleKVStore
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from cloudflare_ai import VectorizeClient
from cloudflare_ai.errors import ValidationError
from cloudflare_ai.llama_index.embeddings import WorkersAIEmbedding
from cloudflare_ai.llama_index.vector_stores import (
    NodeValidationError,
    VectorizeVectorStore,
    _node_metadata,
)
from cloudflare_ai_local import FaultConfig, LocalCloudflare

pytestmark = pytest.mark.emulator

EMBED = "@cf/baai/bge-base-en-v1.5"
_names = itertools.count()


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def conn(cf: LocalCloudflare) -> Iterator[dict[str, str]]:
    yield {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}
    cf.set_faults(FaultConfig())


def new_index(conn: dict[str, str], dimensions: int = 768) -> str:
    name = f"li-fast-{next(_names)}"
    with VectorizeClient(**conn) as db:
        db.create_index(name, dimensions=dimensions, metric="cosine")
    return name


def texts(n: int) -> list[str]:
    # distinct texts of varied lengths, so answers out of order would show
    return [f"passage {i} " + "about vectors " * (i % 7) for i in range(n)]


class Sent:
    """HTTP requests crossing httpx (sync and async), by kind: embedding or write."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.embed = 0
        self.write = 0
        sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

        def count(request: httpx.Request) -> None:
            if "/ai/run/" in request.url.path:
                self.embed += 1
            elif request.url.path.endswith(("/upsert", "/insert")):
                self.write += 1

        def sync(client: httpx.Client, request: httpx.Request, **kw: Any) -> Any:
            count(request)
            return sync_send(client, request, **kw)

        async def asend(client: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
            count(request)
            return await async_send(client, request, **kw)

        monkeypatch.setattr(httpx.Client, "send", sync)
        monkeypatch.setattr(httpx.AsyncClient, "send", asend)


class Events(BaseEventHandler):
    """Instrumentation events, as LlamaIndex dispatches them to its root dispatcher."""

    seen: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "TestEmbeddingEvents"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, EmbeddingStartEvent | EmbeddingEndEvent):
            self.seen.append(event)


class Callbacks(BaseCallbackHandler):
    """The callback manager's EMBEDDING events: starts, and ends with their payloads."""

    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.started: list[str] = []
        self.ended: list[tuple[str, dict[str, Any]]] = []

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        if event_type == CBEventType.EMBEDDING:
            self.started.append(event_id)
        return event_id

    def on_event_end(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        if event_type == CBEventType.EMBEDDING:
            self.ended.append((event_id, dict(payload or {})))

    def start_trace(self, trace_id: str | None = None) -> None:
        pass

    def end_trace(
        self, trace_id: str | None = None, trace_map: dict[str, list[str]] | None = None
    ) -> None:
        pass


@pytest.fixture
def events() -> Iterator[Events]:
    handler = Events()
    handler.seen = []
    root = get_dispatcher()
    root.add_event_handler(handler)
    yield handler
    root.event_handlers.remove(handler)


def observed(events: Events, callbacks: Callbacks) -> list[Any]:
    """What a handler sees, independent of ids and of how starts and ends interleave (the
    base class's sync form alternates them; its async form, like ours, sends every start
    before the work and every end after): how many starts, and every end's chunks in order,
    for the instrumentation events and for the callback manager's."""
    starts = sum(isinstance(e, EmbeddingStartEvent) for e in events.seen)
    ends = [list(e.chunks) for e in events.seen if isinstance(e, EmbeddingEndEvent)]
    callback_ends = [list(payload[EventPayload.CHUNKS]) for _, payload in callbacks.ended]
    return [starts, ends, len(callbacks.started), callback_ends]


def starts_then_ends(events: Events) -> bool:
    kinds = [type(e).__name__ for e in events.seen]
    half = len(kinds) // 2
    return kinds == ["EmbeddingStartEvent"] * half + ["EmbeddingEndEvent"] * half


# --- WorkersAIEmbedding.get_text_embedding_batch ----------------------------------------------


def test_one_core_call_with_the_base_class_events_and_results(
    conn: dict[str, str], events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    callbacks = Callbacks()
    embed = WorkersAIEmbedding(
        model_name=EMBED,
        embed_batch_size=64,
        callback_manager=CallbackManager([callbacks]),
        **conn,
    )
    inputs = texts(250)

    sent = Sent(monkeypatch)
    reference = BaseEmbedding.get_text_embedding_batch(embed, inputs)  # LlamaIndex's own
    theirs = observed(events, callbacks)
    assert sent.embed == 4 + 0  # one call per 64 texts, each one request (BGE takes 100)

    events.seen.clear()
    callbacks.started.clear()
    callbacks.ended.clear()
    sent.embed = 0
    ours = embed.get_text_embedding_batch(inputs)

    assert sent.embed == 3  # one core call: 250 texts at the model's 100 per request
    assert ours == reference  # same vectors, same order
    assert observed(events, callbacks) == theirs  # same events, batch for batch
    assert starts_then_ends(events)
    assert [len(c) for c in theirs[1]] == [64, 64, 64, 58]
    # each callback end carries its batch's vectors; each start is ended once
    assert [e for e, _ in callbacks.ended] == callbacks.started
    vectors = [v for _, p in callbacks.ended for v in p[EventPayload.EMBEDDINGS]]
    assert vectors == ours
    ends = [e for e in events.seen if isinstance(e, EmbeddingEndEvent)]
    assert [v for e in ends for v in e.embeddings] == ours
    # and every vector is the one the text gets alone
    for i in (0, 99, 100, 249):
        assert np.allclose(ours[i], embed.get_text_embedding(inputs[i]))


async def test_async_batch_is_one_call_with_the_same_events(
    conn: dict[str, str], events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    callbacks = Callbacks()
    embed = WorkersAIEmbedding(
        model_name=EMBED,
        embed_batch_size=50,
        callback_manager=CallbackManager([callbacks]),
        **conn,
    )
    inputs = texts(120)
    reference = await BaseEmbedding.aget_text_embedding_batch(embed, inputs)
    theirs = observed(events, callbacks)
    events.seen.clear()
    callbacks.started.clear()
    callbacks.ended.clear()

    sent = Sent(monkeypatch)
    ours = await embed.aget_text_embedding_batch(inputs)

    assert sent.embed == 2  # 120 texts in one call, 100 per request
    assert ours == reference
    assert observed(events, callbacks) == theirs
    assert starts_then_ends(events)
    assert [len(c) for c in theirs[1]] == [50, 50, 20]
    assert await embed.aget_text_embedding_batch([]) == []


def test_a_failed_call_ends_every_callback_event_with_the_error(
    conn: dict[str, str], events: Events
) -> None:
    callbacks = Callbacks()
    embed = WorkersAIEmbedding(
        model_name=EMBED,
        embed_batch_size=2,
        long_inputs="error",
        callback_manager=CallbackManager([callbacks]),
        **conn,
    )
    too_long = "word " * 2000  # over BGE's 512 tokens: refused before sending

    with pytest.raises(ValidationError) as raised:
        embed.get_text_embedding_batch(["short", "text", too_long])

    assert len(callbacks.started) == 2
    assert [e for e, _ in callbacks.ended] == callbacks.started
    assert all(p[EventPayload.EXCEPTION] is raised.value for _, p in callbacks.ended)
    assert [type(e).__name__ for e in events.seen] == ["EmbeddingStartEvent"] * 2


def test_rate_limiter_cache_and_progress_bar_still_apply(
    conn: dict[str, str], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    class Limiter:
        acquired = 0

        def acquire(self) -> None:
            self.acquired += 1

    limiter = Limiter()
    embed = WorkersAIEmbedding(
        model_name=EMBED,
        embed_batch_size=10,
        rate_limiter=limiter,
        embeddings_cache=SimpleKVStore(),
        **conn,
    )
    sent = Sent(monkeypatch)
    first = embed.get_text_embedding_batch(texts(25), show_progress=True)
    assert limiter.acquired == 3  # once per batch of 10, as the base class does
    assert sent.embed == 1
    assert "Generating embeddings" in capfd.readouterr().err

    again = embed.get_text_embedding_batch(texts(30))  # 25 cached, 5 new: one request
    assert again[:25] == first
    assert sent.embed == 2
    assert again[25:] == embed.get_text_embedding_batch(texts(30)[25:])


def test_from_documents_and_ingestion_pipeline_embed_once_per_call(
    conn: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = VectorizeVectorStore(index_name=new_index(conn), **conn)
    embed = WorkersAIEmbedding(model_name=EMBED, embed_batch_size=16, **conn)
    sent = Sent(monkeypatch)
    documents = [Document(text=t, id_=f"doc-{i}") for i, t in enumerate(texts(90))]

    VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
    )  # fmt: skip
    assert sent.embed == 1  # 90 nodes, one request (the base class: 6, one per 16)

    pipeline = IngestionPipeline(transformations=[SentenceSplitter(), embed], vector_store=store)
    nodes = pipeline.run(documents=[Document(text=t) for t in texts(40)])
    assert sent.embed == 2
    stored = store.get_nodes(node_ids=[n.node_id for n in nodes])
    assert [n.node_id for n in stored] == [n.node_id for n in nodes]
    for node, back in zip(nodes, stored, strict=True):
        assert node.embedding is not None and back.embedding is not None
        assert np.array_equal(np.float32(node.embedding), np.float32(back.embedding))


# --- VectorizeVectorStore: metadata --------------------------------------------------------------


def sample_nodes() -> list[BaseNode]:
    source = RelatedNodeInfo(node_id="doc-1", metadata={"title": "Über"})
    text = TextNode(
        id_="text-1",
        text='Zürich "quoted" ✓',
        metadata={"topic": "cities", "rank": 3, "score": 0.25, "author": {"name": "Ana"}},
        excluded_embed_metadata_keys=["rank"],
        relationships={
            NodeRelationship.SOURCE: source,
            NodeRelationship.NEXT: RelatedNodeInfo(node_id="text-2"),
        },
        start_char_idx=4,
        end_char_idx=21,
        embedding=[0.5, -0.25, 1e-7, 3.0],
    )
    return [
        text,
        Document(
            text="a whole document",
            id_="doc-2",
            metadata={"tags": ["a", "b"]},
            embedding=[1.0, 0.0, 0.0, 0.0],
        ),
        ImageNode(
            id_="image-1",
            text="a caption",
            image_url="https://example.com/x.png",
            text_embedding=[0.1, 0.2],
            embedding=[0.0, 1.0, 0.0, 0.0],
        ),
        IndexNode(
            id_="index-1",
            text="see the other index",
            index_id="other",
            embedding=[0.0, 0.0, 1.0, 0.0],
        ),
        TextNode(id_="bare", text="b", embedding=[0.0, 0.0, 0.0, 1.0]),
    ]


def test_metadata_is_exactly_llama_indexs() -> None:
    for node in sample_nodes():
        ours = _node_metadata(node, flat_metadata=False)
        theirs = node_to_metadata_dict(node, remove_text=False, flat_metadata=False)
        assert ours == theirs
        assert ours["_node_content"] == theirs["_node_content"]  # the same JSON text
        assert list(ours) == list(theirs)
        rebuilt = metadata_dict_to_node(ours)
        assert rebuilt == metadata_dict_to_node(theirs)
        assert type(rebuilt) is type(node) or isinstance(node, Document)
        assert rebuilt.embedding is None and node.embedding is not None


def test_nodes_written_through_from_nodes_come_back_as_llama_index_stores_them(
    conn: dict[str, str],
) -> None:
    name = new_index(conn, dimensions=4)
    store = VectorizeVectorStore(index_name=name, **conn)
    nodes = sample_nodes()
    VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WorkersAIEmbedding(**conn),  # the nodes are embedded: not called
    )  # fmt: skip

    with VectorizeClient(**conn) as db:
        stored = {r.id: r for r in db.get_by_ids(name, [n.node_id for n in nodes])}
    for node in nodes:
        metadata = stored[node.node_id].metadata
        assert metadata == node_to_metadata_dict(node, remove_text=False)
        assert metadata_dict_to_node(dict(metadata or {})) == metadata_dict_to_node(
            node_to_metadata_dict(node)
        )
        assert stored[node.node_id].values == pytest.approx(node.embedding)


# --- VectorizeVectorStore: vectors refused, naming the node -------------------------------------


def unit(i: int, n: int = 4) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(n)]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([0.0, math.nan, 0.0, 1.0], r"value \[1\] is nan; vectors must be finite"),
        ([0.0, 0.0, -math.inf, 1.0], r"value \[2\] is -inf; vectors must be finite"),
        ([0.0, 1e39, 0.0, 1.0], r"value \[1\] = 1e\+39 overflows float32"),
        ([1.0, 0.0], r"has 2 values but the index has 4 dimensions"),
        ([], r"values must be a non-empty flat list of numbers"),
    ],
)
def test_bad_vectors_are_refused_naming_the_node_and_nothing_is_sent(
    conn: dict[str, str], monkeypatch: pytest.MonkeyPatch, bad: list[float], message: str
) -> None:
    name = new_index(conn, dimensions=4)
    store = VectorizeVectorStore(index_name=name, **conn)
    nodes = [TextNode(id_=f"n-{i}", text=f"t {i}", embedding=unit(i % 4)) for i in range(6)]
    nodes[3] = TextNode(id_="the-bad-one", text="x", embedding=bad)
    sent = Sent(monkeypatch)

    with pytest.raises(NodeValidationError, match=f"node 'the-bad-one' at position 3: {message}"):
        VectorStoreIndex(
            nodes, storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=WorkersAIEmbedding(**conn),
        )  # fmt: skip

    assert sent.write == 0
    with VectorizeClient(**conn) as db:
        assert db.info(name).vector_count == 0


def test_the_first_bad_node_is_named_whatever_is_wrong_with_it(conn: dict[str, str]) -> None:
    store = VectorizeVectorStore(index_name=new_index(conn, dimensions=4), **conn)
    bad_metadata = TextNode(id_="bad-meta", text="x", metadata={"k": [[1]]}, embedding=unit(0))
    bad_vector = TextNode(id_="bad-vec", text="y", embedding=[math.nan, 0.0, 0.0, 0.0])
    fine = TextNode(id_="fine", text="z", embedding=unit(1))

    with pytest.raises(NodeValidationError, match="node 'bad-meta' at position 1: metadata"):
        store.add([fine, bad_metadata, bad_vector])
    with pytest.raises(NodeValidationError, match="node 'bad-vec' at position 1: value"):
        store.add([fine, bad_vector, bad_metadata])
    with pytest.raises(NodeValidationError, match="node 'short' at position 2: has 3 values"):
        store.add([fine, fine.model_copy(update={"id_": "f2"}),
                   TextNode(id_="short", text="s", embedding=[1.0, 0.0, 0.0])])  # fmt: skip


async def test_later_writes_are_checked_against_the_index_dimensions(
    conn: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = VectorizeVectorStore(index_name=new_index(conn, dimensions=4), **conn)
    await store.async_add([TextNode(id_="first", text="a", embedding=unit(0))])
    sent = Sent(monkeypatch)

    wrong = [TextNode(id_="eight", text="b", embedding=unit(0, 8))]
    with pytest.raises(NodeValidationError, match="'eight' at position 0: has 8 values but the "
                       "index has 4 dimensions"):  # fmt: skip
        await store.async_add(wrong)
    with pytest.raises(NodeValidationError, match="'eight' at position 0"):
        store.add(wrong)
    assert sent.write == 0
    stored = await store.aget_nodes(node_ids=["first"])
    assert [n.node_id for n in stored] == ["first"]
