"""``VectorizeVectorStore``: a LangChain vector store over a Cloudflare Vectorize index.

Every HTTP request goes through the core :class:`~cloudflare_ai.VectorizeClient` (sync) or
:class:`~cloudflare_ai.AsyncVectorizeClient` (async, one per event loop), which validates
writes before sending, chunks them, retries transient failures and waits for mutations.
This module only translates between LangChain's interface and those clients.

Where the text lives
    By default a document's text is stored in its vector's metadata under ``text_key``
    (``"text"``), so every search returns ``page_content`` with no second database. Vectorize
    allows 10 KiB of metadata per vector: a document whose text plus metadata is larger is
    refused *before anything is sent*, with an error naming its id and position. With
    ``docstore=`` (any LangChain ``BaseStore[str, str]``, e.g. ``InMemoryStore`` or a
    persistent store) the text goes to the docstore, keyed by vector id, and only the
    metadata goes to Vectorize. The trade-off: no size limit on text, but each search and
    ``get_by_ids`` makes one extra docstore lookup, and the two stores are not written
    atomically (the docstore is written first; texts of a write that then fails are orphans
    that no search can reach).

Ids
    Missing ids are derived from the content by the core's
    :func:`~cloudflare_ai.documents.document_id` (a UUIDv5 of the namespace, the text, the
    metadata as canonical JSON, and an occurrence counter that tells identical documents of
    one call apart). Re-running the same ingestion therefore overwrites instead of duplicating.

Filters
    LangChain filter dicts are parsed into the core's filter model
    (:mod:`cloudflare_ai.filters`), which merges, translates and refuses exactly as for
    LlamaIndex; a filter on a property without a metadata index warns
    (``UnindexedFilterWarning``). ``delete(filter=...)`` deletes every vector a filter selects.

Scores
    ``similarity_search_with_score`` returns Vectorize's raw score, whose meaning depends on
    the index metric: cosine similarity (higher is closer), euclidean distance (lower is
    closer) or the *negative* dot product (lower is closer). Relevance scores (``[0, 1]``,
    1 = closest) come from the core's :func:`~cloudflare_ai.scores.relevance`: ``(s + 1) / 2``
    for cosine, ``1 / (1 + d)`` for euclidean and ``1 / (1 + exp(score))`` (the logistic
    function of the dot product) for dot-product.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Self, cast

import numpy as np
import orjson
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.stores import BaseStore
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from pydantic import SecretStr

from .. import limits
from ..connection import CloudflareClients
from ..documents import ID_NAMESPACE, TEXT_KEY, document_id
from ..errors import ValidationError
from ..filters import Filter
from ..pipeline import Embedder, IngestReport, Record, aingest, plan, pool_settings, run_sync
from ..scores import relevance_fn
from ..transport import RetryPolicy
from ..types import Index, Match, MetadataIndex, Mutation, VectorRecord
from ..validation import (
    check_id,
    check_index_name,
    check_metadata,
    check_namespace,
    check_unique_ids,
)
from ..vectorize import AsyncVectorizeClient, Metric, VectorizeClient
from ..workers_ai import AsyncWorkersAIClient, EmbeddingArray
from .embeddings import WorkersAIEmbeddings
from .filters import FilterTranslationError, UnindexedFilterWarning, to_filter

__all__ = [
    "ID_NAMESPACE",
    "FilterTranslationError",
    "TopKCappedWarning",
    "UnindexedFilterWarning",
    "VectorizeVectorStore",
]

#: Every search asks for all metadata (it holds the text), so Vectorize's smaller cap applies.
MAX_K = limits.MAX_TOP_K_WITH_VALUES_OR_METADATA

#: Keyword arguments of the retriever that only MMR uses; a similarity search ignores them.
_MMR_ONLY = frozenset({"fetch_k", "lambda_mult"})
_STORE_OPTIONS = frozenset(
    {
        "text_key",
        "namespace",
        "wait_for_writes",
        "wait_timeout",
        "account_id",
        "api_token",
        "base_url",
        "timeout",
        "max_retries",
        "max_concurrency",
        "retry_policy",
        "docstore",
    }
)


class TopKCappedWarning(UserWarning):
    """``k`` (or ``fetch_k``) was above what one Vectorize query can return, and was lowered."""


@dataclass(slots=True)
class _WriteOptions:
    namespace: str | None
    upsert: bool
    wait: bool


@dataclass(slots=True)
class _Batch:
    """Documents checked and ready to write, waiting only for their embeddings."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    namespace: str | None

    def records(self) -> _Records:
        """The pipeline's records: text to embed, metadata as checked (text included)."""
        return _Records(self)


class _Records:
    """A batch's records, made as the pipeline reads them (100,000 documents are not 100,000
    more objects at once); sized, so the pipeline still plans for the whole batch."""

    def __init__(self, batch: _Batch) -> None:
        self._batch = batch

    def __len__(self) -> int:
        return len(self._batch.ids)

    def __iter__(self) -> Iterator[Record]:
        b = self._batch
        for i, t, m in zip(b.ids, b.texts, b.metadatas, strict=True):
            yield Record(i, t, m or None, b.namespace)


@dataclass(slots=True)
class _Query:
    top_k: int
    filter: Filter
    namespace: str | None
    return_values: bool

    def kwargs(self) -> dict[str, Any]:
        return {
            "top_k": self.top_k,
            "filter": self.filter,
            "namespace": self.namespace,
            "return_values": self.return_values,
            "return_metadata": "all",
        }


def _reject_unknown(kwargs: Mapping[str, Any], method: str, ignore: Iterable[str] = ()) -> None:
    unknown = sorted(set(kwargs) - set(ignore))
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword arguments: {', '.join(unknown)}")


class VectorizeVectorStore(VectorStore):
    """LangChain vector store over one Cloudflare Vectorize index.

    Args:
        embedding: Embeddings used for documents and queries.
        index_name: The Vectorize index (create it with :meth:`create_index` or
            :meth:`from_texts` if it does not exist).
        text_key: Metadata key holding each document's text (unless ``docstore`` is set).
        namespace: Default Vectorize namespace for writes and searches.
        wait_for_writes: Make writes and deletes return only once searchable (polls the
            index's ``info``; Vectorize applies mutations asynchronously). Per call: ``wait=``.
        wait_timeout: Seconds to wait for a write before ``MutationTimeoutError``.
        account_id, api_token, base_url, timeout, max_retries, max_concurrency: connection
            settings, falling back to ``CLOUDFLARE_ACCOUNT_ID``, ``CLOUDFLARE_API_TOKEN``,
            ``CLOUDFLARE_BASE_URL``.
        retry_policy: The core's retry policy (backoff, ``Retry-After`` handling).
        docstore: Where texts go instead of Vectorize metadata (see the module docstring).

    Search keyword arguments: ``filter`` (LangChain filter dict, translated by
    :func:`~cloudflare_ai.langchain.filters.to_vectorize_filter`; what Vectorize cannot
    express raises) and ``namespace``. Write keyword arguments: ``namespace``,
    ``upsert`` (default True; False inserts, keeping existing vectors of the same id) and
    ``wait``.
    """

    def __init__(
        self,
        embedding: Embeddings,
        index_name: str,
        *,
        text_key: str = TEXT_KEY,
        namespace: str | None = None,
        wait_for_writes: bool = False,
        wait_timeout: float = 120.0,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        retry_policy: RetryPolicy | None = None,
        docstore: BaseStore[str, str] | None = None,
    ) -> None:
        self._embedding = embedding
        self.index_name = check_index_name(index_name)
        check_metadata({text_key: ""})  # a valid metadata key
        self.text_key = text_key
        self.namespace = check_namespace(namespace) if namespace is not None else None
        self.wait_for_writes = wait_for_writes
        self.wait_timeout = wait_timeout
        self.docstore = docstore
        # The same lazily built clients as every other adapter class (copies and pickles carry
        # the arguments only); settings are resolved now so a missing credential fails here.
        self._clients = CloudflareClients(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            retry_policy=retry_policy,
        )
        self._clients.settings  # noqa: B018
        self._max_concurrency = max_concurrency
        self._metric: Metric | None = None

    def __repr__(self) -> str:
        return f"VectorizeVectorStore(index_name={self.index_name!r}, namespace={self.namespace!r})"

    def __copy__(self) -> Self:
        """A shallow copy with its own (lazily built) clients; deep copies and pickles get
        theirs from :class:`~cloudflare_ai.connection.CloudflareClients` the same way."""
        duplicate = type(self).__new__(type(self))
        duplicate.__dict__.update(self.__dict__)
        duplicate._clients = copy.copy(self._clients)
        return duplicate

    # --- clients ----------------------------------------------------------------------------
    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def client(self) -> VectorizeClient:
        """The synchronous core client (created on first use)."""
        return self._clients.vectorize

    @property
    def async_client(self) -> AsyncVectorizeClient:
        """The asynchronous core client of the running event loop (httpx async pools belong
        to the loop they were first used on)."""
        return self._clients.async_vectorize

    def close(self) -> None:
        """Close the synchronous client's connection pool."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close every client built so far."""
        await self._clients.aclose()

    # --- index management -------------------------------------------------------------------
    def create_index(
        self,
        dimensions: int | None = None,
        metric: Metric = "cosine",
        *,
        exist_ok: bool = True,
        description: str | None = None,
        metadata_indexes: Mapping[str, str] | None = None,
    ) -> Index:
        """Create the index (``dimensions`` default: the embeddings' ``dimensions`` attribute,
        else the length of one embedded probe text) and a metadata index for each property of
        ``metadata_indexes`` (``{property: "string" | "number" | "boolean"}``), waited for so
        that the documents added next are filterable. An existing index of the same
        configuration is fine with ``exist_ok``; a different one is an error naming both."""
        if dimensions is None:
            dimensions = self._declared_dimensions() or len(self._embedding.embed_query("probe"))
        client = self.client
        if not exist_ok:
            client.create_index(
                self.index_name, dimensions=dimensions, metric=metric, description=description
            )
        index = client.ensure_index(
            self.index_name, dimensions=dimensions, metric=metric, description=description,
            metadata_indexes=metadata_indexes, wait_timeout=self.wait_timeout,
        )  # fmt: skip
        self._metric = index.config.metric
        return index

    async def acreate_index(
        self,
        dimensions: int | None = None,
        metric: Metric = "cosine",
        *,
        exist_ok: bool = True,
        description: str | None = None,
        metadata_indexes: Mapping[str, str] | None = None,
    ) -> Index:
        if dimensions is None:
            dimensions = self._declared_dimensions() or len(
                await self._embedding.aembed_query("probe")
            )
        client = self.async_client
        if not exist_ok:
            await client.create_index(
                self.index_name, dimensions=dimensions, metric=metric, description=description
            )
        index = await client.ensure_index(
            self.index_name, dimensions=dimensions, metric=metric, description=description,
            metadata_indexes=metadata_indexes, wait_timeout=self.wait_timeout,
        )  # fmt: skip
        self._metric = index.config.metric
        return index

    def delete_index(self, *, missing_ok: bool = False) -> None:
        """Delete the whole index and every vector in it (not the docstore's texts)."""
        self.client.delete_index(self.index_name, missing_ok=missing_ok)
        self._metric = None

    async def adelete_index(self, *, missing_ok: bool = False) -> None:
        await self.async_client.delete_index(self.index_name, missing_ok=missing_ok)
        self._metric = None

    def create_metadata_index(
        self, property_name: str, index_type: str = "string", *, wait: bool | None = None
    ) -> Mutation:
        """Index a metadata property (or a dotted path to a nested one, ``"author.name"``) so
        filters can use it. Only vectors written *after* the index exists are filterable on
        it: create metadata indexes before adding documents (or re-add them)."""
        return self.client.create_metadata_index(
            self.index_name, property_name, index_type,
            wait=self._wait(wait), wait_timeout=self.wait_timeout,
        )  # fmt: skip

    async def acreate_metadata_index(
        self, property_name: str, index_type: str = "string", *, wait: bool | None = None
    ) -> Mutation:
        return await self.async_client.create_metadata_index(
            self.index_name, property_name, index_type,
            wait=self._wait(wait), wait_timeout=self.wait_timeout,
        )  # fmt: skip

    def delete_metadata_index(self, property_name: str, *, wait: bool | None = None) -> Mutation:
        """Remove a metadata index: filters on the property stop matching."""
        return self.client.delete_metadata_index(
            self.index_name, property_name, wait=self._wait(wait), wait_timeout=self.wait_timeout
        )

    async def adelete_metadata_index(
        self, property_name: str, *, wait: bool | None = None
    ) -> Mutation:
        return await self.async_client.delete_metadata_index(
            self.index_name, property_name, wait=self._wait(wait), wait_timeout=self.wait_timeout
        )

    def list_metadata_indexes(self) -> list[MetadataIndex]:
        return self.client.list_metadata_indexes(self.index_name)

    async def alist_metadata_indexes(self) -> list[MetadataIndex]:
        return await self.async_client.list_metadata_indexes(self.index_name)

    def _declared_dimensions(self) -> int | None:
        value = getattr(self._embedding, "dimensions", None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _wait(self, wait: bool | None) -> bool:
        return self.wait_for_writes if wait is None else bool(wait)

    # --- writes -----------------------------------------------------------------------------
    def _write_options(self, kwargs: dict[str, Any], method: str) -> _WriteOptions:
        namespace = kwargs.pop("namespace", self.namespace)
        upsert = bool(kwargs.pop("upsert", True))
        wait = self._wait(kwargs.pop("wait", None))
        kwargs.pop("batch_size", None)  # LangChain's indexing API passes it; see add_texts
        _reject_unknown(kwargs, method)
        if namespace is not None:
            check_namespace(namespace)
        return _WriteOptions(namespace, upsert, wait)

    def _prepare(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None,
        ids: Sequence[str | None] | None,
        namespace: str | None,
    ) -> _Batch:
        """Check every document and give each an id, before any embedding or request."""
        workers_ai = isinstance(self._embedding, WorkersAIEmbeddings)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValidationError(f"got {len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise ValidationError(f"got {len(ids)} ids for {len(texts)} texts")
        out_ids: list[str] = []
        out_metadatas: list[dict[str, Any]] = []
        seen: dict[bytes, int] = {}
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValidationError(
                    f"document at position {position}: text must be a string, "
                    f"got {type(text).__name__}",
                    position=position,
                )
            if workers_ai and not text.strip():
                raise ValidationError(
                    f"document at position {position}: its text is empty; Workers AI embeds "
                    "only non-empty text",
                    position=position,
                    field="text",
                )
            given = ids[position] if ids is not None else None
            metadata = dict(metadatas[position] or {}) if metadatas is not None else {}
            check_metadata(metadata, given, position)
            if given is None:
                # A 16-byte digest, not the JSON itself: orjson's bytes keep a ~4 KiB buffer
                # each, which for 100,000 documents was 400 MB held until the write ended.
                key = hashlib.blake2b(
                    orjson.dumps([text, metadata], option=orjson.OPT_SORT_KEYS), digest_size=16
                ).digest()
                seen[key] = occurrence = seen.get(key, -1) + 1
                given = document_id(text, metadata, namespace=namespace, occurrence=occurrence)
            vector_id = check_id(given, position)
            if self.docstore is None:
                if self.text_key in metadata:
                    raise ValidationError(
                        f"document {vector_id!r} at position {position}: its metadata has the "
                        f"key {self.text_key!r}, where this store keeps the text; choose "
                        "another text_key",
                        item=vector_id,
                        position=position,
                        field=self.text_key,
                    )
                metadata[self.text_key] = text
                self._check_size(metadata, vector_id, position, text)
            out_ids.append(vector_id)
            out_metadatas.append(metadata)
        check_unique_ids(out_ids)
        return _Batch(out_ids, list(texts), out_metadatas, namespace)

    @staticmethod
    def _check_size(metadata: Mapping[str, Any], vector_id: str, position: int, text: str) -> None:
        try:
            check_metadata(metadata, vector_id, position)
        except ValidationError as exc:
            if exc.field != "metadata":
                raise
            raise ValidationError(
                f"document {vector_id!r} at position {position} is too large for Vectorize: "
                f"its text ({len(text.encode())} bytes) and metadata are stored together as "
                f"metadata, limited to {limits.MAX_METADATA_BYTES} bytes of JSON ({exc}). "
                "Split it into smaller chunks, or pass docstore= to keep texts elsewhere.",
                item=vector_id,
                position=position,
                field="metadata",
            ) from None

    def _docstore_items(
        self, batch: _Batch, existing: Sequence[str | None] | None
    ) -> list[tuple[str, str]]:
        """Texts for the docstore; an insert does not replace texts of existing vectors."""
        pairs = list(zip(batch.ids, batch.texts, strict=True))
        if existing is None:
            return pairs
        return [pair for pair, old in zip(pairs, existing, strict=True) if old is None]

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and write texts through the ingestion pipeline; returns their ids in input
        order. (``add_documents``, ``from_texts``, ``from_documents`` and LangChain's
        ``index()`` all end here or in :meth:`_ingest`.)

        Every document is checked before anything is sent. Embedding requests (at the
        model's batch limit) are all in flight at once for up to about 5,000 texts — more
        are bounded by the model's published rate limit, or by ``max_concurrency`` when set
        — and writes leave as soon as embeddings arrive. A failure after retries raises
        :class:`~cloudflare_ai.errors.PartialWriteError` listing the ids written and not.

        Keyword arguments: ``namespace``, ``upsert`` (default True; False = insert, where an
        existing id keeps its vector), ``wait`` (default ``wait_for_writes``). ``batch_size``
        (passed by LangChain's indexing API) is accepted and ignored: embedding batches follow
        the model's limit and writes are split at Vectorize's.
        """
        options = self._write_options(kwargs, "add_texts")
        texts = list(texts)
        batch = self._prepare(texts, metadatas, ids, options.namespace)
        if not texts:
            return []
        if self.docstore is not None:
            existing = None if options.upsert else self.docstore.mget(batch.ids)
            self.docstore.mset(self._docstore_items(batch, existing))
        run_sync(lambda: self._ingest(batch, options))
        return batch.ids

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Asynchronous :meth:`add_texts`, on the caller's event loop."""
        options = self._write_options(kwargs, "aadd_texts")
        texts = list(texts)
        batch = self._prepare(texts, metadatas, ids, options.namespace)
        if not texts:
            return []
        if self.docstore is not None:
            existing = None if options.upsert else await self.docstore.amget(batch.ids)
            await self.docstore.amset(self._docstore_items(batch, existing))
        await self._ingest(batch, options)
        return batch.ids

    def _concurrency(self) -> int | None:
        """An explicit ``max_concurrency`` (the store's or the embeddings') caps the pipeline;
        otherwise it is derived from the work and the model's rate limit."""
        caps = [self._max_concurrency]
        if isinstance(self._embedding, WorkersAIEmbeddings):
            caps.append(self._embedding.max_concurrency)
        given = [c for c in caps if c is not None]
        return min(given) if given else None

    def _foreign_embedder(self) -> Embedder:
        """Any LangChain embeddings, one pipeline batch per ``aembed_documents`` call."""
        embedding = self._embedding

        async def embed(texts: list[str]) -> EmbeddingArray:
            vectors = await embedding.aembed_documents(texts)
            if len(vectors) != len(texts):
                raise ValidationError(
                    f"the embeddings returned {len(vectors)} vectors for {len(texts)} texts"
                )
            array = np.asarray(vectors, dtype=np.float32)
            return EmbeddingArray(model="", array=array, requests=1)

        return embed

    async def _ingest(self, batch: _Batch, options: _WriteOptions) -> IngestReport:
        """Write checked documents through :func:`cloudflare_ai.pipeline.aingest`, with
        clients of their own whose connection pools fit the requests in flight (Workers AI
        with the embeddings' connection settings, Vectorize with the store's)."""
        embedding = self._embedding
        concurrency = self._concurrency()
        ours = embedding if isinstance(embedding, WorkersAIEmbeddings) else None
        sizing = plan(
            ours.model if ours else None,
            concurrency=concurrency,
            embed_batch=ours.batch_size if ours else None,
            expected=len(batch.ids),
        )
        common: dict[str, Any] = {
            "index": self.index_name,
            "text_key": None,  # already in the metadata (or in the docstore)
            "upsert": options.upsert,
            "concurrency": concurrency,
            "checked": True,
            "wait": options.wait,
            "wait_timeout": self.wait_timeout,
        }
        db_settings = pool_settings(self._clients.settings, sizing.total_slots)
        async with AsyncVectorizeClient(
            settings=db_settings, retry=self._clients.retry_policy
        ) as db:
            if ours is None:
                return await aingest(
                    batch.records(), vectorize=db, embedder=self._foreign_embedder(), **common
                )
            ai_settings = pool_settings(ours.clients.settings, sizing.total_slots)
            async with AsyncWorkersAIClient(settings=ai_settings, retry=ours.retry_policy) as ai:
                return await aingest(
                    batch.records(),
                    vectorize=db,
                    workers_ai=ai,
                    model=ours.model,
                    pooling=ours.pooling,
                    long_inputs=ours.long_inputs,
                    embed_batch=ours.batch_size,
                    **common,
                )

    # --- delete and get ---------------------------------------------------------------------
    @dataclass(slots=True)
    class _Delete:
        ids: list[str] | None
        filter: Filter
        delete_all: bool
        wait: bool
        namespace: str | None

    def _delete_options(self, ids: list[str] | None, kwargs: dict[str, Any]) -> _Delete:
        delete_all = bool(kwargs.pop("delete_all", False))
        flt = to_filter(kwargs.pop("filter", None))
        namespace = kwargs.pop("namespace", self.namespace)
        wait = self._wait(kwargs.pop("wait", None))
        _reject_unknown(kwargs, "delete")
        chosen = [ids is not None, delete_all, bool(flt)]
        if not any(chosen):
            raise ValueError(
                "delete() needs ids or filter=...: Vectorize deletes vectors by id. To empty "
                "the whole index (every namespace), call delete(delete_all=True) or "
                "delete_index()."
            )
        if sum(chosen) > 1:
            raise ValueError("pass one of ids, filter= or delete_all=True")
        return self._Delete(ids, flt, delete_all, wait, namespace)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete vectors by id (unknown ids are ignored) and their docstore texts.

        ``filter=`` (a LangChain filter over indexed properties, in ``namespace`` when one is
        set) deletes every vector it selects, and returns once they are gone.
        ``ids=None`` without a filter raises, rather than emptying the index by accident;
        ``delete_all=True`` deletes every vector of the index (all namespaces). ``wait=``
        overrides ``wait_for_writes``.
        """
        options = self._delete_options(ids, kwargs)
        client = self.client
        if options.filter:
            targets = client.delete_matching(
                self.index_name, options.filter, namespace=options.namespace,
                wait_timeout=self.wait_timeout,
            )  # fmt: skip
        else:
            if options.delete_all:
                ids = list(client.iter_ids(self.index_name))
            targets = list(dict.fromkeys(ids or []))
            if targets:
                client.delete_by_ids(
                    self.index_name, targets, wait=options.wait, wait_timeout=self.wait_timeout
                )
        if self.docstore is not None and targets:
            self.docstore.mdelete(targets)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        options = self._delete_options(ids, kwargs)
        client = self.async_client
        if options.filter:
            targets = await client.delete_matching(
                self.index_name, options.filter, namespace=options.namespace,
                wait_timeout=self.wait_timeout,
            )  # fmt: skip
        else:
            if options.delete_all:
                ids = [vector_id async for vector_id in client.iter_ids(self.index_name)]
            targets = list(dict.fromkeys(ids or []))
            if targets:
                await client.delete_by_ids(
                    self.index_name, targets, wait=options.wait, wait_timeout=self.wait_timeout
                )
        if self.docstore is not None and targets:
            await self.docstore.amdelete(targets)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents with these ids, in the order asked; unknown ids are simply absent."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        records = self.client.get_by_ids(self.index_name, wanted)
        ordered = self._ordered(records, wanted)
        texts = self.docstore.mget([r.id for r in ordered]) if self.docstore is not None else None
        return self._documents([(r.id, r.metadata) for r in ordered], texts)

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        records = await self.async_client.get_by_ids(self.index_name, wanted)
        ordered = self._ordered(records, wanted)
        texts = (
            await self.docstore.amget([r.id for r in ordered])
            if self.docstore is not None
            else None
        )
        return self._documents([(r.id, r.metadata) for r in ordered], texts)

    @staticmethod
    def _ordered(records: Sequence[VectorRecord], wanted: Sequence[str]) -> list[VectorRecord]:
        rank = {vector_id: i for i, vector_id in enumerate(wanted)}
        return sorted((r for r in records if r.id in rank), key=lambda r: rank[r.id])

    # --- documents from results -------------------------------------------------------------
    def _documents(
        self,
        items: Sequence[tuple[str, Mapping[str, Any] | None]],
        docstore_texts: Sequence[str | None] | None,
    ) -> list[Document]:
        """Documents from (id, metadata) pairs: the text comes out of the metadata (or from
        the docstore), the metadata is returned exactly as written."""
        documents: list[Document] = []
        textless: list[str] = []
        for position, (vector_id, stored) in enumerate(items):
            metadata = dict(stored or {})
            text: Any
            if docstore_texts is not None:
                text = docstore_texts[position]
            else:
                text = metadata.pop(self.text_key, None)
            if not isinstance(text, str):
                textless.append(vector_id)
                text = ""
            documents.append(Document(page_content=text, metadata=metadata, id=vector_id))
        if textless:
            where = "in the docstore" if docstore_texts is not None else f"{self.text_key!r}"
            warnings.warn(
                f"{len(textless)} vector(s) of index {self.index_name!r} have no text "
                f"{where} (ids {textless[:5]}); returned with empty page_content",
                UserWarning,
                stacklevel=4,
            )
        return documents

    def _scored(
        self, matches: Sequence[Match], docstore_texts: Sequence[str | None] | None
    ) -> list[tuple[Document, float]]:
        documents = self._documents([(m.id, m.metadata) for m in matches], docstore_texts)
        return [(d, m.score) for d, m in zip(documents, matches, strict=True)]

    # --- queries ----------------------------------------------------------------------------
    def _query_options(
        self, k: int, kwargs: dict[str, Any], method: str, *, values: bool = False
    ) -> _Query:
        """Shared request building of every search (no I/O)."""
        filter = kwargs.pop("filter", None)
        namespace = kwargs.pop("namespace", self.namespace)
        _reject_unknown(kwargs, method, ignore=() if values else _MMR_ONLY)
        what = "fetch_k" if values else "k"
        if isinstance(k, int) and not isinstance(k, bool) and k > MAX_K:
            warnings.warn(
                f"{what}={k} is more than one Vectorize query returns with metadata (which "
                f"holds each document's text): at most {MAX_K}; returning the best {MAX_K}",
                TopKCappedWarning,
                stacklevel=4,
            )
            k = MAX_K
        return _Query(k, to_filter(filter), namespace, values)

    def _query(self, vector: Sequence[float], query: _Query) -> tuple[list[Match], Any]:
        matches = self.client.query(self.index_name, vector, **query.kwargs()).matches
        texts = (
            self.docstore.mget([m.id for m in matches])
            if self.docstore is not None and matches
            else None
        )
        return matches, texts

    async def _aquery(self, vector: Sequence[float], query: _Query) -> tuple[list[Match], Any]:
        matches = (await self.async_client.query(self.index_name, vector, **query.kwargs())).matches
        texts = (
            await self.docstore.amget([m.id for m in matches])
            if self.docstore is not None and matches
            else None
        )
        return matches, texts

    def similarity_search_with_score_by_vector(
        self, embedding: Sequence[float], k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Nearest documents to a vector with Vectorize's raw scores (see the module doc)."""
        query = self._query_options(k, kwargs, "similarity_search")
        return self._scored(*self._query(embedding, query))

    async def asimilarity_search_with_score_by_vector(
        self, embedding: Sequence[float], k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        query = self._query_options(k, kwargs, "similarity_search")
        return self._scored(*await self._aquery(embedding, query))

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Nearest documents with Vectorize's raw score: cosine similarity (higher is closer),
        euclidean distance or negative dot product (lower is closer)."""
        options = self._query_options(k, kwargs, "similarity_search")
        vector = self._embedding.embed_query(query)
        return self._scored(*self._query(vector, options))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        options = self._query_options(k, kwargs, "similarity_search")
        vector = await self._embedding.aembed_query(query)
        return self._scored(*await self._aquery(vector, options))

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_batch(
        self, queries: Sequence[str], k: int = 4, **kwargs: Any
    ) -> list[list[Document]]:
        """Many searches at once: the queries are embedded in ONE request and searched
        concurrently; results in query order."""
        options = self._query_options(k, kwargs, "similarity_search")
        vectors = self._embedding.embed_documents(list(queries))
        with ThreadPoolExecutor(
            max_workers=max(1, min(len(vectors), self.client.settings.max_concurrency))
        ) as pool:
            results = list(pool.map(lambda v: self._query(v, options), vectors))
        return [[doc for doc, _ in self._scored(*result)] for result in results]

    async def asimilarity_search_batch(
        self, queries: Sequence[str], k: int = 4, **kwargs: Any
    ) -> list[list[Document]]:
        options = self._query_options(k, kwargs, "similarity_search")
        vectors = await self._embedding.aembed_documents(list(queries))
        results = await asyncio.gather(*(self._aquery(v, options) for v in vectors))
        return [[doc for doc, _ in self._scored(*result)] for result in results]

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        pairs = await self.asimilarity_search_with_score(query, k, **kwargs)
        return [doc for doc, _ in pairs]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        pairs = self.similarity_search_with_score_by_vector(embedding, k, **kwargs)
        return [doc for doc, _ in pairs]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        pairs = await self.asimilarity_search_with_score_by_vector(embedding, k, **kwargs)
        return [doc for doc, _ in pairs]

    # --- relevance --------------------------------------------------------------------------
    def index_metric(self) -> Metric:
        """The index's distance metric (read once with ``get_index``, then remembered)."""
        if self._metric is None:
            self._metric = self.client.get_index(self.index_name).config.metric
        return self._metric

    async def aindex_metric(self) -> Metric:
        if self._metric is None:
            self._metric = (await self.async_client.get_index(self.index_name)).config.metric
        return self._metric

    @staticmethod
    def relevance_score_fn(metric: Metric) -> Callable[[float], float]:
        """Raw Vectorize score → relevance in ``[0, 1]`` (1 = closest), monotone in closeness
        (the core's :func:`~cloudflare_ai.scores.relevance_fn`)."""
        return relevance_fn(metric)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return self.relevance_score_fn(self.index_metric())

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        relevance = self._select_relevance_score_fn()
        return [(d, relevance(s)) for d, s in self.similarity_search_with_score(query, k, **kwargs)]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        relevance = self.relevance_score_fn(await self.aindex_metric())
        pairs = await self.asimilarity_search_with_score(query, k, **kwargs)
        return [(d, relevance(s)) for d, s in pairs]

    # --- maximal marginal relevance ---------------------------------------------------------
    def _mmr(
        self,
        embedding: Sequence[float],
        matches: Sequence[Match],
        texts: Sequence[str | None] | None,
        k: int,
        lambda_mult: float,
    ) -> list[Document]:
        candidates = [m for m in matches if m.values]
        if not candidates:
            return []
        chosen = maximal_marginal_relevance(
            np.asarray(embedding, dtype=np.float64),
            [cast(list[float], m.values) for m in candidates],
            lambda_mult=lambda_mult,
            k=min(k, len(candidates)),
        )
        if texts is not None:
            by_id = {m.id: t for m, t in zip(matches, texts, strict=True)}
            texts = [by_id[candidates[i].id] for i in chosen]
        return self._documents([(candidates[i].id, candidates[i].metadata) for i in chosen], texts)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        """One query for ``fetch_k`` candidates with their vectors (at most 50 per Vectorize
        query), then MMR client-side: ``k`` results balancing relevance and diversity
        (``lambda_mult`` 1 = relevance only, 0 = diversity only)."""
        query = self._query_options(
            max(k, fetch_k), kwargs, "max_marginal_relevance_search", values=True
        )
        matches, texts = self._query(embedding, query)
        return self._mmr(embedding, matches, texts, k, lambda_mult)

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        query = self._query_options(
            max(k, fetch_k), kwargs, "max_marginal_relevance_search", values=True
        )
        matches, texts = await self._aquery(embedding, query)
        return self._mmr(embedding, matches, texts, k, lambda_mult)

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        vector = self._embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, **kwargs
        )

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        vector = await self._embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, **kwargs
        )

    # --- construction from texts ------------------------------------------------------------
    @staticmethod
    def _split_from_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        store = {k: v for k, v in kwargs.items() if k in _STORE_OPTIONS}
        write = {k: v for k, v in kwargs.items() if k not in _STORE_OPTIONS}
        return store, write

    @classmethod
    def _new(cls, embedding: Embeddings, index_name: str | None, kwargs: dict[str, Any]) -> Self:
        if index_name is None:
            raise ValueError("from_texts / from_documents need index_name=...")
        return cls(embedding, index_name, **kwargs)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        index_name: str | None = None,
        metric: Metric = "cosine",
        dimensions: int | None = None,
        **kwargs: Any,
    ) -> Self:
        """Embed texts, create the index if needed (``dimensions`` from the embedded vectors,
        else the embeddings' ``dimensions`` attribute; ``metric`` default cosine), write the
        texts and return a store bound to ``index_name``. Other keyword arguments go to the
        constructor (``text_key``, ``namespace``, ``wait_for_writes``, credentials ...) or to
        :meth:`add_texts` (``upsert``, ``wait``)."""
        store_kwargs, write_kwargs = cls._split_from_kwargs(kwargs)
        store = cls._new(embedding, index_name, store_kwargs)
        texts = list(texts)
        write_kwargs.setdefault("namespace", store.namespace)
        store._write_options(dict(write_kwargs), "from_texts")  # refused before anything
        store._prepare(texts, metadatas, ids, write_kwargs["namespace"])
        if dimensions is None and store._declared_dimensions() is None and texts:
            dimensions = len(embedding.embed_query(texts[0]))
        store.create_index(dimensions, metric, exist_ok=True)
        if texts:
            store.add_texts(texts, metadatas, ids=ids, **write_kwargs)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        index_name: str | None = None,
        metric: Metric = "cosine",
        dimensions: int | None = None,
        **kwargs: Any,
    ) -> Self:
        store_kwargs, write_kwargs = cls._split_from_kwargs(kwargs)
        store = cls._new(embedding, index_name, store_kwargs)
        texts = list(texts)
        write_kwargs.setdefault("namespace", store.namespace)
        store._write_options(dict(write_kwargs), "afrom_texts")
        store._prepare(texts, metadatas, ids, write_kwargs["namespace"])
        if dimensions is None and store._declared_dimensions() is None and texts:
            dimensions = len(await embedding.aembed_query(texts[0]))
        await store.acreate_index(dimensions, metric, exist_ok=True)
        if texts:
            await store.aadd_texts(texts, metadatas, ids=ids, **write_kwargs)
        return store
