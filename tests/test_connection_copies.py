"""Adapters survive pickle, deepcopy and ``model_copy`` after first use, against the emulator.

Clients hold locks and sockets: they are built lazily and never copied nor pickled, so a copy
builds its own from its fields (and ``model_copy(update={"base_url": ...})`` talks to the new
URL). The API token survives a pickle (the copy must work) but never a repr or a dump.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.load import dumps
from pydantic import PrivateAttr

from cloudflare_ai import ClientSettings, GatewaySettings, RetryPolicy
from cloudflare_ai.connection import CloudflareClients, CloudflareConnection
from cloudflare_ai.errors import CloudflareError, NotFoundError
from cloudflare_ai.langchain import ChatWorkersAI, WorkersAIEmbeddings
from cloudflare_ai.llama_index import WorkersAI, WorkersAIEmbedding
from cloudflare_ai_local import FaultConfig, LocalCloudflare

pytestmark = pytest.mark.emulator

NO_RETRY = RetryPolicy(max_retries=0)
GATEWAY_SECRET = "gateway-secret-0123456789"


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def cf_other() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def emulator(cf: LocalCloudflare) -> Iterator[LocalCloudflare]:
    yield cf
    cf.set_faults(FaultConfig())


def _chat(model: Any) -> None:
    assert model.invoke("What is Vectorize?").content


async def _achat(model: Any) -> None:
    assert (await model.ainvoke("What is Vectorize?")).content


def _embed(model: Any) -> None:
    assert len(model.embed_query("vectors")) == 768


async def _aembed(model: Any) -> None:
    assert len(await model.aembed_query("vectors")) == 768


def _complete(model: Any) -> None:
    assert model.complete("What is Vectorize?").text


async def _acomplete(model: Any) -> None:
    assert (await model.acomplete("What is Vectorize?")).text


def _li_embed(model: Any) -> None:
    assert len(model.get_query_embedding("vectors")) == 768


async def _ali_embed(model: Any) -> None:
    assert len(await model.aget_query_embedding("vectors")) == 768


@dataclass(frozen=True)
class Kind:
    cls: type[CloudflareConnection]
    use: Callable[[Any], None]
    ause: Callable[[Any], Awaitable[None]]


KINDS = {
    "langchain-chat": Kind(ChatWorkersAI, _chat, _achat),
    "langchain-embeddings": Kind(WorkersAIEmbeddings, _embed, _aembed),
    "llama-index-llm": Kind(WorkersAI, _complete, _acomplete),
    "llama-index-embedding": Kind(WorkersAIEmbedding, _li_embed, _ali_embed),
}


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


def _make(kind: Kind, cf: LocalCloudflare, **extra: Any) -> Any:
    return kind.cls(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        retry_policy=NO_RETRY,
        **extra,
    )


def _pickled(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))  # noqa: S301 - our own bytes


COPIES = {"pickle": _pickled, "deepcopy": copy.deepcopy, "copy": copy.copy}


@pytest.mark.parametrize("how", list(COPIES))
def test_copy_after_sync_use_works_with_its_own_client(
    kind: Kind, emulator: LocalCloudflare, how: str
) -> None:
    model = _make(kind, emulator)
    kind.use(model)
    original_client = model.workers_ai
    duplicate = COPIES[how](model)
    kind.use(duplicate)
    assert duplicate.workers_ai is not original_client
    assert duplicate.api_token.get_secret_value() == emulator.api_token
    kind.use(model)  # the original is untouched and keeps its client
    assert model.workers_ai is original_client


@pytest.mark.parametrize("how", list(COPIES))
async def test_copy_after_async_use_works_with_its_own_client(
    kind: Kind, emulator: LocalCloudflare, how: str
) -> None:
    model = _make(kind, emulator)
    await kind.ause(model)  # builds the async client, bound to this loop
    original_client = model.async_workers_ai
    duplicate = COPIES[how](model)
    await kind.ause(duplicate)
    assert duplicate.async_workers_ai is not original_client
    kind.use(duplicate)
    await kind.ause(model)
    assert model.async_workers_ai is original_client


def test_model_copy_with_a_new_base_url_talks_to_it(
    kind: Kind, emulator: LocalCloudflare, cf_other: LocalCloudflare
) -> None:
    model = _make(kind, emulator)
    kind.use(model)  # settings resolved and the client built for the first emulator
    moved = model.model_copy(update={"base_url": cf_other.base_url})
    emulator.set_faults(rate=1.0, kinds=["500"])  # the first emulator now fails everything
    faults = len(emulator.injected_faults)
    kind.use(moved)
    assert moved.workers_ai.settings.base_url == cf_other.base_url
    assert len(emulator.injected_faults) == faults  # nothing reached the old URL
    with pytest.raises(CloudflareError):
        kind.use(model)  # the original still talks to the first one
    assert len(emulator.injected_faults) == faults + 1


def test_model_copy_without_update_has_its_own_client(
    kind: Kind, emulator: LocalCloudflare
) -> None:
    model = _make(kind, emulator)
    kind.use(model)
    for duplicate in (model.model_copy(), model.model_copy(deep=True)):
        kind.use(duplicate)
        assert duplicate.workers_ai is not model.workers_ai


def test_pickle_keeps_connection_fields_not_clients(kind: Kind, emulator: LocalCloudflare) -> None:
    model = _make(kind, emulator, timeout=12.5, max_concurrency=3)
    kind.use(model)
    data = pickle.dumps(model)
    assert b"httpx" not in data  # no client, pool or transport in the pickle
    duplicate = pickle.loads(data)  # noqa: S301
    assert duplicate.timeout == 12.5
    assert duplicate.base_url == emulator.base_url
    assert duplicate.workers_ai.settings.max_concurrency == 3


# --- secrets ---------------------------------------------------------------------------------


def test_token_never_in_repr_str_or_dumps(kind: Kind) -> None:
    token = "adapter-secret-token-0123456789"
    gateway = GatewaySettings(id="gw", token=GATEWAY_SECRET)
    model = kind.cls(
        account_id="acc", api_token=token, base_url="http://127.0.0.1:9", gateway=gateway
    )
    model.workers_ai  # noqa: B018 - resolved settings and a client exist
    texts = [repr(model), str(model), str(model.model_dump()), model.model_dump_json()]
    texts.append(dumps(model))
    if hasattr(model, "to_json"):
        texts.append(str(model.to_json()))  # LangChain's to_json dict / LlamaIndex's JSON
    for text in texts:
        assert token not in text
        assert GATEWAY_SECRET not in text
    dumped = model.model_dump()
    assert "api_token" not in dumped
    assert dumped["gateway"] == {"id": "gw"}  # settings without their token


def test_the_pickle_keeps_the_token_so_the_copy_works(emulator: LocalCloudflare) -> None:
    # Documented: a pickle carries the token (SecretStr pickles its value); without it an
    # unpickled adapter could not call Cloudflare.
    model = _make(KINDS["langchain-embeddings"], emulator)
    assert emulator.api_token.encode() in pickle.dumps(model)


# --- Vectorize clients and close -------------------------------------------------------------


@pytest.fixture
def other_index(cf_other: LocalCloudflare) -> Iterator[str]:
    """An index that exists only on the second emulator."""
    name = "only-on-the-other-emulator"
    holder = CloudflareClients(
        account_id=cf_other.account_id, api_token=cf_other.api_token, base_url=cf_other.base_url
    )
    holder.vectorize.create_index(name, dimensions=8, metric="cosine", exist_ok=True)
    yield name
    holder.vectorize.delete_index(name, missing_ok=True)
    holder.close()


def test_vectorize_clients_follow_copies(
    emulator: LocalCloudflare, cf_other: LocalCloudflare, other_index: str
) -> None:
    model = _make(KINDS["langchain-embeddings"], emulator)
    assert model._clients is None  # nothing is built before first use
    first = model.vectorize
    assert model.vectorize is first
    with pytest.raises(NotFoundError):
        first.get_index(other_index)
    moved = model.model_copy(update={"base_url": cf_other.base_url})
    assert moved.vectorize.get_index(other_index).name == other_index
    for duplicate in (_pickled(moved), copy.deepcopy(moved), copy.copy(moved)):
        assert duplicate.vectorize is not moved.vectorize
        assert duplicate.vectorize.get_index(other_index).name == other_index
    assert model.vectorize is first  # the original keeps its client and its URL


async def test_async_vectorize_clients_follow_copies(
    emulator: LocalCloudflare, cf_other: LocalCloudflare, other_index: str
) -> None:
    model = _make(KINDS["llama-index-llm"], emulator)
    first = model.async_vectorize
    assert model.async_vectorize is first  # one per running loop, reused
    with pytest.raises(NotFoundError):
        await first.get_index(other_index)
    moved = model.model_copy(update={"base_url": cf_other.base_url})
    assert (await moved.async_vectorize.get_index(other_index)).name == other_index
    duplicate = _pickled(moved)
    assert duplicate.async_vectorize is not moved.async_vectorize
    assert (await duplicate.async_vectorize.get_index(other_index)).name == other_index
    await model.aclose()
    await moved.aclose()
    await duplicate.aclose()


def test_plain_holder_copies_and_pickles_without_clients(
    cf_other: LocalCloudflare, other_index: str
) -> None:
    holder = CloudflareClients(
        account_id=cf_other.account_id,
        api_token=cf_other.api_token,
        base_url=cf_other.base_url,
        retry_policy=NO_RETRY,
    )
    client = holder.vectorize
    assert client.get_index(other_index).name == other_index
    for duplicate in (_pickled(holder), copy.deepcopy(holder), copy.copy(holder)):
        assert duplicate.vectorize is not client
        assert duplicate.vectorize.get_index(other_index).name == other_index
        assert duplicate.retry_policy == NO_RETRY
        duplicate.close()
    assert cf_other.api_token not in repr(holder)
    assert holder.vectorize is client
    holder.close()
    assert client._transport.client.is_closed


def test_close_closes_what_was_built_and_use_reopens(emulator: LocalCloudflare) -> None:
    model = _make(KINDS["langchain-embeddings"], emulator)
    model.close()  # nothing built: nothing to do
    ai, db = model.workers_ai, model.vectorize
    db.list_indexes()
    model.close()
    assert ai._transport.client.is_closed
    assert db._transport.client.is_closed
    assert model.vectorize is not db  # built again on next use
    assert model.vectorize.list_indexes() is not None
    _embed(model)


async def test_aclose_closes_the_loops_async_clients(emulator: LocalCloudflare) -> None:
    model = _make(KINDS["llama-index-embedding"], emulator)
    ai, db, sync_db = model.async_workers_ai, model.async_vectorize, model.vectorize
    await db.list_indexes()
    assert model.async_vectorize is db  # one per loop, reused
    await model.aclose()
    assert ai._transport.client.is_closed
    assert db._transport.client.is_closed
    assert sync_db._transport.client.is_closed
    await _ali_embed(model)
    assert model.async_workers_ai is not ai


class _WithCache(CloudflareConnection):
    """A subclass with a connection-dependent cache of its own, as a vector store has."""

    lazy_private_attributes = CloudflareConnection.lazy_private_attributes | {"_metric"}
    index_name: str = "docs"
    _metric: str | None = PrivateAttr(default=None)


def test_subclasses_extend_what_copies_and_pickles_leave_out(cf_other: LocalCloudflare) -> None:
    model = _WithCache(
        account_id=cf_other.account_id, api_token=cf_other.api_token, base_url=cf_other.base_url
    )
    model._metric = "cosine"
    model.vectorize  # noqa: B018 - build a client
    duplicates = [
        _pickled(model),
        copy.deepcopy(model),
        copy.copy(model),
        model.model_copy(update={"index_name": "other"}),
    ]
    for duplicate in duplicates:
        assert duplicate._metric is None
        assert duplicate._clients is None
        assert duplicate.vectorize.list_indexes() is not None
    assert model._metric == "cosine"  # the original keeps its cache
    assert duplicates[-1].index_name == "other"


def test_plain_holder_from_ready_settings(cf_other: LocalCloudflare, other_index: str) -> None:
    settings = ClientSettings.resolve(
        account_id=cf_other.account_id, api_token=cf_other.api_token, base_url=cf_other.base_url
    )
    holder = CloudflareClients(settings)
    assert holder.settings is settings
    assert holder.workers_ai.settings is settings
    duplicate = _pickled(holder)
    assert duplicate.vectorize.get_index(other_index).name == other_index
    holder.close()
    duplicate.close()


# --- the vector stores: the same connection base, the same guarantees -----------------------


def _stores(cf: LocalCloudflare, name: str) -> tuple[Any, Any]:
    from cloudflare_ai.langchain import VectorizeVectorStore as LangChainStore
    from cloudflare_ai.llama_index import VectorizeVectorStore as LlamaIndexStore

    connection = {
        "account_id": cf.account_id,
        "api_token": cf.api_token,
        "base_url": cf.base_url,
        "retry_policy": NO_RETRY,
        "wait_for_writes": True,
    }
    embeddings = WorkersAIEmbeddings(
        **{k: v for k, v in connection.items() if k != "wait_for_writes"}
    )
    return (
        LangChainStore(embeddings, f"{name}-lc", **connection),
        LlamaIndexStore(index_name=f"{name}-li", **connection),
    )


def _store_round_trip(lc: Any, li: Any) -> None:
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    assert lc.similarity_search("copies", k=1)[0].page_content == "copies work"
    assert li.query(VectorStoreQuery(query_embedding=[1.0] + [0.0] * 7)).ids == ["n1"]
    li.add([TextNode(id_="n1", text="copies", embedding=[1.0] + [0.0] * 7)])


@pytest.mark.parametrize("how", list(COPIES))
async def test_stores_copy_and_pickle_after_use(emulator: LocalCloudflare, how: str) -> None:
    from llama_index.core.schema import TextNode

    lc, li = _stores(emulator, f"copies-{how}")
    lc.create_index()
    lc.add_texts(["copies work"])
    li.add([TextNode(id_="n1", text="copies", embedding=[1.0] + [0.0] * 7)])
    await lc.asimilarity_search("copies", k=1)  # async clients built too
    for store, duplicate in ((lc, COPIES[how](lc)), (li, COPIES[how](li))):
        assert duplicate.client is not store.client
    lc_copy, li_copy = COPIES[how](lc), COPIES[how](li)
    _store_round_trip(lc_copy, li_copy)
    _store_round_trip(lc, li)  # the originals keep working
    assert "api_token" not in repr(li) or "**" in repr(li)
    lc.delete_index()
    li.delete_index()
    for store in (lc, li, lc_copy, li_copy):
        await store.aclose()


def test_llama_index_store_model_copy_talks_to_the_new_url(
    emulator: LocalCloudflare, cf_other: LocalCloudflare, other_index: str
) -> None:
    _, li = _stores(emulator, "moved")
    with pytest.raises(NotFoundError):
        li.client.get_index(other_index)
    moved = li.model_copy(update={"base_url": cf_other.base_url, "index_name": other_index})
    assert moved.client.get_index(other_index).name == other_index
    li.close()
    moved.close()
