"""Every sync method has an async twin with the same parameters, and the twin is really async.

Core clients: every public method of ``WorkersAIClient`` / ``VectorizeClient`` (and of the chat
streams) has a twin of the same name on the async class (``close`` → ``aclose``, context
manager and iteration dunders → their async forms), and the async class has no public method
the sync one lacks. Adapters: pairs are discovered by introspection (``<name>`` /
``a<name>``, ``_<name>`` / ``_a<name>``, ``<name>`` / ``async_<name>``) among the methods this
package defines, and a list of pairs the frameworks require makes sure discovery finds them.

A twin matches when its parameters have the same names, kinds, defaults and annotations, its
return annotation is the async form of the sync one (``Iterator`` → ``AsyncIterator``,
``ChatStream`` → ``AsyncChatStream``, ``…Gen`` → ``…AsyncGen``), it is ``async def`` (or returns
an async iterable) and, where the sync method returns an iterator, it yields asynchronously.

A mismatch that must be kept for a while goes in ``KNOWN_GAPS`` with its reason (there are
none today); the test also fails when a listed gap is gone, so the list cannot go stale.
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from cloudflare_ai.gateways import AIGatewayClient, AsyncAIGatewayClient
from cloudflare_ai.langchain import (
    ChatWorkersAI,
    VectorizeVectorStore,
    WorkersAIEmbeddings,
)
from cloudflare_ai.langchain import WorkersAI as LangChainLLM
from cloudflare_ai.llama_index import VectorizeVectorStore as LlamaIndexStore
from cloudflare_ai.llama_index import WorkersAI as LlamaIndexLLM
from cloudflare_ai.llama_index import WorkersAIEmbedding
from cloudflare_ai.vectorize import AsyncVectorizeClient, VectorizeClient
from cloudflare_ai.workers_ai import (
    AsyncChatStream,
    AsyncWorkersAIClient,
    ChatStream,
    WorkersAIClient,
)

#: (class, sync name, async name) → why the pair differs. Each is in a module being rewritten
#: elsewhere (vectorize.py and the vector stores), so it is recorded here rather than fixed.
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}

CORE = [
    (WorkersAIClient, AsyncWorkersAIClient),
    (VectorizeClient, AsyncVectorizeClient),
    (AIGatewayClient, AsyncAIGatewayClient),
    (ChatStream, AsyncChatStream),
]
#: Sync name → async name where the async one is not the same name.
RENAMES = {
    "close": "aclose",
    "__enter__": "__aenter__",
    "__exit__": "__aexit__",
    "__iter__": "__aiter__",
}

ADAPTERS: dict[str, type] = {
    "langchain.ChatWorkersAI": ChatWorkersAI,
    "langchain.WorkersAI": LangChainLLM,
    "langchain.WorkersAIEmbeddings": WorkersAIEmbeddings,
    "langchain.VectorizeVectorStore": VectorizeVectorStore,
    "llama_index.WorkersAI": LlamaIndexLLM,
    "llama_index.WorkersAIEmbedding": WorkersAIEmbedding,
    "llama_index.VectorizeVectorStore": LlamaIndexStore,
}

#: Pairs the frameworks call (or users expect): discovery must find each of them.
REQUIRED = {
    "langchain.ChatWorkersAI": {
        ("invoke", "ainvoke"),
        ("stream", "astream"),
        ("_generate", "_agenerate"),
        ("_stream", "_astream"),
        ("close", "aclose"),
    },
    "langchain.WorkersAI": {("invoke", "ainvoke"), ("_call", "_acall"), ("_stream", "_astream")},
    "langchain.WorkersAIEmbeddings": {
        ("embed_documents", "aembed_documents"),
        ("embed_query", "aembed_query"),
    },
    "langchain.VectorizeVectorStore": {
        ("add_texts", "aadd_texts"),
        ("add_documents", "aadd_documents"),
        ("delete", "adelete"),
        ("get_by_ids", "aget_by_ids"),
        ("similarity_search", "asimilarity_search"),
        ("similarity_search_with_score", "asimilarity_search_with_score"),
        ("similarity_search_by_vector", "asimilarity_search_by_vector"),
        ("similarity_search_with_score_by_vector", "asimilarity_search_with_score_by_vector"),
        ("similarity_search_batch", "asimilarity_search_batch"),
        ("max_marginal_relevance_search", "amax_marginal_relevance_search"),
        ("max_marginal_relevance_search_by_vector", "amax_marginal_relevance_search_by_vector"),
        ("create_index", "acreate_index"),
        ("delete_index", "adelete_index"),
        ("create_metadata_index", "acreate_metadata_index"),
        ("list_metadata_indexes", "alist_metadata_indexes"),
        ("from_texts", "afrom_texts"),
        ("close", "aclose"),
    },
    "llama_index.WorkersAI": {
        ("complete", "acomplete"),
        ("chat", "achat"),
        ("stream_complete", "astream_complete"),
        ("stream_chat", "astream_chat"),
        ("close", "aclose"),
    },
    "llama_index.WorkersAIEmbedding": {
        ("get_query_embedding", "aget_query_embedding"),
        ("get_text_embedding", "aget_text_embedding"),
        ("get_text_embedding_batch", "aget_text_embedding_batch"),
        ("_get_query_embedding", "_aget_query_embedding"),
        ("_get_text_embedding", "_aget_text_embedding"),
        ("_get_text_embeddings", "_aget_text_embeddings"),
    },
    "llama_index.VectorizeVectorStore": {
        ("add", "async_add"),
        ("query", "aquery"),
        ("delete", "adelete"),
        ("delete_nodes", "adelete_nodes"),
        ("get_nodes", "aget_nodes"),
        ("clear", "aclear"),
        ("delete_index", "adelete_index"),
        ("close", "aclose"),
    },
}

_ASYNC_FORMS = [
    ("AsyncIterator", "Iterator"),
    ("AsyncIterable", "Iterable"),
    ("AsyncGenerator", "Generator"),
    ("AsyncGen", "Gen"),  # LlamaIndex's ChatResponseAsyncGen / ChatResponseGen
    ("AsyncChatStream", "ChatStream"),
    ("AsyncVectorizeClient", "VectorizeClient"),
    ("AsyncWorkersAIClient", "WorkersAIClient"),
    ("AsyncCallbackManagerForLLMRun", "CallbackManagerForLLMRun"),
    ("AsyncCallbackManager", "CallbackManager"),
]


def _sync_form(annotation: str) -> str:
    for async_name, sync_name in _ASYNC_FORMS:
        annotation = annotation.replace(async_name, sync_name)
    return annotation


def _text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return re.sub(r"\b(typing|collections\.abc)\.", "", text).replace(" ", "")


def _function(owner: type, name: str) -> Callable[..., Any] | None:
    """The function behind ``owner.name`` (None for properties and other attributes)."""
    for klass in owner.__mro__:
        if name in klass.__dict__:
            raw = klass.__dict__[name]
            if isinstance(raw, staticmethod | classmethod):
                raw = raw.__func__
            return raw if inspect.isfunction(raw) else None
    return None


def _defined_here(owner: type, name: str) -> bool:
    for klass in owner.__mro__:
        if name in klass.__dict__:
            return klass.__module__.startswith("cloudflare_ai")
    return False


def _resolve(function: Callable[..., Any], annotation: str) -> Any:
    """The object the outermost name of a string annotation stands for, if it can be found."""
    head = annotation.split("[", 1)[0].split("|", 1)[0].strip()
    module = sys.modules.get(function.__module__)
    names = {**vars(collections.abc), **vars(typing), **(vars(module) if module else {})}
    return names.get(head)


def _is_iterator_type(thing: Any, method: str) -> bool:
    origin = typing.get_origin(thing) or thing
    if not isinstance(origin, type):
        return False
    if issubclass(origin, str | bytes | list | tuple | dict | set | frozenset | BaseModel):
        return False
    return hasattr(origin, method)


def _yields(function: Callable[..., Any], *, asynchronous: bool) -> bool:
    """Whether calling ``function`` gives an (async) iterator, by its kind or its return
    annotation."""
    if asynchronous and inspect.isasyncgenfunction(inspect.unwrap(function)):
        return True
    if not asynchronous and inspect.isgeneratorfunction(inspect.unwrap(function)):
        return True
    annotation = inspect.signature(inspect.unwrap(function)).return_annotation
    if annotation is inspect.Signature.empty:
        return False
    thing = _resolve(function, annotation) if isinstance(annotation, str) else annotation
    return _is_iterator_type(thing, "__aiter__" if asynchronous else "__iter__")


def _is_async(function: Callable[..., Any]) -> bool:
    return (
        inspect.iscoroutinefunction(function)
        or inspect.isasyncgenfunction(function)
        or inspect.iscoroutinefunction(inspect.unwrap(function))
        or inspect.isasyncgenfunction(inspect.unwrap(function))
        or _yields(function, asynchronous=True)
    )


def mismatches(sync: Callable[..., Any], asynchronous: Callable[..., Any]) -> list[str]:
    """What differs between a sync method and its async twin (empty when they match)."""
    problems = []
    if inspect.iscoroutinefunction(sync) or inspect.isasyncgenfunction(sync):
        problems.append("the sync method is async")
    if not _is_async(asynchronous):
        problems.append("the async twin is neither async def nor returns an async iterator")
    if _yields(sync, asynchronous=False) and not _yields(asynchronous, asynchronous=True):
        problems.append("the sync method returns an iterator, the async twin no async one")
    sync_sig = inspect.signature(inspect.unwrap(sync))
    async_sig = inspect.signature(inspect.unwrap(asynchronous))
    sync_params = list(sync_sig.parameters.values())
    async_params = list(async_sig.parameters.values())
    shape = [(p.name, p.kind, p.default) for p in sync_params]
    async_shape = [(p.name, p.kind, p.default) for p in async_params]
    if shape != async_shape:
        problems.append(f"parameters differ: {sync_sig} vs {async_sig}")
    else:
        for s, a in zip(sync_params, async_params, strict=True):
            if _sync_form(_text(s.annotation)) != _sync_form(_text(a.annotation)):
                problems.append(f"{s.name}: {_text(s.annotation)} vs {_text(a.annotation)}")
    returns = _text(sync_sig.return_annotation), _text(async_sig.return_annotation)
    if returns[0] and returns[1] and returns[0] != _sync_form(returns[1]):
        problems.append(f"returns {returns[0]} vs {returns[1]}")
    return problems


# --- core clients ----------------------------------------------------------------------------


def _public(owner: type) -> set[str]:
    return {
        name
        for name in dir(owner)
        if (not name.startswith("_") or name in RENAMES or name in RENAMES.values())
        and _function(owner, name) is not None
    }


@pytest.mark.parametrize(("sync_cls", "async_cls"), CORE, ids=lambda c: c.__name__)
def test_core_clients_have_the_same_methods(sync_cls: type, async_cls: type) -> None:
    sync_names = _public(sync_cls)
    async_names = _public(async_cls)
    expected = {RENAMES.get(name, name) for name in sync_names}
    assert async_names == expected, (
        f"missing on {async_cls.__name__}: {sorted(expected - async_names)}; "
        f"only on {async_cls.__name__}: {sorted(async_names - expected)}"
    )


def _core_pairs() -> Iterator[tuple[type, type, str]]:
    for sync_cls, async_cls in CORE:
        for name in sorted(_public(sync_cls)):
            yield sync_cls, async_cls, name


@pytest.mark.parametrize(
    ("sync_cls", "async_cls", "name"),
    list(_core_pairs()),
    ids=[f"{s.__name__}.{n}" for s, _, n in _core_pairs()],
)
def test_core_twins_match(sync_cls: type, async_cls: type, name: str) -> None:
    sync = _function(sync_cls, name)
    twin = _function(async_cls, RENAMES.get(name, name))
    assert sync is not None and twin is not None
    assert mismatches(sync, twin) == []


# --- adapters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    owner: str
    sync: str
    asynchronous: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.owner, self.sync, self.asynchronous


_PREFIXES = (("", "a"), ("_", "_a"), ("", "async_"))


def discover(label: str, owner: type) -> list[Pair]:
    """Every (sync, async) method pair of ``owner`` of which this package defines a side."""
    names = {name for name in dir(owner) if _function(owner, name) is not None}
    pairs = []
    for name in sorted(names):
        for sync_prefix, async_prefix in _PREFIXES:
            if sync_prefix == "" and name.startswith("_"):
                continue
            if not name.startswith(async_prefix) or len(name) == len(async_prefix):
                continue
            sync_name = sync_prefix + name[len(async_prefix) :]
            if sync_name not in names or sync_name.startswith("__"):
                continue
            if _defined_here(owner, sync_name) or _defined_here(owner, name):
                pairs.append(Pair(label, sync_name, name))
    return pairs


def _framework_pairs(label: str, owner: type) -> list[Pair]:
    """Required pairs that the framework defines on both sides (e.g. ``invoke``)."""
    found = {(p.sync, p.asynchronous) for p in discover(label, owner)}
    return [Pair(label, s, a) for s, a in sorted(REQUIRED.get(label, set()) - found)]


ALL_PAIRS = [
    pair
    for label, owner in ADAPTERS.items()
    for pair in [*discover(label, owner), *_framework_pairs(label, owner)]
]

#: Public methods this package defines on an adapter with no async twin, because they do no
#: I/O. A new sync method that calls Cloudflare must get a twin instead of an entry here.
SYNC_ONLY = {
    "bind_tools": "binds tools to a runnable; no request",
    "with_structured_output": "builds a runnable; no request",
    "get_lc_namespace": "LangChain serialisation metadata",
    "is_lc_serializable": "LangChain serialisation metadata",
    "model_post_init": "pydantic's hook",
    "relevance_score_fn": "a score formula",
    "class_name": "LlamaIndex serialisation metadata",
    "get_tool_calls_from_response": "reads a response already received",
}


@pytest.mark.parametrize("label", list(ADAPTERS))
def test_discovery_finds_the_pairs_frameworks_call(label: str) -> None:
    owner = ADAPTERS[label]
    names = {name for name in dir(owner) if _function(owner, name) is not None}
    for sync_name, async_name in REQUIRED[label]:
        assert sync_name in names, f"{label} has no {sync_name}"
        assert async_name in names, f"{label} has no {async_name}"
    # What discovery misses must be the framework's own on both sides, never ours.
    for pair in _framework_pairs(label, owner):
        assert not _defined_here(owner, pair.sync), pair
        assert not _defined_here(owner, pair.asynchronous), pair


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=lambda p: f"{p.owner}.{p.sync}")
def test_adapter_twins_match(pair: Pair) -> None:
    owner = ADAPTERS[pair.owner]
    sync, twin = _function(owner, pair.sync), _function(owner, pair.asynchronous)
    assert sync is not None and twin is not None
    problems = mismatches(sync, twin)
    # A sync method of ours whose async twin is the framework's default (which runs the sync
    # one in a thread) or the other way round is a gap too.
    if _defined_here(owner, pair.sync) != _defined_here(owner, pair.asynchronous):
        here = pair.sync if _defined_here(owner, pair.sync) else pair.asynchronous
        problems.append(f"only {here} is defined by this package")
    if pair.key in KNOWN_GAPS:
        assert problems, f"{pair.key} is listed in KNOWN_GAPS but matches now: remove it"
        return
    assert problems == []


@pytest.mark.parametrize("label", list(ADAPTERS))
def test_every_public_method_of_ours_has_an_async_twin_or_does_no_io(label: str) -> None:
    owner = ADAPTERS[label]
    paired = {p.sync for p in ALL_PAIRS if p.owner == label}
    paired |= {p.asynchronous for p in ALL_PAIRS if p.owner == label}
    lone = {
        name
        for name in dir(owner)
        if not name.startswith("_")
        and _function(owner, name) is not None
        and _defined_here(owner, name)
        and name not in paired
    }
    assert lone <= set(SYNC_ONLY), sorted(lone - set(SYNC_ONLY))


def test_known_gaps_name_real_pairs() -> None:
    keys = {pair.key for pair in ALL_PAIRS}
    assert set(KNOWN_GAPS) <= keys, set(KNOWN_GAPS) - keys


# --- the checker itself ----------------------------------------------------------------------


class _Sync:
    def fetch(self, ids: list[str], *, wait: bool = False) -> list[str]:
        return ids

    def items(self, n: int) -> Iterator[int]:
        yield from range(n)


class _GoodAsync:
    async def fetch(self, ids: list[str], *, wait: bool = False) -> list[str]:
        return ids

    async def items(self, n: int) -> collections.abc.AsyncIterator[int]:
        for i in range(n):
            yield i


class _BadAsync:
    def fetch(self, ids: list[str], *, wait: bool = True) -> list[str]:  # sync, other default
        return ids

    async def items(self, n: int) -> list[int]:  # a list, not an async iterator
        return list(range(n))


def test_the_checker_accepts_twins_and_reports_differences() -> None:
    assert mismatches(_Sync.fetch, _GoodAsync.fetch) == []
    assert mismatches(_Sync.items, _GoodAsync.items) == []
    fetch = mismatches(_Sync.fetch, _BadAsync.fetch)
    assert any("neither async def" in p for p in fetch)
    assert any("parameters differ" in p for p in fetch)
    items = mismatches(_Sync.items, _BadAsync.items)
    assert any("no async one" in p for p in items)
    assert any("returns" in p for p in items)
